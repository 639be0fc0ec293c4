"""Two workers (``python -m bot serve --workers 2``) and a rate-limited agency chat.

The desk's group answers the card's first send with ``429 retry_after=25``. Both worker processes run
the outbox on the same database (PostgreSQL when TEST_DATABASE_URL_PG is set, else SQLite). Meanwhile a
second complaint goes to another agency's group. The other agency's card arrives within 2 seconds of
its filing (its lane does not wait behind the 429), and the desk gets exactly one card, unmarked, after
its 25 seconds: the other worker never sends a copy of the row in flight.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, _fresh_pg_database
from tests.fake_telegram import FakeTelegram, free_port
from tests.fake_zalo import FakeZalo
from tests.test_faults_kill_filing import CODE, HEADERS, RESENT, codes_to, filed_codes, walk_to_summary
from tests.test_server import BotProcess, bot_env, telegram_press, wait_healthy

DESK, OTHER = -100100, -100200
AGENCIES = """
province: An Giang
agencies:
  - key: desk
    name: Trung tâm Phục vụ hành chính công tỉnh An Giang
    is_default_desk: true
    topics: [portal]
    chats: [{channel: telegram, chat_id: "-100100"}]
  - key: noivu
    name: Sở Nội vụ tỉnh An Giang
    topics: [official]
    area: province
    chats: [{channel: telegram, chat_id: "-100200"}]
"""
PORTAL = "tôi muốn phản ánh cổng dịch vụ công báo lỗi đăng nhập, không vào được mấy ngày nay"
OFFICIAL = "tôi muốn phản ánh cán bộ một cửa phường Long Xuyên gây khó dễ, bắt đi lại nhiều lần"


async def file(http: httpx.AsyncClient, url: str, tg: FakeTelegram, user: int, text: str) -> str:
    """Walk a complaint to its summary, press "Gửi phản ánh", wait for the tracking code; the code."""
    send, _ = await walk_to_summary(http, url, tg, user, text)
    resp = await http.post(url, json=telegram_press(tg, user, send), headers=HEADERS)
    assert resp.status_code == 200
    deadline = time.monotonic() + 15
    while not codes_to(tg, user):
        assert time.monotonic() < deadline, [s.text[:80] for s in tg.to(user)[-3:]]
        await asyncio.sleep(0.02)
    [code] = codes_to(tg, user)
    return code


@pytest.mark.slow
async def test_two_workers_and_a_25_second_429_give_one_card_and_do_not_delay_another_agency(
        tmp_path: Path) -> None:
    db_url = await _fresh_pg_database() if PG_URL else f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(AGENCIES, encoding="utf-8")
    async with FakeTelegram() as tg, FakeZalo() as zalo:
        env = bot_env(tmp_path, tg, zalo, AGENCIES_FILE=str(agencies), DEFAULT_PROVINCE="An Giang",
                      DATABASE_URL=db_url)
        port = free_port()
        base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/telegram/webhook"
        async with BotProcess(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port),
                              "--workers", "2") as server:
            await wait_healthy(base, server, timeout=40)
            async with httpx.AsyncClient(timeout=10) as http:
                tg.rate_limit_chats[str(DESK)] = [1, 25]  # the desk's next send: 429, retry after 25 s
                desk_code = await file(http, url, tg, 7301, PORTAL)
                desk_filed = time.monotonic()
                other_code = await file(http, url, tg, 7302, OFFICIAL)
                other_filed = time.monotonic()
                deadline = other_filed + 10
                while not any(other_code in s.text for s in tg.to(OTHER)):
                    assert time.monotonic() < deadline, "the other agency's card did not come"
                    await asyncio.sleep(0.02)
                other_after = time.monotonic() - other_filed
                deadline = desk_filed + 45
                while not any(desk_code in s.text for s in tg.to(DESK)):
                    assert time.monotonic() < deadline, "the desk's card did not come"
                    await asyncio.sleep(0.1)
                desk_after = time.monotonic() - desk_filed
                await asyncio.sleep(3)  # a copy from the other worker, if any, would come now
            pids = re.findall(r"Started server process \[(\d+)\]", server.output())
    desk_cards = [s.text for s in tg.to(DESK) if desk_code in s.text]
    print(f"\n{db_url.split(':')[0]}, worker processes {pids}: other agency's card {other_after:.2f} s after "
          f"filing; desk's card (429 retry_after=25) {desk_after:.1f} s; desk cards {len(desk_cards)}")
    assert len(set(pids)) == 2  # really two workers
    assert [c for c in codes_to(tg, 7301)] == [desk_code] and await filed_codes(db_url, 7301) == [desk_code]
    assert CODE.fullmatch(other_code) and [s for s in tg.to(OTHER) if other_code in s.text][1:] == []
    assert other_after < 2.0, "the other agency's card waited behind the rate-limited chat"
    assert len(desk_cards) == 1 and RESENT not in desk_cards[0], desk_cards
    assert desk_after >= 24.5  # it did wait its retry_after
