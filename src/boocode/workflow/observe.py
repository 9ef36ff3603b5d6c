"""What watches a run besides its caller: the run event log (for the server's live stream, from any process)
and, when configured, OpenTelemetry.

`RunObserver` is the listener a `WorkflowRunner` hands its run: it passes each event to the caller's
listener, queues it for the event log and gives it to the tracer. Events are written in order by one
background task, in batches, so emitting costs the run only an append; `flush()` waits for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable
from typing import Any, Literal, Protocol

from boocode.store.run_events import RunEventLog
from boocode.store.store import Store, utcnow
from boocode.workflow.events import Listener, RunEvent

_log = logging.getLogger(__name__)


class Tracer(Protocol):
    """A run listener that exports traces; `flush()` waits for the work its events started."""

    def __call__(self, event: RunEvent) -> None: ...

    def flush(self) -> Awaitable[None]: ...


_PLAIN = (str, int, float, bool, type(None))


def jsonable(value: Any) -> Any:
    """`value` as JSON-ready data: dataclasses (a turn's `Usage`, say) become objects, unknown types text."""
    if isinstance(value, _PLAIN):  # most values: checked first, every event goes through here
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


class RunObserver:
    """Forwards a run's events to `forward`, stores them in the run event log and traces them (with the
    OpenTelemetry exporter the environment configures, unless a `tracer` or None is given)."""

    def __init__(
        self,
        store: Store,
        forward: Listener | None = None,
        *,
        tracer: Tracer | Literal["env"] | None = "env",
    ) -> None:
        self.log = RunEventLog(store)
        self.forward = forward
        if isinstance(tracer, str):
            from boocode.telemetry import tracer_from_env

            tracer = tracer_from_env(store)
        self.tracer: Tracer | None = tracer
        self._pending: list[dict[str, Any]] = []
        self._writer: asyncio.Task[None] | None = None

    def __call__(self, event: RunEvent) -> None:
        if self.forward is not None:
            self.forward(event)
        data = jsonable(event.data)
        self._pending.append(
            {"run_id": event.run_id, "kind": event.kind, "data": data, "created_at": utcnow()}
        )
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())
        if self.tracer is not None:
            try:
                self.tracer(event)
            except Exception:  # tracing must never break a run
                _log.exception("tracing a run event failed")

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.log.append(batch)
            except Exception:  # the run goes on; only its live view misses these events
                _log.exception("storing %d run events failed", len(batch))

    async def flush(self) -> None:
        """Wait until every event so far is stored and traced."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        if self.tracer is not None:
            await self.tracer.flush()
