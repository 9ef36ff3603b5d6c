"""OpenTelemetry export: run, agent, inference-call and tool-call spans with GenAI semantic-convention
attributes, checked in memory and over real OTLP/HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from server_helpers import COLD, WARM

from boocode import telemetry
from boocode.config import Settings
from boocode.runtime import open_runtime
from boocode.store.store import opened_store
from boocode.store.trace import TraceReader
from boocode.telemetry import RunTracer, tracer_from_env
from boocode.workflow.discovery import resolve
from boocode.workflow.manager import WorkflowRunner


async def _run_traced(settings: Settings, project: Path, tracer: Any) -> str:
    async with open_runtime(settings, project) as runtime:
        traced = RunTracer(runtime.store, tracer)
        script = resolve("fan", project, settings.home)
        outcome = await WorkflowRunner(runtime, traced).run(script, args=["a"])
        await traced.flush()
    assert outcome.status == "completed"
    return outcome.run_id


def _by_name(spans: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


async def test_spans_for_run_agents_calls_and_tools(settings: Settings, project: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    run_id = await _run_traced(settings, project, provider.get_tracer("test"))
    spans = _by_name(exporter.get_finished_spans())

    [run] = spans["invoke_workflow fan"]
    assert run.attributes is not None and run.attributes["boocode.run.id"] == run_id
    assert run.attributes["gen_ai.operation.name"] == "invoke_workflow"
    agents = spans["invoke_agent look a"] + spans["invoke_agent summer"]
    assert all(a.parent is not None and a.parent.span_id == run.context.span_id for a in agents)
    assert all(a.context.trace_id == run.context.trace_id for a in agents)

    [summer] = spans["invoke_agent summer"]
    chats = [s for s in spans["chat fake-model"] if s.parent and s.parent.span_id == summer.context.span_id]
    assert len(chats) == 2
    first, second = sorted(chats, key=lambda s: s.start_time or 0)
    assert (
        dict(first.attributes or {}).items()
        >= {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "fake-model",
            "gen_ai.usage.input_tokens": COLD.input,
            "gen_ai.usage.output_tokens": COLD.output,
            "gen_ai.usage.cache_read.input_tokens": 0,
            "gen_ai.usage.cache_creation.input_tokens": COLD.cache_write,
        }.items()
    )
    assert second.attributes is not None
    assert second.attributes["gen_ai.usage.cache_read.input_tokens"] == WARM.cached
    [tool] = spans["execute_tool read_file"]
    assert (
        dict(tool.attributes or {}).items()
        >= {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "read_file",
            "gen_ai.tool.call.id": "call_notes",
        }.items()
    )
    assert tool.parent is not None and tool.parent.span_id == summer.context.span_id
    assert first.start_time is not None and tool.start_time is not None and tool.end_time is not None
    assert first.start_time <= tool.start_time <= tool.end_time

    async with opened_store(settings.db_url) as store:
        stored = await TraceReader(store).calls(run_id=run_id)
    exported = {
        s.attributes["boocode.inference_call.id"]: s for s in spans["chat fake-model"] if s.attributes
    }
    assert set(exported) == {c["id"] for c in stored}
    for call in stored:
        attributes = exported[call["id"]].attributes or {}
        assert attributes["gen_ai.usage.input_tokens"] == call["input_total"]
        assert attributes["gen_ai.usage.cache_read.input_tokens"] == call["cache_read"]


async def test_no_endpoint_no_tracer(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(telemetry.ENDPOINT_ENV, raising=False)
    async with opened_store(settings.db_url) as store:
        assert tracer_from_env(store) is None


class _Collector(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """An OTLP/HTTP trace receiver on 127.0.0.1: (endpoint, requests received)."""
    received: list[ExportTraceServiceRequest] = []
    handler = type("Collector", (_Collector,), {"received": received})
    http = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_address[1]}", received
    http.shutdown()
    thread.join()


async def test_otlp_export_over_http_when_the_endpoint_is_set(
    settings: Settings,
    project: Path,
    collector: tuple[str, list[ExportTraceServiceRequest]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint, received = collector
    monkeypatch.setenv(telemetry.ENDPOINT_ENV, endpoint)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "boocode-test")
    provider = telemetry.otlp_provider.__wrapped__()  # a fresh provider, not the process's cached one
    assert provider is not None
    monkeypatch.setattr(telemetry, "otlp_provider", lambda: provider)
    async with opened_store(settings.db_url) as store:
        assert isinstance(tracer_from_env(store), RunTracer)
    async with open_runtime(settings, project) as runtime:  # the runner traces by itself
        outcome = await WorkflowRunner(runtime).run(resolve("fan", project, settings.home), args=["a"])
    assert outcome.status == "completed"
    assert provider.force_flush(10_000)
    provider.shutdown()
    spans = [
        (span.name, {a.key: a.value for a in span.attributes}, resource.resource)
        for request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    names = {name for name, _, _ in spans}
    assert {
        "invoke_workflow fan",
        "invoke_agent summer",
        "chat fake-model",
        "execute_tool read_file",
    } <= names
    usage = [
        a["gen_ai.usage.cache_read.input_tokens"].int_value for n, a, _ in spans if n == "chat fake-model"
    ]
    assert sorted(usage) == [0, 0, WARM.cached]
    service = {a.key: a.value.string_value for a in spans[0][2].attributes}["service.name"]
    assert service == "boocode-test"
