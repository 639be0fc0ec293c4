"""Shared fixtures: settings on a temporary database, the bundled knowledge base, channel drivers.

Set TEST_DATABASE_URL_PG (e.g. postgresql+asyncpg://postgres@127.0.0.1/test) to run the
database-backed tests on PostgreSQL as well as on SQLite; ``.ci/run`` starts a server and sets it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from knowledge.base import KnowledgeBase
from knowledge.loader import BUNDLED_DIR
from tests.drivers import TelegramDriver, TerminalDriver
from tests.fake_telegram import TOKEN, FakeTelegram

PG_URL = os.environ.get("TEST_DATABASE_URL_PG", "")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or real tokens."""
    for key in list(os.environ):
        if key.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL", "KNOWLEDGE_DIR", "AGENCIES_FILE", "HELPERS_FILE",
                               "DOSSIER_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.from_dir(BUNDLED_DIR)


async def _fresh_pg_database(template: str | None = None) -> str:
    """Create a database on the test server (empty, or a copy of ``template``) and return its URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(PG_URL)
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(user=base.username, password=base.password, host=base.host,
                                 port=base.port or 5432, database=base.database or "postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


# Migrated templates, built once per run: a test's database is a copy (a file copy for SQLite,
# CREATE DATABASE ... TEMPLATE for PostgreSQL) instead of running every Alembic migration again.
_TEMPLATES: dict[str, str] = {}


async def _migrate(url: str) -> None:
    from storage.store import Store

    store = Store.from_url(url)
    try:
        await store.create_schema()
    finally:
        await store.close()  # no connection may stay open on a PostgreSQL template


async def _migrated_template(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend not in _TEMPLATES:
        if backend == "postgres":
            from sqlalchemy.engine import make_url

            url = await _fresh_pg_database()
            await _migrate(url)
            _TEMPLATES[backend] = make_url(url).database or ""
        else:
            path = tmp_path_factory.mktemp("template") / "template.sqlite3"
            await _migrate(f"sqlite+aiosqlite:///{path}")
            _TEMPLATES[backend] = str(path)
    return _TEMPLATES[backend]


async def _empty_database(backend: str, tmp_path: Path) -> str:
    if backend == "postgres":
        return await _fresh_pg_database()
    return f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                       tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh database at the latest schema: an SQLite file, or a new PostgreSQL database.

    It is a copy of a template migrated once per run, so starting the bot on it finds nothing to
    migrate; the migrations themselves are tested on ``empty_database_url`` (tests/test_migrations.py).
    """
    template = await _migrated_template(request.param, tmp_path_factory)
    if request.param == "postgres":
        return await _fresh_pg_database(template)
    path = tmp_path / "test.sqlite3"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database (no tables): an SQLite file, or a new PostgreSQL database."""
    return await _empty_database(request.param, tmp_path)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600)


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def terminal(settings: Settings, kb: KnowledgeBase) -> AsyncIterator[TerminalDriver]:
    driver = await TerminalDriver(settings, kb).start()
    yield driver
    await driver.close()


@pytest.fixture
async def telegram(settings: Settings, kb: KnowledgeBase, fake_telegram: FakeTelegram) -> AsyncIterator[TelegramDriver]:
    tg_settings = settings.model_copy(update={"telegram_bot_token": TOKEN, "telegram_base_url": fake_telegram.base_url})
    driver = await TelegramDriver(tg_settings, kb, fake_telegram).start()
    yield driver
    await driver.close()


@pytest.fixture(params=["terminal", "telegram", "zalo", "webchat"])
async def channel(request: pytest.FixtureRequest, settings: Settings, kb: KnowledgeBase) -> AsyncIterator[object]:
    """Every channel driver in turn, so one scenario test covers all channels."""
    if request.param == "terminal":
        driver = await TerminalDriver(settings, kb).start()
        yield driver
        await driver.close()
        return
    if request.param == "webchat":
        from tests.drivers import WebChatDriver

        wdriver = await WebChatDriver(settings, kb).start()
        yield wdriver
        await wdriver.close()
        return
    if request.param == "zalo":
        from tests.drivers import ZaloDriver
        from tests.fake_zalo import TOKEN as ZALO_TOKEN, FakeZalo

        async with FakeZalo() as zfake:
            z_settings = settings.model_copy(update={"zalo_bot_token": ZALO_TOKEN, "zalo_base_url": zfake.base_url})
            zdriver = await ZaloDriver(z_settings, kb, zfake).start()
            yield zdriver
            await zdriver.close()
        return
    async with FakeTelegram() as fake:
        tg_settings = settings.model_copy(update={"telegram_bot_token": TOKEN, "telegram_base_url": fake.base_url})
        tdriver = await TelegramDriver(tg_settings, kb, fake).start()
        yield tdriver
        await tdriver.close()
