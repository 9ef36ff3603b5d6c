"""Sandbox semantics: the script API over the JSON bridge, limits, errors and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from boocode.workflow.sandbox import UNDEFINED, Sandbox, ScriptHostError, ScriptLimitError, ScriptRuntimeError
from boocode.workflow.script import load_script

META = "export const meta = {name: 'test', description: 'a test script'}\n"
Runner = Any  # the `run` fixture: await run(body, **kwargs)
RecordingHost = Any  # the `host` fixture: records calls, answers agent() with "done: " + prompt


async def wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never became true")


async def test_agent_and_return(run: Runner, host: RecordingHost) -> None:
    assert await run("return await agent('hello', {label: 'x'})") == "done: hello"
    assert host.calls == [("agent", {"prompt": "hello", "opts": {"label": "x"}})]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return 'text'", "text"),
        ("return 42.5", 42.5),
        ("return -3", -3),
        ("return true", True),
        ("return null", None),
        ("return [1, 'a', null, {b: [false]}]", [1, "a", None, {"b": [False]}]),
        ("return {a: {b: 'c'}, u: undefined}", {"a": {"b": "c"}}),
        ("return", UNDEFINED),
        ("const x = 1", UNDEFINED),
        ("return undefined", UNDEFINED),
    ],
)
async def test_return_values(run: Runner, body: str, expected: Any) -> None:
    assert await run(body) == expected


async def test_top_level_await_and_return(run: Runner) -> None:
    assert await run("const a = await agent('1')\nif (a) return a + '!'\nreturn 'no'") == "done: 1!"


async def test_parallel_keeps_order_and_nulls_failures(run: Runner, host: RecordingHost) -> None:
    body = """
const r = await parallel([() => agent('a'), () => { throw new Error('bad thunk') },
  () => agent('c'), async () => { await agent('d'); throw new TypeError('late') }])
return r"""
    assert await run(body) == ["done: a", None, "done: c", None]
    assert host.ops("failure") == [
        {"where": "parallel[1]", "error": "bad thunk"},
        {"where": "parallel[3]", "error": "late"},
    ]


async def test_parallel_is_a_barrier() -> None:
    gates: dict[str, asyncio.Future[str]] = {}
    seen: list[str] = []

    async def host(op: str, args: Any) -> Any:
        if op == "log":
            seen.append(args["message"])
        if op == "agent":
            gates[args["prompt"]] = asyncio.get_running_loop().create_future()
            return await gates[args["prompt"]]
        return None

    script = load_script(META + "await parallel([() => agent('a'), () => agent('b')])\nlog('after')", "t.js")
    task = asyncio.create_task(Sandbox().run(script, host=host, budget_total=None, budget_spent=lambda: 0))
    await wait_until(lambda: len(gates) >= 2)
    gates["a"].set_result("A")
    await asyncio.sleep(0.05)
    assert seen == []
    gates["b"].set_result("B")
    await task
    assert seen == ["after"]


async def test_parallel_refusals(run: Runner, host: RecordingHost) -> None:
    with pytest.raises(ScriptRuntimeError, match=r"TypeError: parallel\(\): item 1 is not a function"):
        await run("await parallel([() => agent('a'), agent('b')])")
    with pytest.raises(
        ScriptRuntimeError, match=r"parallel\(\) received 4097 items; the limit is 4096 per call"
    ):
        await run("await parallel(Array.from({length: 4097}, () => () => 1))")
    assert len(await run("return await parallel(Array.from({length: 4096}, (_, i) => () => i))")) == 4096


async def test_pipeline_has_no_barrier_between_stages() -> None:
    gates: dict[str, asyncio.Future[str]] = {}
    order: list[str] = []

    async def host(op: str, args: Any) -> Any:
        if op == "agent":
            order.append(args["prompt"])
            gates[args["prompt"]] = asyncio.get_running_loop().create_future()
            return await gates[args["prompt"]]
        return None

    body = (
        "return await pipeline(['A', 'B'], (x) => agent('s1 ' + x),\n"
        "  (prev, item, i) => agent(`s2 ${item} ${prev} ${i}`))"
    )
    task = asyncio.create_task(
        Sandbox().run(load_script(META + body, "t.js"), host=host, budget_total=None, budget_spent=lambda: 0)
    )
    await wait_until(lambda: len(gates) >= 2)
    gates["s1 A"].set_result("a1")
    await wait_until(lambda: "s2 A a1 0" in gates)
    assert not gates["s1 B"].done()  # A reached stage 2 while B is still in stage 1
    gates["s1 B"].set_result("b1")
    await wait_until(lambda: len(gates) >= 4)
    gates["s2 B b1 1"].set_result("B!")
    gates["s2 A a1 0"].set_result("A!")
    assert await task == ["A!", "B!"]
    assert order == ["s1 A", "s1 B", "s2 A a1 0", "s2 B b1 1"]


async def test_pipeline_throw_drops_item_and_null_return_continues(run: Runner, host: RecordingHost) -> None:
    body = """
