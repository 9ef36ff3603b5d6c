"""Per-phase totals as `boocode runs show` prints them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from boocode.workflow.summary import phase_summary

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def agent(phase: str | None, status: str = "completed", out: int = 5, start: int = 0, end: int = 2) -> Any:
    return {
        "phase": phase,
        "status": status,
        "input_tokens": 10,
        "output_tokens": out,
        "started_at": T0 + timedelta(seconds=start),
        "finished_at": T0 + timedelta(seconds=end) if status != "running" else None,
    }


def test_declared_phases_come_first_in_meta_order_even_when_empty() -> None:
    rows = [agent("Extra"), agent("Build", out=3), agent(None), agent("Build", "running", start=1)]
    summary = phase_summary(rows, ["Plan", "Build"])
    assert [p["phase"] for p in summary] == ["Plan", "Build", "Extra", None]
    plan, build = summary[0], summary[1]
    assert (plan["agents"], plan["finished"], plan["elapsed_seconds"]) == (0, 0, None)
    assert (build["agents"], build["finished"], build["input_tokens"], build["output_tokens"]) == (
        2,
        1,
        20,
        8,
    )
    assert build["elapsed_seconds"] == 2.0


def test_a_group_gathers_every_agent_whatever_its_phase() -> None:
    [child] = phase_summary([agent("A", end=4), agent("B", "failed", start=1)], group="▸ child")
    assert (child["phase"], child["agents"], child["finished"], child["elapsed_seconds"]) == (
        "▸ child",
        2,
        2,
        4.0,
    )
