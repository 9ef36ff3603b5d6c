"""boocode: LLM coding agents and Claude Code style workflows, sandboxed, persisted, against any LLM."""

from boocode.config import Settings, load_settings
from boocode.errors import BoocodeError

__all__ = ["BoocodeError", "Settings", "load_settings", "resume_workflow", "run_workflow", "stop_workflow"]


def __getattr__(name: str) -> object:
    # The workflow functions pull in the sandbox and the store: import them only when asked for.
    if name in ("run_workflow", "resume_workflow", "stop_workflow"):
        from boocode import api

        return getattr(api, name)
    raise AttributeError(name)
