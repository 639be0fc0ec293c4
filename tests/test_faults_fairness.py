"""Fair queues: one user flooding the webhook cannot get other users' updates refused (503).

The real web server (Starlette app with its lifespan, python-telegram-bot against the fake Bot API,
the dispatcher on the test database) runs on 127.0.0.1 with a small queue (100 updates), so that a
flood of 400 updates from one user would fill it several times over.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from bot.config import Settings
from bot.server import create_app
from bot.task_pool import PoolFull, TaskPool
from tests.fake_telegram import TOKEN, FakeTelegram, free_port

SECRET = "fair-secret-123"
FLOODER = 880001
FLOOD = 400


async def test_pool_caps_one_key_and_refuses_the_heaviest_first() -> None:
    pool = TaskPool(concurrency=2, max_pending=100, max_per_key=50, busy_per_key=5)
    gate = asyncio.Event()

    async def work() -> None:
        await gate.wait()

    accepted = refused = 0
    for _ in range(500):  # one user floods
        try:
            pool.submit(work(), "telegram:flood")
            accepted += 1
        except PoolFull:
            refused += 1
    assert (accepted, refused) == (50, 450)
    others = []
    for i in range(45):  # 45 other users, 1 update each, then some with 5
        pool.submit(work(), f"telegram:{i}")
        others.append(i)
    assert len(pool) == 95
    for _ in range(5):  # the pool is 95% full: a user with 5 waiting is refused, a newcomer is not
        pool.submit(work(), "telegram:heavy")
    with pytest.raises(PoolFull):
        pool.submit(work(), "telegram:heavy")
    with pytest.raises(PoolFull):
        pool.submit(work(), "telegram:newcomer")  # the global cap (100) still holds
    gate.set()
    await pool.drain(5)
    assert len(pool) == 0 and pool._per_key == {}


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[tuple[str, FakeTelegram]]:
    async with FakeTelegram() as fake:
        cfg = settings.model_copy(update={"telegram_bot_token": TOKEN, "telegram_base_url": fake.base_url,
                                          "telegram_webhook_secret": SECRET, "telegram_rate_limit": 0,
                                          "rate_limit_per_minute": 20})
        app = create_app(cfg)
        app.state.runtime.pool = TaskPool(max_pending=100, max_per_key=20)
        port = free_port()
        srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        task = asyncio.create_task(srv.serve())
        try:
            while not srv.started:
                assert not task.done()
                await asyncio.sleep(0.02)
            yield f"http://127.0.0.1:{port}", fake
        finally:
            srv.should_exit = True
            await task


def update(fake: FakeTelegram, user: int, text: str) -> dict[str, Any]:
    fake.text(user, text)
    return dict(fake.updates.pop())


@pytest.mark.slow
async def test_a_flooding_user_does_not_get_others_refused(server: tuple[str, FakeTelegram]) -> None:
    base, fake = server
    url, headers = f"{base}/telegram/webhook", {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    statuses: dict[str, list[int]] = {"flood": [], "others": []}
    latencies: list[float] = []

    async def post(http: httpx.AsyncClient, body: dict[str, Any], kind: str) -> None:
        statuses[kind].append((await http.post(url, json=body, headers=headers)).status_code)

    async def other_user(http: httpx.AsyncClient, user: int) -> None:
        started = time.monotonic()
        await post(http, update(fake, user, "đăng ký khai sinh"), "others")
        if statuses["others"][-1] == 200:
            await fake.wait_for(user, 1, timeout=30)
            latencies.append(time.monotonic() - started)

    limits = httpx.Limits(max_connections=48)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        flood = [update(fake, FLOODER, f"câu hỏi số {i}") for i in range(FLOOD)]
        sem = asyncio.Semaphore(16)

        async def flood_one(body: dict[str, Any]) -> None:
            async with sem:
                await post(http, body, "flood")

        flooding = asyncio.gather(*(flood_one(b) for b in flood))
        await asyncio.sleep(0.2)  # the flood is under way
        await asyncio.gather(*(other_user(http, 700000 + i) for i in range(30)))
        await flooding
    refused_others = statuses["others"].count(503)
    print(f"flood answers: 200={statuses['flood'].count(200)} 503={statuses['flood'].count(503)}; "
          f"others: 200={statuses['others'].count(200)} 503={refused_others}; other users' latency "
          f"p50={statistics.median(latencies):.3f}s max={max(latencies):.3f}s")
    assert statuses["flood"].count(503) >= 300  # the flood really overflowed the flooder's share
    assert refused_others == 0 and len(latencies) == 30  # nobody else was refused; all were answered
