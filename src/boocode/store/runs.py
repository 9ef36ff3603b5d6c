"""Workflow runs, their agents (the journal) and log lines; run ownership by lease."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Update, and_, bindparam, func, insert, null, or_, select, update
from sqlalchemy.engine import RowMapping

from boocode.store import schema as t
from boocode.store.ids import new_id
from boocode.store.leases import abandoned, lease_end, project_root, renewing, status_now
from boocode.store.store import Store, inserting, updating, utcnow

# Stored as `args` of a run started without args (SQL NULL; a JSON null means `args` was null).
NO_ARGS = null()
# Agents left unfinished by a run that ended (or died): they count as interrupted, never as failed.
UNFINISHED = ("queued", "running", "stopped")
# The status of a run while a process owns it (its lease says whether that process is still alive).
_OWNED = ("running",)
# An agent starting to run: one more live execution of its call. Built once, as `store.updating`'s are.
_START_AGENT = (
    update(t.run_agents)
    .where(t.run_agents.c.id == bindparam("row_id"))
    .values(status="running", started_at=bindparam("at"), attempts=t.run_agents.c.attempts + 1)
)


def new_run_id() -> str:
    """A run id in Claude Code's shape: `wf_` + 8 hex + `-` + 3 hex."""
    raw = new_id("x")[2:]
    return f"wf_{raw[:8]}-{raw[8:11]}"


def run_tree(run_id: str) -> Select[Any]:
    """The ids of the run and of its nested runs (a subquery for `IN`)."""
    runs = t.runs.c
    return select(runs.id).where(or_(runs.id == run_id, runs.parent_run_id == run_id))


def _interrupting_agents(run_id: str) -> Update:
    """Mark the unfinished agents of the run and of its nested runs interrupted (their process is gone)."""
    agents = t.run_agents.c
    return (
        update(t.run_agents)
        .where(agents.run_id.in_(run_tree(run_id)), agents.status.in_(UNFINISHED))
        .values(status="interrupted")
    )


def _run_columns() -> list[Any]:
    """Every column of `runs`, `status` as it is now (`running` with an expired lease means its owner died:
    `interrupted`), and whether `args` were given (JSON null or absent)."""
    return [
        *(c for c in t.runs.c if c.name != "status"),
        status_now(t.runs, _OWNED).label("status"),
        t.runs.c.args.is_not(None).label("has_args"),
    ]


@dataclass(frozen=True)
class Renewal:
    """What renewing a lease found: whether this process still owns the run, and a stop request."""

    owned: bool
    stop_requested: bool


@dataclass(frozen=True)
class StoredJournal:
    """A run tree's stored journal: the agents of the run and of its nested runs, and the nested runs."""

    agents: Sequence[RowMapping]
    children: Sequence[RowMapping]


