"""Zalo channel: polling with idle 408s, webhooks, numbered choices, splitting, media, retries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from bot.config import ConfigError, Settings
from bot.server import create_app
from bot.zalo_channel import MAX_MESSAGE, check_token, send_reply, to_incoming, to_messages, turn_messages
from bot.zalo_client import ZaloClient, ZaloError
from handlers.types import Button, Reply
from knowledge.base import KnowledgeBase
from tests.drivers import ZaloDriver
from tests.fake_telegram import free_port
from tests.fake_zalo import TOKEN, FakeZalo

SECRET = "zalo-webhook-secret-123"


@pytest.fixture
async def fake_zalo() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as fake:
        yield fake


@pytest.fixture
def zalo_settings(settings: Settings, fake_zalo: FakeZalo) -> Settings:
    return settings.model_copy(update={"zalo_bot_token": TOKEN, "zalo_base_url": fake_zalo.base_url,
                                       "zalo_webhook_secret": SECRET})


@pytest.fixture
async def zalo(zalo_settings: Settings, kb: KnowledgeBase, fake_zalo: FakeZalo) -> AsyncIterator[ZaloDriver]:
    driver = await ZaloDriver(zalo_settings, kb, fake_zalo).start()
    yield driver
    await driver.close()


@pytest.fixture
async def webhook(zalo_settings: Settings) -> AsyncIterator[str]:
    """The real web app (create_app) served in-process on 127.0.0.1; yields the Zalo webhook URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(zalo_settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "server failed to start"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}/zalo/webhook"
    server.should_exit = True
    await task


def client_for(fake: FakeZalo, **kwargs: Any) -> ZaloClient:
    kwargs.setdefault("retry_delay", 0.01)
    return ZaloClient(TOKEN, fake.base_url, **kwargs)


# --- polling --------------------------------------------------------------------

