"""Run a workflow script in its own V8 isolate, with only JSON text crossing the boundary.

The prelude (`js/prelude.js`) turns every host call into a Promise whose request waits in a JS outbox.
Python runs JS only through the cancellable `eval_cancelable()`, one short slice at a time: after each
slice it drains the outbox, starts one asyncio task per request and settles every finished request in
one batch. Each slice has a CPU deadline; the whole run a wall-clock deadline; on overrun or
cancellation the isolate is destroyed (the only way to stop JS that loops after an `await`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final, final

from py_mini_racer import JSEvalException, JSOOMException, MiniRacer

from boocode.errors import BoocodeError
from boocode.workflow.script import SCRIPT_URL, WRAP_PREFIX, WRAP_SUFFIX, WorkflowScript, init_v8

HostHandler = Callable[[str, Any], Awaitable[Any]]
"""Answers one host call `(op, args)` with a JSON-able value; raise `ScriptHostError` to reject it."""

FIRE_AND_FORGET: Final = frozenset({"log", "phase", "failure", "clearTimeout"})
REQUEST_OPS: Final = frozenset({"agent", "workflow", "sleep"})
MAX_ARGS_CHARS: Final = 4 * 1024 * 1024
# Requests started before the loop runs once: the first ones get going while a big fan-out is admitted.
DISPATCH_SLICE: Final = 16
_USER_LINE = re.compile(re.escape(SCRIPT_URL) + r":(\d+):\d+")


@final
class _Undefined:
    """JavaScript's `undefined` as a Python value (a script that returns nothing, absent `args`)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = _Undefined()


class ScriptHostError(Exception):
    """Raised by a host handler: the script's promise rejects with `Error(message)`."""


class ScriptRuntimeError(BoocodeError):
    """The script threw and did not catch it; `line` is the user's line when the stack shows it."""

    def __init__(self, message: str, filename: str, line: int | None = None) -> None:
        super().__init__(f"{filename}:{line}: {message}" if line else f"{filename}: {message}")
        self.message = message
        self.filename = filename
        self.line = line


class ScriptLimitError(ScriptRuntimeError):
    """The script exceeded its heap, CPU-slice or wall-clock limit and was stopped."""


@cache
def _prelude() -> str:
    return (resources.files("boocode.workflow") / "js" / "prelude.js").read_text(encoding="utf-8")


class Sandbox:
    """Runs workflow scripts, one fresh V8 isolate per `run()`."""

    def __init__(self, *, heap_mb: int = 256, cpu_seconds: float = 5.0) -> None:
        self.heap_mb = heap_mb
        self.cpu_seconds = cpu_seconds

    async def run(
        self,
        script: WorkflowScript,
        *,
        args: Any = UNDEFINED,
        host: HostHandler,
        budget_total: int | None,
        budget_spent: Callable[[], int],
        wall_seconds: float | None = None,
    ) -> Any:
        """Run `script` to completion and return its value (`UNDEFINED` for `undefined`)."""
        run = _Run(self, script, host, budget_spent)
        config: dict[str, Any] = {"total": budget_total, "spent": budget_spent()}
        if args is not UNDEFINED:
            config["args"] = _dumps(args)
        try:
            async with asyncio.timeout(wall_seconds):
                return await run.execute(config)
        except TimeoutError:
            raise ScriptLimitError(
                f"the script ran for more than {wall_seconds:g} s (wall-clock limit)", script.filename
            ) from None


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


