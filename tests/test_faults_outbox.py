"""Outbox under faults, with the real python-telegram-bot sender against the fake Bot API:

- lanes: a chat answering 429 (retry_after) delays only its own messages, not another chat's card;
- claims are renewed while a send is in flight, so a second worker never sends a copy of a row that
  waits on a long retry_after (the lease is shortened here to keep the test short);
- a message sent in parts records each accepted part: a retry after part 2 failed sends part 2 only;
- a timeout (the platform may have accepted) is "in doubt": the next attempt carries the resend note.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from telegram.error import TimedOut

import bot.outbox_worker as outbox_worker
from bot.config import Settings, load_settings
from bot.outbox_worker import RESENT_NOTE, deliver_once, run_outbox
from handlers.types import Reply
from storage.store import Store
from tests.drivers import TelegramDriver

SLOW_CHAT, OTHER_CHAT = "-100777", "-100888"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600)


async def queue(store: Store, key: str, chat: str, text: str) -> None:
    assert await store.enqueue_once(dedup_key=key, channel="telegram", chat_id=chat, text=text)


async def arrival(telegram: TelegramDriver, chat: str, text: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in s.text for s in telegram.fake.to(int(chat))):
            return time.monotonic()
        await asyncio.sleep(0.02)
    return None


@pytest.mark.slow
async def test_a_rate_limited_chat_does_not_delay_another_chats_card(telegram: TelegramDriver) -> None:
    store = telegram.dispatcher.services.store
    telegram.fake.rate_limit_chats[SLOW_CHAT] = [1, 5]  # 429, retry_after=5 s, once
    started = time.monotonic()
    await queue(store, "lane:slow", SLOW_CHAT, "thẻ phản ánh cho đơn vị bị giới hạn")
    await queue(store, "lane:other", OTHER_CHAT, "thẻ phản ánh cho đơn vị khác")
    other = await arrival(telegram, OTHER_CHAT, "đơn vị khác", 10)
    assert other is not None and other - started < 2.0, "the other chat's card waited behind the 429"
    slow = await arrival(telegram, SLOW_CHAT, "bị giới hạn", 15)
    assert slow is not None and slow - started >= 4.5  # it did wait its retry_after
    await asyncio.sleep(0.3)
    assert len(telegram.fake.to(int(SLOW_CHAT))) == 1 and len(telegram.fake.to(int(OTHER_CHAT))) == 1
    print(f"other chat's card after {other - started:.2f}s; rate-limited chat's after {slow - started:.2f}s")


@pytest.mark.slow
async def test_second_worker_does_not_copy_a_row_waiting_on_retry_after(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_worker, "LEASE", 1.0)  # claims renewed every 0.25 s
    await telegram._jobs.__aexit__(None, None, None)  # restart the first worker's outbox with that lease
    telegram._jobs = None
    store = telegram.dispatcher.services.store
    from bot.runtime import background_jobs

    telegram._jobs = background_jobs(telegram.dispatcher.services, outbox_interval=0.05)
    await telegram._jobs.__aenter__()
    senders = telegram.dispatcher.services.extras["senders"]
    second = Store.from_url(telegram.settings.database_url)  # another worker: own id, same database
    assert second.worker_id != store.worker_id
    telegram.fake.rate_limit_chats[SLOW_CHAT] = [1, 4]  # in flight about 4 s, four times the lease
    other_worker = asyncio.create_task(run_outbox(second, senders, interval=0.05))
    try:
        await queue(store, "lease:slow", SLOW_CHAT, "thẻ chờ retry_after")
        assert await arrival(telegram, SLOW_CHAT, "thẻ chờ retry_after", 10) is not None
        await asyncio.sleep(2.0)  # a copy, if any, would come now
    finally:
        other_worker.cancel()
        await asyncio.gather(other_worker, return_exceptions=True)
        await second.close()
    texts = [s.text for s in telegram.fake.to(int(SLOW_CHAT))]
    assert len(texts) == 1 and RESENT_NOTE not in texts[0]
    rows = [r for r in await store.outbox_rows() if r.dedup_key == "lease:slow"]
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)]


async def test_a_retry_sends_only_the_parts_not_yet_accepted(telegram: TelegramDriver) -> None:
    store = telegram.dispatcher.services.store
    await telegram._jobs.__aexit__(None, None, None)  # drive the outbox by hand here
    telegram._jobs = None
    senders = telegram.dispatcher.services.extras["senders"]
    long_text = "\n".join(f"Dòng {i}: nội dung phản ánh dài của người dân về thủ tục hành chính." for i in range(90))
    await queue(store, "parts:1", SLOW_CHAT, long_text)
    telegram.fake.script_chats[SLOW_CHAT] = [200, 502]  # part 1 accepted, part 2 fails
    assert await deliver_once(store, senders) == 0
    first = [s.text for s in telegram.fake.to(int(SLOW_CHAT))]
    assert len(first) == 1
    row = (await store.outbox_rows())[0]
    assert row.status == "pending" and row.payload["parts_sent"] == 1
    await _due_now(store)
    assert await deliver_once(store, senders) == 1
    texts = [s.text for s in telegram.fake.to(int(SLOW_CHAT))]
    assert len(texts) == 2 and texts[0] == first[0] and texts[1] != texts[0]  # part 2 only, part 1 not again
    assert "Dòng 0:" in texts[0] and "Dòng 89:" in texts[1]


class TimesOutOnce:
    """A sender whose first call times out after the platform accepted the message."""

    channel = "telegram"

    def __init__(self) -> None:
        self.accepted: list[str] = []

    async def send(self, chat_id: str, reply: Reply) -> str:
        self.accepted.append(reply.text)
        if len(self.accepted) == 1:
            raise TimedOut("Timed out")
        return str(len(self.accepted))


async def test_a_timeout_is_in_doubt_and_the_resend_is_marked(settings: Settings) -> None:
    store = Store.from_url(settings.database_url)
    await store.create_schema()
    try:
        await queue(store, "doubt:1", SLOW_CHAT, "thẻ phản ánh")
        sender = TimesOutOnce()
        assert await deliver_once(store, {"telegram": sender}) == 0
        row = (await store.outbox_rows())[0]
        assert (row.status, row.attempts) == ("sending", 1)
        await _due_now(store)
        assert await deliver_once(store, {"telegram": sender}) == 1
        assert sender.accepted == ["thẻ phản ánh", f"thẻ phản ánh\n\n{RESENT_NOTE}"]
    finally:
        await store.close()


async def _due_now(store: Store) -> None:
    from sqlalchemy import update

    from storage.models import Outbox

    async with store.sessions.begin() as db:
        await db.execute(update(Outbox).values(next_attempt_at=store.now()))


async def test_a_zalo_card_in_two_parts_is_not_sent_twice_when_part_two_fails(settings: Settings) -> None:
    from bot.zalo_channel import ZaloSender, make_client
    from tests.fake_zalo import TOKEN as ZALO_TOKEN, FakeZalo

    store = Store.from_url(settings.database_url)
    await store.create_schema()
    async with FakeZalo() as zalo:
        client = make_client(settings.model_copy(update={"zalo_bot_token": ZALO_TOKEN,
                                                         "zalo_base_url": zalo.base_url}))
        client.retry_delay = 0.01
        try:
            card = "\n".join(f"┃ dòng {i} của phần mô tả dài, người dân kể lại sự việc đã xảy ra" for i in range(60))
            assert await store.enqueue_once(dedup_key="zparts:1", channel="zalo", chat_id="zalo-desk", text=card)
            zalo.fail_sends = [200, 502, 502, 502, 502]  # part 1 accepted, part 2 fails (4 tries, the client's 3 retries)
            senders = {"zalo": ZaloSender(client)}
            assert await deliver_once(store, senders) == 0
            assert len(zalo.to("zalo-desk")) == 1
            await _due_now(store)
            assert await deliver_once(store, senders) == 1
            parts = [s.text for s in zalo.to("zalo-desk")]
            assert len(parts) == 2 and parts[0] != parts[1] and "dòng 0 " in parts[0] and "dòng 59 " in parts[1]
        finally:
            await client.close()
            await store.close()
