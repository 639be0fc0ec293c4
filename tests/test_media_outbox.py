"""Outbox rows that carry photos and documents, through the real senders against the fake Bot APIs:

- Telegram: three photos go as one album (sendMediaGroup), in order, captions kept, then the card with its
  buttons; the row's message id is the card's (replies to the card still find it);
- a part that fails is the only one sent again (the album is not repeated after the card failed);
- a photo that can no longer be fetched is named on the card, the other photos still arrive;
- Zalo: one sendPhoto per photo by its full URL; a Telegram file_id cannot go to Zalo and the card says so;
- a row found in doubt (its worker died mid-send) resends only from the part in flight, with the note.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update
from telegram import Bot

from bot.config import Settings, load_settings
from bot.outbox_worker import RESENT_NOTE, deliver_once
from bot.telegram_channel import TelegramSender
from handlers.types import Attachment
from storage.models import Outbox
from storage.store import Store
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_zalo import FakeZalo

DESK = "-100500"
CARD = "📮 PHẢN ÁNH MỚI PAKN-2026-000001"
BUTTONS = [[{"label": "Tiếp nhận", "action": "agency:recv:1"}]]


def photos(*refs: str, source: str = "telegram") -> list[dict[str, str]]:
    return [Attachment("photo", ref, source, f"📷 {i}/{len(refs)}\n┃ ảnh {i}").to_dict()  # type: ignore[arg-type]
            for i, ref in enumerate(refs, 1)]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600)


@pytest.fixture
async def store(settings: Settings):  # type: ignore[no-untyped-def]
    s = Store.from_url(settings.database_url)
    await s.create_schema()
    yield s
    await s.close()


async def _due_now(store: Store) -> None:
    async with store.sessions.begin() as db:
        await db.execute(update(Outbox).values(next_attempt_at=store.now()))


async def _tg(fake: FakeTelegram) -> dict[str, TelegramSender]:
    bot = Bot(TOKEN, base_url=fake.base_url)
    await bot.initialize()
    return {"telegram": TelegramSender(bot)}


async def test_telegram_album_then_card_in_order_once_and_a_retry_sends_only_the_missing_part(store: Store) -> None:
    async with FakeTelegram() as fake:
        senders = await _tg(fake)
        assert await store.enqueue_once(dedup_key="m:1", channel="telegram", chat_id=DESK, text=CARD,
                                        buttons=BUTTONS, media=photos("ph-1", "ph-2", "ph-3"))
        fake.script_chats[DESK] = [200, 502]  # the album is accepted, the card fails
        assert await deliver_once(store, senders) == 0
        row = (await store.outbox_rows())[0]
        assert (row.status, row.kind, row.payload["parts_sent"]) == ("pending", "album", 1)
        await _due_now(store)
        assert await deliver_once(store, senders) == 1
        sent = fake.to(int(DESK))
        assert [(s.kind, s.media) for s in sent] == [("photo", "ph-1"), ("photo", "ph-2"), ("photo", "ph-3"),
                                                    ("text", "")]
        assert len({s.album for s in sent[:3]}) == 1 and sent[0].album  # one album, sent once
        assert [s.text for s in sent[:3]] == ["📷 1/3\n┃ ảnh 1", "📷 2/3\n┃ ảnh 2", "📷 3/3\n┃ ảnh 3"]
        assert sent[3].text.endswith(CARD) and sent[3].labels == ["Tiếp nhận"]
        assert (await store.outbox_rows())[0].platform_message_id == str(sent[3].message_id)
        assert [m for m, _ in fake.calls].count("sendMediaGroup") == 1


async def test_a_photo_that_cannot_be_fetched_is_named_on_the_card_and_the_others_arrive(store: Store) -> None:
    async with FakeTelegram() as fake:
        senders = await _tg(fake)
        await store.enqueue_once(dedup_key="m:2", channel="telegram", chat_id=DESK, text=CARD, buttons=BUTTONS,
                                 media=photos("ph-1", "gone-2", "ph-3"))
        assert await deliver_once(store, senders) == 1
        sent = fake.to(int(DESK))
        assert [(s.kind, s.media) for s in sent] == [("photo", "ph-1"), ("photo", "ph-3"), ("text", "")]
        assert "Ảnh 2/3: không tải được nữa" in sent[-1].text and CARD in sent[-1].text
        row = (await store.outbox_rows())[0]
        assert row.status == "sent" and row.payload["media_failed"] == [1]


async def test_telegram_document_and_a_zalo_url_photo(store: Store) -> None:
    async with FakeTelegram() as fake:
        senders = await _tg(fake)
        doc = Attachment("document", "doc-1", "telegram", "📎 HT1 · người dân gửi", "to-khai.pdf").to_dict()
        url = Attachment("photo", "https://zalo.example/img/a.jpg?sig=" + "x" * 300, "url", "ảnh").to_dict()
        await store.enqueue_once(dedup_key="m:3", channel="telegram", chat_id="5001", text="", media=[doc, url])
        assert await deliver_once(store, senders) == 1
        sent = fake.to(5001)
        assert [(s.kind, s.media) for s in sent] == [("document", "doc-1"), ("photo", url["ref"])]  # no text part


async def test_zalo_photos_by_full_url_and_a_telegram_photo_is_reported(settings: Settings, store: Store) -> None:
    from bot.zalo_channel import ZaloSender, make_client
    from tests.fake_zalo import TOKEN as ZALO_TOKEN

    async with FakeZalo() as zalo:
        client = make_client(settings.model_copy(update={"zalo_bot_token": ZALO_TOKEN,
                                                         "zalo_base_url": zalo.base_url}))
        client.retry_delay = 0.01
        try:
            long_url = "https://cdn.zalo.example/img/" + "a" * 200 + ".jpg"
            media = [*photos(long_url, "https://cdn.zalo.example/img/b.jpg", source="url"),
                     *photos("tg-file-id")]
            await store.enqueue_once(dedup_key="m:4", channel="zalo", chat_id="zalo-desk", text=CARD, media=media)
            zalo.fail_sends = [200, 502, 502, 502, 502]  # photo 1 accepted, photo 2 fails (the client retries 3x)
            senders = {"zalo": ZaloSender(client)}
            assert await deliver_once(store, senders) == 0
            await _due_now(store)
            assert await deliver_once(store, senders) == 1
            sent = zalo.to("zalo-desk")
            assert [(s.kind, s.media) for s in sent] == [("photo", long_url),
                                                        ("photo", "https://cdn.zalo.example/img/b.jpg"),
                                                        ("text", "")]  # the full URL; photo 1 not sent twice
            assert "Ảnh 3/3: gửi qua Telegram nên không chuyển sang Zalo được" in sent[-1].text
        finally:
            await client.close()


async def test_an_in_doubt_row_resends_from_the_part_in_flight_with_the_note(store: Store) -> None:
    async with FakeTelegram() as fake:
        senders = await _tg(fake)
        await store.enqueue_once(dedup_key="m:5", channel="telegram", chat_id=DESK, text=CARD, buttons=BUTTONS,
                                 media=[*photos("ph-1"), Attachment("document", "doc-2", "telegram").to_dict()])
        # a worker died after the photo (part 1) was recorded and while the document was in flight
        async with store.sessions.begin() as db:
            row = (await db.execute(Outbox.__table__.select())).first()
            payload = dict(row.payload, parts_sent=1)
            await db.execute(update(Outbox).values(status="sending", payload=payload, claimed_by="dead:1:x",
                                                   claimed_until=store.now()))
        assert await deliver_once(store, senders) == 1
        sent = fake.to(int(DESK))
        assert [(s.kind, s.media) for s in sent] == [("document", "doc-2"), ("text", "")]
        assert sent[-1].text.endswith(RESENT_NOTE)
