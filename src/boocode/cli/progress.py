"""A run's progress on stderr: on a terminal a live view (phases, agents, tokens, elapsed time) redrawn a few
times a second; otherwise one plain line per event worth a person's attention."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TextIO

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from boocode.workflow.events import Listener, RunEvent

REFRESH_PER_SECOND = 4
RECENT_SECONDS = 10.0  # how long a finished agent stays in the agent list
TAIL = 3  # log lines and failures kept in the live region
NO_PHASE = "(no phase)"
SYMBOLS = {
    "queued": ("·", "dim"),
    "running": ("●", "yellow"),
    "completed": ("✓", "green"),
    "failed": ("✗", "red"),
    "stopped": ("■", "dim"),
}


def event_line(event: RunEvent) -> str | None:
    """The plain progress line of an event, or None for an event not worth a line."""
    d = event.data
    where = f"[{d['phase']}] " if d.get("phase") else ""
    if event.kind == "run_started":
        return f"run {event.run_id} started: {d['name']}"
    if event.kind == "phase":
        return f"phase: {d['title']}"
    if event.kind == "log":
        return f"log: {d['message']}"
    if event.kind == "agent_started":
        return f"{where}{d['label']}: started"
    if event.kind == "agent_finished" and d.get("cached"):
        return f"{where}{d['label']}: cached (result from the journal)"
    if event.kind == "agent_finished":
        detail = f"{d['output_tokens'] or 0} output tokens" if d["status"] == "completed" else d["error"]
        return f"{where}{d['label']}: {d['status']} ({detail})"
    if event.kind == "failure":
        return f"failure: {d['label']} failed: {d['error']}"
    if event.kind == "run_finished":
        return f"run {event.run_id} {d['status']}" + (f": {d['error']}" if d["error"] else "")
    return None


def wants_live(stream: TextIO) -> bool:
    """A live view needs a terminal that can move its cursor."""
    return stream.isatty() and os.environ.get("TERM", "") not in ("dumb", "unknown")


@contextmanager
def progress_for(stream: TextIO, *, live: bool = True) -> Iterator[Listener]:
    """The listener that shows a run's progress on `stream`: the live view when `live` and the stream is a
    terminal, plain lines otherwise. Leaving the block (also by Ctrl-C) leaves the last frame on screen."""
    if not (live and wants_live(stream)):

        def plain(event: RunEvent) -> None:
            line = event_line(event)
            if line is not None:
                click.echo(f"boocode: {line}", file=stream)

        yield plain
        return
    with LiveRunView(Console(file=stream)) as view:
        yield view


@dataclass
class _Tokens:
    input: int = 0
    output: int = 0
    cache_read: int = 0

    def add(self, other: _Tokens) -> None:
        self.input += other.input
        self.output += other.output
        self.cache_read += other.cache_read


@dataclass
class _Agent:
    label: str
    phase: str
    queued_at: float
    status: str = "queued"
    model: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    tokens: _Tokens = field(default_factory=_Tokens)
    tool_calls: int = 0

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return (now if self.finished_at is None else self.finished_at) - self.started_at


@dataclass
class _Phase:
    title: str
    started_at: float | None = None
    agents: list[_Agent] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(a.status == status for a in self.agents)

    def elapsed(self, now: float, current: bool) -> str:
        """Since the phase began, until now while it is busy, else until its last agent finished."""
        if self.started_at is None:
            return ""
        ends = [a.finished_at for a in self.agents]
        end = now if current or None in ends else max([self.started_at, *(e for e in ends if e is not None)])
        return _clock(end - self.started_at)


def _tokens(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _first_line(text: Any) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


class LiveRunView:
    """The live view of one run (with its nested workflows) on a terminal console. Call it with each event
    (it is a `Listener`); use it as a context manager to draw it while the run goes on."""

    def __init__(self, console: Console, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.clock = clock
        self._lock = threading.Lock()  # events arrive on the event loop, frames are drawn on rich's thread
        self.run_id = ""
        self.name = ""
        self.status = "starting"
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.phases: dict[str, _Phase] = {}
        self.current_phase: str | None = None
        self.agents: dict[str, _Agent] = {}
        self.logs: list[str] = []
        self.failures: list[str] = []
        self._live = Live(
            console=console,
            get_renderable=self.render,
            refresh_per_second=REFRESH_PER_SECOND,
            redirect_stdout=False,  # stdout is for the result
        )

    def __enter__(self) -> LiveRunView:
        self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._live.stop()

    def __call__(self, event: RunEvent) -> None:
        with self._lock:
            self._apply(event, self.clock())
        if event.kind in ("log", "failure"):  # scrolled above the live region, so nothing is lost
            style = "red" if event.kind == "failure" else "dim"
            self.console.print(Text(f"boocode: {event_line(event)}", style=style))

    # state

    def _phase(self, title: str, now: float) -> _Phase:
        phase = self.phases.setdefault(title, _Phase(title))
        if phase.started_at is None:
            phase.started_at = now
        return phase

    def _apply(self, event: RunEvent, now: float) -> None:
        d = event.data
        agent = self.agents.get(str(d.get("agent_id")))
        if event.kind == "run_started" and not self.run_id:
            self.run_id, self.name, self.status, self.started_at = event.run_id, d["name"], "running", now
            for title in d.get("phases") or []:
                self.phases.setdefault(title, _Phase(title))
        elif event.kind == "phase":
            self.current_phase = d["title"]
            self._phase(d["title"], now)
        elif event.kind == "agent_queued":
            agent = _Agent(d["label"], d.get("phase") or NO_PHASE, now)
            self.agents[str(d["agent_id"])] = agent
            self._phase(agent.phase, now).agents.append(agent)
        elif event.kind == "agent_started" and agent is not None:
            agent.status, agent.started_at = "running", now
        elif event.kind == "agent_progress" and agent is not None:
            self._progress(agent, d)
        elif event.kind == "agent_finished" and agent is not None:
            agent.status, agent.finished_at = d["status"], now
            agent.model = d.get("model") or agent.model
            agent.tool_calls = d.get("tool_calls", agent.tool_calls)
            tokens = agent.tokens
            tokens.output = d.get("output_tokens") or tokens.output
            tokens.input = d.get("input_tokens") or tokens.input
            tokens.cache_read = d.get("cache_read_tokens") or tokens.cache_read
        elif event.kind == "log":
            self.logs = [*self.logs[-(TAIL - 1) :], _first_line(d["message"])]
        elif event.kind == "failure":
            self.failures.append(f"{d['label']}: {_first_line(d['error'])}")
        elif event.kind == "run_finished" and event.run_id == self.run_id:
            self.status, self.finished_at = d["status"], now
            # agents that never finished: stopped with the run, or refused (a spent budget) before starting
            for left in self.agents.values():
                if left.finished_at is None:
                    left.status = "stopped" if d["status"] == "stopped" else "failed"
                    left.finished_at = now

    @staticmethod
    def _progress(agent: _Agent, d: dict[str, Any]) -> None:
        if "started" in d:
            agent.model = d["started"].get("model") or agent.model
        if "tool_call" in d:
            agent.tool_calls += 1
        if "turn" in d:
            usage = d["turn"].get("usage")
            agent.tokens.add(
                _Tokens(
                    getattr(usage, "input_total", None) or 0,
                    getattr(usage, "output", None) or 0,
                    getattr(usage, "cache_read", None) or 0,
                )
            )

    # frame

    def render(self) -> RenderableType:
        """The current frame, at most as tall as the console; a finished run's clock stops at its end."""
        with self._lock:
            now = self.clock() if self.finished_at is None else self.finished_at
            return self._frame(now, self.console.size.height)

    def _frame(self, now: float, height: int) -> RenderableType:
        header = self._header(now)
        phases = self._phase_table(now)
        tail = self._tail()
        # header, phases, a blank line, the agents, "… and N more", the tail, and one spare line
        rows = max(1, height - 1 - phases.row_count - 1 - 1 - len(tail) - 1)
        agents, more = self._agent_table(now, rows)
        parts: list[RenderableType] = [header, phases, Text("")]
        if agents.row_count:
            parts.append(agents)
        if more:
            parts.append(Text(f"  … and {more} more", style="dim"))
        return Group(*parts, *tail)

    def _header(self, now: float) -> Text:
        if not self.run_id:
            return Text("boocode: starting the run…", style="dim")
        total = _Tokens()
        for agent in self.agents.values():
            total.add(agent.tokens)
        done = sum(a.finished_at is not None for a in self.agents.values())
        elapsed = now - (now if self.started_at is None else self.started_at)
        symbol, style = SYMBOLS.get(self.status, ("●", "yellow"))
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(f"{symbol} ", style=style)
        header.append(f"run {self.run_id}", style="bold")
        header.append(f"  {self.name}  ")
        header.append(self.status, style=style)
        header.append(f"  {_clock(elapsed)}  agents {done}/{len(self.agents)}  ")
        header.append(f"tokens {_tokens(total.input)} in / {_tokens(total.output)} out")
        header.append(f"  cache read {_tokens(total.cache_read)}", style="dim")
        return header

    def _phase_table(self, now: float) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, max_width=40, overflow="ellipsis")
        for _ in range(3):
            table.add_column(no_wrap=True)
        running = self.finished_at is None
        for phase in self.phases.values():
            current = running and phase.title == self.current_phase
            title = Text(("▶ " if current else "  ") + phase.title, style="bold" if current else "")
            counts = Text()
            for status, word in (("queued", "queued"), ("running", "running"), ("completed", "done")):
                self._count(counts, phase.count(status), word, SYMBOLS[status][1])
            self._count(counts, phase.count("failed"), "failed", "red")
            if stopped := phase.count("stopped"):
                self._count(counts, stopped, "stopped", "dim")
            tokens = _Tokens()
            for agent in phase.agents:
                tokens.add(agent.tokens)
            table.add_row(
                title,
                counts,
                f"{_tokens(tokens.input)} in  {_tokens(tokens.output)} out",
                phase.elapsed(now, current),
            )
        return table

    @staticmethod
    def _count(text: Text, n: int, word: str, style: str) -> None:
        if text:
            text.append("  ")
        text.append(f"{n} {word}", style=style if n else "dim")

    def _agent_table(self, now: float, rows: int) -> tuple[Table, int]:
        """The running agents (longest running first) and the recently finished (latest first)."""
        agents = self.agents.values()
        running = sorted((a for a in agents if a.status == "running"), key=lambda a: a.queued_at)
        recent = [a for a in agents if a.finished_at is not None and now - a.finished_at <= RECENT_SECONDS]
        recent.sort(key=lambda a: a.finished_at or 0.0, reverse=True)
        listed = [*running, *recent]
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, max_width=44, overflow="ellipsis")
        table.add_column(no_wrap=True, max_width=20, overflow="ellipsis", style="dim")
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, max_width=24, overflow="ellipsis", style="cyan")
        for _ in range(3):
            table.add_column(no_wrap=True, justify="right")
        for agent in listed[:rows]:
            symbol, style = SYMBOLS.get(agent.status, ("?", ""))
            table.add_row(
                Text.assemble((f"  {symbol} ", style), agent.label),
                Text(agent.phase),
                Text(agent.status, style=style),
                Text(agent.model),
                f"{_tokens(agent.tokens.output)} out",
                f"{agent.tool_calls} tool call" + ("" if agent.tool_calls == 1 else "s"),
                _clock(agent.elapsed(now)),
            )
        return table, max(0, len(listed) - rows)

    def _tail(self) -> list[Text]:
        lines = [Text(f"log: {line}", style="dim", no_wrap=True, overflow="ellipsis") for line in self.logs]
        shown = self.failures[-TAIL:]
        if len(self.failures) > len(shown):
            lines.append(Text(f"{len(self.failures)} failures, the last {len(shown)}:", style="red"))
        lines += [Text(f"✗ {failure}", style="red", no_wrap=True, overflow="ellipsis") for failure in shown]
        return lines
