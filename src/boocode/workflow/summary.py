"""Per-phase totals of a run's agents, as `boocode runs show` prints them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import RowMapping

FINISHED = ("completed", "failed", "stopped")


def phase_summary(agents: Sequence[RowMapping]) -> list[dict[str, Any]]:
    """One entry per phase, in the order agents first used it: agent counts, tokens and elapsed seconds."""
    phases: dict[str | None, dict[str, Any]] = {}
    for agent in agents:
        entry = phases.setdefault(
            agent["phase"],
            {
                "phase": agent["phase"],
                "agents": 0,
                "finished": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "started": None,
                "ended": None,
            },
        )
        entry["agents"] += 1
        entry["finished"] += agent["status"] in FINISHED
        entry["input_tokens"] += agent["input_tokens"] or 0
        entry["output_tokens"] += agent["output_tokens"] or 0
        if agent["started_at"] is not None:
            entry["started"] = min(filter(None, (entry["started"], agent["started_at"])))
        if agent["finished_at"] is not None:
            entry["ended"] = max(filter(None, (entry["ended"], agent["finished_at"])))
    result = []
    for entry in phases.values():
        started, ended = entry.pop("started"), entry.pop("ended")
        entry["elapsed_seconds"] = round((ended - started).total_seconds(), 1) if started and ended else None
        result.append(entry)
    return result
