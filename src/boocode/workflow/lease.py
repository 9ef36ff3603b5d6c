"""Who runs a run: the owner process keeps a lease on it, renewed every third of its length, and learns
through the renewal that another process asked it to stop or took the run over.

A lease that is not renewed expires, and the run counts as interrupted: any process may resume it. On the
same machine a resume need not wait for that: an owner whose process is gone is known to be dead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlalchemy.exc import SQLAlchemyError

from boocode.errors import BoocodeError, InputError
from boocode.store.runs import RunRecords
from boocode.workflow.events import Listener, RunEvent


def _pid_namespace() -> str:
    """This process's PID namespace (containers on one host share its name but not their PIDs)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def owner_id() -> str:
    """An id for a run's owner: host, PID namespace, process id and a random part."""
    return f"{socket.gethostname()}:{_pid_namespace()}:{os.getpid()}:{secrets.token_hex(3)}"


def owner_is_dead(owner: str | None) -> bool:
    """True only when `owner` was a process of this machine (same host and PID namespace) that is gone."""
    if owner is None:
        return False
    parts = owner.rsplit(":", 3)
    if len(parts) != 4:
        return False
    host, namespace, pid, _ = parts
    if host != socket.gethostname() or namespace != _pid_namespace() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a live process of another user
        return False
    return False


class Lease:
    """Keeps `owner`'s lease on a run while `work` runs; cancels `work` when a stop is requested (`ended` is
    "stop") or the run was taken over (`ended` is "lost"). `flush` runs at each renewal."""

    def __init__(
        self,
        records: RunRecords,
        run_id: str,
        owner: str,
        seconds: float,
        *,
        flush: Callable[[], Awaitable[None]],
        emit: Listener,
    ) -> None:
        self.records = records
        self.run_id = run_id
        self.owner = owner
        self.seconds = seconds
        self.flush = flush
        self.emit = emit
        self.ended: Literal["stop", "lost"] | None = None

    async def keep(self, work: asyncio.Task[Any]) -> None:
        while not work.done():
            await asyncio.sleep(self.seconds / 3)
            try:
                await self.flush()
                renewal = await self.records.renew_lease(self.run_id, self.owner, self.seconds)
            except (SQLAlchemyError, OSError) as exc:  # the database may come back before the lease ends
                message = f"cannot renew the run's lease: {str(exc).splitlines()[0] if str(exc) else exc!r}"
                self.emit(RunEvent("log", self.run_id, {"message": message}))
                continue
            if not renewal.owned or renewal.stop_requested:
                self.ended = "stop" if renewal.owned else "lost"
                work.cancel()
                return


class RunNotRunningError(BoocodeError):
    """A stop was asked for a run that is not running."""


async def stop_run(records: RunRecords, run_id: str, lease_seconds: float) -> str:
    """Stop a run owned by any process on this database, wait until it has ended and return its status
    (`stopped`, unless it ended otherwise before the request reached it).

    Its owner sees the request when it next renews its lease and cancels the run; a run whose owner died
    (lease expired, or a gone process of this machine) is recorded as stopped here. Its unfinished agents
    end interrupted either way.
    """
    row = await records.get_run(run_id)
    if row is None:
        raise InputError(f"there is no run {run_id!r} (see `boocode runs`)")
    if row["parent_run_id"] is not None:
        raise InputError(f"{run_id} is a nested workflow run; stop its parent {row['parent_run_id']}")
    if row["status"] not in ("running", "interrupted"):
        raise RunNotRunningError(f"run {run_id} is not running (it is {row['status']})")
    await records.request_stop(run_id)
    pause = min(0.5, max(0.05, lease_seconds / 10))
    while True:
        dead = row["owner"] if owner_is_dead(row["owner"]) else None
        if row["status"] == "interrupted" or dead is not None:
            await records.stop_orphan(run_id, dead_owner=dead)
        row = await records.get_run(run_id)
        assert row is not None  # runs are never deleted
        if row["status"] not in ("running", "interrupted"):
            return str(row["status"])
        await asyncio.sleep(pause)  # another process owns the run: only the database can tell us it ended
