"""RunObserver: every event goes to the caller, then to the run event log in order; `jsonable` shapes data."""

from __future__ import annotations

import enum
from pathlib import Path

from boocode.llm.types import Usage
from boocode.store.run_events import RunEventLog
from boocode.store.runs import RunRecords
from boocode.store.store import Store
from boocode.workflow.events import RunEvent
from boocode.workflow.observe import RunObserver, jsonable


class Color(enum.Enum):
    RED = "red"


def test_jsonable_keeps_plain_values_and_shapes_the_rest() -> None:
    value = {
        "text": "a",
        "n": 3,
        "x": 1.5,
        "ok": True,
        "none": None,
        1: ("t", [Usage(input_total=4, output=2)]),
        "path": Path("/tmp/p"),
        "color": Color.RED,
    }
    assert jsonable(value) == {
        "text": "a",
        "n": 3,
        "x": 1.5,
        "ok": True,
        "none": None,
        "1": [
            "t",
            [{"input_total": 4, "cache_read": None, "cache_write": None, "output": 2, "reasoning": None}],
        ],
        "path": "/tmp/p",
        "color": "Color.RED",
    }


async def test_events_reach_the_caller_and_the_log_in_order(store: Store, tmp_path: Path) -> None:
    project = await store.ensure_project(tmp_path)
    run_id = await RunRecords(store).create_run(
        project_id=project, name="r", description="d", script="s", script_sha256="0" * 64
    )
    seen: list[str] = []
    observer = RunObserver(store, lambda e: seen.append(e.kind), tracer=None)
    for i in range(50):
        observer(RunEvent("log", run_id, {"message": f"line {i}", "usage": Usage(output=i)}))
    assert len(seen) == 50  # at once, before anything is stored
    await observer.flush()
    stored = await RunEventLog(store).after(run_id, 0)
    assert [e["data"]["message"] for e in stored] == [f"line {i}" for i in range(50)]
    assert stored[7]["data"]["usage"]["output"] == 7
