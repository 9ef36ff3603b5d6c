"""What the two kinds of owned rows, `runs` and `tasks`, share: a process owns a row while it keeps renewing
the row's `lease_expires_at`, so an active row whose lease ran out belongs to a process that died; and each
row works in a project. The statements take the table; each table's own rules stay with its records."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, Update, and_, case, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from boocode.store import schema as t
from boocode.store.store import Store, utcnow


def lease_end(seconds: float) -> datetime:
    """When a lease taken or renewed now for `seconds` runs out."""
    return utcnow() + timedelta(seconds=seconds)


def expired(table: Table) -> ColumnElement[bool]:
    """Rows of `table` under no lease: none was taken, or it ran out."""
    c = table.c
    return or_(c.lease_expires_at.is_(None), c.lease_expires_at < utcnow())


def abandoned(table: Table, dead_owners: Collection[str] = ()) -> ColumnElement[bool]:
    """Rows of `table` whose owner is gone: their lease expired, or their owner is one of `dead_owners`."""
    if not dead_owners:
        return expired(table)
    return or_(expired(table), table.c.owner.in_(list(dead_owners)))


def status_now(table: Table, active: Collection[str]) -> ColumnElement[Any]:
    """A row's status as it is now: one still `active` under an expired lease was `interrupted`."""
    c = table.c
    return case((and_(c.status.in_(list(active)), expired(table)), "interrupted"), else_=c.status)


def renewing(
    table: Table, owner: str, active: Collection[str], until: datetime, *where: ColumnElement[bool]
) -> Update:
    """The UPDATE extending `owner`'s lease to `until` on its `active` rows of `table` that match `where`."""
    c = table.c
    mine = and_(c.owner == owner, c.status.in_(list(active)), *where)
    return update(table).where(mine).values(lease_expires_at=until)


async def project_root(store: Store, table: Table, row_id: str) -> str | None:
    """The project directory the row `row_id` of `table` works in, or None for an unknown id."""
    query = (
        select(t.projects.c.root)
        .select_from(table.join(t.projects, table.c.project_id == t.projects.c.id))
        .where(table.c.id == row_id)
    )
    async with store.reading() as conn:
        root = (await conn.execute(query)).scalar()
    return None if root is None else str(root)
