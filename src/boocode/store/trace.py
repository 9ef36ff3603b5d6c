"""Reads for the trace viewer: runs with their totals, agents with their usage and cache shape, inference
calls, transcripts with part ids, and the tool calls of a session (for OpenTelemetry).

Token counts come from the inference calls themselves (an agent's, a run's: sums over its calls), so a
running agent's figures grow with each call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import ColumnElement

from boocode.cache_shape import CacheShape
from boocode.store import schema as t
from boocode.store.runs import UNFINISHED, RunRecords, run_tree
from boocode.store.store import Store, utcnow

MAX_CALLS = 5000


@overload
def aware(value: datetime) -> datetime: ...


@overload
def aware(value: None) -> None: ...


def aware(value: datetime | None) -> datetime | None:
    """A stored time with its zone (SQLite returns UTC times without one)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def elapsed(started: datetime | None, finished: datetime | None, running: bool) -> float | None:
    """Seconds from `started` to `finished` (to now while running), or None."""
    start, end = aware(started), aware(finished)
    if start is None:
        return None
    if end is None:
        if not running:
            return None
        end = utcnow()
    return round(max(0.0, (end - start).total_seconds()), 3)


def status_as_of(run_status: str, agent_status: str) -> str:
    """An agent's status as it is now: one left unfinished by a run that is no longer running (or written
    as `stopped` before agents had `interrupted`) was interrupted."""
    if agent_status in UNFINISHED and (run_status != "running" or agent_status == "stopped"):
        return "interrupted"
    return agent_status


