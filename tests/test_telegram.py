"""Telegram-specific translation: escaping, splitting, commands, media, duplicates, flooding."""

from __future__ import annotations

import asyncio

import pytest

from bot import telegram_channel
from bot.telegram_channel import to_html
from handlers.types import Attachment, Reply
from tests.drivers import TelegramDriver


async def test_bot_commands_registered_and_typing_shown_for_slow_answers(
        telegram: TelegramDriver, monkeypatch: pytest.MonkeyPatch) -> None:
    await telegram.say("/start")
    methods = [m for m, _ in telegram.fake.calls]
    assert "setMyCommands" in methods
    commands = next(p for m, p in telegram.fake.calls if m == "setMyCommands")["commands"]
    assert {"start", "help", "menu"} <= {c["command"] for c in commands}
    assert "sendChatAction" not in methods  # a quick answer needs no "typing…"

    handle = telegram.dispatcher.handle

    async def slow_handle(incoming):  # type: ignore[no-untyped-def]
        await asyncio.sleep(telegram_channel.TYPING_DELAY + 0.3)
        return await handle(incoming)

    monkeypatch.setattr(telegram.dispatcher, "handle", slow_handle)
    await telegram.say("khai sinh")
    actions = [p for m, p in telegram.fake.calls if m == "sendChatAction"]
    assert len(actions) == 1 and actions[0]["action"] == "typing"


async def test_user_markup_is_escaped(telegram: TelegramDriver) -> None:
    seen = await telegram.say("<b>khai sinh</b> & <script>")
    for s in seen:
        assert s.raw.parse_mode == "HTML"
        assert "<script>" not in s.text
        assert "<b>" not in s.text.replace("<b>", "", 1) or s.text.count("<b>") == s.text.count("</b>")


def test_long_reply_is_split_under_the_limit() -> None:
    text = "\n".join(f"Dòng {i}: " + "chữ & <ký tự> " * 20 for i in range(200))
    chunks = to_html(Reply.make(text, title="Tiêu đề <x>"))
    assert len(chunks) > 1
    assert all(len(c) <= 4096 for c in chunks)
    assert chunks[0].startswith("<b>Tiêu đề &lt;x&gt;</b>")
    assert "<ký tự>" not in "".join(chunks)


async def test_photo_and_sticker_where_text_is_expected(telegram: TelegramDriver) -> None:
    seen = await telegram._do(lambda: telegram.fake.sticker(telegram.chat_id))
    assert "chỉ đọc được tin nhắn chữ" in seen[0].text
    seen = await telegram._do(lambda: telegram.fake.photo(telegram.chat_id))  # a photo, outside any flow:
    assert "chưa xem được nội dung ảnh" in seen[0].text and "Gửi phản ánh" in seen[0].labels  # what it can do


async def test_same_update_delivered_twice_is_handled_once(telegram: TelegramDriver) -> None:
    seen = await telegram.say("đăng ký khai sinh")
    update_id = telegram.fake.updates[-1]["update_id"]
    count = len(telegram.fake.to(telegram.chat_id))
    telegram.fake.redeliver(update_id)
    await telegram.say("cảm ơn")  # handled after the redelivered one
    assert seen
    texts = [s.text for s in telegram.fake.to(telegram.chat_id)[count:]]
    assert len(texts) == 1 and "không có gì" in texts[0]


async def test_flooding_user_is_slowed_without_affecting_others(telegram: TelegramDriver) -> None:
    settings = telegram.dispatcher.services.settings
    object.__setattr__(settings, "rate_limit_per_minute", 6)  # bucket of 5
    flooder, calm = 7001, 7002
    ids = [telegram.fake.text(flooder, f"đăng ký khai sinh {i}") for i in range(12)]
    for update_id in ids:
        await telegram.wait_handled(update_id)
    flood_msgs = telegram.fake.to(flooder)
    assert sum("nhắn hơi nhanh" in m.text for m in flood_msgs) == 1
    assert len(flood_msgs) < 12
    other = telegram.fake.text(calm, "đăng ký khai sinh")
    await telegram.wait_handled(other)
    assert "Đăng ký khai sinh".upper() in telegram.fake.to(calm)[0].text.upper()
    await asyncio.sleep(0)


