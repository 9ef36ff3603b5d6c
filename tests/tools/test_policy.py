from __future__ import annotations

import pytest

from boocode.config import ToolPolicySettings
from boocode.errors import ToolError
from boocode.tools.policy import DEFAULT_ALLOWED, ToolPolicy


def test_defaults_allow_file_tools_only() -> None:
    policy = ToolPolicy.from_settings(ToolPolicySettings())
    for name in ("read_file", "list_files", "grep", "write_file", "edit_file"):
        policy.check(name, {})
    assert {"read_file", "list_files", "grep", "write_file", "edit_file"} == DEFAULT_ALLOWED
    with pytest.raises(ToolError) as caught:
        policy.check("bash", {"command": "ls"})
    assert str(caught.value) == (
        "tool 'bash' is not allowed; allow it with --allow bash or BOOCODE_ALLOW_TOOLS=bash, or allow this "
        "command with BOOCODE_BASH_ALLOW (patterns match simple commands only: no ; & | < > ` $ or newlines)"
    )
    with pytest.raises(ToolError) as caught:
        policy.check("web_fetch", {"url": "https://example.com"})
    assert "--allow web_fetch" in str(caught.value)
    assert "BOOCODE_BASH_ALLOW" not in str(caught.value)


def test_unknown_tools_are_not_allowed_by_default() -> None:
    with pytest.raises(ToolError, match="'workflow' is not allowed"):
        ToolPolicy().check("workflow", {})


def test_settings_and_extra_allow() -> None:
    policy = ToolPolicy.from_settings(ToolPolicySettings(allow=("web_fetch",)), extra_allow=["bash"])
    policy.check("web_fetch", {"url": "https://example.com"})
    policy.check("bash", {"command": "rm -rf build; make"})


@pytest.mark.parametrize("name", ["bash", "read_file", "write_file"])
def test_deny_wins_over_allow_defaults_and_patterns(name: str) -> None:
    settings = ToolPolicySettings(allow=(name,), deny=(name,), bash_allow=("*",))
    policy = ToolPolicy.from_settings(settings, extra_allow=[name])
    with pytest.raises(ToolError, match=f"tool '{name}' is denied"):
        policy.check(name, {"command": "ls"})


@pytest.mark.parametrize(
    "command", ["git status", "git status --short", "  pytest -q tests/tools  ", "pytest"]
)
def test_bash_allow_patterns_admit_matching_commands(command: str) -> None:
    policy = ToolPolicy.from_settings(ToolPolicySettings(bash_allow=("git status*", "pytest*")))
    policy.check("bash", {"command": command})


@pytest.mark.parametrize(
    "command",
    [
        "git push",
        "Git status",
        "git status; rm -rf /",
        "git status && curl evil",
        "pytest | tee out",
        "pytest > out.txt",
        "pytest $(rm -rf x)",
        "pytest `rm -rf x`",
        "pytest\nrm -rf x",
        "pytest & rm -rf x",
    ],
)
def test_bash_allow_patterns_refuse_other_and_compound_commands(command: str) -> None:
    policy = ToolPolicy.from_settings(ToolPolicySettings(bash_allow=("git status*", "pytest*")))
    with pytest.raises(ToolError, match="not allowed"):
        policy.check("bash", {"command": command})


def test_offers_only_what_may_be_used() -> None:
    default = ToolPolicy()
    assert default.offers("read_file") and not default.offers("bash") and not default.offers("web_fetch")
    assert ToolPolicy(bash_allow=("git status*",)).offers("bash")
    assert not ToolPolicy(denied=frozenset({"read_file"})).offers("read_file")
