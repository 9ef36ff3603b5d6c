"""OpenTelemetry export: a span for each run, agent, inference call and tool call, named and attributed by
the GenAI semantic conventions (`gen_ai.usage.input_tokens`, `gen_ai.usage.cache_read.input_tokens`, ...),
so Langfuse, Phoenix or any OTLP backend can receive them.

On when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, with `pip install 'boocode[otel]'`: OTLP over HTTP/protobuf,
configured by the exporter's own OTEL_* variables (headers, timeout, service name). The run's span starts
and ends with the run; an agent's spans are built from its stored rows when it finishes, with the times
recorded then, so a long run shows its finished agents while it goes on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Coroutine, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import RowMapping

from boocode.store.store import Store, utcnow
from boocode.store.trace import AgentTrace, ToolCallTrace, TraceReader, aware
from boocode.workflow.events import RunEvent

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
_log = logging.getLogger(__name__)


def tracer_from_env(store: Store) -> RunTracer | None:
    """A `RunTracer` exporting over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else None."""
    if not os.environ.get(ENDPOINT_ENV):
        return None
    provider = otlp_provider()
    return None if provider is None else RunTracer(store, provider.get_tracer("boocode"))


@functools.cache
def otlp_provider() -> TracerProvider | None:
    """The process's tracer provider exporting over OTLP (flushed at exit), or None without the `otel`
    extra."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        _log.warning(
            "%s is set but OpenTelemetry is not installed: pip install 'boocode[otel]' (no traces exported)",
            ENDPOINT_ENV,
        )
        return None
    service = os.environ.get("OTEL_SERVICE_NAME") or "boocode"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _ns(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000_000)


