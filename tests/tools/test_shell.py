from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import pytest

from boocode.tools.base import ToolContext
from boocode.tools.shell import bash, child_environment


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, possibly while being read
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def wait_until(condition: object, what: str, seconds: float = 5.0) -> None:
    """Poll `condition()` until it holds; fail after `seconds`."""
    assert callable(condition)
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the OS has no event to await for a process exit
            await asyncio.sleep(0.01)
    assert condition(), what


async def test_output_exit_code_and_cwd(root: Path, ctx: ToolContext) -> None:
    out = await bash({"command": "pwd; echo to-stderr >&2; exit 3"}, ctx)
    assert out.content == f"{root.resolve()}\nto-stderr\n\n[exit code 3]"
    assert not out.is_error
    assert (await bash({"command": "true"}, ctx)).content == "(no output)\n[exit code 0]"


async def test_killed_by_signal(ctx: ToolContext) -> None:
    out = await bash({"command": "kill -9 $$"}, ctx)
    assert out.content == "(no output)\n[killed by signal 9]"


async def test_no_input_is_given(ctx: ToolContext) -> None:
    out = await bash({"command": "cat; echo done"}, replace(ctx, bash_timeout=10))
    assert out.content == "done\n\n[exit code 0]"


def test_child_environment_drops_secrets() -> None:
    env = {
        "PATH": "/bin",
        "HOME": "/root",
        "OPENAI_API_KEY": "sk",
        "github_token": "t",
        "AWS_SECRET_ACCESS_KEY": "s",
        "DB_PASSWORD": "p",
        "BOOCODE_HOME": "/h",
        "PAGER": "less",
    }
    assert child_environment(env) == {
        "PATH": "/bin",
        "HOME": "/root",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "GIT_TERMINAL_PROMPT": "0",
    }


async def test_secrets_do_not_reach_the_command(ctx: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("BOOCODE_BASH_ALLOW", "x")
    monkeypatch.setenv("HARMLESS_SETTING", "visible")
    out = await bash({"command": "env"}, ctx)
    assert "HARMLESS_SETTING=visible" in out.content
    assert "sk-ant-secret" not in out.content
    assert "BOOCODE_" not in out.content


async def test_long_output_keeps_head_and_tail(ctx: ToolContext) -> None:
    command = "echo FIRST; for i in $(seq 1 20000); do echo line $i; done; echo LAST"
    out = await bash({"command": command}, replace(ctx, output_limit=1000))
    head, rest = out.content.split("\n[... ", 1)
    omitted, tail = rest.split(" bytes of output omitted ...]\n", 1)
    assert head.startswith("FIRST\nline 1\n") and len(head) == 500
    assert tail.endswith("line 20000\nLAST\n\n[exit code 0]")
    assert len(tail) == 500 + len("\n[exit code 0]")
    total = len("FIRST\nLAST\n") + sum(len(f"line {i}\n") for i in range(1, 20001))
    assert int(omitted.replace(",", "")) == total - 1000


async def test_timeout_kills_the_process_group(root: Path, ctx: ToolContext) -> None:
    command = "echo started; sleep 60 & echo $! > child.pid; wait"
    out = await bash({"command": command, "timeout_seconds": 0.5}, ctx)
    assert out.is_error
    assert out.content == (
        "started\n\n[timed out after 0.5 s; the command and its child processes were killed]"
    )
    child = int((root / "child.pid").read_text())
    await wait_until(lambda: not alive(child), "the background child survived the timeout")


async def test_default_timeout_comes_from_context(ctx: ToolContext) -> None:
    out = await bash({"command": "sleep 60"}, replace(ctx, bash_timeout=0.3))
    assert "[timed out after 0.3 s" in out.content


async def test_background_children_do_not_outlive_the_command(root: Path, ctx: ToolContext) -> None:
    out = await bash({"command": "sleep 60 & echo $! > child.pid; echo done", "timeout_seconds": 30}, ctx)
    assert out.content == "done\n\n[exit code 0]"
    child = int((root / "child.pid").read_text())
    await wait_until(lambda: not alive(child), "the background child outlived the command")


async def test_cancellation_kills_the_process_group(root: Path, ctx: ToolContext) -> None:
    pid_file = root / "pids"
    task = asyncio.create_task(bash({"command": "sleep 60 & echo $$ $! > pids; wait"}, ctx))
    await wait_until(
        lambda: pid_file.exists() and pid_file.read_text().endswith("\n"), "command never started"
    )
    shell, child = map(int, pid_file.read_text().split())
    assert alive(shell) and alive(child)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: not alive(shell) and not alive(child), "cancellation left processes running")
    assert os.path.exists(pid_file)


def processes_running(token: str) -> list[int]:
    """Live processes whose command line contains `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline:
                found.append(int(entry.name))
    return found


async def test_cancellation_while_starting_kills_the_process_group(ctx: ToolContext) -> None:
    token = f"{60 + os.getpid() % 1000 / 1000:.3f}"  # a sleep duration no other process uses
    task = asyncio.create_task(bash({"command": f"sleep {token} & sleep {token}; wait"}, ctx))
    await asyncio.sleep(0)  # the process is spawned; its pipes are still being connected
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: not processes_running(token), "a cancelled start left processes running")
