"""boocode: LLM coding agents and Claude Code style workflows, sandboxed, persisted, against any LLM."""

from boocode.config import Settings, load_settings
from boocode.errors import BoocodeError

__all__ = ["BoocodeError", "Settings", "load_settings", "run_workflow"]


def __getattr__(name: str) -> object:
    # `run_workflow` pulls in the sandbox and the store: import it only when asked for.
    if name == "run_workflow":
        from boocode.api import run_workflow

        return run_workflow
    raise AttributeError(name)
