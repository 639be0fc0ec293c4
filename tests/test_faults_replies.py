"""Fault injection on the citizen's replies: the fake Bot API fails on command while the real
python-telegram-bot channel, dispatcher, SQLite/PostgreSQL store and outbox worker run.

- an ordinary reply is retried on a 502;
- the reply carrying a complaint's tracking code reaches the citizen exactly once, whether the Bot
  API fails once at that moment (direct retry), longer than the direct retries (the outbox delivers
  its held copy), or the turn dies after the complaint was stored (the held copy after the hold).
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

import bot.telegram_channel as telegram_channel
import handlers.complaint_ops as complaint_ops
from bot.config import Settings, load_settings
from tests.drivers import TelegramDriver

CITIZEN, DESK = 5001, -100100
AGENCIES = """
province: An Giang
agencies:
  - key: desk
    name: Trung tâm Phục vụ hành chính công tỉnh An Giang
    is_default_desk: true
    chats: [{channel: telegram, chat_id: "-100100"}]
"""
CODE = re.compile(r"PAKN-\d{4}-\d{6}")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    path = tmp_path / "agencies.yaml"
    path.write_text(AGENCIES, encoding="utf-8")
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600,
                         agencies_file=path, default_province="An Giang")


async def walk_to_summary(tg: TelegramDriver) -> None:
    # told in one message: topic (the portal: no commune needed) and text are read, the summary comes at once
    summary = await tg.say("tôi muốn phản ánh cổng dịch vụ công không hiển thị hồ sơ đã nộp hôm qua")
    assert any("Gửi phản ánh" in s.labels for s in summary)


def codes_received(tg: TelegramDriver) -> list[str]:
    return [m.group(0) for s in tg.fake.to(CITIZEN) if "Mã theo dõi" in s.text and (m := CODE.search(s.text))]


async def wait_codes(tg: TelegramDriver, n: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(codes_received(tg)) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return codes_received(tg)


async def complaints(tg: TelegramDriver) -> list[str]:
    repo = tg.dispatcher.services.extras["complaint_ops"].repo
    return [c.code for c in await repo.open_complaints()]


async def test_ordinary_reply_is_retried_after_502(telegram: TelegramDriver) -> None:
    telegram.fake.fail_chats[str(CITIZEN)] = 2
    started = time.monotonic()
    seen = await telegram.say("/start")
    assert seen and "Dạ, em chào anh/chị" in seen[0].text  # third attempt, after 0.5 s + 1 s
    assert 1.4 < time.monotonic() - started < 5
    assert telegram.fake.fail_chats[str(CITIZEN)] == 0


async def test_ordinary_reply_waits_out_a_429_of_its_own_chat_only(telegram: TelegramDriver) -> None:
    telegram.fake.rate_limit_chats[str(CITIZEN)] = [1, 1]  # 429 retry_after=1, once
    started = time.monotonic()

    async def other_citizen() -> float:  # another citizen at the same moment: not paused by that 429
        seen = await telegram.say_in(5002, "/start", 5002)
        assert seen[0].text.startswith("Dạ, em chào anh/chị")
        return time.monotonic() - started

    other = asyncio.create_task(other_citizen())
    seen = await telegram.say("/start")
    took = time.monotonic() - started
    assert seen and "Dạ, em chào anh/chị" in seen[0].text and 1.0 <= took < 4, took
    assert await other < took - 0.3, (await other, took)
    assert [m for m, p in telegram.fake.calls if m == "sendMessage" and str(p.get("chat_id")) == str(CITIZEN)]


async def test_tracking_code_survives_one_502_at_the_moment_of_filing(telegram: TelegramDriver) -> None:
    await walk_to_summary(telegram)
    telegram.fake.fail_chats[str(CITIZEN)] = 1
    await telegram.press("Gửi phản ánh")
    codes = await wait_codes(telegram, 1, 5)
    assert len(codes) == 1 and await complaints(telegram) == codes
    await asyncio.sleep(0.3)  # nothing else comes: the held outbox copy is marked sent, not delivered again
    rows = await telegram.dispatcher.services.store.outbox_rows()
    held = [r for r in rows if ":submitted:" in r.dedup_key]
    assert [(r.status, r.attempts) for r in held] == [("sent", 1)]
    assert codes_received(telegram) == codes


@pytest.mark.slow
async def test_tracking_code_reaches_the_citizen_through_the_outbox_when_the_api_stays_down(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram_channel, "REPLY_RETRY_DELAYS", (0.1, 0.2, 0.3))  # shorter direct retries
    await walk_to_summary(telegram)
    telegram.fake.fail_chats[str(CITIZEN)] = 4  # all 4 direct attempts fail; the outbox delivers it
    started = time.monotonic()
    await telegram.press("Gửi phản ánh")  # the direct reply gives up after its 4 attempts
    assert codes_received(telegram) == []
    codes = await wait_codes(telegram, 1, 20)
    took = time.monotonic() - started
    assert len(codes) == 1 and await complaints(telegram) == codes, (codes, took)
    await asyncio.sleep(0.5)
    assert codes_received(telegram) == codes  # exactly once
    assert len([s for s in telegram.fake.to(DESK) if codes[0] in s.text]) == 1  # and one card
    held = [r for r in await telegram.dispatcher.services.store.outbox_rows() if ":submitted:" in r.dedup_key]
    assert held[0].status == "sent" and held[0].attempts >= 2


@pytest.mark.slow
async def test_tracking_code_is_delivered_when_the_turn_dies_after_filing(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(complaint_ops, "REPLY_HOLD", 1.5)
    await walk_to_summary(telegram)
    store = telegram.dispatcher.services.store
    real_finish = store.turns.finish

    async def crash_once(turn):  # the process "dies" after the complaint committed, before the session save
        monkeypatch.setattr(store.turns, "finish", real_finish)
        raise ConnectionError("injected: process died before the session was saved")

    monkeypatch.setattr(store.turns, "finish", crash_once)
    seen = await telegram.press("Gửi phản ánh")
    assert codes_received(telegram) == [] and "trục trặc" in " ".join(s.text for s in seen)
    codes = await wait_codes(telegram, 1, 10)  # the held copy, from the outbox, after the hold
    assert len(codes) == 1 and await complaints(telegram) == codes


DOSSIER_CSV = (
    "code,procedure_id,agency_key,agency_name,applicant_name,phone,status,received_date,due_date,delivery_method\n"
    "H21.22-250312-0005,khai-sinh,ubnd-p1,UBND phường Một,Nguyễn Văn An,0912345678,processing,"
    "12/03/2025,14/03/2099,Trực tuyến\n"
)


@pytest.mark.slow
async def test_subscription_confirmation_reaches_the_citizen_when_the_api_stays_down(
        telegram: TelegramDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram_channel, "REPLY_RETRY_DELAYS", (0.1, 0.2, 0.3))
    from bot.dossier_import import import_csv_command

    path = tmp_path / "dossiers.csv"
    path.write_text(DOSSIER_CSV, encoding="utf-8")
    assert await import_csv_command(telegram.settings, path) == 0
    await telegram.say("H21.22-250312-0005")
    seen = await telegram.say("5678")
    assert "Báo cho tôi khi có thay đổi" in seen[-1].labels
    telegram.fake.fail_chats[str(CITIZEN)] = 4  # every direct attempt of the confirmation fails
    assert await telegram.press("Báo cho tôi") == []
    deadline = time.monotonic() + 15
    while not any("đã bật thông báo" in s.text for s in telegram.fake.to(CITIZEN)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    confirmations = [s for s in telegram.fake.to(CITIZEN) if "đã bật thông báo" in s.text]
    assert len(confirmations) == 1 and "Tắt thông báo" in " ".join(confirmations[0].labels)
