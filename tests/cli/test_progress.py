"""The progress of `boocode run`: the live view frame by frame (a synthetic run on a fixed-size console, a
fake clock), plain lines off a terminal, and `boocode run` end to end under a real pseudo-terminal."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from boocode.cli.progress import LiveRunView, progress_for
from boocode.llm.types import Usage
from boocode.testing.fake_llm import FakeLLMServer, FakeReply, FakeRequest
from boocode.workflow.events import RunEvent

RUN = "wf_0123abcd-456"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def console(height: int = 30, file: io.StringIO | None = None) -> Console:
    return Console(
        file=file or io.StringIO(), force_terminal=True, width=120, height=height, color_system=None
    )


class Run:
    """Feeds a view the events of a synthetic run."""

    def __init__(self, view: LiveRunView) -> None:
        self.view = view

    def __call__(self, kind: Any, **data: Any) -> None:
        self.view(RunEvent(kind, RUN, data))

    def agent(self, n: int, phase: str | None, *, model: str = "fake-model") -> str:
        agent_id = f"agt_{n}"
        info = {"agent_id": agent_id, "label": f"agent {n}", "phase": phase}
        self("agent_queued", **info)
        self("agent_started", **info, idx=n)
        self("agent_progress", **info, idx=n, started={"model": model, "prompt": "p"})
        return agent_id

    def turn(self, agent_id: str, usage: Usage) -> None:
        self("agent_progress", agent_id=agent_id, turn={"turn": 1, "usage": usage})

    def finish(self, agent_id: str, status: str = "completed", error: str | None = None, **data: Any) -> None:
        self("agent_finished", agent_id=agent_id, status=status, error=error, **data)


def frame(view: LiveRunView) -> str:
    with view.console.capture() as captured:
        view.console.print(view.render())
    return captured.get()


def test_phases_in_meta_order_with_counts_tokens_and_elapsed() -> None:
    clock = Clock()
    view = LiveRunView(console(), clock=clock)
    run = Run(view)
    run("run_started", name="review", phases=["Scan", "Fix", "Report"])
    run("phase", title="Report")  # announced before the others: still listed in meta order
    run("phase", title="Scan")
    clock.now += 5
    a = run.agent(1, "Scan")
    b = run.agent(2, "Scan")
    c = run.agent(3, "Scan")
    run("agent_queued", agent_id="agt_4", label="agent 4", phase="Scan")
    run.agent(5, None)
    run("agent_progress", agent_id=a, tool_call={"name": "read_file", "arguments": {}})
    run("agent_progress", agent_id=a, tool_call={"name": "grep", "arguments": {}})
    run.turn(a, Usage(input_total=1500, output=200, cache_read=1000))
    run.turn(a, Usage(input_total=1700, output=100, cache_read=1200))
    run.turn(b, Usage(input_total=900, output=50))
    clock.now += 60
    # the finished event's totals win over the sum of turns
    run.finish(b, output_tokens=700, input_tokens=2000, cache_read_tokens=500, tool_calls=3, model="m-b")
    run.finish(c, "failed", "provider error: HTTP 500\nwith a traceback", output_tokens=None, tool_calls=0)
    run("failure", label="agent 3", error="provider error: HTTP 500\nwith a traceback")

    text = frame(view)
    lines = text.splitlines()
    assert lines[0].startswith(f"● run {RUN}  review  running  1:05  agents 2/5")
    assert "tokens 5.2k in / 1.0k out" in lines[0] and "cache read 2.7k" in lines[0]
    titles = [line.split()[1] if line.startswith("▶") else line.split()[0] for line in lines[1:5]]
    assert titles == ["Scan", "Fix", "Report", "(no"]
    assert re.fullmatch(r"▶ Scan +1 queued  1 running  1 done  1 failed +5\.2k in  1\.0k out +1:05", lines[1])
    assert re.fullmatch(r"  Fix +0 queued  0 running  0 done  0 failed +0 in  0 out *", lines[2])
    # an agent's line: label, phase, status, model, output tokens, tool calls, elapsed
    assert re.search(r"● agent 1 +Scan +running +fake-model +300 out +2 tool calls +1:00", text)
    assert re.search(r"✓ agent 2 +Scan +completed +m-b +700 out +3 tool calls +1:00", text)
    assert re.search(r"✗ agent 3 +Scan +failed", text)
    assert "agent 4" not in text  # queued agents are counted, not listed
    assert "✗ agent 3: provider error: HTTP 500" in text and "traceback" not in text


def test_agents_are_capped_to_the_terminal_height() -> None:
    clock = Clock()
    view = LiveRunView(console(height=15), clock=clock)
    run = Run(view)
    run("run_started", name="fan", phases=["Scan"])
    ids = [run.agent(n, "Scan") for n in range(30)]
    text = frame(view)
    # header, 1 phase, a blank line, the agents, "… and N more", one spare line: 10 agents fit in 15 lines
    assert len(text.splitlines()) <= 14
    assert sum("● agent" in line for line in text.splitlines()) == 10
    assert "… and 20 more" in text
    assert "30 running" in text

    # the running come first, then the recently finished, latest first; long finished ones drop out
    for agent_id in ids[:25]:
        run.finish(agent_id, output_tokens=1)
        clock.now += 1
    text = frame(view)
    assert "25 done" in text and "5 running" in text
    listed = [line.split()[2] for line in text.splitlines() if "● agent" in line or "✓ agent" in line]
    assert listed == ["25", "26", "27", "28", "29", "24", "23", "22", "21", "20"]
    assert "… and 5 more" in text  # 5 running and 10 finished in the last 10 s, 10 shown
    clock.now += 60
    assert "more" not in frame(view)


def test_logs_and_failures_scroll_above_and_stay_in_the_view() -> None:
    out = io.StringIO()
    view = LiveRunView(console(file=out), clock=Clock())
    run = Run(view)
    run("run_started", name="logs", phases=[])
    for n in range(5):
        run("log", message=f"note {n}")
        run("failure", label=f"parallel[{n}]", error=f"Error: boom {n}")
    printed = out.getvalue()
    assert (
        "boocode: log: note 0" in printed and "boocode: failure: parallel[0] failed: Error: boom 0" in printed
    )
    text = frame(view)
    assert [line for line in text.splitlines() if line.startswith("log:")] == [
        "log: note 2",
        "log: note 3",
        "log: note 4",
    ]
    assert "5 failures, the last 3:" in text
    assert "✗ parallel[4]: Error: boom 4" in text and "parallel[1]" not in text


def test_the_final_frame_stays_on_screen() -> None:
    clock = Clock()
    out = io.StringIO()
    with LiveRunView(console(file=out), clock=clock) as view:
        run = Run(view)
        run("run_started", name="done", phases=["Only"])
        run("phase", title="Only")
        agent_id = run.agent(1, "Only")
        clock.now += 3
        run.finish(agent_id, output_tokens=42, input_tokens=10, tool_calls=1, model="fake-model")
        run("run_finished", status="completed", error=None)
        clock.now += 100  # the clock stops with the run
    last = ANSI.sub("", out.getvalue().rsplit("\x1b[2K", 1)[-1])
    assert last.startswith(f"✓ run {RUN}  done  completed  0:03  agents 1/1  tokens 10 in / 42 out")
    assert "  Only  0 queued  0 running  1 done  0 failed  10 in  42 out  0:03" in last  # no current phase
    assert re.search(r"✓ agent 1 +Only +completed +fake-model +42 out +1 tool call +0:03", last)
    assert out.getvalue().endswith("\x1b[?25h")  # the cursor is back


def test_a_stopped_run_stops_its_agents_and_restores_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    out = Terminal()
    stderr = sys.stderr
    with pytest.raises(KeyboardInterrupt), progress_for(out) as listener:
        assert isinstance(listener, LiveRunView)
        assert sys.stderr is not stderr  # stray stderr lines go above the live region
        run = Run(listener)
        run("run_started", name="long", phases=["Work"])
        run.agent(1, "Work")
        run.agent(2, "Work")
        run("run_finished", status="stopped", error=None)
        raise KeyboardInterrupt
    assert sys.stderr is stderr
    last = ANSI.sub("", out.getvalue().rsplit("\x1b[2K", 1)[-1])
    assert f"■ run {RUN}  long  stopped" in last
    assert "0 running  0 done  0 failed  2 stopped" in last
    assert out.getvalue().endswith("\x1b[?25h")


def test_plain_lines_off_a_terminal_or_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    events = [
        RunEvent("run_started", RUN, {"name": "plain", "phases": ["Scan"]}),
        RunEvent("phase", RUN, {"title": "Scan"}),
        RunEvent("agent_queued", RUN, {"agent_id": "a", "label": "look", "phase": "Scan"}),
        RunEvent("agent_started", RUN, {"agent_id": "a", "label": "look", "phase": "Scan", "idx": 0}),
        RunEvent("agent_progress", RUN, {"agent_id": "a", "label": "look", "tool_call": {"name": "grep"}}),
        RunEvent(
            "agent_finished",
            RUN,
            {"agent_id": "a", "label": "look", "phase": "Scan", "status": "completed", "error": None}
            | {"output_tokens": 7, "tool_calls": 1, "model": "m"},
        ),
        RunEvent("log", RUN, {"message": "found 1"}),
        RunEvent("failure", RUN, {"label": "parallel[1]", "error": "Error: boom"}),
        RunEvent("run_finished", RUN, {"status": "completed", "error": None}),
    ]
    expected = (
        f"boocode: run {RUN} started: plain\nboocode: phase: Scan\nboocode: [Scan] look: started\n"
        "boocode: [Scan] look: completed (7 output tokens)\nboocode: log: found 1\n"
        f"boocode: failure: parallel[1] failed: Error: boom\nboocode: run {RUN} completed\n"
    )
    for stream, live in ((io.StringIO(), True), (Terminal(), False)):
        with progress_for(stream, live=live) as listener:
            for event in events:
                listener(event)
        assert stream.getvalue() == expected
    monkeypatch.setenv("TERM", "dumb")
    with progress_for(Terminal()) as listener:
        assert not isinstance(listener, LiveRunView)


LIVE_SCRIPT = """export const meta = {
  name: 'live', description: 'a live view', phases: [{title: 'Gather'}, {title: 'Sum up'}],
}
phase('Gather')
const found = await parallel(['a', 'b'].map((x) => () => agent('look at ' + x, {label: 'looker ' + x})))
phase('Sum up')
log('gathered ' + found.length)
return await agent('sum up', {label: 'summer'})
"""


def run_on_a_terminal(
    env: dict[str, str], project: Path, *args: str, interrupt_when: threading.Event | None = None
) -> tuple[int, str, str]:
    """`boocode run` with stderr on a pseudo-terminal (Ctrl-C'd once `interrupt_when` is set): exit code,
    stdout, and what the terminal got."""
    main, child = os.openpty()
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child side is closed
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "boocode", "run", *args],
            env={**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "30"},
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=child,
            text=True,
        )
        os.close(child)
        if interrupt_when is not None:
            assert interrupt_when.wait(60), "the run never reached the server"
            proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=180)
    finally:
        reader.join(timeout=30)
        os.close(main)
    return proc.returncode, stdout, shown.decode(errors="replace")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".boocode" / "workflows").mkdir(parents=True)
    (root / ".boocode" / "workflows" / "live.js").write_text(LIVE_SCRIPT)
    return root


def test_run_on_a_terminal_draws_the_live_view(env: dict[str, str], project: Path) -> None:
    code, stdout, raw = run_on_a_terminal(env, project, "live")
    shown = ANSI.sub("", raw)
    assert code == 0, shown
    assert stdout == "done: sum up\n"
    assert re.search(r"✓ run wf_\S+  live  completed", shown), shown
    assert re.search(r"Gather +0 queued +0 running +2 done +0 failed", shown), shown
    assert re.search(r"Sum up +0 queued +0 running +1 done +0 failed", shown), shown
    for label in ("looker a", "looker b", "summer"):
        assert re.search(rf"✓ {label} +(Gather|Sum up) +completed +fake-model", shown), shown
    assert "boocode: log: gathered 2" in shown
    assert "looker a: started" not in shown  # no plain lines


def test_no_live_prints_plain_lines_on_a_terminal(env: dict[str, str], project: Path) -> None:
    code, stdout, shown = run_on_a_terminal(env, project, "live", "--no-live")
    assert code == 0, shown
    assert not ANSI.search(shown)
    assert stdout == "done: sum up\n"
    assert "boocode: [Gather] looker a: started" in shown and "boocode: log: gathered 2" in shown
    assert "Gather  " not in shown


def test_ctrl_c_stops_the_run_and_restores_the_terminal(
    env: dict[str, str], project: Path, server: FakeLLMServer
) -> None:
    arrived = threading.Event()

    def slow(request: FakeRequest) -> FakeReply:
        arrived.set()
        return FakeReply(text="too late", delay=60)

    server.responder = slow
    code, stdout, raw = run_on_a_terminal(env, project, "live", interrupt_when=arrived)
    shown = ANSI.sub("", raw)
    assert code == 130, shown
    assert stdout == ""
    assert re.search(r"■ run wf_\S+  live  stopped", shown), shown
    assert re.search(r"■ looker a +Gather +stopped", shown), shown
    assert "boocode: stopped" in shown
    assert raw.rindex("\x1b[?25h") > raw.rindex("\x1b[?25l")  # the cursor is shown again