@dataclass(frozen=True)
class UsageTotals:
    """Summed usage of some inference calls: tokens (None when no call reported them) and cache shape."""

    calls: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache: CacheShape = field(default_factory=CacheShape)

    def __add__(self, other: UsageTotals) -> UsageTotals:
        def plus(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return UsageTotals(
            calls=self.calls + other.calls,
            input_tokens=plus(self.input_tokens, other.input_tokens),
            output_tokens=plus(self.output_tokens, other.output_tokens),
            cache=self.cache + other.cache,
        )


def _usage_columns() -> list[ColumnElement[Any]]:
    """Aggregates over `inference_calls` from which `_usage_of` builds `UsageTotals` (see `CacheShape`)."""
    c = t.inference_calls.c
    counted = c.input_total.is_not(None)
    reported = and_(counted, or_(c.cache_read.is_not(None), c.cache_write.is_not(None)))
    return [
        func.count(c.id).label("u_calls"),
        func.sum(c.input_total).label("u_input"),
        func.sum(c.output).label("u_output"),
        func.count(c.input_total).label("u_counted"),
        func.sum(case((reported, 1), else_=0)).label("u_reported"),
        func.sum(case((reported, c.input_total), else_=0)).label("u_cache_input"),
        func.sum(case((reported, func.coalesce(c.cache_read, 0)), else_=0)).label("u_read"),
        func.sum(case((reported, func.coalesce(c.cache_write, 0)), else_=0)).label("u_write"),
        func.sum(case((and_(counted, not_(reported)), c.input_total), else_=0)).label("u_unreported"),
    ]


def _int(value: Any) -> int:
    return int(value or 0)


def _usage_of(row: RowMapping | None) -> UsageTotals:
    if row is None or not row["u_calls"]:
        return UsageTotals()
    cache = CacheShape(
        calls=_int(row["u_counted"]),
        reported=_int(row["u_reported"]),
        input_total=_int(row["u_cache_input"]),
        cache_read=_int(row["u_read"]),
        cache_write=_int(row["u_write"]),
        unreported_input=_int(row["u_unreported"]),
    )
    output = row["u_output"]
    return UsageTotals(
        calls=_int(row["u_calls"]),
        input_tokens=None if row["u_input"] is None else int(row["u_input"]),
        output_tokens=None if output is None else int(output),
        cache=cache,
    )


def call_shape(row: RowMapping) -> CacheShape:
    """The cache shape of one stored inference call."""
    return CacheShape.of_call(row["input_total"], row["cache_read"], row["cache_write"])


def _session_usage() -> Any:
    calls = t.inference_calls.c
    return select(calls.session_id, *_usage_columns()).group_by(calls.session_id).subquery()


def _tool_call_counts() -> Any:
    parts, messages, chats = t.message_parts.c, t.messages.c, t.chats.c
    return (
        select(chats.session_id, func.count(parts.id).label("tool_calls"))
        .select_from(
            t.message_parts.join(t.messages, parts.message_id == messages.id).join(
                t.chats, messages.chat_id == chats.id
            )
        )
        .where(parts.kind == "tool_call")
        .group_by(chats.session_id)
        .subquery()
    )


@dataclass(frozen=True)
class AgentTrace:
    """A run agent as the viewer shows it."""

    row: RowMapping
    status: str
    usage: UsageTotals
    tool_calls: int
    elapsed_seconds: float | None


@dataclass(frozen=True)
class RunTrace:
    """A run with its totals over its agents (nested runs' included)."""

    row: RowMapping
    agents_total: int
    agents_done: int
    agents_failed: int
    usage: UsageTotals
    elapsed_seconds: float | None


class TraceReader:
    """Read-only queries of the trace viewer."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.records = RunRecords(store)

    async def runs(self, limit: int = 50) -> list[RunTrace]:
        """Top-level runs, newest first, with agent counts and usage."""
        rows = await self.records.list_runs(limit)
        ids = [r["id"] for r in rows]
        if not ids:
            return []
        runs, agents = t.runs.c, t.run_agents.c
        root = func.coalesce(runs.parent_run_id, runs.id).label("root_id")
        in_page = or_(runs.id.in_(ids), runs.parent_run_id.in_(ids))
        counts_query = (
            select(root, agents.status, func.count(agents.id).label("n"))
            .select_from(t.run_agents.join(t.runs, agents.run_id == runs.id))
            .where(in_page)
            .group_by(root, agents.status)
        )
        usage_query = (
            select(root, *_usage_columns())
            .select_from(
                t.inference_calls.join(
                    t.run_agents, t.inference_calls.c.session_id == agents.session_id
                ).join(t.runs, agents.run_id == runs.id)
            )
            .where(in_page)
            .group_by(root)
        )
        async with self.store.reading() as conn:
            counts = list((await conn.execute(counts_query)).mappings())
            usage = {u["root_id"]: u for u in (await conn.execute(usage_query)).mappings()}
        result = []
        for row in rows:
            statuses = [
                (status_as_of(row["status"], c["status"]), int(c["n"]))
                for c in counts
                if c["root_id"] == row["id"]
            ]
            result.append(
                RunTrace(
                    row=row,
                    agents_total=sum(n for _, n in statuses),
                    agents_done=sum(n for s, n in statuses if s not in ("queued", "running")),
                    agents_failed=sum(n for s, n in statuses if s == "failed"),
                    usage=_usage_of(usage.get(row["id"])),
                    elapsed_seconds=elapsed(
                        row["started_at"], row["finished_at"], row["status"] == "running"
                    ),
                )
            )
        return result

    async def run(self, run_id: str) -> RunTrace | None:
        """One run (top-level or nested) with its totals."""
        row = await self.records.get_run(run_id)
        if row is None:
            return None
        agents = await self.agents(run_id, row["status"])
        total = sum((a.usage for a in agents), UsageTotals())
        return RunTrace(
            row=row,
            agents_total=len(agents),
            agents_done=sum(a.status not in ("queued", "running") for a in agents),
            agents_failed=sum(a.status == "failed" for a in agents),
            usage=total,
            elapsed_seconds=elapsed(row["started_at"], row["finished_at"], row["status"] == "running"),
        )

    async def agents(self, run_id: str, run_status: str) -> list[AgentTrace]:
        """The agents of the run and of its nested runs: the latest attempt's in start order, then calls it
        did not reach."""
        agents = t.run_agents.c
        usage, tools = _session_usage(), _tool_call_counts()
        query = (
            select(t.run_agents, *(c for c in usage.c if c.name != "session_id"), tools.c.tool_calls)
            .select_from(
                t.run_agents.outerjoin(usage, usage.c.session_id == agents.session_id).outerjoin(
                    tools, tools.c.session_id == agents.session_id
                )
            )
            .where(agents.run_id.in_(run_tree(run_id)))
            .order_by(agents.resume_no.desc(), agents.idx, agents.id)
        )
        async with self.store.reading() as conn:
            rows = list((await conn.execute(query)).mappings())
        return [self._agent(row, run_status) for row in rows]

    @staticmethod
    def _agent(row: RowMapping, run_status: str) -> AgentTrace:
        status = status_as_of(run_status, row["status"])
        return AgentTrace(
            row=row,
            status=status,
            usage=_usage_of(row),
            tool_calls=_int(row["tool_calls"]),
            elapsed_seconds=elapsed(row["started_at"], row["finished_at"], status == "running"),
        )

    async def agent(self, agent_id: str) -> AgentTrace | None:
        """One run agent by its id."""
        agents = t.run_agents.c
        usage, tools = _session_usage(), _tool_call_counts()
        query = (
            select(t.run_agents, *(c for c in usage.c if c.name != "session_id"), tools.c.tool_calls)
            .select_from(
                t.run_agents.outerjoin(usage, usage.c.session_id == agents.session_id).outerjoin(
                    tools, tools.c.session_id == agents.session_id
                )
            )
            .where(agents.id == agent_id)
        )
        async with self.store.reading() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        run = await self.records.get_run(row["run_id"])
        assert run is not None  # runs are never deleted
        return self._agent(row, run["status"])

    async def calls(
        self,
        *,
        run_id: str | None = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        limit: int = 500,
    ) -> list[RowMapping]:
        """Inference calls, oldest first, of a run (its nested runs' too), an agent and/or a session; each
        row also has the `agent_id` and `label` of the run agent whose session made it (or None)."""
        calls, agents = t.inference_calls.c, t.run_agents.c
        query = (
            select(t.inference_calls, agents.id.label("agent_id"), agents.label, agents.run_id)
            .select_from(t.inference_calls.outerjoin(t.run_agents, agents.session_id == calls.session_id))
            .order_by(calls.started_at, calls.turn, calls.attempt)
            .limit(min(limit, MAX_CALLS))
        )
        if run_id is not None:
            query = query.where(agents.run_id.in_(run_tree(run_id)))
        if agent_id is not None:
            query = query.where(agents.id == agent_id)
        if session_id is not None:
            query = query.where(calls.session_id == session_id)
        async with self.store.reading() as conn:
            return list((await conn.execute(query)).mappings())

    async def session_usage(self, session_ids: Sequence[str]) -> dict[str, UsageTotals]:
        """The summed usage of each session's inference calls (sessions without calls are left out)."""
        calls = t.inference_calls.c
        query = select(calls.session_id, *_usage_columns()).where(calls.session_id.in_(session_ids))
        async with self.store.reading() as conn:
            rows = (await conn.execute(query.group_by(calls.session_id))).mappings()
            return {row["session_id"]: _usage_of(row) for row in rows}

    async def session(self, session_id: str) -> RowMapping | None:
        async with self.store.reading() as conn:
            query = select(t.sessions).where(t.sessions.c.id == session_id)
            return (await conn.execute(query)).mappings().first()

    async def transcript(self, session_id: str) -> list[tuple[RowMapping, list[RowMapping]]] | None:
        """The session's chats, each with its message parts in order (message columns `message_id`,
        `message_seq`, `role`, `message_created_at`; no image bytes: `has_blob` says one is stored)."""
        chats, messages, parts = t.chats.c, t.messages.c, t.message_parts.c
        if await self.session(session_id) is None:
            return None
        part_columns = [c for c in t.message_parts.c if c.name not in ("blob", "message_id", "seq")]
        query = (
            select(
                messages.chat_id,
                messages.id.label("message_id"),
                messages.seq.label("message_seq"),
                messages.role,
                messages.created_at.label("message_created_at"),
                *part_columns,
                parts.seq.label("part_seq"),
                parts.blob.is_not(None).label("has_blob"),
            )
            .select_from(t.messages.join(t.chats, messages.chat_id == chats.id).outerjoin(t.message_parts))
            .where(chats.session_id == session_id)
            .order_by(messages.seq, parts.seq)
        )
        async with self.store.reading() as conn:
            chat_rows = list(
                (
                    await conn.execute(
                        select(t.chats).where(chats.session_id == session_id).order_by(chats.attempt)
                    )
                ).mappings()
            )
            rows = list((await conn.execute(query)).mappings())
        return [(chat, [r for r in rows if r["chat_id"] == chat["id"]]) for chat in chat_rows]

    async def image(self, part_id: str) -> tuple[bytes, str] | None:
        """The bytes and media type of a stored image part."""
        parts = t.message_parts.c
        query = select(parts.blob, parts.media_type).where(parts.id == part_id, parts.blob.is_not(None))
        async with self.store.reading() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (bytes(row[0]), str(row[1] or "application/octet-stream"))

    async def tool_calls(self, session_id: str) -> list[ToolCallTrace]:
        """The session's tool calls with their results and the time each result message was stored."""
        chats, messages, parts = t.chats.c, t.messages.c, t.message_parts.c
        query = (
            select(
                messages.chat_id,
                messages.created_at,
                parts.kind,
                parts.tool_call_id,
                parts.tool_name,
                parts.data,
                parts.is_error,
            )
            .select_from(t.messages.join(t.chats, messages.chat_id == chats.id).join(t.message_parts))
            .where(chats.session_id == session_id, parts.kind.in_(("tool_call", "tool_result")))
            .order_by(chats.attempt, messages.seq, parts.seq)
        )
        async with self.store.reading() as conn:
            rows = list((await conn.execute(query)).mappings())
        return _pair_tool_calls(rows)


@dataclass(frozen=True)
class ToolCallTrace:
    """One tool call of a session: what was called, and when and how its result was stored."""

    chat_id: str
    call_id: str
    name: str
    arguments: Any
    is_error: bool | None
    finished_at: datetime | None


def _pair_tool_calls(rows: Sequence[RowMapping]) -> list[ToolCallTrace]:
    results = {(r["chat_id"], r["tool_call_id"]): r for r in rows if r["kind"] == "tool_result"}
    traces = []
    for row in rows:
        if row["kind"] != "tool_call":
            continue
        result = results.get((row["chat_id"], row["tool_call_id"]))
        traces.append(
            ToolCallTrace(
                chat_id=row["chat_id"],
                call_id=row["tool_call_id"] or "",
                name=row["tool_name"] or "",
                arguments=row["data"],
                is_error=None if result is None else bool(result["is_error"]),
                finished_at=None if result is None else aware(result["created_at"]),
            )
        )
    return traces
