"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import storage.all_models  # noqa: F401
from bot.config import Settings
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import Base
from storage.store import Store


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """Here the database starts empty (no tables): the migrations build all of it."""
    return empty_database_url


def _diff(connection) -> list:  # type: ignore[no-untyped-def]
    ctx = MigrationContext.configure(connection, opts={"compare_type": False})
    return compare_metadata(ctx, Base.metadata)


async def test_upgrade_creates_the_model_schema_and_is_idempotent(settings: Settings) -> None:
    store = Store.from_url(settings.database_url)
    try:
        await upgrade(store.engine)
        await upgrade(store.engine)  # a second worker starting later: nothing to do
        assert await current_revision(store.engine) == head_revision()
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        await store.close()


async def test_store_create_schema_runs_the_migrations(settings: Settings) -> None:
    store = Store.from_url(settings.database_url)
    try:
        await store.create_schema()
        assert await current_revision(store.engine) == head_revision()
    finally:
        await store.close()


async def test_the_migrations_start_from_an_empty_database(settings: Settings) -> None:
    store = Store.from_url(settings.database_url)
    try:
        assert await current_revision(store.engine) is None
    finally:
        await store.close()
