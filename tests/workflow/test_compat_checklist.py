"""The compatibility checklist of `workflow-compat.md` section 9, one test (or a small group) per
point, end to end: `boocode run --json` as a subprocess against the fake LLM server, whose reply is a pure
function of the prompt ("done: " + prompt; a minimal valid instance for a schema): expected values are exact.

Where the document's "deliberate choices" table differs from Claude Code, the tests follow the table (where
scripts live, 16 agents by default whatever the CPU count, provider-native structured output).

Covered elsewhere / not yet:
- point 9 (the `workflow` tool: taskId, runId, scriptPath, transcriptDir, summary, persisted script): the tool
  does not exist yet;
- point 10 (journal, resume by start-order prefix, refusal while old agents live, `nothing to resume`): the
  resume work (`boocode resume`) and its own tests;
- point 11 (completion notification with status, summary, result, failures, usage): not yet;
- within point 12: plugin namespacing, `/<name>` commands inside a session and symlink refusal on save (there
  is no save yet); `boocode run NAME` stands for `/<name>`; the built-in catalog is only checked to come last;
- within point 14: the `paused` state and stopping a single agent (neither exists yet); a single agent failing
  is tested instead.

Runs use SQLite only: the checklist is about script semantics, and storage parity is what the store tests and
test_run_cli.py run on both databases.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_run_cli import boocode, write

from boocode.testing.fake_llm import (
    FakeError,
    FakeLLMServer,
    FakeReply,
    FakeRequest,
    FakeToolCall,
    default_responder,
    minimal_instance,
)

Json = dict[str, Any]
META = "export const meta = {name: 'probe', description: 'a probe'}\n"
LIMIT = (
    "agent limit reached: a workflow run can start at most 1000 agents "
    "(a loop on budget.remaining() needs a budget.total guard)"
)
FRAMING = "Your final message is returned verbatim to the program that started you"

# --- fixtures and helpers --------------------------------------------------------------------------------


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only (see the module docstring)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'boocode.db'}"


@pytest.fixture(autouse=True)
def default_replies_afterwards(server: FakeLLMServer) -> Iterator[None]:
    """Tests swap in their own responders; put the default back and re-raise what a responder raised."""
    yield
    server.reset()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".boocode" / "workflows").mkdir(parents=True)
    return root


def put(directory: Path, filename: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(text)
    return path


def run(
    env: dict[str, str], project: Path, workflow: str, *options: str
) -> tuple[Json, subprocess.CompletedProcess[str]]:
    """`boocode run WORKFLOW --json`: the printed outcome and the finished process (exit code, stderr)."""
    done = boocode(env, project, "run", workflow, "--json", *options)
    assert done.stdout, done.stderr
    out: Json = json.loads(done.stdout)
    return out, done


def show(env: dict[str, str], project: Path, run_id: str) -> Json:
    done = boocode(env, project, "runs", "show", run_id, "--json")
    assert done.returncode == 0, done.stderr
    data: Json = json.loads(done.stdout)
    return data


def prompt_of(request: FakeRequest) -> str:
    """The agent's prompt: the first user message of its conversation."""
    content = next(m["content"] for m in request.messages if m.get("role") == "user")
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def answering(special: dict[str, FakeReply]) -> Callable[[FakeRequest], FakeReply]:
    """The default replies, except for agents whose prompt contains one of `special`'s keys."""

    def responder(request: FakeRequest) -> FakeReply:
        prompt = prompt_of(request)
        for fragment, reply in special.items():
            if fragment in prompt:
                return reply
        return default_responder(request)

    return responder


def outage(server: FakeLLMServer) -> tuple[FakeReply, str]:
    """A terminal provider error (retries are off in `env`) and the failure text the run records for it."""
    return FakeReply(error=FakeError(500, "fake outage")), (
        f"openai at {server.openai_base_url} (model fake-model): HTTP 500: fake outage"
    )


