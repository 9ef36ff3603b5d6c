"""Tasks seen and steered from outside the process that runs them: `boocode tasks`, the server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from boocode.errors import BoocodeError, InputError
from boocode.tasks.records import ACTIVE, TaskRecords
from boocode.workflow.lease import owner_is_dead


class TaskNotActiveError(BoocodeError):
    """A cancel was asked for a task that is not queued or running."""


def status_now(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A task row as it is now: an active task of a process of this machine that is gone was interrupted
    (the row says so once a runtime opens, or once its lease has expired)."""
    task = dict(row)
    if task["status"] in ACTIVE and owner_is_dead(task["owner"]):
        task["status"] = "interrupted"
    return task


async def cancel_task(records: TaskRecords, task_id: str, lease_seconds: float) -> str:
    """Cancel a task run by any process on this database, wait until it has ended and return its status
    (`cancelled`, unless it ended otherwise first). Its process sees the request at its next lease renewal;
    a task whose process is gone is recorded as interrupted here."""
    row = await records.get(task_id)
    if row is None:
        raise InputError(f"there is no task {task_id!r} (see `boocode tasks --all`)")
    if row["status"] not in ACTIVE:
        raise TaskNotActiveError(f"task {task_id} is not running (it is {row['status']})")
    await records.request_cancel(task_id)
    pause = min(0.5, max(0.05, lease_seconds / 10))
    while True:
        if row["status"] not in ACTIVE or owner_is_dead(row["owner"]):
            await records.interrupt_orphans([row["owner"]] if row["owner"] else [])
        row = await records.get(task_id)
        assert row is not None  # tasks are never deleted
        if row["status"] not in ACTIVE:
            return str(row["status"])
        await asyncio.sleep(pause)  # another process runs it: only the database can tell us it ended
