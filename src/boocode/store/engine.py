"""Opening the database: engine creation, SQLite pragmas, and migrations applied on first use."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from boocode.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
# Postgres advisory-lock key serialising concurrent migrations ("boocode" in ASCII).
_PG_MIGRATION_LOCK = 0x626F6F636F6465


def head_revision() -> str:
    """The newest migration's revision, found without alembic: files are `versions/NNNN_*.py` with
    `revision = "NNNN"`, in one linear chain."""
    return max(path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _current_revision(connection: Connection) -> str | None:
    """The revision alembic recorded in the database, read with plain SQL (None: not migrated yet)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _upgrade(connection: Connection) -> None:
    """Migrate to the head; alembic (slow to import) is loaded only when the schema is not at the head."""
    if _current_revision(connection) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "busy_timeout=10000", "foreign_keys=ON", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    """An exclusive lock on `path` across processes, waited for off the event loop."""
    with path.open("a") as fh:
        await asyncio.to_thread(fcntl.flock, fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url` (SQLite or PostgreSQL).

    A PostgreSQL URL may carry `?search_path=NAME` to keep boocode's tables in their own schema.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"invalid database URL {url!r}") from None
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        if parsed.drivername != "sqlite+aiosqlite":
            parsed = parsed.set(drivername="sqlite+aiosqlite")
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif backend == "postgresql":
        if parsed.drivername != "postgresql+asyncpg":
            parsed = parsed.set(drivername="postgresql+asyncpg")
        search_path = parsed.query.get("search_path")
        if search_path:
            parsed = parsed.difference_update_query(["search_path"])
            kwargs["connect_args"] = {"server_settings": {"search_path": str(search_path)}}
        kwargs["pool_pre_ping"] = True
    else:
        raise StoreError(f"unsupported database {backend!r} in {url!r}: use sqlite or postgresql")
    engine = create_async_engine(parsed, **kwargs)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
    return engine


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    url = engine.url
    try:
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            lock = Path(url.database).expanduser().with_suffix(".migrate.lock")
            async with _file_lock(lock), engine.begin() as conn:
                await conn.run_sync(_upgrade)
            return
        async with engine.begin() as conn:
            if url.get_backend_name() == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                await _ensure_pg_schema(conn)
            await conn.run_sync(_upgrade)
    except (OperationalError, DBAPIError, OSError) as exc:
        raise StoreError(
            f"cannot open database {url.render_as_string(hide_password=True)}: {_first_line(exc)}"
        ) from None


async def _ensure_pg_schema(conn: Any) -> None:
    path = (await conn.execute(text("SHOW search_path"))).scalar_one()
    first = str(path).split(",")[0].strip().strip('"')
    if first and first not in ("$user", "public"):
        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{first}"'))


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