class HeldReplies:
    """A responder answering "done: " + prompt after `delay` s with `output_tokens` per reply, counting the
    requests the server holds at once. The server lets go of a request before the engine has the end of its
    reply, so `peak` never exceeds the engine's concurrency; `delay` lets the first `held` requests pile up so
    that `peak` reaches it. Later requests are answered at once."""

    def __init__(self, delay: float, held: int = 10**6, output_tokens: int = 7) -> None:
        self.delay = delay
        self.held = held
        self.output_tokens = output_tokens
        self.arrived = 0
        self.holding = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, request: FakeRequest) -> FakeReply:
        with self._lock:
            self.arrived += 1
            self.holding += 1
            self.peak = max(self.peak, self.holding)
            delay = self.delay if self.arrived <= self.held else 0.0
        # A generator, not a list: it lets go of the request only as the reply streams out.
        chunks = self._stream("done: " + request.last_user_text)
        return FakeReply(delay=delay, chunks=chunks)  # type: ignore[arg-type]

    def _stream(self, text: str) -> Iterator[Json | str]:
        head = {"id": "held", "object": "chat.completion.chunk", "created": 0, "model": "fake-model"}
        choice = {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}
        yield {**head, "choices": [choice]}
        yield {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        tokens = self.output_tokens
        usage = {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens}
        yield {**head, "choices": [], "usage": usage}
        with self._lock:
            self.holding -= 1
        yield "data: [DONE]\n\n"


# Runs that two tests read (the run itself, and how `runs show` presents it): made once per module.
_SHARED: dict[str, Json] = {}


# --- 1. parsing --------------------------------------------------------------------------------------------


def test_point_01_parse_refusals_are_listed_without_running_anything(
    env: dict[str, str], project: Path, tmp_path: Path, server: FakeLLMServer
) -> None:
    # "1. Parse: first statement `export const meta = <pure literal>` (AST, no evaluation); reject TS,
    #    `import`, `import()`; 524 288-char limit; errors returned in the tool result ... and no run."
    (project / ".git").mkdir()  # discovery stops at the repository root
    folder = project / ".boocode" / "workflows"

    def sized(name: str, size: int) -> str:
        head = f"export const meta = {{name: '{name}', description: 'd'}}\n"
        return head + "//" + "x" * (size - len(head) - 2)

    scripts = {
        "at_limit.js": (sized("at-limit", 524_288), "at-limit"),
        "dynamic_import.js": (
            META + "const fs = await import('fs')\n",
            (2, "dynamic `import()` is not allowed in workflow scripts"),
        ),
        "evaluated_meta.js": (
            "export const meta = {name: agent('would reach the model'), description: 'd'}\n",
            (1, "meta must be a pure literal (no variables, calls or expressions)"),
        ),
        "late_meta.js": (
            "const x = 1\n" + META,
            (1, "the script must start with `export const meta = {...}`"),
        ),
        "minified.js": ('export const meta={name:"minified",description:"one line"};return 1', "minified"),
        "non_literal_meta.js": (
            "export const meta = {name: 'a' + 'b', description: 'd'}\n",
            (1, "meta must be a pure literal (no variables, calls or expressions)"),
        ),
        "oversize.js": (
            sized("oversize", 524_289),
            (1, "the script has 524,289 characters; the limit is 524,288"),
        ),
        "spinning.js": (META.replace("probe", "spinning") + "while (true) {}\n", "spinning"),
        "static_import.js": (
            META + "import fs from 'fs'\n",
            (2, "static `import` is not supported in workflow scripts"),
        ),
        "typescript.js": (META + "const n: number = 1\n", (2, "syntax error: Unexpected token")),
    }
    expected = []
    for filename, (text, outcome) in scripts.items():
        path = put(folder, filename, text)
        if isinstance(outcome, str):
            expected.append(("valid", outcome, str(path)))
        else:
            line, message = outcome
            expected.append(("invalid", str(path), f"{path}:{line}: {message}"))

    done = boocode({**env, "CLAUDE_CONFIG_DIR": str(tmp_path / "claude")}, project, "workflows")
    assert done.returncode == 0, done.stderr
    listed = []
    for line in done.stdout.splitlines():
        if line.startswith("INVALID  "):
            path, _, error = line.removeprefix("INVALID  ").partition(": ")
            listed.append(("invalid", path, error))
        else:
            match = re.fullmatch(r"(\S+) .*  (project|built-in): (\S+)", line)
            assert match, line
            if match[2] == "project":  # the built-in catalog, when there is one, is not under test here
                listed.append(("valid", match[1], match[3]))
    assert listed == expected
    assert server.requests == []  # the meta calling agent() was never evaluated


def test_point_01_refused_script_never_starts_a_run(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    # "1. ... reject ... `import()`; ... errors returned in the tool result ... and no run."
    # (test_run_cli.py::test_invalid_script_exits_2_without_any_request does the same for TypeScript)
    path = put(
        project, "late_import.js", META + "await agent('must not run')\nconst fs = await import('fs')\n"
    )
    done = boocode(env, project, "run", str(path))
    assert done.returncode == 2
    assert f"boocode: error: {path}:3: dynamic `import()` is not allowed in workflow scripts" in done.stderr
    assert server.requests == []
    listed = boocode(env, project, "runs")
    assert listed.stdout == "" and "no runs yet" in listed.stderr


# --- 2. execution -------------------------------------------------------------------------------------------


def test_point_02_body_runs_as_async_function_in_a_bare_realm(env: dict[str, str], project: Path) -> None:
    # "2. Execute the body as an async function with top-level `await`/`return` in an isolated JS realm ...:
    #    no `require`/`fs`/`process`/`fetch`/`URL`; guarded `Date`/`Math`; `new Date(x)` OK; ES2022+ syntax
    #    incl. `?.`, `??`, spread, async arrows."
    write(
        project,
        "realm",
        """
const reached = await agent('realm check')
const present = ['require', 'module', 'exports', 'process', 'Buffer', '__dirname', '__filename', 'fetch',
  'URL', 'XMLHttpRequest', 'WebAssembly', 'SharedArrayBuffer', 'Atomics']
  .filter((name) => typeof globalThis[name] !== 'undefined')
let reference = null
try { process.exit(1) } catch (e) { reference = e.name }
// Called through aliases: the launch check refuses the literal calls, these reach the runtime guards.
const D = Date
const M = Math
const guards = {}
const calls = [['Date.now()', () => D.now()], ['Math.random()', () => M.random()], ['Date()', () => D()],
  ['new Date()', () => new D()]]
for (const [name, call] of calls) {
  try { guards[name] = call() } catch (e) { guards[name] = e.message }
}
const dates = [new Date(0).toISOString(), new Date('2026-05-28T12:00:00Z').getUTCDate(), Date.UTC(2020, 0, 2)]
class Counter { #n = 0; static unit = 'steps'; step() { return ++this.#n } }
const counter = new Counter()
counter.step()
let late = null
late ??= 'assigned'
const {skip, ...kept} = {skip: 1, a: 2, b: 3}
const syntax = {
  optional: ({a: {b: null}}).a?.b?.c ?? 'fallback',
  spread: [...[1, 2], ...'ab'],
  kept,
  asyncArrow: await (async (x) => x * 2)(21),
  privateField: counter.step() + ' ' + Counter.unit,
  at: [1, 2, 3].at(-1),
  hasOwn: Object.hasOwn({k: 1}, 'k'),
  late,
  numeric: 1_000_000,
}
return {reached, present, reference, guards, dates, syntax}
""",
    )
    out, done = run(env, project, "realm")
    assert done.returncode == 0, done.stderr
    resume = "is not available in workflow scripts (breaks resume)"
    timestamp = "pass a timestamp in through args instead"
    assert out["result"] == {
        "reached": "done: realm check",
        "present": [],
        "reference": "ReferenceError",
        "guards": {
            "Date.now()": f"Date.now() {resume}; {timestamp}",
            "Math.random()": f"Math.random() {resume}; vary prompts by index or pass a seed in through args "
            "instead",
            "Date()": f"Date() {resume}; {timestamp}",
            "new Date()": f"new Date() {resume}; {timestamp}",
        },
        "dates": ["1970-01-01T00:00:00.000Z", 28, 1577923200000],
        "syntax": {
            "optional": "fallback",
            "spread": [1, 2, "a", "b"],
            "kept": {"a": 2, "b": 3},
            "asyncArrow": 42,
            "privateField": "2 steps",
            "at": 3,
            "hasOwn": True,
            "late": "assigned",
            "numeric": 1000000,
        },
    }


def test_point_02_launch_refuses_scripts_calling_date_now_or_math_random(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    # "2. ... guarded `Date`/`Math`" (§1.4: "launch-time validation also looks for these calls, so an
    #    obviously non-deterministic script may be refused before it starts")
    folder = project / ".boocode" / "workflows"
    clock = put(folder, "clock.js", META + "await agent('must not run')\nconst started = Date.now()\n")
    dice = put(folder, "dice.js", META + "const pick = Math.random()\n")
    today = put(folder, "today.js", META + "const when = new Date()\n")
    done = boocode(env, project, "run", str(clock))
    assert done.returncode == 2
    assert f"{clock}:3: Date.now()" in done.stderr
    assert server.requests == []
    listing = boocode(env, project, "workflows").stdout
    assert f"INVALID  {dice}: {dice}:2: Math.random()" in listing
    assert f"INVALID  {today}: {today}:2: new Date()" in listing


# --- 3. globals ---------------------------------------------------------------------------------------------


def test_point_03_globals_args_undefined_when_absent_budget_frozen(
    env: dict[str, str], project: Path
) -> None:
    # "3. Globals: `agent`, `parallel`, `pipeline`, `phase`, `log`, `workflow`, `args` (deep-copied JSON,
    #    `undefined` when absent), `budget` (frozen)."
    write(
        project,
        "globals",
        """
const api = {agent, parallel, pipeline, phase, log, workflow}
const types = Object.fromEntries(Object.entries(api).map(([name, value]) => [name, typeof value]))
try { budget.total = 1; budget.spent = () => 99; budget.extra = 1 } catch (e) {}
return {types, argsType: typeof args, frozen: Object.isFrozen(budget), total: budget.total,
  spent: budget.spent(), remaining: String(budget.remaining()), extra: budget.extra ?? 'none'}
""",
    )
    out, _ = run(env, project, "globals")
    assert out["result"] == {
        "types": {name: "function" for name in ("agent", "parallel", "pipeline", "phase", "log", "workflow")},
        "argsType": "undefined",
        "frozen": True,
        "total": None,
        "spent": 0,
        "remaining": "Infinity",
        "extra": "none",
    }


def test_point_03_args_are_the_json_value_verbatim(env: dict[str, str], project: Path) -> None:
    # "3. ... `args` (deep-copied JSON, ...)" (§2.7: verbatim; a JSON string stays a string, never re-encoded)
    write(
        project,
        "echo",
        "return {args, plain: Object.getPrototypeOf(args) === Object.prototype,"
        " isArray: Array.isArray(args.items), textType: typeof args.text}",
    )
    given = {"items": [1, {"deep": [True, None]}], "text": "[1, 2]", "ratio": 1.5, "empty": {}}
    out, _ = run(env, project, "echo", "--args", json.dumps(given))
    assert out["result"] == {"args": given, "plain": True, "isArray": True, "textType": "string"}


def test_point_03_set_timeout_calls_later_and_clear_timeout_cancels(
    env: dict[str, str], project: Path
) -> None:
    # "3. Globals: ..." (§1.3: also `setTimeout`, `clearTimeout`, host-provided)
    write(
        project,
        "timers",
        """
const order = []
const fired = await new Promise((resolve) => {
  const cancelled = setTimeout(() => order.push('cancelled'), 1)
  clearTimeout(cancelled)
  setTimeout(() => { order.push('later'); resolve(order.length) }, 20)
  order.push('now')
})
return {order, fired}
""",
    )
    out, _ = run(env, project, "timers")
    assert out["result"] == {"order": ["now", "later"], "fired": 2}


# --- 4. agent() ---------------------------------------------------------------------------------------------


def test_point_04_agent_promise_resolves_to_string_object_or_null_and_throws_on_bad_schemas(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    # "4. `agent()` returns a real Promise → string | object | null; throws for schema contradictions,
    #    5 failed structured attempts, ..."
    down, down_error = outage(server)
    server.responder = answering(
        {"outage": down, "malformed reply": FakeReply(text="not json"), "say nothing": FakeReply(text="")}
    )
    write(
        project,
        "calls",
        """
const pending = agent('plain words')
const isPromise = pending instanceof Promise && Object.prototype.toString.call(pending) === '[object Promise]'
const text = await pending
const form = {type: 'object', properties: {n: {type: 'integer', minimum: 2}, tag: {enum: ['a', 'b']}},
  required: ['n', 'tag']}
const object = await agent('fill the form', {schema: form})
const empty = await agent('say nothing')
const lost = await agent('outage ahead', {label: 'lost'})
const thrown = {}
const impossible = {type: 'object', properties: {a: {type: 'string'}}, required: ['a', 'b'],
  additionalProperties: false}
try { await agent('never sent', {schema: impossible}) } catch (e) { thrown.contradiction = e.message }
const yes = {type: 'object', properties: {ok: {type: 'boolean'}}, required: ['ok']}
try { await agent('malformed reply', {schema: yes}) } catch (e) { thrown.retries = e.message }
return {isPromise, text, object, empty, lost, thrown}
""",
    )
    out, done = run(env, project, "calls")
    assert done.returncode == 0, done.stderr
    assert out["result"] == {
        "isPromise": True,
        "text": "done: plain words",
        "object": {"n": 2, "tag": "a"},
        "empty": "",
        "lost": None,
        "thrown": {
            "contradiction": "agent(): contradictory schema: schema requires 'b' but additionalProperties "
            "is false and 'b' is not a property",
            "retries": "agent({schema}): structured output retry cap (5) exceeded — 5 failed attempts with "
            "no valid output; last validation failure: the reply is not JSON",
        },
    }
    assert out["failures"] == [{"label": "lost", "error": down_error}]
    assert server.count("never sent") == 0  # refused before it started
    schema_turns = [r for r in server.requests if prompt_of(r) == "malformed reply" and r.json_schema]
    assert len(schema_turns) == 5


def test_point_04_agent_throws_on_stall_exhaustion_and_spent_budget(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    # "4. ... throws for ... stall exhaustion, budget, ..."
    server.responder = answering({"hang forever": FakeReply(text="too late", delay=30)})
    write(
        project,
        "limits",
        """
const thrown = {}
try { await agent('hang forever', {label: 'stuck'}) } catch (e) { thrown.stall = e.message }
const first = await agent('spend it')
try { await agent('one too many') } catch (e) { thrown.budget = e.message }
return {first, thrown}
""",
    )
    stalls = {**env, "BOOCODE_STALL_SECONDS": "0.5", "BOOCODE_STALL_ATTEMPTS": "2"}
    out, done = run(stalls, project, "limits", "--budget", "1")
    # "done: spend it" is 4 output tokens by the fake server's count (len // 4 + 1): past the budget of 1.
    assert out["result"] == {
        "first": "done: spend it",
        "thrown": {
            "stall": "agent stalled on all 2 attempts (no progress for 0.5s each)",
            "budget": "budget exhausted: 4 of 1 tokens spent; agent() cannot start more agents",
        },
    }
    assert "boocode: log: [stuck] stalled (no progress for 0.5s), restarting (1/1)" in done.stderr
    assert (server.count("hang forever"), server.count("one too many")) == (2, 0)


def test_point_04_the_1001st_agent_call_throws(env: dict[str, str], project: Path) -> None:
    # "4. ... throws for ... 1000-agent cap."
    write(
        project,
        "thousand",
        """
const calls = Array.from({length: 1000}, (_, i) => agent('agent number ' + i))
const refused = []
calls.forEach((call, i) => call.catch(() => refused.push(i)))
let error = null
try { await agent('one too many') } catch (e) { error = e.message }
return {error, refused}
""",
    )
    # A refusal of any of the first 1000 would settle no later than the 1001st's (calls are counted in order),
    # so `refused` would hold it; the run ends before the 1000 agents are needed.
    out, _ = run(env, project, "thousand")
    assert out["result"] == {"error": LIMIT, "refused": []}


# --- 5. parallel and pipeline ------------------------------------------------------------------------------


def test_point_05_parallel_barrier_order_never_rejects_and_pipeline_chains(
    env: dict[str, str], project: Path
) -> None:
    # "5. `parallel` = barrier, ordered, never rejects, `null` + `parallel[i] failed:` record;
    #    `pipeline` = per-item chains, `(prev, item, index)`, throw → `null` + skip; 4096 cap each."
    write(
        project,
        "fanout",
        """
const settled = []
const results = await parallel([
  async () => {
    const first = await agent('first step')
    const second = await agent('second step after ' + first)
    settled.push('chain')
    return second
  },
  () => { throw new Error('thunk broke') },
  () => agent('contradiction', {schema: {type: 'object', properties: {}, required: ['x'],
    additionalProperties: false}}),
  () => 'plain value',
])
const stages = []
let release
const gate = new Promise((resolve) => { release = resolve })
const piped = await pipeline(
  ['a', 'b', 'c', 'd'],
  async (prev, item, index) => {
    stages.push(['one', prev, item, index])
    if (index === 1) await gate  // opened by item 0's second stage: a barrier would never let it open
    if (item === 'c') throw new Error('stage broke on c')
    if (item === 'd') return null
    return agent('one ' + item)
  },
  (prev, item, index) => {
    stages.push(['two', prev, item, index])
    if (index === 0) release()
    return prev === null ? 'got null' : prev + ' #' + index
  },
)
const list = (n) => Array.from({length: n}, (_, i) => i)
const caps = {
  parallel: (await parallel(list(4096).map((i) => () => i))).length,
  pipeline: (await pipeline(list(4096), (x) => x)).length,
}
const over = [['parallel', () => parallel(list(4097).map((i) => () => i))],
  ['pipeline', () => pipeline(list(4097), (x) => x)]]
for (const [name, call] of over) {
  try { await call(); caps[name + 'Over'] = 'accepted' } catch (e) { caps[name + 'Over'] = e.message }
}
return {results, settled, piped, stages, caps}
""",
    )
    out, done = run(env, project, "fanout")
    contradiction = (
        "agent(): contradictory schema: schema requires 'x' but additionalProperties is false and 'x' is not "
        "a property"
    )
    assert out["result"] == {
        "results": ["done: second step after done: first step", None, None, "plain value"],
        "settled": ["chain"],
        "piped": ["done: one a #0", "done: one b #1", None, "got null"],
        "stages": [
            ["one", "a", "a", 0],
            ["one", "b", "b", 1],
            ["one", "c", "c", 2],
            ["one", "d", "d", 3],
            ["two", None, "d", 3],
            ["two", "done: one a", "a", 0],
            ["two", "done: one b", "b", 1],
        ],
        "caps": {
            "parallel": 4096,
            "pipeline": 4096,
            "parallelOver": "parallel() received 4097 items; the limit is 4096 per call",
            "pipelineOver": "pipeline() received 4097 items; the limit is 4096 per call",
        },
    }
    assert out["failures"] == [
        {"label": "parallel[1]", "error": "thunk broke"},
        {"label": "parallel[2]", "error": contradiction},
        {"label": "pipeline[2]", "error": "stage broke on c"},
    ]
    assert "boocode: failure: parallel[1] failed: thunk broke" in done.stderr.splitlines()
    assert "boocode: failure: pipeline[2] failed: stage broke on c" in done.stderr.splitlines()


# --- 6. concurrency -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "cap", "delay"),
    [
        ({"BOOCODE_MAX_CONCURRENT_AGENTS": "2", "CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS": "3"}, 2, 0.5),
        ({"CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS": "3"}, 3, 0.5),
        ({"CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS": "300"}, 16, 1.0),
    ],
    ids=["boocode-variable-wins", "claude-variable-honoured", "default-16-whatever-the-cpus"],
)
def test_point_06_concurrency_cap_queues_the_rest(
    env: dict[str, str],
    project: Path,
    server: FakeLLMServer,
    overrides: dict[str, str],
    cap: int,
    delay: float,
) -> None:
    # "6. Concurrency semaphore `min(16, cpu−2)`≥1, env override 1..256; queued calls wait."
    # (deliberate choice: 16 per run regardless of CPU count; CLAUDE_CODE_WORKFLOW_MAX_CONCURRENT_AGENTS is
    #  honoured when ours is unset, and an invalid value keeps the default)
    replies = HeldReplies(delay, held=cap)
    server.responder = replies
    write(
        project,
        "wide",
        "return await parallel(Array.from({length: args}, (_, i) => () => agent('slot ' + i)))",
    )
    no_stagger = {**env, **overrides, "BOOCODE_PREFIX_STAGGER_MS": "0"}
    out, _ = run(no_stagger, project, "wide", "--args", str(cap + 1))
    assert out["result"] == [f"done: slot {i}" for i in range(cap + 1)]
    assert replies.peak == cap


def test_point_06_override_outside_1_to_256_is_refused(env: dict[str, str], project: Path) -> None:
    # "6. ... env override 1..256 ..."
    write(project, "any", "return 1")
    done = boocode({**env, "BOOCODE_MAX_CONCURRENT_AGENTS": "257"}, project, "run", "any")
    assert done.returncode == 2
    assert "boocode: error: BOOCODE_MAX_CONCURRENT_AGENTS must be between 1 and 256, got 257" in done.stderr


# --- 7. phases and logs -------------------------------------------------------------------------------------


@pytest.fixture
def phased_run(env: dict[str, str], project: Path) -> Json:
    """A run with meta phases Plan, Build, Check: agents in Build (phase()), Plan (opts.phase) and Extra (a
    title meta does not declare); its `runs show --json` and stderr."""
    if "phased" not in _SHARED:
        meta = (
            "export const meta = {name: 'phased', description: 'phases',"
            " phases: [{title: 'Plan'}, {title: 'Build', model: 'haiku'}, {title: 'Check'}]}\n"
        )
        body = """phase('Build')
const built = await agent('build it')
const planned = await agent('plan it', {phase: 'Plan'})
phase('Extra')
const extra = await agent('extra work')
log('three agents done')
log('built: ' + built)
return [built, planned, extra]
"""
        write(project, "phased", body, meta)
        out, done = run(env, project, "phased")
        assert out["result"] == ["done: build it", "done: plan it", "done: extra work"], done.stderr
        _SHARED["phased"] = {"shown": show(env, project, out["run_id"]), "stderr": done.stderr}
    return _SHARED["phased"]


def test_point_07_phase_assignment_logs_and_per_phase_totals(phased_run: Json) -> None:
    # "7. Phases: ... `phase()`/`opts.phase` assignment, unknown titles get own group; `log` lines; per-phase
    #    agent count, tokens, elapsed."
    shown, stderr = phased_run["shown"], phased_run["stderr"].splitlines()
    agents = [(a["label"], a["phase"], a["status"]) for a in shown["agents"]]
    assert agents == [
        ("build it", "Build", "completed"),
        ("plan it", "Plan", "completed"),
        ("extra work", "Extra", "completed"),
    ]
    assert shown["logs"] == ["three agents done", "built: done: build it"]
    phases = {p["phase"]: p for p in shown["phases"]}
    # output tokens by the fake server's count, len // 4 + 1: "done: build it" 4, "done: plan it" 4, ...
    for title, agent_row, output in (("Build", 0, 4), ("Plan", 1, 4), ("Extra", 2, 5)):
        entry = phases[title]
        assert (entry["agents"], entry["finished"], entry["output_tokens"]) == (1, 1, output)
        assert entry["input_tokens"] == shown["agents"][agent_row]["input_tokens"] > 0
        assert isinstance(entry["elapsed_seconds"], int | float)
    for line in (
        "phase: Build",
        "[Build] build it: started",
        "[Plan] plan it: started",
        "log: three agents done",
    ):
        assert f"boocode: {line}" in stderr


def test_point_07_runs_show_lists_meta_phases_first_in_meta_order(phased_run: Json) -> None:
    # "7. Phases: meta order first, ..."
    used = [p["phase"] for p in phased_run["shown"]["phases"] if p["agents"]]
    assert used == ["Plan", "Build", "Extra"]


# --- 8. nested workflows ------------------------------------------------------------------------------------


@pytest.fixture
def nested_run(env: dict[str, str], project: Path, server: FakeLLMServer) -> Json:
    """A parent with one agent of its own and a child workflow with two, one at a time, on a shared budget;
    then 996 queued agents and a child whose second agent is the run's 1001st."""
    if "nested" not in _SHARED:
        replies = HeldReplies(0.2, held=3)  # the fillers are answered at once
        server.responder = replies
        write(
            project,
            "child",
            """
const got = await parallel([() => agent('child a ' + args.x), () => agent('child b')])
let nested = null
try { await workflow('leaf') } catch (e) { nested = e.message }
return {got, args, total: budget.total, nested}
""",
        )
        write(project, "leaf", "return 'leaf ran'")
        write(
            project,
            "capped",
            """
let refused = null
agent('the 1000th agent').catch((e) => { refused = 'the 1000th: ' + e.message })
try { await agent('the 1001st agent') } catch (e) { return refused ?? e.message }
return 'no limit'
""",
        )
        write(
            project,
            "parent",
            """
const [mine, child] = await parallel([() => agent('parent work'), () => workflow('child', {x: 42})])
const spent = budget.spent()
for (let i = 0; i < 996; i++) agent('filler ' + i).catch(() => null)  // agents 4..999, never awaited
const capped = await workflow('capped')
return {mine, child, spent, total: budget.total, capped}
""",
        )
        one_at_a_time = {**env, "BOOCODE_MAX_CONCURRENT_AGENTS": "1", "BOOCODE_PREFIX_STAGGER_MS": "0"}
        out, done = run(one_at_a_time, project, "parent", "--budget", "50000")
        _SHARED["nested"] = {
            "env": env,
            "project": project,
            "out": out,
            "stderr": done.stderr,
            "peak": replies.peak,
        }
    return _SHARED["nested"]


def test_point_08_nested_workflow_shares_semaphore_counter_and_budget_one_level(nested_run: Json) -> None:
    # "8. `workflow()` one level, shares semaphore/counter/budget/abort; ..."
    # (the shared abort is in test_point_14_whole_run_stop_is_not_an_agent_failure)
    out = nested_run["out"]
    assert out["status"] == "completed", nested_run["stderr"]
    assert out["result"] == {
        "mine": "done: parent work",
        "child": {
            "got": ["done: child a 42", "done: child b"],
            "args": {"x": 42},
            "total": 50000,
            "nested": "workflow() cannot be nested: a child workflow cannot start another one",
        },
        "spent": 21,  # 7 output tokens for each of the three agents, the child's two included
        "total": 50000,
        "capped": LIMIT,
    }
    assert nested_run["peak"] == 1  # BOOCODE_MAX_CONCURRENT_AGENTS=1 held for the child's agents too


def test_point_08_runs_show_groups_nested_agents_under_the_child_name(nested_run: Json) -> None:
    # "8. ... "▸ name" grouping."
    shown = boocode(nested_run["env"], nested_run["project"], "runs", "show", nested_run["out"]["run_id"])
    assert "▸ child" in shown.stdout
    assert "child a 42" in shown.stdout


# --- 12. saved workflows ------------------------------------------------------------------------------------


def test_point_12_saved_workflows_closest_dir_wins_registry_by_meta_name(
    env: dict[str, str], tmp_path: Path
) -> None:
    # "12. Saved workflows: `.claude/workflows/` (closest wins), `~/.claude/workflows/`, plugin namespacing,
    #     registry by `meta.name`, `/<name>` commands, symlink refusal on save."
    # (deliberate choice: `.boocode/workflows` between cwd and repo root, closest first, then
    #  `~/.boocode/workflows`, then the `.claude/workflows` dirs the same way, then `~/.claude/workflows`)
    def script(name: str, says: str) -> str:
        return f"export const meta = {{name: '{name}', description: '{says}'}}\nreturn '{says}'\n"

    outside = tmp_path / "outside"
    repo = outside / "repo"
    sub = repo / "sub"
    (repo / ".git").mkdir(parents=True)
    user_dir = Path(env["BOOCODE_HOME"]) / "workflows"
    claude_home = tmp_path / "claude-home"
    put(outside / ".boocode" / "workflows", "above.js", script("above-the-repo", "never read"))
    rows = [
        ("shared", "project", put(sub / ".boocode" / "workflows", "closest.js", script("shared", "closest"))),
        ("shared", "project", put(repo / ".boocode" / "workflows", "root.js", script("shared", "repo root"))),
        ("root-only", "project", put(repo / ".boocode" / "workflows", "zz.js", script("root-only", "root"))),
        ("personal", "user", put(user_dir, "mine.js", script("personal", "user"))),
        ("shared", "user", put(user_dir, "user.js", script("shared", "user"))),
        (
            "cc-project",
            "project (.claude)",
            put(sub / ".claude" / "workflows", "cc.js", script("cc-project", "near")),
        ),
        (
            "cc-project",
            "project (.claude)",
            put(repo / ".claude" / "workflows", "cc.js", script("cc-project", "far")),
        ),
        (
            "cc-personal",
            "user (.claude)",
            put(claude_home / "workflows", "cc-personal.js", script("cc-personal", "p")),
        ),
        (
            "cc-project",
            "user (.claude)",
            put(claude_home / "workflows", "cc.js", script("cc-project", "personal")),
        ),
    ]
    seen: set[str] = set()
    expected = []
    for name, source, path in rows:
        expected.append((name, source, str(path), name in seen))
        seen.add(name)
    cc_env = {**env, "CLAUDE_CONFIG_DIR": str(claude_home)}
    done = boocode(cc_env, sub, "workflows")
    assert done.returncode == 0, done.stderr
    listed = []
    for line in done.stdout.splitlines():
        match = re.fullmatch(
            r"(\S+) .*  ((?:project|user)(?: \(\.claude\))?|built-in): (\S+?)(  \(shadowed\))?", line
        )
        assert match, line
        listed.append((match[1], match[2], match[3], match[4] is not None))
    saved = [row for row in listed if row[1] != "built-in"]
    assert saved == expected
    assert listed[: len(saved)] == saved  # the built-in catalog, when there is one, comes last
    out, _ = run(cc_env, sub, "shared")
    assert out["result"] == "closest"


# --- 13. subagents ------------------------------------------------------------------------------------------


def git(project: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, text=True)
    return done.stdout


def test_point_13_framing_prompts_tool_exclusion_and_worktree_cleanup(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    # "13. Subagent framing prompts (plain-text vs StructuredOutput variants), disallow Agent/Workflow tools
    #     in workflow agents, worktree isolation with auto-cleanup."
    # (a changed worktree kept for review: test_run_cli.py::test_worktree_isolation_keeps_changes_apart)
    put(
        project / ".boocode" / "agents",
        "reviewer.md",
        "---\nname: reviewer\ndescription: Reviews\ntools: Read, Agent, Workflow\n---\n"
        "You are a careful reviewer.\n",
    )
    write(
        project,
        "framed",
        """
const yes = {type: 'object', properties: {ok: {type: 'boolean'}}, required: ['ok']}
const plain = await agent('plain task')
const shaped = await agent('shaped task', {schema: yes})
const typed = await agent('typed task', {agentType: 'reviewer'})
const isolated = await agent('isolated task', {isolation: 'worktree'})
return {plain, shaped, typed, isolated}
""",
    )
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    out, done = run(env, project, "framed")
    assert out["result"] == {
        "plain": "done: plain task",
        "shaped": {"ok": False},
        "typed": "done: typed task",
        "isolated": "done: isolated task",
    }, done.stderr
    first = {prompt_of(r): r for r in reversed(server.requests)}
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    assert FRAMING in first["plain task"].system and "JSON schema" not in first["plain task"].system
    assert FRAMING in first["shaped task"].system
    assert "Your final answer must be only a JSON object matching this JSON schema:\n" + json.dumps(
        schema
    ) in (first["shaped task"].system)
    assert (
        FRAMING in first["typed task"].system and "You are a careful reviewer." in first["typed task"].system
    )
    assert first["typed task"].tools == [
        "read_file"
    ]  # Agent and Workflow from the agent file are not offered
    for request in server.requests:
        assert not {name.lower() for name in request.tools} & {"agent", "workflow", "task"}, request.tools
    system = first["isolated task"].system
    match = re.search(r"You are working in an isolated git worktree at (\S+): ", system)
    assert match, system
    tree = Path(match[1])
    assert f"working in the project directory {tree}." in system and FRAMING in system
    assert tree != project and not tree.exists()  # unchanged: removed
    assert git(project, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_point_13_structured_output_tool_framing(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    # "13. Subagent framing prompts (plain-text vs StructuredOutput variants), ..."
    # (deliberate choice: provider-native JSON schema where supported, above; otherwise a structured-output
    #  tool: the Anthropic provider here)
    def call_structured_output(request: FakeRequest) -> FakeReply:
        tools = {t["name"]: t for t in request.body.get("tools") or []}
        if "StructuredOutput" in tools:
            arguments = minimal_instance(tools["StructuredOutput"]["input_schema"])
            return FakeReply(tool_calls=[FakeToolCall("StructuredOutput", arguments)])
        return default_responder(request)

    server.responder = call_structured_output
    write(
        project,
        "tooled",
        "return await agent('shaped task', {schema: {type: 'object', properties:"
        " {ok: {type: 'boolean'}}, required: ['ok']}})",
    )
    anthropic = {
        **env,
        "BOOCODE_PROVIDER": "anthropic",
        "BOOCODE_BASE_URL": server.anthropic_base_url,
        "ANTHROPIC_API_KEY": "sk-ant-test-secret",
    }
    out, done = run(anthropic, project, "tooled")
    assert out["result"] == {"ok": False}, done.stderr
    [request] = server.requests
    assert FRAMING in request.system
    once = "call the StructuredOutput tool exactly once with it as the arguments; the program reads only that"
    assert once + " call" in request.system
    assert "StructuredOutput" in request.tools


# --- 14. run states -----------------------------------------------------------------------------------------


def test_point_14_completed_and_failed_runs_single_agent_failure_is_null(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    # "14. Run states running/paused/completed/failed/stopped; ... single agent stop = failure → `null`."
    down, down_error = outage(server)
    server.responder = answering({"outage": down})
    write(
        project,
        "survives",
        "const lost = await agent('outage for one', {label: 'one'})\n"
        "return {lost, kept: await agent('still fine')}",
    )
    breaks = write(project, "breaks", "await agent('fine first')\nthrow new Error('the script gave up')")
    out, done = run(env, project, "survives")
    assert (done.returncode, out["status"]) == (0, "completed")
    assert out["result"] == {"lost": None, "kept": "done: still fine"}
    assert out["failures"] == [{"label": "one", "error": down_error}]
    out, done = run(env, project, "breaks")
    assert (done.returncode, out["status"], out["result"]) == (1, "failed", None)
    assert out["error"] == f"{breaks}:3: Error: the script gave up"


def test_point_14_whole_run_stop_is_not_an_agent_failure(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    # "14. ... whole-run stop ≠ agent failure; ..." (and 8: a nested workflow shares the parent's abort)
    both_held = threading.Event()

    def hold(request: FakeRequest) -> FakeReply:
        if "hold" not in request.last_user_text:
            return default_responder(request)
        if server.count("hold in parent") and server.count("hold in child"):
            both_held.set()
        return FakeReply(text="never delivered", delay=60)

    server.responder = hold
    write(project, "held-child", "return await agent('hold in child')")
    write(
        project,
        "stopper",
        "await agent('warm up')\n"
        "return await parallel([() => agent('hold in parent'), () => workflow('held-child')])",
    )
    command = [sys.executable, "-m", "boocode", "run", "stopper", "--json"]
    proc = subprocess.Popen(
        command, env=env, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert both_held.wait(60), "the run never reached its held agents"
        run_id, _date, _time, status, name = boocode(env, project, "runs").stdout.split()
        assert (status, name) == ("running", "stopper")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert stdout == "" and "boocode: stopped" in stderr
    assert "failed" not in stderr
    shown = show(env, project, run_id)
    assert (shown["status"], shown["failures"]) == ("stopped", [])
    statuses = {a["label"]: a["status"] for a in shown["agents"]}
    assert statuses["warm up"] == "completed"
    assert statuses["hold in parent"] in ("stopped", "interrupted")  # not "failed"
