"""Schema migrations with Alembic, the same scripts for SQLite and PostgreSQL.

``upgrade(engine)`` brings a database to the latest revision; the bot calls it at start
(``Store.create_schema``) and ``python -m bot db upgrade`` calls it explicitly. On PostgreSQL
an advisory lock makes workers that start together migrate one after the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 7_340_021  # arbitrary, constant advisory-lock key for migrations


def alembic_config(connection: Any | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade_sync(connection: Any) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
    command.upgrade(alembic_config(connection), "head")


def _current_sync(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine) -> None:
    """Migrate the database to the latest revision (no-op when already there)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_sync)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current_sync)


async def upgrade_command(settings: Any) -> int:
    from storage.store import Store

    store = Store.from_url(settings.database_url)
    try:
        await upgrade(store.engine)
        print(f"Database at revision {await current_revision(store.engine)} (head {head_revision()})")
    finally:
        await store.close()
    return 0
