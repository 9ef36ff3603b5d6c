"""A run's journal as one attempt uses it: which `agent()` calls are served from stored results, and the
one row each call keeps in `run_agents` whatever the number of attempts.

A call is identified by (run, key, occurrence): the key is `agent_key()` of its prompt and options, the
occurrence how many earlier calls of the same run had that key. On a resume, a call whose identity
completed before is served from the journal: in `content` mode wherever it sits in the script; in `prefix`
mode (Claude Code's rule) only while every call so far, in start order, matched the stored start order and
had completed; the first call that does not, and every later one, run live. The stored start order is the
union of all attempts: each position holds the call the latest attempt started there.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from sqlalchemy.engine import RowMapping

from boocode.store.runs import RunRecords, StoredJournal

ResumeMode = Literal["content", "prefix"]
MODES: tuple[str, ...] = get_args(ResumeMode)
Ident = tuple[str, str, int]  # run id, key, occurrence

# What a call that runs again starts from: nothing of its earlier attempt.
_FRESH: dict[str, Any] = {
    "cached": False,
    "session_id": None,
    "result": None,
    "error": None,
    "model": None,
    "input_tokens": None,
    "output_tokens": None,
    "cache_read_tokens": None,
    "tool_uses": 0,
    "started_at": None,
    "finished_at": None,
}


class Journal:
    """The journal of one run tree (a run and its nested runs) for attempt `resume_no` (0: the first run)."""

    def __init__(
        self,
        records: RunRecords,
        *,
        resume_no: int = 0,
        mode: ResumeMode = "content",
        stored: StoredJournal | None = None,
    ) -> None:
        self.records = records
        self.resume_no = resume_no
        self.mode = mode
        self.cached = 0
        self._entries: dict[Ident, RowMapping] = {}
        self._order: dict[int, Ident] = {}
        self._children: dict[tuple[str, int], str] = {}
        self._prefix_intact = True
        self._marks: list[dict[str, Any]] = []
        if stored is not None:
            for row in sorted(stored.agents, key=lambda r: r["resume_no"]):
                ident = (row["run_id"], row["key"], row["occurrence"])
                self._entries[ident] = row
                self._order[row["idx"]] = ident
            for child in stored.children:
                if child["call_key"] is not None:
                    self._children[(child["call_key"], child["call_occurrence"])] = child["id"]

    def cached_result(
        self, run_id: str, key: str, occurrence: int, idx: int, label: str, phase: str | None
    ) -> RowMapping | None:
        """The stored row of a call that completed before and may be served now (the call at start position
        `idx`), or None when the call must run live."""
        ident = (run_id, key, occurrence)
        entry = self._entries.get(ident)
        served = entry is not None and entry["status"] == "completed"
        if self.mode == "prefix":
            served = served and self._prefix_intact and self._order.get(idx) == ident
            self._prefix_intact = served
        if entry is None or not served:
            return None
        self.cached += 1
        self._marks.append(
            {"id": entry["id"], "idx": idx, "resume_no": self.resume_no, "label": label, "phase": phase}
        )
        return entry

    async def admit(self, run_id: str, key: str, occurrence: int, **values: Any) -> str:
        """The row of a call about to run live: its earlier row (reset) if it has one, else a new row.
        `attempts` grows when it starts (`RunRecords.start_agent`): a call interrupted while queued never
        tried."""
        entry = self._entries.get((run_id, key, occurrence))
        if entry is None:
            return await self.records.add_agent(
                run_id=run_id, key=key, occurrence=occurrence, resume_no=self.resume_no, attempts=0, **values
            )
        await self.records.update_agent(entry["id"], resume_no=self.resume_no, **_FRESH, **values)
        return str(entry["id"])

    def child(self, call_key: str, occurrence: int) -> str | None:
        """The nested run an earlier attempt made for this `workflow()` call, if any."""
        return self._children.get((call_key, occurrence))

    def worktree_name(self, idx: int) -> str:
        """The directory name of an isolated agent's worktree (one per attempt: a kept one stays apart)."""
        return f"agent-{idx}" if self.resume_no == 0 else f"agent-{idx}-resume-{self.resume_no}"

    async def flush(self) -> None:
        """Record the calls served from the journal since the last flush (cached flag, position, label)."""
        marks, self._marks = self._marks, []
        try:
            await self.records.mark_cached(marks)
        except BaseException:
            self._marks[:0] = marks
            raise
