"""Running shell commands in the tool root."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from boocode.tools.base import Tool, ToolContext, ToolOutput

MAX_TIMEOUT = 600.0
_SECRET_MARKERS = ("API_KEY", "TOKEN", "SECRET", "PASSWORD")
# Commands run without a terminal or input: keep pagers and git from waiting for a person.
_NON_INTERACTIVE = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


async def bash(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    """Run a command with `/bin/bash -c`; report its merged output and exit code."""
    timeout = min(float(args.get("timeout_seconds", ctx.bash_timeout)), MAX_TIMEOUT)
    output = _HeadTail(ctx.output_limit)
    try:
        async with asyncio.timeout(timeout):
            code = await _run(args["command"], ctx.root, output)
    except TimeoutError:
        return ToolOutput(
            f"{output.text() or '(no output)'}\n"
            f"[timed out after {timeout:g} s; the command and its child processes were killed]",
            is_error=True,
        )
    status = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return ToolOutput(f"{output.text() or '(no output)'}\n[{status}]")


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without secrets (names containing API_KEY, TOKEN, SECRET or PASSWORD) and BOOCODE_ settings,
    with pagers and prompts turned off."""
    kept = {
        name: value
        for name, value in env.items()
        if not name.upper().startswith("BOOCODE_") and not any(m in name.upper() for m in _SECRET_MARKERS)
    }
    return kept | _NON_INTERACTIVE


async def _run(command: str, cwd: Path, output: _HeadTail) -> int:
    """Run `command`, feeding its output to `output`, and return its exit code.

    The command leads its own process group, which is killed when the command ends (so background
    children neither linger nor keep the output pipe open) and when the call is cancelled (as on a
    timeout). Futures are awaited shielded so that a cancellation cancels this call, not them.
    """
    async with _started(command, cwd, output) as (transport, protocol):
        await asyncio.shield(protocol.exited)
        _kill_group(transport.get_pid())
        await asyncio.shield(protocol.closed)
        code = transport.get_returncode()
        assert code is not None
        return code


@contextlib.asynccontextmanager
async def _started(
    command: str, cwd: Path, output: _HeadTail
) -> AsyncIterator[tuple[asyncio.SubprocessTransport, _CommandProtocol]]:
    """The running command; on leaving, its process group is killed and its transport closed."""
    loop = asyncio.get_running_loop()
    starting = asyncio.ensure_future(
        loop.subprocess_exec(
            lambda: _CommandProtocol(output, loop),
            "/bin/bash",
            "-c",
            command,
            cwd=cwd,
            env=child_environment(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    try:
        transport, protocol = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # Cancelled while starting: the command may already run, so let it start and then stop it.
        transport, protocol = await starting
        await _stop(transport, protocol)
        raise
    try:
        yield transport, protocol
    finally:
        await _stop(transport, protocol)


async def _stop(transport: asyncio.SubprocessTransport, protocol: _CommandProtocol) -> None:
    _kill_group(transport.get_pid())
    try:
        await asyncio.shield(protocol.exited)
    finally:
        transport.close()


class _CommandProtocol(asyncio.SubprocessProtocol):
    """Collects a command's output; `exited` resolves when it exits, `closed` once its pipe is closed too."""

    def __init__(self, output: _HeadTail, loop: asyncio.AbstractEventLoop) -> None:
        self._output = output
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self._output.add(data.encode() if isinstance(data, str) else data)

    def process_exited(self) -> None:
        self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set_result(None)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


class _HeadTail:
    """The first and last `limit // 2` bytes of a stream, and how many bytes it had in all."""

    def __init__(self, limit: int) -> None:
        self._half = max(limit // 2, 1)
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0

    def add(self, chunk: bytes) -> None:
        self._total += len(chunk)
        room = self._half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        self._tail += chunk
        del self._tail[: -self._half]

    def text(self) -> str:
        omitted = self._total - len(self._head) - len(self._tail)
        if not omitted:
            return (self._head + self._tail).decode(errors="replace")
        head = self._head.decode(errors="replace")
        tail = self._tail.decode(errors="replace")
        return f"{head}\n[... {omitted:,} bytes of output omitted ...]\n{tail}"


BASH = Tool(
    name="bash",
    description=(
        "Run a shell command with bash in the project root; stdout and stderr are merged. There is no "
        "input and no terminal; background processes are stopped when the command ends. Long output keeps "
        "its beginning and end."
    ),
    parameters={
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line to run."},
            "timeout_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_TIMEOUT,
                "description": "Kill the command after this many seconds (default set by the host).",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    },
    run=bash,
    read_only=False,
)