@dataclass
class _Run:
    """The state of one run: its isolate, in-flight host tasks and answers waiting to be settled."""

    sandbox: Sandbox
    script: WorkflowScript
    host: HostHandler
    budget_spent: Callable[[], int]
    tasks: dict[asyncio.Task[Any], int] = field(default_factory=dict)
    ready: list[str] = field(default_factory=list)
    finished: list[asyncio.Task[Any]] = field(default_factory=list)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    mr: MiniRacer | None = None

    async def execute(self, config: dict[str, Any]) -> Any:
        init_v8()
        self.mr = MiniRacer()
        try:
            self.mr.set_hard_memory_limit(self.sandbox.heap_mb * 1024 * 1024)
            await self._slice(_prelude())
            await self._slice(f"__bcInit({json.dumps(_dumps(config))})")
            await self._slice(WRAP_PREFIX + self.script.body + WRAP_SUFFIX)
            return await self._loop()
        finally:
            await self._shutdown()

    async def _loop(self) -> Any:
        while True:
            state = await self._poll()
            done = state["done"]
            await self._dispatch(state["outbox"], start_requests=done is None)
            if done is not None:
                return self._finish(done)
            if not self.ready:
                if not self.tasks:
                    raise self._error("the script waits on a promise that can never settle")
                await self.wakeup.wait()
            await self._settle()

    async def _shutdown(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        if self.mr is not None:
            self.mr.close()
            self.mr = None

    async def _slice(self, code: str) -> Any:
        """Run JS for at most `cpu_seconds`; map engine failures to script errors."""
        assert self.mr is not None
        try:
            # Not `wait_for`: on Python 3.11 it drops a cancellation that arrives as the slice completes
            # (bpo-42130), and the cancelled run went on.
            async with asyncio.timeout(self.sandbox.cpu_seconds):
                return await self.mr.eval_cancelable(code)
        except TimeoutError:
            raise self._limit(
                f"the script ran for more than {self.sandbox.cpu_seconds:g} s without waiting "
                "(CPU limit per slice, BOOCODE_SCRIPT_CPU_SECONDS)"
            ) from None
        except JSEvalException as exc:
            if isinstance(exc, JSOOMException) or self.mr.was_hard_memory_limit_reached():
                raise self._limit(
                    f"the script used more than {self.sandbox.heap_mb} MB of memory (heap limit)"
                ) from None
            raise self._error(f"internal sandbox error: {str(exc).splitlines()[0]}") from None

    async def _poll(self) -> dict[str, Any]:
        text = await self._slice("__bcPoll()")
        try:
            state = json.loads(text)
            if isinstance(state, dict) and isinstance(state.get("outbox"), list) and "done" in state:
                return state
        except (TypeError, ValueError):
            pass
        raise self._error("the sandbox bridge was tampered with")

    async def _dispatch(self, outbox: list[Any], *, start_requests: bool) -> None:
        """Start a task per request; pass fire-and-forget ops to the host in order, now.

        Once the script has finished, requests it never awaited are not started. A large outbox (a fan-out
        of 1000 agents) is started a slice at a time, with the loop running between slices, so the first
        requests are on their way while the rest are still being admitted.
        """
        started = 0
        for entry in outbox:
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], int)):
                raise self._error("the sandbox bridge was tampered with")
            rid, op, text = entry
            if rid and not start_requests:
                continue
            args = self._decode(rid, op, text)
            if args is None:
                continue
            if rid == 0:
                await self._notify(op, args)
            else:
                task = asyncio.create_task(self._request(op, args))
                task.add_done_callback(self._on_done)
                self.tasks[task] = rid
                started += 1
                if started % DISPATCH_SLICE == 0:
                    await asyncio.sleep(0)

    def _decode(self, rid: int, op: Any, text: Any) -> Any:
        allowed = FIRE_AND_FORGET if rid == 0 else REQUEST_OPS
        problem = None
        if op not in allowed:
            problem = f"unknown host operation {op!r}"
        elif not isinstance(text, str) or len(text) > MAX_ARGS_CHARS:
            problem = f"{op}(): arguments larger than {MAX_ARGS_CHARS} characters of JSON"
        if problem is None:
            args = json.loads(text)
            if isinstance(args, dict):
                return args
            problem = f"{op}(): arguments must be an object"
        if rid:
            self.ready.append(f"[{rid},false,{_dumps(problem)}]")
        return None

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        self.finished.append(task)
        self.wakeup.set()

    async def _request(self, op: str, args: Any) -> Any:
        if op == "sleep":  # setTimeout(): timers are the sandbox's own business, not the host's
            await asyncio.sleep(max(0, int(args.get("ms", 0))) / 1000)
            return None
        return await self.host(op, args)

    async def _notify(self, op: str, args: Any) -> None:
        if op == "clearTimeout":
            for task, rid in self.tasks.items():
                if rid == args.get("request"):
                    task.cancel()
            return
        with contextlib.suppress(ScriptHostError):
            await self.host(op, args)

    async def _settle(self) -> None:
        self.wakeup.clear()
        finished, self.finished = self.finished, []
        for task in finished:
            self.ready.append(self._answer(self.tasks.pop(task), task))
        batch = f'{{"spent":{_dumps(self.budget_spent())},"results":[{",".join(self.ready)}]}}'
        self.ready.clear()
        await self._slice(f"__bcSettle({json.dumps(batch)})")

    @staticmethod
    def _answer(rid: int, task: asyncio.Task[Any]) -> str:
        if task.cancelled():
            return f"[{rid},false,{_dumps('the host call was cancelled')}]"
        exc = task.exception()
        if isinstance(exc, ScriptHostError):
            return f"[{rid},false,{_dumps(str(exc))}]"
        if exc is not None:
            raise exc
        try:
            return f"[{rid},true,{_dumps(task.result())}]"
        except (TypeError, ValueError) as err:
            return f"[{rid},false,{_dumps(f'the host returned a value that is not JSON: {err}')}]"

    def _finish(self, done: dict[str, Any]) -> Any:
        if done.get("ok") is True:
            value = done.get("value")
            return UNDEFINED if value is None else json.loads(value)
        match = _USER_LINE.search(str(done.get("stack", "")))
        raise ScriptRuntimeError(
            str(done.get("message")), self.script.filename, int(match.group(1)) if match else None
        )

    def _error(self, message: str) -> ScriptRuntimeError:
        return ScriptRuntimeError(message, self.script.filename)

    def _limit(self, message: str) -> ScriptLimitError:
        return ScriptLimitError(message, self.script.filename)
