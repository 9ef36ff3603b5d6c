"""Helpers for the resume, stop and crash tests: `boocode` as a subprocess, workflow files, and a fake-server
responder that counts requests per prompt and can fail, hold or watch for chosen prompts."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from boocode.testing.fake_llm import FakeError, FakeReply, FakeRequest, default_responder


def boocode(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "boocode", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def spawn(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """`boocode ARGS` in the background; its stderr is read line by line with `read_run_id`/`lines`."""
    return subprocess.Popen(
        [sys.executable, "-m", "boocode", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


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


def json_out(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


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
