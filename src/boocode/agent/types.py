"""Agent types: Markdown files with front matter (name, description, tools, model) and a system prompt.

Read from `.boocode/agents/` (closest directory up to the repository root first), `~/.boocode/agents/`, then
Claude Code's `.claude/agents/` and `~/.claude/agents/`, so existing subagent definitions work as they are,
and last the types boocode ships (`builtin_types/`: the roles of the catalog workflows' agents, each with
only the tools it uses), so a file of the same name anywhere above overrides one of them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from boocode.errors import InputError

_SUBAGENT_TOOLS = ("spawn_subagent", "subagent_status", "subagent_result", "cancel_subagent")
# Claude Code's tool names, as written in its agent files, and the boocode tools each one means.
CLAUDE_TOOL_NAMES: dict[str, tuple[str, ...]] = {
    "Read": ("read_file",),
    "Glob": ("list_files",),
    "Grep": ("grep",),
    "LS": ("list_files",),
    "Write": ("write_file",),
    "Edit": ("edit_file",),
    "MultiEdit": ("edit_file",),
    "Bash": ("bash",),
    "WebFetch": ("web_fetch",),
    "WebSearch": ("web_search",),
    "Agent": _SUBAGENT_TOOLS,  # Claude Code's subagent tool (called Task in older versions)
    "Task": _SUBAGENT_TOOLS,
    "Workflow": ("workflow",),
}
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)(.*)\Z", re.DOTALL)
# Claude Code's default subagent type: the plain agent.
BUILTIN_TYPES = ("general-purpose", "workflow-subagent")
# The agent types boocode ships, looked for after every user and project directory.
PACKAGED_DIR = Path(__file__).parent / "builtin_types"


@dataclass(frozen=True)
class AgentType:
    name: str
    description: str
    system_prompt: str
    tools: tuple[str, ...] | None
    model: str | None
    path: Path


def parse_agent_file(path: Path) -> AgentType:
    """One agent file; `InputError` naming the file when it is not valid."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read agent file: {exc}") from None
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise InputError(f"{path}: an agent file starts with a --- front matter block")
    try:
        front = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid front matter: {exc}") from None
    if not isinstance(front, dict) or not isinstance(front.get("name"), str) or not front["name"].strip():
        raise InputError(f"{path}: front matter needs a `name`")
    return AgentType(
        name=front["name"].strip(),
        description=str(front.get("description") or ""),
        system_prompt=match.group(2).strip(),
        tools=_tools(front.get("tools"), path),
        model=_model(front.get("model")),
        path=path,
    )


def _tools(value: object, path: Path) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError(f"{path}: `tools` is a list of tool names")
    mapped = [CLAUDE_TOOL_NAMES.get(n.strip(), (n.strip(),)) for n in names if n.strip()]
    return tuple(dict.fromkeys(tool for tools in mapped for tool in tools))  # in order, each once


def _model(value: object) -> str | None:
    """A model name, or None for Claude Code's `inherit` (and its aliases, which name no model here)."""
    if not isinstance(value, str) or value in ("inherit", "sonnet", "opus", "haiku"):
        return None
    return value


def agent_dirs(cwd: Path, home: Path) -> list[Path]:
    """Where agent files are looked for, first wins; the packaged types (`PACKAGED_DIR`) come last."""
    claude_home = Path(os.environ.get("CLAUDE_CONFIG_DIR") or "~/.claude").expanduser()
    chain = []
    for directory in [cwd, *cwd.parents]:
        chain.append(directory)
        if (directory / ".git").exists():
            break
    dirs = [d / ".boocode" / "agents" for d in chain] + [home / "agents"]
    dirs += [d / ".claude" / "agents" for d in chain] + [claude_home / "agents", PACKAGED_DIR]
    return [d for d in dirs if d.is_dir()]


def find_agent_type(name: str, cwd: Path, home: Path) -> AgentType | None:
    """The agent type called `name`, or None for the built-in default types; `InputError` when unknown."""
    if name in BUILTIN_TYPES:
        return None
    known: list[str] = []
    for directory in agent_dirs(cwd, home):
        for path in sorted(directory.glob("*.md")):
            agent = parse_agent_file(path)
            if agent.name == name:
                return agent
            known.append(agent.name)
    names = ", ".join(sorted({*known, *BUILTIN_TYPES}))
    raise InputError(f"unknown agentType {name!r}; known types: {names}")