class RunRecords:
    """Rows of `runs`, `run_agents` and `run_logs`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    async def create_run(self, **values: Any) -> str:
        run_id = values.pop("id", None) or new_run_id()
        row = {"id": run_id, "status": "running", "started_at": utcnow(), **values}
        async with self.store.writing() as conn:
            await conn.execute(insert(t.runs), [row])
        return run_id

    async def update_run(self, run_id: str, **values: Any) -> None:
        async with self.store.writing() as conn:
            await conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))

    async def finish_run(self, run_id: str, *, owner: str | None = None, **values: Any) -> bool:
        """Record the end of a run; with `owner`, only if that process still owns it (and drop its lease)."""
        query = update(t.runs).where(t.runs.c.id == run_id).values(finished_at=utcnow(), **values)
        if owner is not None:
            query = query.where(t.runs.c.owner == owner).values(lease_expires_at=None)
        async with self.store.writing() as conn:
            return (await conn.execute(query)).rowcount > 0

    async def add_agent(self, **values: Any) -> str:
        agent_id = new_id("agt")
        # Queued, not awaited: an agent's durable point is its final update (`update_agent`).
        await self.store.write_behind(inserting(t.run_agents, [{"id": agent_id, "tool_uses": 0, **values}]))
        return agent_id

    async def update_agent(self, agent_id: str, *, wait: bool = True, **values: Any) -> None:
        """Update an agent's row; with `wait=False` the write is queued (see `Store.write_behind`)."""
        op = updating(t.run_agents, agent_id, values)
        if wait:
            await self.store.write(op)
        else:
            await self.store.write_behind(op)

    async def start_agent(self, agent_id: str) -> None:
        """Record that the agent starts running, one more live execution of its call (`attempts`: a call
        only admitted, then interrupted before it ran, did not try). Queued, not awaited (`write_behind`)."""
        params = {"row_id": agent_id, "at": utcnow()}
        await self.store.write_behind(lambda conn: conn.execute(_START_AGENT, params))

    async def mark_cached(self, marks: Sequence[dict[str, Any]]) -> None:
        """Record agents served from the journal: dicts of row id, idx, resume_no, label, phase."""
        if not marks:
            return
        agents = t.run_agents
        query = (
            update(agents)
            .where(agents.c.id == bindparam("row"))
            .values(
                cached=True,
                idx=bindparam("at"),
                resume_no=bindparam("resume"),
                label=bindparam("name"),
                phase=bindparam("group"),
            )
        )
        rows = [
            {
                "row": m["id"],
                "at": m["idx"],
                "resume": m["resume_no"],
                "name": m["label"],
                "group": m["phase"],
            }
            for m in marks
        ]
        async with self.store.writing() as conn:
            await conn.execute(query, rows)

    async def add_log(self, run_id: str, message: str) -> None:
        row = {"run_id": run_id, "message": message, "created_at": utcnow()}
        await self.store.write(inserting(t.run_logs, [row]))

    async def get_run(self, run_id: str) -> RowMapping | None:
        """The run with its current status (`interrupted` when its owner's lease expired)."""
        query = select(*_run_columns()).where(t.runs.c.id == run_id)
        async with self.store.reading() as conn:
            return (await conn.execute(query)).mappings().first()

    async def list_runs(self, limit: int = 20) -> list[RowMapping]:
        query = (
            select(*_run_columns())
            .where(t.runs.c.parent_run_id.is_(None))
            .order_by(t.runs.c.started_at.desc())
            .limit(limit)
        )
        async with self.store.reading() as conn:
            return list((await conn.execute(query)).mappings())

    async def children(self, run_id: str) -> list[RowMapping]:
        """The runs that `workflow()` calls of `run_id` started, in start order."""
        query = select(*_run_columns()).where(t.runs.c.parent_run_id == run_id).order_by(t.runs.c.started_at)
        async with self.store.reading() as conn:
            return list((await conn.execute(query)).mappings())

    async def agents(self, run_id: str) -> list[RowMapping]:
        """The run's agents: the latest attempt's in start order, then calls it did not reach."""
        agents = t.run_agents.c
        query = (
            select(t.run_agents)
            .where(agents.run_id == run_id)
            .order_by(agents.resume_no.desc(), agents.idx, agents.id)
        )
        async with self.store.reading() as conn:
            return list((await conn.execute(query)).mappings())

    async def usage(self, run_id: str) -> dict[str, int | None]:
        """What the agents of the run and of its nested runs recorded, whichever attempt ran them (every agent
        `boocode runs show` lists): `agent_count` of those that ran to an end, their summed tokens (None when
        none reported them) and `tool_uses`."""
        agents = t.run_agents.c
        query = select(
            func.count(agents.session_id).label("agent_count"),
            func.sum(agents.input_tokens).label("input_tokens"),
            func.sum(agents.output_tokens).label("output_tokens"),
            func.sum(agents.cache_read_tokens).label("cache_read_tokens"),
            func.coalesce(func.sum(agents.tool_uses), 0).label("tool_uses"),
        ).where(agents.run_id.in_(run_tree(run_id)))
        async with self.store.reading() as conn:
            row = (await conn.execute(query)).mappings().one()
        return {name: None if value is None else int(value) for name, value in row.items()}

    async def logs(self, run_id: str) -> list[str]:
        query = select(t.run_logs.c.message).where(t.run_logs.c.run_id == run_id).order_by(t.run_logs.c.id)
        async with self.store.reading() as conn:
            return list((await conn.execute(query)).scalars())

    async def project_root(self, run_id: str) -> str | None:
        """The project directory the run's agents worked in, or None for an unknown run."""
        return await project_root(self.store, t.runs, run_id)

    # --- ownership ------------------------------------------------------------------------------------

    async def claim_run(
        self, run_id: str, owner: str, lease_seconds: float, *, dead_owner: str | None = None, **values: Any
    ) -> RowMapping | None:
        """Take over a run nobody runs (finished, or its owner's lease expired, or its owner is `dead_owner`)
        for a new attempt, and set `values` on it. Unfinished agents and nested runs of the last attempt
        become interrupted. Returns the claimed run, or None when another process owns it."""
        runs = t.runs.c
        free = or_(runs.status != "running", abandoned(t.runs, () if dead_owner is None else (dead_owner,)))
        claim = (
            update(t.runs)
            .where(runs.id == run_id, runs.parent_run_id.is_(None), free)
            .values(
                status="running",
                owner=owner,
                lease_expires_at=lease_end(lease_seconds),
                stop_requested_at=None,
                resume_count=runs.resume_count + 1,
                finished_at=None,
                result=None,
                error=None,
                failures=None,
                **values,
            )
        )
        async with self.store.writing() as conn:
            if (await conn.execute(claim)).rowcount == 0:
                return None
            await conn.execute(_interrupting_agents(run_id))
            await conn.execute(
                update(t.runs)
                .where(runs.parent_run_id == run_id, runs.status == "running")
                .values(status="interrupted", owner=owner)
            )
            return (await conn.execute(select(*_run_columns()).where(runs.id == run_id))).mappings().one()

    async def renew_lease(self, run_id: str, owner: str, lease_seconds: float) -> Renewal:
        """Extend `owner`'s lease on the run and its running nested runs; report a stop request."""
        runs = t.runs.c
        until = lease_end(lease_seconds)
        async with self.store.writing() as conn:
            renewed = await conn.execute(renewing(t.runs, owner, _OWNED, until, runs.id == run_id))
            if renewed.rowcount == 0:
                return Renewal(owned=False, stop_requested=False)
            await conn.execute(renewing(t.runs, owner, _OWNED, until, runs.parent_run_id == run_id))
            stop = (await conn.execute(select(runs.stop_requested_at).where(runs.id == run_id))).scalar()
        return Renewal(owned=True, stop_requested=stop is not None)

    async def request_stop(self, run_id: str) -> bool:
        """Ask the process running the run to stop it; False when the run is not running."""
        runs = t.runs.c
        query = (
            update(t.runs)
            .where(runs.id == run_id, runs.status == "running")
            .values(stop_requested_at=utcnow())
        )
        async with self.store.writing() as conn:
            return (await conn.execute(query)).rowcount > 0

    async def stop_orphan(self, run_id: str, *, dead_owner: str | None = None) -> bool:
        """Record as stopped a run whose owner died (lease expired, or its owner is `dead_owner`), with its
        unfinished agents interrupted."""
        runs = t.runs.c
        gone = abandoned(t.runs, () if dead_owner is None else (dead_owner,))
        orphan = and_(runs.status == "running", gone)
        async with self.store.writing() as conn:
            stopped = await conn.execute(
                update(t.runs)
                .where(runs.id == run_id, orphan)
                .values(status="stopped", finished_at=utcnow(), lease_expires_at=None)
            )
            if stopped.rowcount == 0:
                return False
            await conn.execute(_interrupting_agents(run_id))
            await conn.execute(
                update(t.runs)
                .where(runs.parent_run_id == run_id, runs.status == "running")
                .values(status="stopped", finished_at=utcnow())
            )
        return True

    async def journal(self, run_id: str) -> StoredJournal:
        """The stored journal of the run and of its nested runs."""
        runs, agents = t.runs.c, t.run_agents.c
        async with self.store.reading() as conn:
            children = list(
                (
                    await conn.execute(
                        select(runs.id, runs.call_key, runs.call_occurrence).where(
                            runs.parent_run_id == run_id
                        )
                    )
                ).mappings()
            )
            ids = [run_id, *(c["id"] for c in children)]
            rows = await conn.execute(select(t.run_agents).where(agents.run_id.in_(ids)))
            return StoredJournal(agents=list(rows.mappings()), children=children)
