"""Helpers for the resume, stop and crash tests (`boocode` itself runs through `boocode.testing.cli`): a run's
id from its progress, workflow files, and a fake-server responder that counts requests per prompt and can
fail, hold or watch for chosen prompts."""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from boocode.testing.fake_llm import FakeError, FakeReply, FakeRequest, default_responder


def read_run_id(proc: subprocess.Popen[str]) -> str:
    """The run id from the first progress line (`boocode: run wf_... started: name`)."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert " started: " in line, line
    return line.split()[2]


def write(project: Path, name: str, body: str) -> Path:
    path = project / ".boocode" / "workflows" / f"{name}.js"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"export const meta = {{name: '{name}', description: 'test {name}'}}\n{body}")
    return path


class Replies:
    """A responder: "done: " + prompt, except prompts in `failing` (HTTP 400) and in `held` (answered after
    `hold_seconds`). Counts requests per prompt and sets `arrived(prompt)` when one comes in."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.held: set[str] = set()
        self.hold_seconds = 60.0
        self.counts: Counter[str] = Counter()
        self.on_request: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._arrived: dict[str, threading.Event] = {}

    def arrived(self, prompt: str) -> threading.Event:
        with self._lock:
            return self._arrived.setdefault(prompt, threading.Event())

    def __call__(self, request: FakeRequest) -> FakeReply:
        prompt = request.last_user_text
        with self._lock:
            self.counts[prompt] += 1
        self.arrived(prompt).set()
        if self.on_request is not None:
            self.on_request(prompt)
        if prompt in self.failing:
            return FakeReply(error=FakeError(400, f"{prompt} is broken"))
        reply = default_responder(request)
        if prompt in self.held:
            return FakeReply(text=reply.text, delay=self.hold_seconds)
        return reply

    def since(self, before: Counter[str]) -> Counter[str]:
        """Requests per prompt since the `before` snapshot of `counts`."""
        with self._lock:
            return self.counts - before

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)
