"""Which tools an agent may call, and which shell commands it may run."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from boocode.config import ToolPolicySettings
from boocode.errors import ToolError

DEFAULT_ALLOWED = frozenset({"read_file", "list_files", "grep", "write_file", "edit_file"})
# Read-only tools confined like read_file (the git tools, repo_areas, and the document tools, which may also
# read the source folders the settings allow): a runtime built from settings allows them too.
READ_ONLY_DEFAULTS = frozenset({"git_changes", "git_diff", "repo_areas", "search_docs", "read_doc"})

# A bash_allow pattern only ever admits a simple command: no chaining, pipes, redirection or substitution.
_SHELL_OPERATORS = re.compile(r"[;&|<>`$\n\r]")


@dataclass(frozen=True)
class ToolPolicy:
    """Allowed and denied tool names plus shell-style patterns of bash commands allowed on their own.

    A denied tool is refused even when allowed or matched by a pattern.
    """

    allowed: frozenset[str] = DEFAULT_ALLOWED
    denied: frozenset[str] = frozenset()
    bash_allow: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: ToolPolicySettings, extra_allow: Iterable[str] = ()) -> ToolPolicy:
        """The defaults and read-only defaults, plus the settings' allow list and `extra_allow` (the CLI's
        `--allow TOOL`)."""
        return cls(
            allowed=DEFAULT_ALLOWED | READ_ONLY_DEFAULTS | frozenset(settings.allow) | frozenset(extra_allow),
            denied=frozenset(settings.deny),
            bash_allow=tuple(settings.bash_allow),
        )

    def check(self, tool_name: str, args: dict[str, Any]) -> None:
        """Raise `ToolError` saying how to allow the call when the policy refuses it."""
        if tool_name in self.denied:
            raise ToolError(
                f"tool {tool_name!r} is denied (BOOCODE_DENY_TOOLS or tools.deny in config.toml); "
                "remove it from the deny list to use it"
            )
        if tool_name in self.allowed:
            return
        if tool_name == "bash" and self._command_allowed(str(args.get("command", ""))):
            return
        hint = f"allow it with --allow {tool_name} or BOOCODE_ALLOW_TOOLS={tool_name}"
        if tool_name == "bash":
            hint += (
                ", or allow this command with BOOCODE_BASH_ALLOW "
                "(patterns match simple commands only: no ; & | < > ` $ or newlines)"
            )
        raise ToolError(f"tool {tool_name!r} is not allowed; {hint}")

    def offers(self, tool_name: str) -> bool:
        """Whether an agent should be offered the tool at all: it is allowed, or (bash) some commands are."""
        if tool_name in self.denied:
            return False
        return tool_name in self.allowed or (tool_name == "bash" and bool(self.bash_allow))

    def _command_allowed(self, command: str) -> bool:
        command = command.strip()
        if _SHELL_OPERATORS.search(command):
            return False
        return any(fnmatchcase(command, pattern) for pattern in self.bash_allow)
