"""Per-phase totals of a run's agents, as `boocode runs show` prints them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FINISHED = ("completed", "failed", "stopped", "interrupted")


def _empty(phase: str | None) -> dict[str, Any]:
    return {
        "phase": phase,
        "agents": 0,
        "finished": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "started": None,
        "ended": None,
    }


def phase_summary(
    agents: Sequence[Mapping[Any, Any]], declared: Sequence[str] = (), *, group: str | None = None
) -> list[dict[str, Any]]:
    """One entry per phase: agent counts, tokens and elapsed seconds.

    The `declared` phases (`meta.phases`) come first, in their order, even before any agent used them;
    then the others in the order agents first used them. With `group`, all `agents` form that one entry
    (a nested workflow's "▸ name").
    """
    phases: dict[str | None, dict[str, Any]] = {title: _empty(title) for title in declared}
    for agent in agents:
        title = group if group is not None else agent["phase"]
        entry = phases.setdefault(title, _empty(title))
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
