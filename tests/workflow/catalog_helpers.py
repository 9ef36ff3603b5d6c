"""Helpers for the catalog workflow tests: running `boocode run NAME --json` and writing fake replies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from boocode.testing import cli
from boocode.testing.fake_llm import FakeReply, FakeRequest


def boocode(env: dict[str, str], project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.boocode(env, project, *args, timeout=300)  # a catalog run on the local model takes minutes


def run_json(env: dict[str, str], project: Path, name: str, args: Any = None, *extra: str) -> dict[str, Any]:
    """`boocode run NAME --json [--args ARGS]`, which must complete; its parsed output."""
    command = ["run", name, "--json", "--no-live", *extra]
    if args is not None:
        command += ["--args", json.dumps(args)]
    done = boocode(env, project, *command)
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def prompt_of(request: FakeRequest) -> str:
    """The agent's prompt: the first user message."""
    for message in request.messages:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    return ""


def tool_output(request: FakeRequest) -> str | None:
    """The content of the last tool result in the conversation, if any."""
    results = [m for m in request.messages if m.get("role") == "tool"]
    return str(results[-1]["content"]) if results else None


def finding(file: str, line: int, category: str, issue: str, severity: str = "high") -> dict[str, Any]:
    """One finder finding, as the finders' schema asks for it."""
    return {
        "file": file,
        "line": line,
        "severity": severity,
        "category": category,
        "issue": issue,
        "suggestion": "fix",
    }


def as_json(value: Any) -> FakeReply:
    return FakeReply(text=json.dumps(value))


def git_init(project: Path) -> None:
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=project, check=True)
