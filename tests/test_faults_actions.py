"""Idempotent actions beyond filing (issue 20): claiming, answering, rating a complaint and subscribing
to a dossier carry a key tied to the session step (``handlers.idempotency.action_key``).

The crash window is opened as in test_faults_filing: the session save of the action's turn fails once
(as if the process died right after the action's transaction committed), so the stored session is the
one before the action and the person presses (or sends) the same thing again. Each time: one effect,
one message to the other side, and the second answer is the first one's.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import handlers.dossier as dossier_handlers
from bot.dossier_import import import_csv_command
from tests.drivers import TelegramDriver
from tests.test_complaint_telegram import AGENCY_CHAT, CITIZEN, STAFF, joined, settings  # noqa: F401
from tests.test_dossier_telegram import CODE as DOSSIER, CSV

ANSWER = "Dạ, phường đã chấn chỉnh cán bộ, mời anh/chị đến nhận kết quả"


def crash_next_save(telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next turn's session save fails once: the action committed, the session did not move on."""
    store = telegram.dispatcher.services.store
    real_finish = store.turns.finish

    async def crash_once(turn: Any) -> None:
        monkeypatch.setattr(store.turns, "finish", real_finish)
        raise ConnectionError("injected: died between the action's commit and the session save")

    monkeypatch.setattr(store.turns, "finish", crash_once)


async def events(telegram: TelegramDriver, code: str, kind: str) -> list[str]:
    repo = telegram.dispatcher.services.extras["complaint_ops"].repo
    c = await repo.by_code(code)
    return [e.note for e in await repo.events(c.id) if e.kind == kind]


async def file_complaint(telegram: TelegramDriver) -> tuple[str, Any]:
    summary = await telegram.say("tôi muốn phản ánh cán bộ phường Long Xuyên gây khó dễ, bắt đi lại nhiều lần")
    assert any("Gửi phản ánh" in s.labels for s in summary)  # one message: topic, ward and text read
    code = re.search(r"PAKN-\d{4}-\d{6}", joined(await telegram.press("Gửi phản ánh"))).group(0)
    card = (await telegram.fake.wait_for(AGENCY_CHAT, 1))[0]
    return code, card


async def citizen_gets(telegram: TelegramDriver, part: str, settle: float = 0.6) -> int:
    await asyncio.sleep(settle)  # several outbox rounds
    return len([s for s in telegram.fake.to(CITIZEN) if part in s.text])


async def test_claim_answer_and_rating_repeated_after_a_crash_have_one_effect(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    code, card = await file_complaint(telegram)

    # Staff press "Tiếp nhận"; the turn dies after the claim committed; they press again.
    crash_next_save(telegram, monkeypatch)
    assert "trục trặc" in joined(await telegram.press_in(AGENCY_CHAT, card.action("Tiếp nhận"), STAFF))
    again = joined(await telegram.press_in(AGENCY_CHAT, card.action("Tiếp nhận"), STAFF))
    assert f"đã tiếp nhận phản ánh {code}" in again  # the first press's answer, not "đang ở trạng thái"
    assert len(await events(telegram, code, "received")) == 1
    assert await citizen_gets(telegram, "đã được UBND phường Long Xuyên tiếp nhận") == 1
    # A later, deliberate press is a new step: it is told the complaint is already taken.
    assert "đang ở trạng thái" in joined(await telegram.press_in(AGENCY_CHAT, card.action("Tiếp nhận"), STAFF))

    # Staff answer by replying to the card; the turn dies; they send the same answer again.
    crash_next_save(telegram, monkeypatch)
    await telegram.say_in(AGENCY_CHAT, ANSWER, STAFF, reply_to=card.message_id)
    again = joined(await telegram.say_in(AGENCY_CHAT, ANSWER, STAFF, reply_to=card.message_id))
    assert "đã gửi câu trả lời" in again
    assert await events(telegram, code, "answered") == [ANSWER]
    assert await citizen_gets(telegram, "chấn chỉnh cán bộ") == 1
    answer = [s for s in telegram.fake.to(CITIZEN) if "chấn chỉnh cán bộ" in s.text][-1]

    # The citizen rates 5; the turn dies; they press 5 again.
    crash_next_save(telegram, monkeypatch)
    await telegram.press_in(CITIZEN, answer.action("5"), CITIZEN)
    assert "5/5" in joined(await telegram.press_in(CITIZEN, answer.action("5"), CITIZEN))
    assert await events(telegram, code, "rated") == ["5"]
    # Changing one's mind later is a new action.
    assert "4/5" in joined(await telegram.press_in(CITIZEN, answer.action("4"), CITIZEN))
    assert await events(telegram, code, "rated") == ["5", "4"]


async def test_answer_typed_after_the_answer_button_repeated_after_a_crash_is_sent_once(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    code, card = await file_complaint(telegram)
    await telegram.press_in(AGENCY_CHAT, card.action("Trả lời"), STAFF)
    crash_next_save(telegram, monkeypatch)
    await telegram.say_in(AGENCY_CHAT, ANSWER, STAFF)
    # The session still waits for the answer (its save failed): the staff member sends it again.
    assert "đã gửi câu trả lời" in joined(await telegram.say_in(AGENCY_CHAT, ANSWER, STAFF))
    assert await events(telegram, code, "answered") == [ANSWER]
    assert await citizen_gets(telegram, "chấn chỉnh cán bộ") == 1


async def test_subscription_repeated_after_a_crash_is_confirmed_once(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dossier_handlers, "SUBSCRIBE_HOLD", 0.5)
    path = tmp_path / "dossiers.csv"
    path.write_text(CSV, encoding="utf-8")
    assert await import_csv_command(telegram.settings, path) == 0
    await telegram.say(DOSSIER)
    await telegram.say("5678")
    chat = telegram.chat_id
    card = telegram.fake.to(chat)[-1]
    crash_next_save(telegram, monkeypatch)
    assert "trục trặc" in joined(await telegram.press_in(chat, card.action("Báo cho tôi")))
    again = joined(await telegram.press_in(chat, card.action("Báo cho tôi")))
    assert "đã bật thông báo" in again and "đã đăng ký" not in again.lower()
    await asyncio.sleep(1.2)  # past the hold: the held copy was settled by that answer, not sent again
    confirmations = [s for s in telegram.fake.to(chat) if "đã bật thông báo" in s.text]
    assert len(confirmations) == 1
    dossiers = telegram.dispatcher.services.extras["dossiers"]
    user = (await telegram.dispatcher.services.store.load("telegram", str(chat), str(chat))).user_id
    assert await dossiers.is_subscribed(DOSSIER, user)


async def test_old_action_keys_are_pruned(settings) -> None:  # noqa: ANN001, F811
    import datetime as dt

    from storage.models import ActionKey
    from storage.store import Store

    now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)
    store = Store.from_url(settings.database_url, now=lambda: now)
    try:
        await store.create_schema()
        async with store.sessions.begin() as db:
            db.add(ActionKey(key="rate:1:1:5:v3", ref="1", created_at=now - dt.timedelta(days=8)))
            db.add(ActionKey(key="rate:1:1:5:v9", ref="1", created_at=now - dt.timedelta(days=1)))
        await store.prune_update_records()
        async with store.sessions() as db:
            assert [k.key for k in (await db.execute(select(ActionKey))).scalars()] == ["rate:1:1:5:v9"]
    finally:
        await store.close()
