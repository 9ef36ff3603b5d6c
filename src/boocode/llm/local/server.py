"""Run llama.cpp's OpenAI-compatible server (embedded in xllamacpp) for the local model.

The server runs in a child Python process (`_worker`) rather than in boocode's own: xllamacpp holds the GIL
while it loads a model (measured: the event loop stood still for the whole 3 s load), and a llama.cpp abort
would otherwise end boocode with it. The child listens on 127.0.0.1 on an ephemeral port and exits when its
stdin closes, so it never outlives boocode, even when boocode is killed.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import json
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import httpx

from boocode.config import Settings
from boocode.errors import ProviderError
from boocode.llm.local.fetch import Progress, ensure_model, model_name_for
from boocode.llm.local.models import DEFAULT_MODEL

_STOP_GRACE = 10.0
_LOG_TAIL_BYTES = 3000


# Requests one server decodes at once (llama.cpp slots, continuous batching).
SLOTS = 4


class LocalServer:
    """One llama.cpp server process serving the GGUF at `model_path` as `model_name`.

    `slots` requests are decoded in parallel (continuous batching), each with a `ctx_per_slot`-token context;
    callers should cap their concurrency at `slots`. `start()` is idempotent and `stop()` is safe to call at
    any time; a started server is also stopped at interpreter exit.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        model_name: str | None = None,
        threads: int = 2,
        slots: int = SLOTS,
        ctx_per_slot: int = 8192,
        startup_timeout: float = 180.0,
    ) -> None:
        self.model_path = Path(model_path)
        self.model_name = model_name or self.model_path.stem
        self.threads = threads
        self.slots = slots
        self.ctx_per_slot = ctx_per_slot
        self.startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str | None:
        """The OpenAI-compatible base URL (`http://127.0.0.1:PORT/v1`) while running, else None."""
        return self._base_url if self.running else None

    @property
    def running(self) -> bool:
        """Whether the server has started and its process is still alive."""
        proc = self._proc
        return self._base_url is not None and proc is not None and proc.poll() is None

    async def start(self) -> str:
        """Start the server if it is not running and return its base URL once `/health` answers."""
        return await asyncio.to_thread(self.start_blocking)

    async def stop(self) -> None:
        """Stop the server process (no-op when not running)."""
        await asyncio.to_thread(self.stop_blocking)

    def start_blocking(self) -> str:
        """`start()` for threads: concurrent callers wait for one start and share it."""
        with self._lock:
            if self._base_url is not None and self.running:
                return self._base_url
            self._terminate()
            deadline = time.monotonic() + self.startup_timeout
            try:
                address = self._launch(deadline)
                self._wait_healthy(address, deadline)
            except BaseException:
                self._terminate(grace=0)
                raise
            self._base_url = f"{address}/v1"
            _live.add(self)
            return self._base_url

    def stop_blocking(self) -> None:
        """`stop()` for threads and exit handlers."""
        with self._lock:
            self._terminate()

    def log_tail(self, limit: int = _LOG_TAIL_BYTES) -> str:
        """The end of the server's log (llama.cpp warnings and errors)."""
        log = self._log
        if log is None or log.closed:
            return ""
        log.seek(0, 2)
        size = log.tell()
        log.seek(max(0, size - limit))
        return log.read().decode("utf-8", "replace").strip()

    def _launch(self, deadline: float) -> str:
        """Spawn the worker and return the address it reports once the model is loaded."""
        config = {
            "model_path": str(self.model_path.resolve()),
            "model_name": self.model_name,
            "threads": self.threads,
            "slots": self.slots,
            "ctx_per_slot": self.ctx_per_slot,
        }
        # Append mode: the child writes through the same open file, so our seeks must not move its writes.
        self._log = tempfile.TemporaryFile(mode="a+b", prefix="boocode-llama-")  # noqa: SIM115 (lives on)
        self._proc = subprocess.Popen(
            # -P: the current directory (a user's project) must not shadow the modules the worker imports
            [sys.executable, "-P", "-m", "boocode.llm.local._worker", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,  # a Ctrl-C in the terminal is boocode's to handle, not the server's
        )
        return self._read_address(self._proc, deadline)

    def _read_address(self, proc: subprocess.Popen[bytes], deadline: float) -> str:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            what = f"did not load {self.model_path} within {self.startup_timeout:.0f} s"
            raise self._failure(what, retryable=True)
        line = proc.stdout.readline()
        if not line:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            what = f"exited (code {proc.returncode}) while loading {self.model_path}"
            raise self._failure(what, retryable=False)
        try:
            address: str = json.loads(line)["address"]
        except (ValueError, KeyError, TypeError):
            raise self._failure(f"sent {line[:200]!r} instead of its address", retryable=False) from None
        return address

    def _wait_healthy(self, address: str, deadline: float) -> None:
        """Poll `/health` until it answers 200 (it answers 503 while loading), bounded by `deadline`."""
        with httpx.Client(timeout=5.0) as client:
            while True:
                if self._proc is None or self._proc.poll() is not None:
                    raise self._failure("exited before it was ready", retryable=False)
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{address}/health").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    what = f"did not become ready within {self.startup_timeout:.0f} s"
                    raise self._failure(what, retryable=True)
                time.sleep(0.1)

    def _failure(self, what: str, *, retryable: bool) -> ProviderError:
        tail = self.log_tail()
        detail = f"\n--- server log (end) ---\n{tail}" if tail else ""
        return ProviderError(f"the local model server {what}{detail}", retryable=retryable)

    def _terminate(self, grace: float = _STOP_GRACE) -> None:
        """Stop the process, if any, and forget it; the caller holds the lock (or the process is exiting)."""
        proc, self._proc, self._base_url = self._proc, None, None
        _live.discard(self)
        if proc is not None:
            _end_process(proc, grace)
        if self._log is not None:
            self._log.close()
            self._log = None


def _end_process(proc: subprocess.Popen[bytes], grace: float) -> None:
    """Close the worker's stdin (its signal to stop), then kill it if it has not exited within `grace` s."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


# Started servers, stopped at interpreter exit.
_live: set[LocalServer] = set()


@atexit.register
def _stop_all_at_exit() -> None:
    for server in list(_live):
        server._terminate()


# The process-wide shared servers: one start per (models dir, model choice), shared by concurrent callers.
_shared_lock = threading.Lock()
_shared: dict[tuple[str, str], concurrent.futures.Future[LocalServer]] = {}


async def get_local_server(settings: Settings, progress: Progress | None = None) -> LocalServer:
    """The running shared server for `settings.local_model`, fetching the model and starting it if needed.

    Concurrent callers share one fetch and one start; a server that died is started again on the next call.
    `progress` receives short status lines from a worker thread.
    """
    return await asyncio.wrap_future(_shared_start(settings, progress))


async def stop_local_servers() -> None:
    """Stop every shared server, waiting for starts in progress (they restart on the next call)."""
    with _shared_lock:
        starts = list(_shared.values())
        _shared.clear()
    for start in starts:
        with contextlib.suppress(Exception):  # a start that failed has nothing to stop
            server = await asyncio.wrap_future(start)
            await server.stop()


def _shared_start(settings: Settings, progress: Progress | None) -> concurrent.futures.Future[LocalServer]:
    key = (str(settings.models_path), str(settings.local_model or DEFAULT_MODEL))
    with _shared_lock:
        start = _shared.get(key)
        if start is None or _unusable(start):
            stale = start.result() if start is not None and start.exception() is None else None
            start = concurrent.futures.Future()
            start.set_running_or_notify_cancel()  # a caller giving up must not cancel it for the others
            _shared[key] = start
            args = (start, settings, progress, stale)
            threading.Thread(target=_start_into, args=args, name="boocode-local-model", daemon=True).start()
    return start


def _unusable(start: concurrent.futures.Future[LocalServer]) -> bool:
    return start.done() and (start.exception() is not None or not start.result().running)


def _start_into(
    start: concurrent.futures.Future[LocalServer],
    settings: Settings,
    progress: Progress | None,
    stale: LocalServer | None,
) -> None:
    try:
        if stale is not None:
            if progress is not None:
                progress("the local model server had stopped; starting it again…")
            stale.stop_blocking()  # release its log and process handle
        path = ensure_model(settings, progress)
        server = LocalServer(path, model_name=model_name_for(settings))
        if progress is not None:
            progress(f"starting the local model server ({server.model_name})…")
        server.start_blocking()
    except BaseException as exc:
        start.set_exception(exc)
    else:
        start.set_result(server)