async def test_polling_survives_idle_408_and_answers(zalo: ZaloDriver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    deadline = time.monotonic() + 5
    while zalo.fake.idle_answers < 2:  # the fake answers 408 after 0.3 s without updates
        assert time.monotonic() < deadline, "the poller stopped polling"
        await asyncio.sleep(0.05)
    seen = await zalo.say("/start")
    assert "Dạ, em chào anh/chị" in seen[0].text
    assert seen[0].labels[:2] == ["Hỏi thủ tục", "Hướng dẫn nộp trực tuyến"]
    assert not [r for r in caplog.records if r.name.startswith("bot.zalo")], "idle 408s must not be logged"
    assert ("deleteWebhook", {}) in zalo.fake.calls  # polling and a webhook exclude each other


async def test_repeated_update_is_handled_once(zalo: ZaloDriver) -> None:
    await zalo.say("đăng ký khai sinh")
    key = next(reversed(zalo.fake.pushed))
    count = len(zalo.fake.to(zalo.chat_id))
    zalo.fake.redeliver(key)
    await zalo.wait_handled(key)
    await zalo.say("cảm ơn")  # handled after the redelivered one
    texts = [s.text for s in zalo.fake.to(zalo.chat_id)[count:]]
    assert len(texts) == 1 and "không có gì" in texts[0]


# --- rendering ------------------------------------------------------------------

async def test_choices_are_numbered_and_a_number_or_the_words_pick_them(zalo: ZaloDriver) -> None:
    seen = await zalo.say("đăng ký khai sinh")
    last = seen[-1]
    assert "Giấy tờ" in last.labels
    n = len(last.labels)
    assert last.text.rstrip().endswith(f"hoặc {n} để chọn ạ.")
    assert f"{last.labels.index('Giấy tờ') + 1}. Giấy tờ" in last.text
    docs = await zalo.say(str(last.labels.index("Giấy tờ") + 1))
    assert "Giấy tờ cho thủ tục \"Đăng ký khai sinh\"" in "\n".join(s.text for s in docs)
    await zalo.say("đăng ký khai sinh")
    steps = await zalo.say("cac buoc nop")  # the option's words, without diacritics
    assert "Các bước nộp trực tuyến" in "\n".join(s.text for s in steps)


def test_choices_are_numbered_across_one_turns_replies() -> None:
    replies = [Reply.make("Menu", [[Button("Hỏi thủ tục", "a"), Button("Tra cứu", "b")]]),
               Reply.make("Không có lựa chọn"),
               Reply.make("Đang làm dở", [[Button("Tiếp tục", "c")], [Button("Bỏ", "d")]])]
    first, plain, last = turn_messages(replies)
    assert first == ["Menu\n1. Hỏi thủ tục\n2. Tra cứu"]  # the hint only once, under the last list
    assert plain == ["Không có lựa chọn"]
    assert last == ["Đang làm dở\n3. Tiếp tục\n4. Bỏ\nGõ 1, 2, 3 hoặc 4 để chọn ạ."]


def test_long_answer_is_split_at_sentence_or_line_boundaries() -> None:
    sentence = "Anh/chị mang theo giấy tờ tùy thân bản chính để đối chiếu. "
    text = "\n".join(sentence * 6 for _ in range(20))  # ~7,000 characters in 20 long lines
    reply = Reply.make(text, [[Button("Giấy tờ", "x:1"), Button("Về menu", "menu")]], title="Khai sinh")
    parts = to_messages(reply)
    assert len(parts) >= 4
    assert all(len(p) <= MAX_MESSAGE for p in parts)
    assert all(p.endswith(".") for p in parts[:-1])  # never in the middle of a sentence
    assert parts[0].startswith("KHAI SINH\n")
    assert parts[-1].endswith("1. Giấy tờ\n2. Về menu\nGõ 1 hoặc 2 để chọn ạ.")
    assert "".join(parts).replace("\n", "").replace(" ", "").count("đốichiếu.") == 120


async def test_long_reply_arrives_as_several_messages(fake_zalo: FakeZalo) -> None:
    text = "\n".join(f"Bước {i}: " + "điền đầy đủ thông tin theo mẫu. " * 12 for i in range(30))
    async with client_for(fake_zalo) as client:
        message_id = await send_reply(client, "chat-9", Reply.make(text, [[Button("Về menu", "menu")]]))
    sent = fake_zalo.to("chat-9")
    assert len(sent) > 3 and message_id == sent[-1].message_id
    assert all(len(s.text) <= 2000 for s in sent)  # the fake refuses longer texts
    assert sent[-1].labels == ["Về menu"]
    assert sum(s.text.count("Bước ") for s in sent) == 30


# --- media ----------------------------------------------------------------------

async def test_image_sticker_and_unsupported_where_text_is_expected(zalo: ZaloDriver) -> None:
    for make in (zalo.fake.sticker, zalo.fake.unsupported):
        seen = await zalo._do(lambda make=make: make(zalo.chat_id))
        assert len(seen) == 1 and "chỉ đọc được tin nhắn chữ" in seen[0].text
    seen = await zalo._do(lambda: zalo.fake.image(zalo.chat_id))  # a photo outside any flow: what it can do
    assert len(seen) == 1 and "chưa xem được nội dung ảnh" in seen[0].text and "1. Gửi phản ánh" in seen[0].text
    seen = await zalo._do(lambda: zalo.fake.image(zalo.chat_id, caption="giấy hẹn trả kết quả khai sinh mất rồi"))
    assert "em trả lời theo phần chữ" in seen[0].text  # the caption is read as what they ask


async def test_photo_url_is_kept_when_the_flow_expects_a_photo(zalo: ZaloDriver) -> None:
    router = zalo.dispatcher.router

    @router.state("zt_photo")
    async def take_photo(ctx: Any) -> list[Reply] | None:
        if ctx.incoming.kind != "photo":
            return None
        return [Reply.make(f"Đã nhận ảnh {ctx.incoming.photo_url} {ctx.incoming.text}")]

    await zalo.say("xin chào")
    store = zalo.dispatcher.services.store
    session = await store.load("zalo", zalo.chat_id, zalo.chat_id)
    session.state = "zt_photo"
    await store.save(session)
    seen = await zalo._do(lambda: zalo.fake.image(zalo.chat_id, "https://zalo.example/p/42.jpg", "ổ gà"))
    assert seen[0].text == "Đã nhận ảnh https://zalo.example/p/42.jpg ổ gà"


def test_update_translation() -> None:
    msg = {"message_id": "abc", "date": 1735000000000, "chat": {"id": "c1", "chat_type": "PRIVATE"},
           "from": {"id": "u1", "display_name": "Lan"}, "text": "khai sinh"}
    flat = to_incoming({"event_name": "message.text.received", "message": msg})
    wrapped = to_incoming({"ok": True, "result": {"event_name": "message.text.received", "message": msg}})
    assert flat == wrapped
    assert flat is not None and (flat.kind, flat.text, flat.user_id, flat.chat_id) == ("text", "khai sinh", "u1", "c1")
    assert flat.update_key == "message.text.received:abc" and flat.display_name == "Lan"
    assert flat.seq == 1735000000000  # the message time orders one user's messages across workers
    cmd = to_incoming({"event_name": "message.text.received", "message": {**msg, "text": "/start"}})
    assert cmd is not None and (cmd.kind, cmd.text, cmd.args) == ("command", "start", "")
    coded = to_incoming({"event_name": "message.text.received", "message": {**msg, "text": " /hotro  abcd-2345 "}})
    assert coded is not None and (coded.kind, coded.text, coded.args) == ("command", "hotro", "abcd-2345")
    group = to_incoming({"event_name": "message.text.received",
                         "message": {**msg, "chat": {"id": "g1", "chat_type": "GROUP"}}})
    assert group is not None and group.chat_type == "group"
    image = to_incoming({"event_name": "message.image.received",
                         "message": {**msg, "text": None, "photo_url": "https://x.vn/a.jpg"}})
    assert image is not None and (image.kind, image.photo_url) == ("photo", "https://x.vn/a.jpg")
    sticker = to_incoming({"event_name": "message.sticker.received", "message": {**msg, "sticker": "s1"}})
    assert sticker is not None and sticker.kind == "sticker"
    other = to_incoming({"event_name": "message.unsupported.received", "message": msg})
    assert other is not None and other.kind == "other"
    assert to_incoming({"event_name": "message.text.received"}) is None
    assert to_incoming(["not", "an", "update"]) is None


# --- outbox -----------------------------------------------------------------------

async def test_outbox_notification_reaches_zalo_and_its_numbers_work(zalo: ZaloDriver) -> None:
    await zalo.say("/start")  # the menu's choices: "1" would be "Hỏi thủ tục"
    store = zalo.dispatcher.services.store
    assert await store.enqueue_once(dedup_key="zt:1", channel="zalo", chat_id=zalo.chat_id,
                                    text="Hồ sơ của anh/chị đã có kết quả.",
                                    buttons=[[{"label": "Tra cứu hồ sơ", "action": "dossier:start"}]])
    deadline = time.monotonic() + 10
    while [r.status for r in await store.outbox_rows()] != ["sent"]:
        assert time.monotonic() < deadline, "the outbox did not deliver"
        await asyncio.sleep(0.05)
    pushed = zalo.fake.to(zalo.chat_id)[-1]
    assert pushed.text.startswith("Hồ sơ của anh/chị đã có kết quả.")
    assert pushed.labels == ["Tra cứu hồ sơ"]
    seen = await zalo.say("1")  # the pushed message's first choice, not the menu's
    assert "mã hồ sơ" in seen[0].text


# --- the client -------------------------------------------------------------------

async def test_client_retries_5xx_and_429_then_succeeds(fake_zalo: FakeZalo) -> None:
    fake_zalo.fail_sends = [502, 429, 503]
    async with client_for(fake_zalo) as client:
        result = await client.send_message("c1", "Dạ")
    assert result["message_id"] == fake_zalo.sent[0].message_id
    assert [m for m, _ in fake_zalo.calls].count("sendMessage") == 4


async def test_client_raises_one_error_type(fake_zalo: FakeZalo) -> None:
    async with client_for(fake_zalo) as client:
        with pytest.raises(ZaloError) as bad:
            await client.send_message("c1", "")  # refused by the API: not retried
        assert bad.value.error_code == 400 and "required" in bad.value.description
        assert [m for m, _ in fake_zalo.calls].count("sendMessage") == 1
        fake_zalo.fail_sends = [500] * 10
        with pytest.raises(ZaloError) as down:
            await client.send_message("c1", "Dạ")
        assert down.value.error_code == 500
        assert await client.get_updates(timeout=1) == []  # idle: 408 is "no update", not an error
    async with ZaloClient("111:wrongtokenwrongtokenwrong", fake_zalo.base_url) as wrong:
        with pytest.raises(ConfigError, match="ZALO_BOT_TOKEN"):
            await check_token(wrong)


async def test_client_backs_off_on_network_errors() -> None:
    dead = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there
    async with ZaloClient(TOKEN, dead, retries=2, retry_delay=0.05) as client:
        started = time.monotonic()
        with pytest.raises(ZaloError) as err:
            await client.get_me()
    assert err.value.error_code == 0 and err.value.retryable
    assert time.monotonic() - started >= 0.15  # 0.05 + 0.1 of backoff
    assert TOKEN not in str(err.value)


# --- webhook ----------------------------------------------------------------------

async def test_webhook_checks_the_secret(webhook: str, fake_zalo: FakeZalo) -> None:
    update = FakeZalo.make("message.text.received", "w1", text="đăng ký khai sinh")
    for secret in (None, "", "wrong-secret", SECRET + "x"):
        resp = await FakeZalo.post_webhook(webhook, update, secret)
        assert resp.status_code == 403
    await asyncio.sleep(0.2)
    assert fake_zalo.to("w1") == []
    resp = await FakeZalo.post_webhook(webhook, update, SECRET)
    assert resp.status_code == 200 and resp.json() == {"ok": True}
    sent = await fake_zalo.wait_for("w1", 1)
    assert "ĐĂNG KÝ KHAI SINH" in "\n".join(s.text for s in sent).upper()


async def test_webhook_accepts_wrapped_bodies_and_ignores_repeats(webhook: str, fake_zalo: FakeZalo) -> None:
    first = FakeZalo.make("message.text.received", "w2", text="/start")
    assert (await FakeZalo.post_webhook(webhook, first, SECRET, wrapped=True)).status_code == 200
    assert (await FakeZalo.post_webhook(webhook, first, SECRET)).status_code == 200  # a repeat
    thanks = FakeZalo.make("message.text.received", "w2", text="cảm ơn")
    assert (await FakeZalo.post_webhook(webhook, thanks, SECRET, wrapped=True)).status_code == 200
    sent = await fake_zalo.wait_for("w2", 2)
    await asyncio.sleep(0.1)
    texts = [s.text for s in fake_zalo.to("w2")]
    assert len(texts) == 2 and "Dạ, em chào anh/chị" in texts[0] and "không có gì" in texts[1]
    assert sent[0].labels[0] == "Hỏi thủ tục"


async def test_webhook_rejects_malformed_bodies(webhook: str) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        headers = {"X-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        assert (await http.post(webhook, content=b"{not json", headers=headers)).status_code == 400
        assert (await http.post(webhook, content=b"[1, 2]", headers=headers)).status_code == 400
        big = b'{"x": "' + b"a" * 300_000 + b'"}'
        assert (await http.post(webhook, content=big, headers=headers)).status_code == 413
        assert (await http.get(webhook)).status_code == 405
