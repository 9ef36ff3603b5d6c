"""Run ownership in the store: claims are atomic and refused while a live lease holds; renewals report stop
requests and lost ownership; a run whose lease expired reads as interrupted; migration 0003 matches the
schema and keeps existing runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from boocode.store import schema as t
from boocode.store.engine import MIGRATIONS, create_engine
from boocode.store.runs import RunRecords
from boocode.store.store import Store, open_store, utcnow

ALIVE, OTHER = "here:1:10:aaa", "there:1:20:bbb"


async def _run(store: Store, tmp_path: Path, *, owner: str = ALIVE, lease: float = 60) -> str:
    records = RunRecords(store)
    run_id = await records.create_run(
        project_id=await store.ensure_project(tmp_path),
        name="n",
        description="d",
        script="s",
        script_sha256="0" * 64,
        owner=owner,
        lease_expires_at=utcnow() + timedelta(seconds=lease),
    )
    await records.add_agent(
        run_id=run_id, idx=0, label="a", prompt="p", key="k" * 64, occurrence=0, status="running"
    )
    return run_id


async def test_claim_is_refused_while_the_lease_holds(store: Store, tmp_path: Path) -> None:
    records = RunRecords(store)
    run_id = await _run(store, tmp_path)
    assert await records.claim_run(run_id, OTHER, 60) is None
    assert await records.claim_run(run_id, OTHER, 60, dead_owner="someone-else") is None
    run = await records.get_run(run_id)
    assert run is not None and (run["status"], run["owner"], run["resume_count"]) == ("running", ALIVE, 0)

    claimed = await records.claim_run(run_id, OTHER, 60, dead_owner=ALIVE)  # its owner is known to be gone
    assert claimed is not None and (claimed["owner"], claimed["resume_count"]) == (OTHER, 1)
    [agent] = await records.agents(run_id)
    assert agent["status"] == "interrupted"


async def test_an_expired_lease_reads_interrupted_and_can_be_claimed_once(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    run_id = await _run(store, tmp_path, lease=-1)
    records = RunRecords(store)
    [listed] = await records.list_runs()
    assert listed["status"] == "interrupted"
    other = await open_store(db_url)  # a second process
    try:
        claims = await asyncio.gather(
            records.claim_run(run_id, "first:1:1:a", 60),
            RunRecords(other).claim_run(run_id, "second:1:2:b", 60),
        )
    finally:
        await other.aclose()
    assert sum(c is not None for c in claims) == 1
    run = await records.get_run(run_id)
    assert run is not None and run["status"] == "running" and run["resume_count"] == 1


async def test_renewal_reports_stop_requests_and_lost_ownership(store: Store, tmp_path: Path) -> None:
    records = RunRecords(store)
    run_id = await _run(store, tmp_path)
    renewal = await records.renew_lease(run_id, ALIVE, 60)
    assert (renewal.owned, renewal.stop_requested) == (True, False)
    assert await records.request_stop(run_id)
    renewal = await records.renew_lease(run_id, ALIVE, 60)
    assert (renewal.owned, renewal.stop_requested) == (True, True)
    assert not (await records.renew_lease(run_id, OTHER, 60)).owned
    assert not await records.stop_orphan(run_id)  # its owner is alive: only it may stop the run

    await records.claim_run(run_id, OTHER, 60, dead_owner=ALIVE)
    assert not (await records.renew_lease(run_id, ALIVE, 60)).owned
    assert not await records.finish_run(run_id, owner=ALIVE, status="completed")
    assert await records.finish_run(run_id, owner=OTHER, status="completed")
    assert not await records.request_stop(run_id)


async def test_a_dead_owners_run_is_stopped_in_its_place(store: Store, tmp_path: Path) -> None:
    records = RunRecords(store)
    run_id = await _run(store, tmp_path, lease=-1)
    assert await records.stop_orphan(run_id)
    run = await records.get_run(run_id)
    assert run is not None and run["status"] == "stopped"
    [agent] = await records.agents(run_id)
    assert agent["status"] == "interrupted"


async def test_cached_marks_move_rows_to_the_latest_attempt(store: Store, tmp_path: Path) -> None:
    records = RunRecords(store)
    run_id = await _run(store, tmp_path)
    [agent] = await records.agents(run_id)
    await records.mark_cached([{"id": agent["id"], "idx": 5, "resume_no": 2, "label": "new", "phase": "P"}])
    [agent] = await records.agents(run_id)
    assert (agent["cached"], agent["idx"], agent["resume_no"], agent["label"], agent["phase"]) == (
        True,
        5,
        2,
        "new",
        "P",
    )


def _upgrade_to(revision: str) -> Callable[[Connection], None]:
    def upgrade(connection: Connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    return upgrade


def _compare(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), t.metadata))


async def test_migration_0003_keeps_old_runs_and_matches_the_schema(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            if "search_path=" in db_url:
                await conn.exec_driver_sql(f'CREATE SCHEMA "{db_url.rsplit("search_path=", 1)[1]}"')
            await conn.run_sync(_upgrade_to("0002"))
            now = utcnow()
            await conn.execute(insert(t.projects).values(id="prj_1", root="/x", name="x", created_at=now))
            await conn.execute(
                insert(t.runs).values(
                    id="wf_1",
                    project_id="prj_1",
                    name="n",
                    description="d",
                    script="s",
                    script_sha256="0",
                    status="completed",
                    started_at=now,
                )
            )
            await conn.execute(insert(t.run_logs).values(run_id="wf_1", message="hello", created_at=now))
            await conn.execute(
                insert(t.run_agents).values(
                    id="agt_1",
                    run_id="wf_1",
                    idx=0,
                    label="a",
                    prompt="p",
                    key="k",
                    occurrence=0,
                    status="completed",
                )
            )
    finally:
        await engine.dispose()

    store = await open_store(db_url)  # migrates to the newest revision
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_compare) == []
        records = RunRecords(store)
        run = await records.get_run("wf_1")
        assert run is not None and (run["status"], run["resume_count"], run["owner"]) == (
            "completed",
            0,
            None,
        )
        [agent] = await records.agents("wf_1")
        assert (agent["attempts"], agent["cached"], agent["resume_no"]) == (1, False, 0)
    finally:
        await store.aclose()
