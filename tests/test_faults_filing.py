"""Idempotent complaint filing: a crash between "complaint stored" and "session saved" cannot make a
second press of "Gửi" file the complaint twice.

The crash window is opened deterministically: the session save of the filing turn fails once (as if
the process died right after the complaint's transaction committed), so the stored session still
shows the summary with its draft and the citizen presses "Gửi" again.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest

import handlers.complaint_ops as complaint_ops
from handlers.complaint_ops import ComplaintOps
from tests.drivers import TelegramDriver
from tests.test_faults_replies import CITIZEN, CODE, DESK, complaints, settings, walk_to_summary  # noqa: F401


async def test_second_send_after_a_crash_between_filing_and_session_save_files_once(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(complaint_ops, "REPLY_HOLD", 1.0)
    await walk_to_summary(telegram)
    store = telegram.dispatcher.services.store
    real_finish = store.turns.finish

    async def crash_once(turn):  # noqa: ANN001
        monkeypatch.setattr(store.turns, "finish", real_finish)
        raise ConnectionError("injected: died between the complaint's commit and the session save")

    monkeypatch.setattr(store.turns, "finish", crash_once)
    first = await telegram.press("Gửi phản ánh")
    assert "trục trặc" in first[0].text
    filed = await complaints(telegram)
    assert len(filed) == 1  # the complaint committed before the "crash"
    session = await store.load("telegram", str(CITIZEN), str(CITIZEN))
    assert session.state == "complaint:summary" and session.data["pakn"].get("key")  # not saved: still the summary

    again = await telegram.press("Gửi phản ánh")  # the citizen saw no code and presses again
    text = "\n".join(s.text for s in again)
    assert "đã gửi rồi" in text and filed[0] in text
    await asyncio.sleep(1.5)  # past the hold: the held copy was settled by that answer, not sent again
    assert await complaints(telegram) == filed
    assert len([s for s in telegram.fake.to(DESK) if filed[0] in s.text]) == 1  # one card
    codes = [m.group(0) for s in telegram.fake.to(CITIZEN) if (m := CODE.search(s.text))]
    assert codes == filed  # the code reached the citizen exactly once
    assert (await store.load("telegram", str(CITIZEN), str(CITIZEN))).state == ""


async def test_racing_filings_with_one_key_store_one_complaint(telegram: TelegramDriver) -> None:
    ops: ComplaintOps = telegram.dispatcher.services.extras["complaint_ops"]
    session = await telegram.dispatcher.services.store.load("telegram", "777", "777")
    draft = {"topic": "portal", "description": "Cổng dịch vụ công báo lỗi khi nộp hồ sơ trực tuyến",
             "key": secrets.token_hex(8)}
    results = await asyncio.gather(*(ops.submit_once(user_id=session.user_id, channel="telegram", chat_id="777",
                                                     draft=dict(draft)) for _ in range(5)))
    assert len({c.id for c, _ in results}) == 1
    assert sorted(filed for _, filed in results) == [False, False, False, False, True]
    other = await ops.submit_once(user_id=session.user_id, channel="telegram", chat_id="777",
                                  draft={**draft, "key": secrets.token_hex(8)})
    assert other[1] is True and other[0].id != results[0][0].id  # another draft is another complaint


async def test_second_send_is_not_refused_by_the_daily_limit_its_own_filing_reached(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    telegram.dispatcher.services.settings = telegram.dispatcher.services.settings.model_copy(
        update={"complaints_per_day": 1})
    await walk_to_summary(telegram)
    store = telegram.dispatcher.services.store
    real_finish = store.turns.finish

    async def crash_once(turn):  # noqa: ANN001
        monkeypatch.setattr(store.turns, "finish", real_finish)
        raise ConnectionError("injected")

    monkeypatch.setattr(store.turns, "finish", crash_once)
    await telegram.press("Gửi phản ánh")
    filed = await complaints(telegram)
    again = "\n".join(s.text for s in await telegram.press("Gửi phản ánh"))
    assert "đã gửi rồi" in again and filed[0] in again and "tối đa" not in again
    assert await complaints(telegram) == filed