def test_webhook_json_translation_and_junk() -> None:
    user = {"id": 7, "is_bot": False, "first_name": "Lan", "last_name": "Trần"}
    chat = {"id": 7, "type": "private"}
    msg = {"message_id": 1, "date": 0, "chat": chat, "from": user}
    cmd = telegram_channel.to_incoming({"update_id": 5, "message": {
        **msg, "text": "/hotro@tro_ly_dvc_bot  H21-001 ", "entities": [{"type": "bot_command", "offset": 0, "length": 20}]}})
    assert (cmd.kind, cmd.text, cmd.args, cmd.display_name, cmd.seq) == ("command", "hotro", "H21-001", "Lan Trần", 5)
    reply = telegram_channel.to_incoming({"update_id": 6, "message": {
        **msg, "chat": {"id": -100, "type": "supergroup"}, "text": "Dạ", "reply_to_message": {"message_id": 99}}})
    assert (reply.kind, reply.chat_type, reply.reply_to, reply.chat_id) == ("text", "group", "99", "-100")
    photo = telegram_channel.to_incoming({"update_id": 7, "message": {
        **msg, "photo": [{"file_id": "small"}, {"file_id": "big"}], "caption": "ảnh"}})
    assert (photo.kind, photo.photo_url, photo.text) == ("photo", "big", "ảnh")  # sizes without dimensions: the last
    assert photo.attachment == Attachment("photo", "big", "telegram", "ảnh") and photo.album == ""
    sized = telegram_channel.to_incoming({"update_id": 10, "message": {
        **msg, "media_group_id": "g1", "photo": [{"file_id": "s", "width": 90, "height": 90},
                                                 {"file_id": "l", "width": 1280, "height": 960},
                                                 {"file_id": "m", "width": 320, "height": 240}]}})
    assert (sized.photo_url, sized.album, sized.text) == ("l", "g1", "")  # the largest, wherever it is listed
    doc = telegram_channel.to_incoming({"update_id": 11, "message": {
        **msg, "document": {"file_id": "d1", "file_name": "tờ khai.pdf"}, "caption": "tờ khai"}})
    assert (doc.kind, doc.attachment, doc.text) == ("document", Attachment("document", "d1", "telegram", "tờ khai",
                                                                           "tờ khai.pdf"), "tờ khai")
    pin = telegram_channel.to_incoming({"update_id": 12, "message": {
        **msg, "location": {"latitude": 10.3661, "longitude": 105.423}}})
    assert (pin.kind, pin.location) == ("location", (10.3661, 105.423))
    for bad in ({"latitude": 91, "longitude": 0}, {"latitude": "10", "longitude": 105}, {"latitude": True,
                                                                                           "longitude": 1}):
        assert telegram_channel.to_incoming({"update_id": 13, "message": {**msg, "location": bad}}).kind == "other"
    group = {**msg, "chat": {"id": -100, "type": "supergroup"}, "photo": [{"file_id": "g"}]}
    assert telegram_channel.to_incoming({"update_id": 14, "message": group}) is None  # chatter in a group
    staff = telegram_channel.to_incoming({"update_id": 15, "message": {**group, "reply_to_message": {"message_id": 5}}})
    assert (staff.kind, staff.reply_to, staff.chat_type) == ("photo", "5", "group")  # a helper's photo reply
    press = telegram_channel.to_incoming({"update_id": 8, "callback_query": {"id": "1", "from": user, "data": "menu"}})
    assert (press.kind, press.action, press.chat_id, press.chat_type) == ("action", "menu", "7", "private")
    for junk in (None, [], {}, {"update_id": "9"}, {"update_id": 9}, {"update_id": 9, "edited_message": msg},
                 {"update_id": 9, "message": {"text": "no sender"}}, {"update_id": 9, "message": "<b>"},
                 {"update_id": 9, "callback_query": {"id": "1", "data": "menu"}}):
        assert telegram_channel.to_incoming(junk) is None  # type: ignore[arg-type]
