"""Engine and session factory for SQLite (aiosqlite, the default) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine, AsyncSession


class DatabaseNotWritable(RuntimeError):
    """The SQLite file, its -wal/-shm companions or its folder cannot be written (message says which)."""


def sqlite_write_problem(path: Path) -> str | None:
    """Why SQLite could not write the database at ``path`` (a sentence naming the file), or None.

    SQLite maps the ``-shm`` file into memory: if that file cannot be written (read-only, immutable)
    writes fail or, with a file made immutable under a running process, the process dies with SIGBUS
    and no log line. So the folder and every file that exists are checked for writing before start.
    Only ``access()`` is used, never ``open()``: closing any descriptor of a database file would drop
    the POSIX locks this process's SQLite connections hold on it (and let another process delete the
    WAL under them).
    """
    folder = path.parent
    for name in (folder, path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if name is not folder and not name.exists():
            continue
        if not os.access(name, os.W_OK):
            what = "folder" if name is folder else "file"
            return f"the {what} {name} is not writable (permissions, a read-only file system or the immutable flag)"
    return None


def check_writable(database_url: str) -> None:
    """Raise DatabaseNotWritable, with one clear sentence, if an SQLite database cannot be written."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database).expanduser()
    if not path.parent.is_dir():
        return  # create_engine makes it
    problem = sqlite_write_problem(path)
    if problem:
        raise DatabaseNotWritable(
            f"SQLite database {path}: {problem}. Nothing could be stored: make the folder and the files "
            f"{path.name}, {path.name}-wal and {path.name}-shm writable by this user (and not immutable: "
            "lsattr, chattr -i), then start again.")


def engine_write_problem(engine: AsyncEngine) -> str | None:
    """For an SQLite file database: why its folder or files cannot be written now, else None (cheap)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).expanduser()
    if not path.parent.is_dir():
        return None  # gone altogether: the connection fails and says so ("unreachable")
    return sqlite_write_problem(path)


def create_engine(database_url: str) -> AsyncEngine:
    """Create an async engine; for SQLite, make the folder, check it can be written, turn on WAL and foreign keys.

    Raises DatabaseNotWritable for an SQLite database whose folder or files cannot be written.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            path = Path(url.database).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            check_writable(database_url)
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
