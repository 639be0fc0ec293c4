"""The tracking code through ``python -m bot serve`` when the Bot API fails at the moment of filing.

One citizen's chat answers the send after "Gửi phản ánh" with one 502 (the direct reply's retry gets
it through); another's answers the next 6 sends with 502 (more than the direct reply's 4 attempts: the
outbox delivers the held copy). Each gets the code exactly once, and the agency one card each.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.fake_telegram import FakeTelegram, free_port
from tests.fake_zalo import FakeZalo
from tests.test_faults_kill_filing import AGENCIES, CODE, DESK, HEADERS, codes_to, walk_to_summary
from tests.test_server import BotProcess, bot_env, telegram_press, wait_healthy


@pytest.mark.slow
async def test_the_tracking_code_reaches_the_citizen_after_502s_at_the_moment_of_filing(tmp_path: Path) -> None:
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(AGENCIES, encoding="utf-8")
    async with FakeTelegram() as tg, FakeZalo() as zalo:
        env = bot_env(tmp_path, tg, zalo, AGENCIES_FILE=str(agencies), DEFAULT_PROVINCE="An Giang")
        port = free_port()
        base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/telegram/webhook"
        async with BotProcess(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port)) as server:
            await wait_healthy(base, server)
            took: dict[int, float] = {}
            async with httpx.AsyncClient(timeout=10) as http:
                for user, failures in ((7401, 1), (7402, 6)):
                    send, _ = await walk_to_summary(http, url, tg, user)
                    tg.fail_chats[str(user)] = failures  # the next sends to this citizen: 502
                    started = time.monotonic()
                    resp = await http.post(url, json=telegram_press(tg, user, send), headers=HEADERS)
                    assert resp.status_code == 200
                    deadline = started + 30
                    while not codes_to(tg, user):
                        assert time.monotonic() < deadline, (user, [s.text[:80] for s in tg.to(user)[-3:]])
                        await asyncio.sleep(0.05)
                    took[user] = time.monotonic() - started
                    assert tg.fail_chats[str(user)] == 0  # every injected 502 was met
                await asyncio.sleep(2.5)  # a second copy, if any, would come now
            out = server.output()
    print(f"\ncode after one 502: {took[7401]:.1f} s; after six: {took[7402]:.1f} s")
    assert "Traceback" not in out
    for user in (7401, 7402):
        [code] = codes_to(tg, user)
        assert CODE.fullmatch(code)
        assert len([s for s in tg.to(user) if code in s.text]) == 1  # once
        assert len([s for s in tg.to(DESK) if code in s.text]) == 1  # one card
