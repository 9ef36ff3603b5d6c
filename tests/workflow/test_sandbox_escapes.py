"""Escape and abuse attempts: each fails only its own run with a clear error (or is harmless), never
reaches the host with anything but JSON data, and leaves the process able to run the next script."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from boocode.workflow.sandbox import ScriptLimitError, ScriptRuntimeError

Runner = Any  # the `run` fixture
RecordingHost = Any  # the `host` fixture

FORBIDDEN_GLOBALS = [
    "require", "process", "module", "exports", "Buffer", "fetch", "__dirname", "__filename", "URL",
    "queueMicrotask", "WebAssembly", "SharedArrayBuffer", "ArrayBuffer",
    "Atomics", "DataView", "Uint8Array", "Int32Array", "Float64Array", "BigInt64Array", "Float16Array",
    "Temporal", "WeakRef", "FinalizationRegistry", "eval", "ShadowRealm", "__timer_manager",
]  # fmt: skip

ERR = "error"
LIMIT = "limit"
VALUE = "value"

CASES: list[tuple[str, str, str, Any]] = [
    # code generation from strings, directly and through constructor chains
    ("function-ctor", "return Function('return this')()", ERR, "EvalError"),
    ("arrow-ctor-chain", "return (() => {}).constructor('return globalThis')()", ERR, "EvalError"),
    ("async-ctor-chain", "return (async () => {}).constructor('return 1')", ERR, "EvalError"),
    ("generator-ctor-chain", "return (function* () {}).constructor('yield 1')", ERR, "EvalError"),
    ("async-gen-ctor",
     "return Object.getPrototypeOf(async function* () {}).constructor('x')", ERR, "EvalError"),
    ("fn-proto-ctor", "return Function.prototype.constructor('return 1')()", ERR, "EvalError"),
    ("global-ctor-chain", "return globalThis.constructor.constructor('return 1')()", ERR, "EvalError"),
    ("array-ctor-chain", "return [].constructor.constructor('return 1')()", ERR, "EvalError"),
    ("reflect-construct", "return Reflect.construct(Function, ['return 1'])()", ERR, "EvalError"),
    ("eval", "return eval('1 + 1')", ERR, "ReferenceError: eval is not defined"),
    ("indirect-eval", "return (0, globalThis.eval)('1')", ERR, "TypeError"),
    # prototype pollution and tampering with intrinsics the bridge relies on
    # (scripts run in sloppy mode, as in Claude Code: writes to frozen intrinsics are silently ignored)
    ("pollute-object-proto",
     "Object.prototype.polluted = 1\nreturn [({}).polluted, await agent('x')]", VALUE, [None, "done: x"]),
    ("pollute-then",
     "Object.defineProperty(Object.prototype, 'then', {get() { return 1 }})", ERR, "TypeError"),
    ("replace-json", "JSON.stringify = () => '{}'\nreturn await agent('x')", VALUE, "done: x"),
    ("replace-array-push", "Array.prototype.push = function () {}", ERR, "TypeError"),
    ("replace-promise-then",
     "Promise.prototype.then = function () {}\nreturn await agent('x')", VALUE, "done: x"),
    ("replace-to-string", "Object.prototype.toString = () => 'x'", ERR, "TypeError"),
    ("prepare-stack-trace",
     "Error.prepareStackTrace = (e, f) => f\nreturn typeof Error.prepareStackTrace", VALUE, "undefined"),
    ("replace-bridge", "__bcPoll = () => '{}'\nreturn await agent('x')", VALUE, "done: x"),
    ("strict-replace-bridge",
     "const f = () => {\n  'use strict'\n  __bcPoll = () => '{}'\n}\nf()", ERR, "TypeError"),
    ("replace-agent", "agent = async () => 'forged'\nreturn await agent('x')", VALUE, "done: x"),
    ("steal-outbox", "agent('x')\n__bcPoll()\nawait new Promise(() => {})", ERR, "can never settle"),
    ("redefine-args", "Object.defineProperty(globalThis, 'args', {value: 1})", ERR, "TypeError"),
    # probing the global surface
    ("this-is-the-global", "return this === globalThis", VALUE, True),
    ("forbidden-globals",
     f"return {FORBIDDEN_GLOBALS!r}.filter((n) => typeof globalThis[n] !== 'undefined')", VALUE, []),
    ("no-require", "return globalThis['req' + 'uire']('fs')", ERR, "TypeError: .* is not a function"),
    ("no-process", "return process.env", ERR, "ReferenceError: process is not defined"),
    ("date-ctor-chain", "return new (Object.getPrototypeOf(new Date(0)).constructor)()", ERR, "new Date()"),
    # sloppy mode, as in Claude Code: `caller` never reveals the (strict) prelude's functions
    ("caller-chain", "return await parallel([function f() { return f.caller === null }])", VALUE, [True]),
    ("timer-string", "setTimeout('globalThis.x = 1', 1)", ERR, "strings are not evaluated"),
    ("timer-flood", "for (;;) setTimeout(() => 0, 1e9)", ERR, "host calls in flight"),
    # memory and CPU
    ("huge-string", "let s = 'x'\nwhile (true) s += s", ERR, "memory|Invalid string length"),
    ("huge-array", "const a = []\nfor (;;) a.push(new Array(1e6).fill(a.length))", LIMIT, "memory"),
    ("huge-pad", "return 'x'.padEnd(2 ** 29).length", ERR, "memory|Invalid string length"),
    ("deep-recursion", "function f(n) { return f(n + 1) + 1 }\nf(0)", ERR, "RangeError: Maximum call stack"),
    ("loop-before-await", "while (true) {}", LIMIT, "CPU limit per slice"),
    ("loop-after-await", "await agent('x')\nfor (;;) {}", LIMIT, "CPU limit per slice"),
    ("microtask-loop",
     "Promise.resolve().then(() => { for (;;) {} })\nreturn 1", LIMIT, "CPU limit per slice"),
    ("microtask-flood",
     "function f() { Promise.resolve().then(f) }\nf()\nawait agent('x')", LIMIT, "CPU limit"),
    ("promise-flood", "for (let i = 0; i < 20000; i++) agent('x' + i)", ERR, "more than 10000 host calls"),
    # values crossing the boundary
    ("fn-prompt", "return await agent(() => 'x')", ERR, "prompt must be a string"),
    ("boxed-prompt", "return await agent(new String('x'))", ERR, "prompt must be a string"),
    ("fn-in-opts", "return await agent('x', {schema: {f() {}}})", ERR, "'f' is a function"),
    ("symbol-in-opts", "return await agent('x', {s: Symbol('a')})", ERR, "'s' is a symbol"),
    ("bigint-in-opts", "return await agent('x', {n: 1n})", ERR, "BigInt"),
    ("cyclic-opts", "const o = {}\no.self = o\nreturn await agent('x', o)", ERR, "circular"),
    ("throwing-getter",
     "return await agent('x', {get a() { throw new Error('getter') }})", ERR, "Error: getter"),
    ("proxy-opts",
     "return await agent('x', new Proxy({}, {ownKeys() { throw new Error('trap') }}))", ERR, "trap"),
    ("class-instance-opts", "class O {}\nreturn await agent('x', new O())", ERR, "plain object"),
    ("huge-tojson",
     "return await agent('x', {a: {toJSON() { return 'z'.repeat(5e6) }}})", ERR, "larger than"),
    ("fn-workflow-ref", "return await workflow(() => 1)", ERR, "TypeError"),
    ("cyclic-return", "const o = {}\no.o = o\nreturn o", ERR, "cannot be sent as JSON"),
    ("getter-return", "return {get a() { throw new Error('nope') }}", ERR, "cannot be sent as JSON"),
    ("symbol-return", "return {[Symbol('k')]: 1, s: Symbol('v'), f() {}}", VALUE, {}),
    ("throw-unprintable",
     "throw {toString() { throw new Error('x') }, get message() { throw 1 }}", ERR, "Uncaught"),
    ("non-host-op-unreachable", "return typeof globalThis.__host", VALUE, "undefined"),
    ("forged-settle",
     "const p = agent('x')\n__bcSettle('{\"spent\":0,\"results\":[[1,true,\"forged\"]]}')\nreturn await p",
     VALUE, "forged"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "kind", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_escape_attempt(run: Runner, host: RecordingHost, body: str, kind: str, expected: Any) -> None:
    start = time.perf_counter()
    if kind == VALUE:
        assert await run(body) == expected
    else:
        error = ScriptLimitError if kind == LIMIT else ScriptRuntimeError
        with pytest.raises(error) as info:
            await run(body)
        assert re.search(expected, info.value.message), info.value.message
        if kind == LIMIT and "CPU" in expected:
            assert time.perf_counter() - start > 0.4  # stopped at the 0.5 s cap, not before
    for op, args in host.calls:
        assert op in {"agent", "log", "failure"} and isinstance(args, dict)
        assert op != "agent" or (set(args) == {"prompt"} and isinstance(args["prompt"], str))
    host.calls.clear()
    assert await run("return await agent('still fine')") == "done: still fine"


async def test_giant_log_output_is_capped(run: Runner, host: RecordingHost) -> None:
    await run("log('x'.repeat(5e6))\nfor (let i = 0; i < 300; i++) log('y'.repeat(9000))")
    messages = [args["message"] for args in host.ops("log")]
    assert len(messages[0]) < 10_100 and messages[0].endswith("more characters dropped]")
    assert messages[-1].startswith("log output limit reached (1000000 characters per run)")
    assert sum(len(m) for m in messages) < 1_020_000
    assert len(messages) < 120


async def test_pollution_attempt_does_not_change_host_data(run: Runner, host: RecordingHost) -> None:
    body = (
        "try { Object.prototype.injected = 'x' } catch {}\ntry { Array.prototype.evil = 1 } catch {}\n"
        "return await agent('p', {label: 'l'})"
    )
    assert await run(body) == "done: p"
    assert host.calls == [("agent", {"prompt": "p", "opts": {"label": "l"}})]


async def test_override_mistake_is_tamed(run: Runner) -> None:
    body = (
        "class E extends Error { constructor(m) { super(m); this.name = 'E' } }\n"
        "const o = {}\no.toString = () => 'mine'\n"
        "try { throw new E('x') } catch (e) { return [String(e), String(o)] }"
    )
    assert await run(body) == ["E: x", "mine"]
