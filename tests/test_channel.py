"""The one channel interface (bot/channel.py): Telegram, Zalo, the terminal and the web chat implement it; each
translates its platform's payload into the core's Incoming and sends a core Reply to its chat."""

from __future__ import annotations

import importlib
import io

from bot.channel import (
    CHANNEL_MODULES,
    Channel,
    TelegramChannel,
    TerminalChannel,
    ZaloChannel,
)
from bot.config import Settings
from bot.terminal import TerminalSender
from bot.webchat_channel import WebChatChannel
from bot.zalo_channel import ZaloSender, make_client
from handlers.app import build_dispatcher
from handlers.types import Button, Reply
from knowledge.base import KnowledgeBase
from tests.drivers import WEBCHAT_SECRET
from tests.fake_zalo import TOKEN as ZALO_TOKEN
from tests.fake_zalo import FakeZalo

REPLY = Reply.make("Dạ, đây là câu trả lời ạ.", [[Button("Về menu", "menu")]])


async def test_every_channel_implements_the_interface(settings: Settings, kb: KnowledgeBase) -> None:
    dispatcher = await build_dispatcher(settings, kb=kb)
    try:
        web = WebChatChannel(settings.model_copy(update={"webchat_secret": WEBCHAT_SECRET}), dispatcher)
        out = io.StringIO()
        term = TerminalChannel(TerminalSender(out, dispatcher.services.store), "citizen-1")
        async with FakeZalo() as fake:
            zalo = ZaloChannel(ZaloSender(make_client(settings.model_copy(update={
                "zalo_bot_token": ZALO_TOKEN, "zalo_base_url": fake.base_url}))))
            tg = TelegramChannel(sender=None)
            channels: list[Channel] = [tg, zalo, term, web]
            assert all(isinstance(c, Channel) for c in channels)
            assert [c.name for c in channels] == ["telegram", "zalo", "terminal", "webchat"]
            assert [c.capabilities.buttons for c in channels] == [True, False, False, True]
            assert zalo.capabilities.max_message == 2000 and tg.capabilities.max_message == 4096

            # translate in
            inc = tg.to_incoming({"update_id": 7, "message": {"message_id": 1, "date": 0, "text": "xin chào",
                                                              "chat": {"id": 5, "type": "private"},
                                                              "from": {"id": 5, "first_name": "A", "is_bot": False}}})
            assert inc is not None and (inc.channel, inc.kind, inc.text) == ("telegram", "text", "xin chào")
            inc = zalo.to_incoming({"event_name": "message.text.received",
                                    "message": {"message_id": "m1", "text": "/start", "from": {"id": "u1"},
                                                "chat": {"id": "u1", "chat_type": "PRIVATE"}}})
            assert inc is not None and (inc.channel, inc.kind, inc.text) == ("zalo", "command", "start")
            inc = term.to_incoming("đăng ký khai sinh")
            assert inc is not None and (inc.channel, inc.user_id) == ("terminal", "citizen-1")
            inc = web.to_incoming({"user_id": "wabc", "id": "m-000001", "text": "<b>lệ phí</b>"})
            assert inc is not None and (inc.channel, inc.kind, inc.text, inc.update_key) == \
                ("webchat", "text", "<b>lệ phí</b>", "wabc:m-000001")
            assert tg.to_incoming({"no": "update"}) is None and web.to_incoming("text") is None

            # send out
            await zalo.send("u1", REPLY)
            assert "đây là câu trả lời" in fake.to("u1")[-1].text and "1. Về menu" in fake.to("u1")[-1].text
            await term.push("citizen-1", REPLY)
            assert "1. Về menu" in out.getvalue()
            await web.push("wabc", REPLY)  # into the outbox, read back by the page
            rows = [r for r in await dispatcher.services.store.outbox_rows() if r.channel == "webchat"]
            assert rows[-1].chat_id == "wabc" and rows[-1].payload["buttons"] == [[{"label": "Về menu",
                                                                                   "action": "menu"}]]
            assert [r.path for r in web.routes()] == ["/webchat/widget.js", "/webchat/session", "/webchat/message",
                                                      "/webchat/events", "/webchat/messages"]
            await zalo.sender.client.close()
    finally:
        await dispatcher.services.store.close()


def test_registered_channels_are_off_until_configured(settings: Settings) -> None:
    for name in CHANNEL_MODULES:
        assert importlib.import_module(name).build(settings, object()) is None  # no secret: not mounted
