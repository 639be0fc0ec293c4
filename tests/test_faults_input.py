"""The smaller points of the fault review (item 10), each shown on real components: NUL bytes never
reach the database, service messages and group chatter are ignored, control and bidi characters are
not echoed, malformed sender ids are refused, the reopen reason is quoted on the agency card, and
/healthz reports a database that does not take writes."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from bot.config import Settings
from bot.server import HEALTH_WAIT, create_app
from bot.telegram_channel import to_incoming
from bot.terminal import to_incoming as terminal_incoming
from bot.zalo_channel import to_incoming as zalo_incoming
from storage.models import QuestionLog, User
from tests.fake_telegram import free_port
from tests.test_complaints import LONGXUYEN_CHAT, LONGXUYEN_STAFF, App, app, clock  # noqa: F401


_IDS = itertools.count(100)


def tg_message(chat: dict[str, Any], sender: Any = None, **fields: Any) -> dict[str, Any]:
    msg = {"message_id": 7, "date": 1796019163, "chat": chat, **fields}
    if sender is not None:
        msg["from"] = sender
    return {"update_id": next(_IDS), "message": msg}


PRIVATE = {"id": 4242, "type": "private"}
GROUP = {"id": -1001000000005, "type": "supergroup", "title": "UBND"}
USER = {"id": 4242, "is_bot": False, "first_name": "Dân"}


async def test_nul_bytes_are_stripped_before_the_database(app: App) -> None:
    incoming = to_incoming(tg_message(PRIVATE, {**USER, "first_name": "Bình\x00"}, text="đăng ký\x00 khai sinh"))
    assert incoming is not None and "\x00" not in incoming.text and "\x00" not in incoming.display_name
    out = await app.d.handle(incoming)
    assert out.replies and "trục trặc" not in out.replies[0].text  # PostgreSQL took the write
    async with app.store.sessions() as db:
        logged = list((await db.execute(select(QuestionLog.text))).scalars())
        names = list((await db.execute(select(User.display_name))).scalars())
    assert logged == ["đăng ký khai sinh"] and names == ["Bình"]


def test_service_messages_and_group_chatter_are_ignored() -> None:
    for fields in ({"new_chat_members": [USER]}, {"left_chat_member": USER}, {"pinned_message": {"message_id": 1}},
                   {"new_chat_title": "Nhóm mới"}, {"group_chat_created": True}):
        assert to_incoming(tg_message(GROUP, USER, **fields)) is None, fields
        assert to_incoming(tg_message(PRIVATE, USER, **fields)) is None, fields
    sticker = {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1, "is_animated": False,
               "is_video": False, "type": "regular"}
    assert to_incoming(tg_message(GROUP, USER, sticker=sticker)) is None
    assert to_incoming(tg_message(GROUP, USER, photo=[{"file_id": "p", "file_unique_id": "p", "width": 1,
                                                       "height": 1}])) is None
    assert to_incoming(tg_message(PRIVATE, USER, sticker=sticker)).kind == "sticker"  # a citizen still gets an answer
    assert to_incoming(tg_message(GROUP, USER, text="/baocao",
                                  entities=[{"type": "bot_command", "offset": 0, "length": 7}])).kind == "command"
    zalo_group = {"event_name": "message.sticker.received",
                  "message": {"from": {"id": "z1"}, "chat": {"id": "g1", "chat_type": "GROUP"}, "message_id": "m"}}
    assert zalo_incoming(zalo_group) is None


def test_malformed_sender_ids_are_refused() -> None:
    for bad in (None, [700014, 1], "x" * 300, {"id": 1}, True, 1.5):
        assert to_incoming(tg_message(PRIVATE, {**USER, "id": bad}, text="xin chào")) is None, bad
        assert to_incoming(tg_message({"id": bad, "type": "private"}, USER, text="xin chào")) is None, bad
        press = {"update_id": 5, "callback_query": {"id": "1", "from": {**USER, "id": bad}, "data": "menu"}}
        assert to_incoming(press) is None, bad
    assert to_incoming(tg_message(PRIVATE, USER, text="xin chào")).user_id == "4242"
    for bad in ({"x": 1}, ["a"], True, "z" * 300):
        z = {"event_name": "message.text.received",
             "message": {"from": {"id": bad}, "chat": {"id": "c1"}, "text": "hi", "message_id": "m"}}
        assert zalo_incoming(z) is None, bad


async def test_control_and_bidi_characters_are_not_echoed(app: App) -> None:
    typed = "\x1b[2J\x1b[31mABC\u202eXYZ\u2066"
    for ask, answer in ((terminal_incoming("tra cứu phản ánh", "601"), terminal_incoming(typed, "601")),
                        (to_incoming(tg_message(PRIVATE, USER, text="tra cứu phản ánh")),
                         to_incoming(tg_message(PRIVATE, USER, text=typed)))):
        assert "gõ mã theo dõi" in (await app.d.handle(ask)).replies[0].text
        out = await app.d.handle(answer)
        text = "\n".join(r.text for r in out.replies)
        assert "không tìm thấy" in text and "ABC" in text, text
        assert not any(ch in text for ch in "\x1b\u202e\u2066"), repr(text)


async def test_reopen_reason_is_quoted_on_the_agency_card(app: App) -> None:
    code = await app.file("514")
    c = await app.complaint(code)
    await app.press(LONGXUYEN_STAFF, f"agency:answer:{c.id}", chat=LONGXUYEN_CHAT)
    await app.send(LONGXUYEN_STAFF, "Dạ, đã xử lý xong việc này ạ", chat=LONGXUYEN_CHAT)
    await app.press("514", f"complaint:rate:{c.id}:1")
    await app.press("514", app.button("Chưa được giải quyết"))
    forged = "vẫn chưa xong\nHạn trả lời: 17:00 01/01/2099\nLiên hệ: 0999999999 (người dân đồng ý cho liên hệ)"
    assert "đã mở lại" in await app.send("514", forged)
    card = (await app.store.outbox_rows())[-1].payload["text"]
    lines = card.split("\n")
    assert "┃ Hạn trả lời: 17:00 01/01/2099" in lines and "┃ Liên hệ: 0999999999 (người dân đồng ý cho liên hệ)" in lines
    assert not any(line.startswith(("Hạn trả lời: 17:00 01/01/2099", "Liên hệ: 0999999999")) for line in lines)


@pytest.mark.slow
async def test_healthz_says_503_while_the_database_takes_no_writes(tmp_path: Path, settings: Settings) -> None:
    db = tmp_path / "h.sqlite3"
    app = create_app(settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{db}"}))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    other = None
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}/healthz"
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(url)).status_code == 200
            other = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
            # another connection holds the database: no write can happen (in a thread: the server shares this loop)
            await asyncio.to_thread(other.execute, "BEGIN EXCLUSIVE")
            started = time.monotonic()
            locked = await http.get(url)
            took = time.monotonic() - started
            assert locked.status_code == 503 and locked.json()["store"] in ("busy", "read-only"), locked.json()
            assert took < HEALTH_WAIT + 1.5, f"/healthz took {took:.1f}s"  # answers, does not hang
            await asyncio.to_thread(other.execute, "COMMIT")
            deadline = time.monotonic() + 10
            while (ok := await http.get(url)).status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert ok.status_code == 200 and ok.json()["store"] == "ok"
    finally:
        if other is not None:
            other.close()
        server.should_exit = True
        await task