return await pipeline([1, 2, 3],
  (x, item, i) => { if (x === 2) throw new Error('no two'); return x === 3 ? null : x * 10 },
  (prev, item) => prev === null ? 'got null for ' + item : prev + 1)"""
    assert await run(body) == [11, None, "got null for 3"]
    assert host.ops("failure") == [{"where": "pipeline[1]", "error": "no two"}]


async def test_pipeline_first_stage_gets_item_twice_and_caps(run: Runner) -> None:
    assert await run("return await pipeline(['a'], (p, item, i) => [p, item, i])") == [["a", "a", 0]]
    with pytest.raises(ScriptRuntimeError, match="pipeline\\(\\) received 5000 items"):
        await run("await pipeline(Array(5000).fill(0), (x) => x)")
    with pytest.raises(ScriptRuntimeError, match="stage 0 is not a function"):
        await run("await pipeline([1], 'nope')")


async def test_phase_log_console_are_fire_and_forget_in_order(run: Runner, host: RecordingHost) -> None:
    await run("phase('Scan')\nlog('a', 1, {b: 2}, [3], null, undefined)\nconsole.log('c')\nawait agent('x')")
    assert host.calls == [
        ("phase", {"title": "Scan"}),
        ("log", {"message": 'a 1 {"b":2} [3] null undefined'}),
        ("log", {"message": "c"}),
        ("agent", {"prompt": "x"}),
    ]


async def test_workflow_call(run: Runner, host: RecordingHost) -> None:
    await run("await workflow('child', {n: 1})\nawait workflow({scriptPath: 'x.js'})")
    assert host.ops("workflow") == [{"ref": "child", "args": {"n": 1}}, {"ref": {"scriptPath": "x.js"}}]


async def test_args_deep_copy_and_undefined(run: Runner) -> None:
    payload = {"list": [1, 2], "nested": {"k": "v"}}
    assert await run("args.list.push(3); return args", args=payload) == {
        "list": [1, 2, 3],
        "nested": {"k": "v"},
    }
    assert payload == {"list": [1, 2], "nested": {"k": "v"}}
    assert await run("return typeof args") == "undefined"
    assert await run("return args", args="raw string") == "raw string"
    assert await run("return args", args=None) is None


async def test_budget(run: Runner, host: RecordingHost) -> None:
    async def spending_host(op: str, args: Any) -> Any:
        host.spent += 100
        return "ok"

    body = (
        "const a = budget.spent(); await agent('x'); const b = budget.spent(); await agent('y')\n"
        "return [budget.total, a, b, budget.spent(), budget.remaining(), Object.isFrozen(budget)]"
    )
    assert await run(body, budget_total=250, host=spending_host) == [250, 0, 100, 200, 50, True]
    host.spent = 0
    assert await run("return [budget.total, budget.remaining() === Infinity]") == [None, True]
    host.spent = 999
    assert await run("return budget.remaining()", budget_total=10) == 0


@pytest.mark.parametrize(
    ("expr", "name"),
    [
        # direct calls are refused at load time (test_script.py); these reach the runtime guards
        ("const D = Date; D.now()", "Date.now()"),
        ("const M = Math; M.random()", "Math.random()"),
        ("const D = Date; D()", "Date()"),
        ("const D = Date; new D()", "new Date()"),
        ("new (new Date(0).constructor)()", "new Date()"),
        ("new Intl.DateTimeFormat('en').format()", "format()"),
    ],
)
async def test_determinism_guards(run: Runner, expr: str, name: str) -> None:
    with pytest.raises(
        ScriptRuntimeError, match="is not available in workflow scripts \\(breaks resume\\)"
    ) as info:
        await run(f"\n{expr}")
    assert name in info.value.message and info.value.line == 3


async def test_dates_from_values_work(run: Runner) -> None:
    body = (
        "const d = new Date(Date.UTC(2024, 0, 2))\n"
        "return [d.toISOString(), d.getUTCDay(), d instanceof Date, "
        "new Date('2024-01-02').getTime(), Date.parse('2024-01-02T00:00:00Z')]"
    )
    assert await run(body) == ["2024-01-02T00:00:00.000Z", 2, True, 1704153600000, 1704153600000]


async def test_uncaught_throw_reports_user_line(run: Runner) -> None:
    with pytest.raises(ScriptRuntimeError) as info:
        await run("const x = 1\n\nfunction f() {\n  throw new Error('boom')\n}\nawait agent('a')\nf()")
    assert info.value.message == "Error: boom"
    assert info.value.line == 5
    assert str(info.value) == "test.js:5: Error: boom"


async def test_minified_script_line_and_non_error_throw(run: Runner, host: RecordingHost) -> None:
    script = load_script('export const meta={name:"m",description:"d"};throw new RangeError("r")', "m.js")
    with pytest.raises(ScriptRuntimeError, match="RangeError: r") as info:
        await Sandbox().run(script, host=host, budget_total=None, budget_spent=lambda: 0)
    assert info.value.line == 1
    with pytest.raises(ScriptRuntimeError, match="Uncaught 42"):
        await run("throw 42")


async def test_agent_validation(run: Runner, host: RecordingHost) -> None:
    with pytest.raises(ScriptRuntimeError, match="TypeError: agent\\(\\): prompt must be a string") as info:
        await run("\nawait agent(42)")
    assert info.value.line == 3
    with pytest.raises(ScriptRuntimeError, match="opts must be a plain object"):
        await run("await agent('x', [1])")
    with pytest.raises(ScriptRuntimeError, match="'onDone' is a function"):
        await run("await agent('x', {nested: {onDone() {}}})")
    assert host.ops("agent") == []


async def test_host_error_rejects_the_promise(run: Runner) -> None:
    async def host(op: str, args: Any) -> Any:
        raise ScriptHostError("budget exhausted")

    assert (
        await run("try { await agent('x') } catch (e) { return String(e) }", host=host)
        == "Error: budget exhausted"
    )
    with pytest.raises(ScriptRuntimeError, match="Error: budget exhausted"):
        await run("await agent('x')", host=host)


async def test_timers(run: Runner) -> None:
    body = (
        "const order = []\n"
        "const never = setTimeout(() => order.push('cleared'), 1)\n"
        "setTimeout((a, b) => order.push(a + b), 20, 'x', 'y')\n"
        "setTimeout(() => order.push('first'), 1)\n"
        "clearTimeout(never)\n"
        "clearTimeout(12345)\n"
        "await new Promise((resolve) => setTimeout(resolve, 40))\n"
        "return order"
    )
    assert await run(body) == ["first", "xy"]


async def test_a_throwing_timer_callback_fails_the_run(run: Runner) -> None:
    with pytest.raises(ScriptRuntimeError, match="Error: late") as info:
        await run(
            "setTimeout(() => {\n  throw new Error('late')\n}, 1)\n"
            "await agent('a')\nawait new Promise(() => {})"
        )
    assert info.value.line == 3


async def test_a_cleared_timer_does_not_keep_the_script_waiting(run: Runner) -> None:
    with pytest.raises(ScriptRuntimeError, match="can never settle"):
        await run("clearTimeout(setTimeout(() => 0, 1e9))\nawait new Promise(() => {})")


async def test_sloppy_mode_like_claude_code(run: Runner) -> None:
    assert await run("total = 2\nfunction f() { return this === globalThis }\nreturn [total, f()]") == [
        2,
        True,
    ]


async def test_never_settling_promise_is_reported(run: Runner) -> None:
    with pytest.raises(ScriptRuntimeError, match="can never settle"):
        await run("await new Promise(() => {})")


async def test_wall_clock_limit() -> None:
    async def slow(op: str, args: Any) -> Any:
        await asyncio.sleep(10)

    script = load_script(META + "await agent('x')", "t.js")
    with pytest.raises(ScriptLimitError, match="wall-clock limit"):  # long before the host's 10 s end
        await Sandbox().run(script, host=slow, budget_total=None, budget_spent=lambda: 0, wall_seconds=0.2)


async def test_cancelling_a_run_cancels_in_flight_host_calls() -> None:
    started = 0
    cancelled = 0

    async def host(op: str, args: Any) -> Any:
        nonlocal started, cancelled
        started += 1
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled += 1
            raise

    script = load_script(
        META + "await parallel(Array.from({length: 50}, (_, i) => () => agent('p' + i)))", "t.js"
    )
    task = asyncio.create_task(Sandbox().run(script, host=host, budget_total=None, budget_spent=lambda: 0))
    await wait_until(lambda: started >= 50)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled == 50


async def test_host_calls_of_a_fan_out_are_all_in_flight_together() -> None:
    """1000 thunks reach the host concurrently (speed itself is measured in bench/sandbox_bridge.py)."""
    in_flight = peak = 0
    release = asyncio.Event()

    async def host(op: str, args: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if peak == 1000:
            release.set()
        await release.wait()
        in_flight -= 1
        return "done: " + args["prompt"]

    script = load_script(
        META + "return (await parallel(Array.from({length: 1000}, (_, i) => () => agent('' + i)))).length",
        "t.js",
    )
    assert await Sandbox().run(script, host=host, budget_total=None, budget_spent=lambda: 0) == 1000
    assert peak == 1000


async def test_the_first_calls_of_a_big_fan_out_progress_before_the_last_are_started() -> None:
    """A fan-out is started a slice at a time: the first agents' requests are on their way while the
    rest are still being admitted, not after all 1000 have been."""
    events: list[tuple[str, int]] = []

    async def host(op: str, args: Any) -> Any:
        n = int(args["prompt"])
        events.append(("start", n))
        await asyncio.sleep(0)  # the request's next step (the HTTP send, for an agent)
        events.append(("next step", n))
        return n

    script = load_script(
        META + "return (await parallel(Array.from({length: 1000}, (_, i) => () => agent('' + i)))).length",
        "t.js",
    )
    assert await Sandbox().run(script, host=host, budget_total=None, budget_spent=lambda: 0) == 1000
    first_step = events.index(("next step", 0))
    assert first_step < events.index(("start", 100))
    assert [n for kind, n in events if kind == "start"] == list(range(1000))  # still started in order