def _attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Span attributes without the unreported (None) values."""
    return {k: v for k, v in values.items() if v is not None}


def call_attributes(call: RowMapping) -> dict[str, Any]:
    """The GenAI attributes of one inference call."""
    return _attributes(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": call["provider"],
            "gen_ai.system": call["provider"],
            "gen_ai.request.model": call["model"],
            "gen_ai.response.model": call["model"],
            "gen_ai.conversation.id": call["session_id"],
            "gen_ai.usage.input_tokens": call["input_total"],
            "gen_ai.usage.output_tokens": call["output"],
            "gen_ai.usage.cache_read.input_tokens": call["cache_read"],
            "gen_ai.usage.cache_creation.input_tokens": call["cache_write"],
            "gen_ai.response.finish_reasons": [call["stop_reason"]] if call["stop_reason"] else None,
            "boocode.usage.reasoning_tokens": call["reasoning"],
            "boocode.inference_call.id": call["id"],
            "boocode.turn": call["turn"],
            "boocode.attempt": call["attempt"],
            "boocode.ttft_ms": call["ttft_ms"],
        }
    )


class RunTracer:
    """A run listener that exports the run's spans with `tracer`; see the module doc."""

    def __init__(self, store: Store, tracer: Tracer) -> None:
        self.reader = TraceReader(store)
        self.tracer = tracer
        self._runs: dict[str, Span] = {}
        self._current: Span | None = None
        self._exported: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, event: RunEvent) -> None:
        data = event.data
        if event.kind == "run_started":
            span = self.tracer.start_span(
                f"invoke_workflow {data.get('name', '')}".strip(),
                attributes=_attributes(
                    {
                        "gen_ai.operation.name": "invoke_workflow",
                        "boocode.run.id": event.run_id,
                        "boocode.workflow.name": data.get("name"),
                        "boocode.run.resume": data.get("resume"),
                    }
                ),
            )
            self._runs[event.run_id] = self._current = span
        elif event.kind == "agent_finished" and not data.get("cached"):
            parent = self._runs.get(event.run_id, self._current)
            if parent is not None:
                self._start(self._export_agent(str(data["agent_id"]), parent))
        elif event.kind == "run_finished" and event.run_id in self._runs:
            self._start(self._finish_run(event.run_id, data.get("status"), data.get("error")))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("exporting spans failed", exc_info=task.exception())

    async def flush(self) -> None:
        """Wait until the spans of every event so far have been handed to the exporter."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _finish_run(self, run_id: str, status: Any, error: Any) -> None:
        from opentelemetry.trace import Status, StatusCode

        span = self._runs.pop(run_id)
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        await asyncio.gather(*pending, return_exceptions=True)
        for agent in await self.reader.agents(run_id, str(status)):  # interrupted agents too
            if agent.row["id"] not in self._exported and agent.row["session_id"] and not agent.row["cached"]:
                await self._export(agent, span)
        span.set_attribute("boocode.run.status", str(status))
        if status == "failed":
            span.set_status(Status(StatusCode.ERROR, str(error or "failed")))
        span.end()

    async def _export_agent(self, agent_id: str, parent: Span) -> None:
        agent = await self.reader.agent(agent_id)
        if agent is not None and agent.row["session_id"] and agent_id not in self._exported:
            await self._export(agent, parent)

    async def _export(self, agent: AgentTrace, parent: Span) -> None:
        """The agent's span with its inference calls and tool calls as children."""
        from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

        row = agent.row
        self._exported.add(row["id"])
        session_id = row["session_id"]
        calls = await self.reader.calls(session_id=session_id)
        tools = await self.reader.tool_calls(session_id)
        start = aware(row["started_at"]) or (aware(calls[0]["started_at"]) if calls else None)
        end = aware(row["finished_at"]) or utcnow()
        span = self.tracer.start_span(
            f"invoke_agent {row['label']}",
            context=set_span_in_context(parent),
            start_time=_ns(start),
            attributes=_attributes(
                {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.id": row["id"],
                    "gen_ai.agent.name": row["label"],
                    "gen_ai.conversation.id": session_id,
                    "gen_ai.request.model": row["model"],
                    "boocode.run.id": row["run_id"],
                    "boocode.agent.phase": row["phase"],
                    "boocode.agent.status": agent.status,
                }
            ),
        )
        inside = set_span_in_context(span)
        for call in calls:
            began = aware(call["started_at"])
            latency = call["latency_ms"]
            ended = began + timedelta(milliseconds=latency) if began and latency is not None else end
            child = self.tracer.start_span(
                f"chat {call['model']}",
                context=inside,
                kind=SpanKind.CLIENT,
                start_time=_ns(began),
                attributes=call_attributes(call),
            )
            if call["status"] == "failed":
                child.set_attribute("error.type", "provider_error")
                child.set_status(Status(StatusCode.ERROR, call["error"] or "failed"))
            child.end(end_time=_ns(ended))
        for tool in tools:
            ended = tool.finished_at or end
            began = min(_tool_start(tool, calls) or start or ended, ended)
            child = self.tracer.start_span(
                f"execute_tool {tool.name}",
                context=inside,
                start_time=_ns(began),
                attributes=_attributes(
                    {
                        "gen_ai.operation.name": "execute_tool",
                        "gen_ai.tool.name": tool.name,
                        "gen_ai.tool.call.id": tool.call_id,
                        "gen_ai.tool.type": "function",
                    }
                ),
            )
            if tool.is_error:
                child.set_status(Status(StatusCode.ERROR, "the tool returned an error"))
            child.end(end_time=_ns(ended))
        if agent.status == "failed":
            span.set_status(Status(StatusCode.ERROR, row["error"] or "failed"))
        span.end(end_time=_ns(end))


def _tool_start(tool: ToolCallTrace, calls: list[RowMapping]) -> datetime | None:
    """When a tool call began: the end of the last inference call of its chat that started before the
    tool's result was stored."""
    latest: datetime | None = None
    for call in calls:
        began = aware(call["started_at"])
        if call["chat_id"] != tool.chat_id or began is None:
            continue
        if tool.finished_at is not None and began > tool.finished_at:
            continue
        done = began + timedelta(milliseconds=call["latency_ms"] or 0)
        latest = done if latest is None or done > latest else latest
    return latest
