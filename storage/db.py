"""Engine and session factory for SQLite (aiosqlite, the default) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine, AsyncSession


def create_engine(database_url: str) -> AsyncEngine:
    """Create an async engine; for SQLite, make the folder and turn on WAL and foreign keys."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # One connection per process: SQLite runs one writer at a time anyway, and queueing for the
        # connection in asyncio is far cheaper than several connections sleeping in SQLite's busy handler.
        # Every transaction here ends with commit or rollback (engine.begin(), sessions), so the pool's
        # extra rollback on each return is skipped: it was one more hop to SQLite's thread per transaction.
        pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60, "pool_reset_on_return": None} \
            if url.database not in (None, "", ":memory:") else {}
        # hide_parameters: SQL parameters (citizens' texts, phones) never appear in logs or exception messages.
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **pool)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: safe against crashes, one fsync per checkpoint
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_recycle=1800, hide_parameters=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
