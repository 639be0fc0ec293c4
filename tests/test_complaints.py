"""Complaints end to end through the core: intake, routing, staff actions, citizen follow-up,
deadlines, privacy and abuse limits, and the outbox under injected failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.outbox_worker import RESENT_NOTE, deliver_once
from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from handlers.types import Incoming, Reply
from knowledge.base import KnowledgeBase
from storage.complaints import ComplaintRepo
from storage.store import OutboxItem, Store

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "agencies.example.yaml"
LONGXUYEN_CHAT, LONGXUYEN_STAFF = "-1001000000005", "666666666"
TUPHAP_CHAT, TUPHAP_STAFF = "-1001000000002", "333333333"
DESK_CHAT = "-1001000000001"
CODE = re.compile(r"PAKN-2026-\d{6}")
START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.timezone.utc)  # Monday 09:00 in Vietnam


class Clock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


class FakeChat:
    """A platform that records what it accepted; can fail or 'die' right after accepting."""

    channel = "telegram"

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []  # (chat_id, text, message_id)
        self.fail_next = 0
        self.die_after_accept = 0

    async def send(self, chat_id: str, reply: Reply) -> str:
        await asyncio.sleep(0)  # let concurrent workers interleave
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("network unreachable")
        mid = str(len(self.messages) + 1)
        self.messages.append((chat_id, reply.text, mid))
        if self.die_after_accept:
            self.die_after_accept -= 1
            raise Killed()
        return mid

    def to(self, chat_id: str) -> list[str]:
        return [t for c, t, _ in self.messages if c == chat_id]


class ConfirmingChat(FakeChat):
    """A platform that can say whether it already has a message (what ``confirm`` is for)."""

    async def confirm(self, item: OutboxItem) -> str | None:
        return next((m for c, t, m in self.messages if c == item.chat_id and t == item.payload["text"]), None)


class Killed(BaseException):
    """The process dies: nothing after this line of the worker runs."""


class App:
    """The core with the example agencies, a controllable clock and a fake platform."""

    def __init__(self, dispatcher: Dispatcher, clock: Clock) -> None:
        self.d, self.clock = dispatcher, clock
        self.services = dispatcher.services
        self.store: Store = dispatcher.services.store
        self.ops = dispatcher.services.extras["complaint_ops"]
        self.repo: ComplaintRepo = self.ops.repo
        self.chat = FakeChat()
        self.last: list[Reply] = []

    async def send(self, user: str, text: str = "", *, chat: str | None = None, kind: str = "text",
                   action: str = "", reply_to: str = "", photo: str = "", args: str = "") -> str:
        chat = chat or user
        inc = Incoming("telegram", user, chat, kind, text=text, action=action, photo_url=photo, reply_to=reply_to,
                       chat_type="group" if chat.startswith("-") else "private", display_name=f"User {user}",
                       args=args)
        self.last = (await self.d.handle(inc)).replies
        return "\n".join(r.text for r in self.last)

    async def press(self, user: str, action: str, chat: str | None = None) -> str:
        return await self.send(user, chat=chat, kind="action", action=action)

    def button(self, label_part: str) -> str:
        for r in self.last:
            for b in r.all_buttons():
                if label_part.lower() in b.label.lower():
                    return b.action
        raise AssertionError(f"no button {label_part!r}")

    async def deliver(self, sender: Any = None) -> int:
        return await deliver_once(self.store, {"telegram": sender or self.chat})

    async def file(self, user: str = "501", *, topic: str = "official", commune: str = "long xuyen",
                   text: str = "Cán bộ một cửa yêu cầu nộp thêm giấy tờ không có trong quy định",
                   phone: str | None = None) -> str:
        """The whole intake by typing and pressing; returns the tracking code."""
        await self.press(user, "complaint:start")
        await self.press(user, "complaint:new")
        await self.press(user, f"complaint:topic:{topic}")
        if topic == "procedure":
            await self.send(user, "khai sinh")
            await self.press(user, "complaint:proc:khai-sinh")
        await self.send(user, commune)
        await self.send(user, text)
        await self.press(user, "complaint:photo:skip")
        if phone:
            await self.press(user, "complaint:contact:yes")
            await self.send(user, phone)
        else:
            await self.press(user, "complaint:contact:no")
        out = await self.press(user, "complaint:send")
        found = CODE.search(out)
        assert found, out
        return found.group(0)

    async def complaint(self, code: str) -> Any:
        c = await self.repo.by_code(code)
        assert c is not None
        return c


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings: Settings, kb: KnowledgeBase, clock: Clock) -> Any:
    s = settings.model_copy(update={"agencies_file": EXAMPLE, "default_province": "An Giang",
                                    "complaints_per_day": 3, "complaint_due_working_days": 10})
    d = await build_dispatcher(s, kb=kb, clock=clock)
    yield App(d, clock)
    await d.services.store.close()


# --- intake ------------------------------------------------------------------------------

async def test_intake_from_menu_gives_code_and_queues_card(app: App) -> None:
    user = "501"
    await app.press(user, "complaint:start")
    await app.press(user, app.button("Gửi phản ánh mới"))
    await app.press(user, app.button("thủ tục hành chính"))
    out = await app.send(user, "lam giay khai sinh")
    assert "Đăng ký khai sinh" in [b.label for r in app.last for b in r.all_buttons()]
    await app.press(user, app.button("Đăng ký khai sinh"))
    out = await app.send(user, "binh duc")  # typed without diacritics
    assert "kể ngắn gọn" in out
    out = await app.send(user, "ngắn")
    assert "hơi ngắn" in out
    await app.send(user, "Hồ sơ khai sinh cho con nộp từ tháng trước mà đến nay chưa có kết quả, hỏi thì không ai trả lời")
    out = await app.send(user, kind="photo", photo="tg-file:photo-big")
    assert "đã nhận 1 ảnh" in out and "Xong, tiếp tục" in out  # more may come (an album) until "Xong"
    await app.press(user, "complaint:photo:done")
    summary = await app.press(user, "complaint:contact:no")
    assert "Nơi xảy ra: Phường Bình Đức, An Giang" in summary
    await app.press(user, app.button("Sửa xã/phường"))
    out = await app.send(user, "Phường Long Xuyên")
    assert "Nơi xảy ra: Phường Long Xuyên, An Giang" in out and "Gửi tới: UBND phường Long Xuyên" in out
    assert "Đăng ký khai sinh" in out and "Ảnh kèm theo: 1 ảnh" in out
    out = await app.press(user, app.button("Gửi phản ánh"))
    code = CODE.search(out).group(0)
    assert "UBND phường Long Xuyên" in out and "Hạn trả lời: 17:00 16/03/2026" in out
    c = await app.complaint(code)
    assert (c.status, c.agency_key, c.procedure_id, c.field) == ("new", "ubnd-longxuyen", "khai-sinh", "Hộ tịch")
    assert c.route_rule == f"field=Hộ tịch; commune={c.commune_code}"
    assert c.photo_ref == "tg-file:photo-big" and not c.phone
    rows = await app.store.outbox_rows()
    assert [(r.chat_id, r.status) for r in rows] == [(LONGXUYEN_CHAT, "pending")]
    card = rows[0].payload
    assert card["text"].startswith(f"📮 PHẢN ÁNH MỚI {code}")
    assert [b["label"] for row in card["buttons"] for b in row] == ["Tiếp nhận", "Trả lời", "Chuyển đơn vị khác",
                                                                    "Đã xử lý", "Hỏi thêm người dân"]
    assert "không để lại số" in card["text"]
    # pressing "Gửi" again (a stale button) files nothing new and repeats the code
    again = await app.press(user, "complaint:send")
    assert "đã gửi rồi" in again and code in again
    assert len(await app.store.outbox_rows()) == 1


async def test_detected_from_text_asks_nothing_it_says(app: App) -> None:
    out = await app.send("502", "Tôi muốn khiếu nại cán bộ phường Long Xuyên hách dịch, bắt tôi đi lại ba lần")
    assert "xem lại phản ánh" in out  # the summary at once: topic, ward and text were in the message
    assert "Chủ đề: Thái độ, hành vi cán bộ" in out and "Nơi xảy ra: Phường Long Xuyên, An Giang" in out
    assert "hách dịch, bắt tôi đi lại ba lần" in out and "Gửi tới: UBND phường Long Xuyên" in out
    labels = [b.label for r in app.last for b in r.all_buttons()]
    assert "Gửi phản ánh" in labels and "Sửa nội dung" in labels and "Thêm ảnh" in labels
    out = await app.press("502", "complaint:send")
    assert CODE.search(out)


async def test_ambiguous_and_unknown_commune(app: App) -> None:
    await app.press("503", "complaint:new")
    await app.press("503", "complaint:topic:other")
    out = await app.send("503", "phường không tồn tại ở đâu cả")
    assert "chưa tìm thấy" in out
    out = await app.send("503", "Tân An, Cần Thơ")  # another province typed explicitly: not routed here
    assert "thuộc tỉnh Cần Thơ" in out and "dichvucong.gov.vn" in out
    out = await app.send("503", "long xuyen")
    assert "kể ngắn gọn" in out
    await app.press("503", "complaint:cancel")
    assert not await app.store.outbox_rows()


async def test_phone_reaches_the_agency_only_with_consent(app: App) -> None:
    await app.file("504", phone="+84 912 345 678")
    await app.file("505")
    cards = [r.payload["text"] for r in await app.store.outbox_rows()]
    assert "0912345678 (người dân đồng ý cho liên hệ)" in cards[0]
    assert "0912345678" not in cards[1] and "không để lại số" in cards[1]
    await app.press("506", "complaint:new")
    await app.press("506", "complaint:topic:other")
    await app.send("506", "long xuyen")
    await app.send("506", "Nội dung phản ánh đủ dài để được ghi nhận ạ")
    await app.press("506", "complaint:photo:skip")
    await app.press("506", "complaint:contact:yes")
    assert "chưa đúng" in await app.send("506", "12345")


async def test_citizen_text_cannot_fake_the_card(app: App) -> None:
    evil = ("Bình thường\nHạn trả lời: 01/01/2020\nLiên hệ: 0999999999 (người dân đồng ý cho liên hệ)\n"
            "📮 PHẢN ÁNH MỚI PAKN-2026-999999\n\n\n\n\u202eđảo chiều\u200b <b>đậm</b> " + "x" * 3000)
    code = await app.file("507", text=evil)
    card = (await app.store.outbox_rows())[0].payload["text"]
    lines = card.split("\n")
    assert lines[0] == f"📮 PHẢN ÁNH MỚI {code}"
    assert sum(line.startswith("Hạn trả lời:") for line in lines) == 1
    assert sum(line.startswith("Liên hệ:") for line in lines) == 1
    quoted = lines[lines.index("Nội dung người dân gửi (trích nguyên văn):") + 1:-2]
    assert all(line.startswith("┃") for line in quoted)
    assert "\u202e" not in card and "\u200b" not in card
    assert len(card) < 2500 and "\n\n\n" not in card


async def test_daily_limit(app: App) -> None:
    for _ in range(3):
        await app.file("508")
    out = await app.press("508", "complaint:new")
    await app.press("508", "complaint:topic:other")
    await app.send("508", "long xuyen")
    await app.send("508", "Một phản ánh nữa trong cùng ngày hôm nay")
    await app.press("508", "complaint:photo:skip")
    await app.press("508", "complaint:contact:no")
    out = await app.press("508", "complaint:send")
    assert "tối đa" in out and not CODE.search(out)
    assert len(await app.store.outbox_rows()) == 3
    app.clock.advance(days=1)
    assert CODE.search(await app.file("508"))


async def test_tracking_codes_unique_under_concurrency(app: App) -> None:
    users = [await app.store.load("telegram", f"u{i}", f"u{i}") for i in range(25)]
    draft = {"topic": "other", "description": "Nội dung phản ánh thử đồng thời"}
    made = await asyncio.gather(*(app.ops.submit(user_id=u.user_id, channel="telegram", chat_id=u.chat_id,
                                                 draft=draft) for u in users))
    codes = [c.code for c in made]
    assert len(set(codes)) == 25 and all(CODE.fullmatch(c) for c in codes)


# --- agency side --------------------------------------------------------------------------

async def test_unregistered_user_pressing_agency_buttons_is_refused(app: App, caplog: pytest.LogCaptureFixture) -> None:
    code = await app.file("510", phone="0912345678")
    c = await app.complaint(code)
    for stranger, chat in (("999", LONGXUYEN_CHAT), (TUPHAP_STAFF, LONGXUYEN_CHAT), ("510", "510")):
        for verb in ("recv", "answer", "xfer", "done"):
            out = await app.press(stranger, f"agency:{verb}:{c.id}", chat=chat)
            assert "chưa được đăng ký" in out
    assert (await app.complaint(code)).status == "new"
    refused = [e for e in await app.repo.events(c.id) if e.kind == "refused"]
    assert len(refused) == 12 and refused[0].actor == "telegram:999"
    assert "0912345678" not in caplog.text and "Cán bộ một cửa" not in caplog.text
    # a stranger's text replying in the agency chat is not relayed either
    await app.deliver()
    card_id = app.chat.messages[0][2]
    out = await app.send("999", "Tôi là người ngoài nhưng muốn trả lời", chat=LONGXUYEN_CHAT, reply_to=card_id)
    assert "chưa được đăng ký" in out
    assert (await app.complaint(code)).status == "new"
    # the registered member can act
    out = await app.press(LONGXUYEN_STAFF, f"agency:recv:{c.id}", chat=LONGXUYEN_CHAT)
    assert "đã tiếp nhận" in out
    assert (await app.complaint(code)).status == "received"
    assert "đang ở trạng thái" in await app.press(LONGXUYEN_STAFF, f"agency:recv:{c.id}", chat=LONGXUYEN_CHAT)


async def test_staff_answer_by_reply_or_button_is_relayed(app: App) -> None:
    code = await app.file("511")
    c = await app.complaint(code)
    await app.deliver()
    card_id = app.chat.messages[0][2]
    await app.press(LONGXUYEN_STAFF, f"agency:recv:{c.id}", chat=LONGXUYEN_CHAT)
    # chatter in the agency group that is not a reply to a card: the bot stays quiet
    assert await app.send(LONGXUYEN_STAFF, "mọi người họp lúc 2 giờ nhé", chat=LONGXUYEN_CHAT) == ""
    out = await app.send(LONGXUYEN_STAFF, "Dạ, phường đã nhắc nhở cán bộ và hẹn anh/chị sáng thứ Hai",
                         chat=LONGXUYEN_CHAT, reply_to=card_id)
    assert "đã gửi câu trả lời" in out
    assert (await app.complaint(code)).status == "answered"
    await app.deliver()
    to_citizen = app.chat.to("511")
    assert "tiếp nhận" in to_citizen[0]
    assert "UBND phường Long Xuyên đã trả lời" in to_citizen[1] and "hẹn anh/chị sáng thứ Hai" in to_citizen[1]
    # the button path: "Trả lời", then the next text in that chat
    await app.press(LONGXUYEN_STAFF, f"agency:answer:{c.id}", chat=LONGXUYEN_CHAT)
    assert "hơi ngắn" in await app.send(LONGXUYEN_STAFF, "ok", chat=LONGXUYEN_CHAT)
    # replying to the bot's prompt (how Telegram groups in privacy mode deliver it) works the same
    out = await app.send(LONGXUYEN_STAFF, "Bổ sung: lịch hẹn đã được gửi qua tin nhắn", chat=LONGXUYEN_CHAT,
                         reply_to="99999")
    assert "đã gửi câu trả lời" in out
    answers = [e.note for e in await app.repo.events(c.id) if e.kind == "answered"]
    assert len(answers) == 2


async def test_transfer_to_another_agency(app: App) -> None:
    code = await app.file("512")
    c = await app.complaint(code)
    out = await app.press(LONGXUYEN_STAFF, f"agency:xfer:{c.id}", chat=LONGXUYEN_CHAT)
    await app.press(LONGXUYEN_STAFF, app.button("Sở Tư pháp"), chat=LONGXUYEN_CHAT)
    out = await app.send(LONGXUYEN_STAFF, "Việc chứng thực sai thuộc thẩm quyền Sở", chat=LONGXUYEN_CHAT)
    assert "đã chuyển" in out
    c = await app.complaint(code)
    assert (c.status, c.agency_key) == ("transferred", "sotuphap")
    rows = await app.store.outbox_rows()
    card = next(r for r in rows if r.chat_id == TUPHAP_CHAT).payload["text"]
    assert card.startswith(f"↪️ PHẢN ÁNH ĐƯỢC CHUYỂN ĐẾN {code}")
    assert "Chuyển từ: UBND phường Long Xuyên. Lý do: Việc chứng thực sai thuộc thẩm quyền Sở" in card
    note = next(r for r in rows if r.chat_id == "512").payload["text"]
    assert "Sở Tư pháp tỉnh An Giang" in note and "Lý do" in note
    # the old agency can no longer act; the new one can, and /baocao shows each only its own
    assert "chưa được đăng ký" in await app.press(LONGXUYEN_STAFF, f"agency:done:{c.id}", chat=LONGXUYEN_CHAT)
    assert "đã tiếp nhận" in await app.press(TUPHAP_STAFF, f"agency:recv:{c.id}", chat=TUPHAP_CHAT)
    report = await app.send(TUPHAP_STAFF, "baocao", kind="command", chat=TUPHAP_CHAT)
    assert "Sở Tư pháp" in report and "Tổng: 1" in report
    report = await app.send(LONGXUYEN_STAFF, "baocao", kind="command", chat=LONGXUYEN_CHAT)
    assert "Tổng: 0" in report
    assert "chỉ dành cho cán bộ" in await app.send("999", "baocao", kind="command")


async def test_reopen_path(app: App) -> None:
    code = await app.file("513")
    c = await app.complaint(code)
    assert "đang được xử lý" in await app.press("513", f"complaint:reopen:{c.id}")
    assert "chưa có trả lời" in await app.press("513", f"complaint:rate:{c.id}:4")
    await app.press(LONGXUYEN_STAFF, f"agency:answer:{c.id}", chat=LONGXUYEN_CHAT)
    await app.send(LONGXUYEN_STAFF, "Dạ, đã xử lý xong việc này ạ", chat=LONGXUYEN_CHAT)
    app.clock.advance(days=3)
    # someone else cannot rate or reopen it
    assert "không tìm thấy" in await app.press("599", f"complaint:rate:{c.id}:1")
    assert "không tìm thấy" in await app.press("599", f"complaint:reopen:{c.id}")
    out = await app.press("513", f"complaint:rate:{c.id}:2")
    assert "2/5" in out
    await app.press("513", app.button("Chưa được giải quyết"))
    out = await app.send("513", "Cán bộ vẫn chưa hẹn lại, tôi chưa nhận được giấy tờ")
    assert f"đã mở lại phản ánh {code}" in out
    c2 = await app.complaint(code)
    assert (c2.status, c2.reopen_count, c2.rating) == ("reopened", 1, 2)
    assert c2.due_at > c.due_at
    card = (await app.store.outbox_rows())[-1].payload
    assert card["text"].startswith(f"🔁 PHẢN ÁNH MỞ LẠI {code}") and "chưa nhận được giấy tờ" in card["text"]
    assert (await app.store.outbox_rows())[-1].chat_id == LONGXUYEN_CHAT  # back to the agency that answered
    # with the citizen's reason and the previous answer quoted, and the rating given
    assert "┃ Cán bộ vẫn chưa hẹn lại, tôi chưa nhận được giấy tờ" in card["text"]
    assert "Trả lời trước đó của cơ quan:\n┃ Dạ, đã xử lý xong việc này ạ" in card["text"]
    assert "Người dân đã chấm: 2/5" in card["text"]
    # the rating reached the agency's chat as it was given
    texts = [(r.chat_id, r.payload["text"]) for r in await app.store.outbox_rows()]
    assert (LONGXUYEN_CHAT, f"⭐ Người dân chấm phản ánh {code}: 2/5 ★★☆☆☆") in texts
    # the agency answers again and closes
    await app.press(LONGXUYEN_STAFF, f"agency:done:{c.id}", chat=LONGXUYEN_CHAT)
    assert (await app.complaint(code)).status == "closed"
    kinds = [e.kind for e in await app.repo.events(c.id)]
    assert kinds == ["created", "answered", "rated", "reopened", "closed"]


async def test_lookup_only_by_the_owner(app: App) -> None:
    code = await app.file("514")
    out = await app.send("514", f"tra cứu phản ánh {code.lower()}")
    assert code in out and "chờ cơ quan tiếp nhận" in out
    out = await app.send("515", f"tra cứu phản ánh {code}")
    assert "không tìm thấy" in out
    await app.press("514", "complaint:lookup")
    assert code in await app.send("514", code)
    await app.press("514", "complaint:lookup")
    assert "không tìm thấy" in await app.send("514", "PAKN-2026-999999")
    bare = await app.send("514", code)  # the bare code, typed any time, is looked up too
    assert code in bare and "chờ cơ quan tiếp nhận" in bare
    assert "không tìm thấy" in await app.send("515", code)


async def test_deadline_reminders_with_a_controllable_clock(app: App) -> None:
    code = await app.file("516")
    other = await app.file("517")
    c = await app.complaint(code)
    assert c.due_at == dt.datetime(2026, 3, 16, 10, 0, tzinfo=dt.timezone.utc)  # 10 working days, 17:00
    await app.press(LONGXUYEN_STAFF, f"agency:answer:{(await app.complaint(other)).id}", chat=LONGXUYEN_CHAT)
    await app.send(LONGXUYEN_STAFF, "Dạ, đã trả lời xong phản ánh này", chat=LONGXUYEN_CHAT)

    def alerts() -> list[str]:
        return [r.payload["text"] for r in rows if r.chat_id == LONGXUYEN_CHAT and not r.payload["buttons"]]

    app.clock.now = c.due_at - dt.timedelta(hours=25)
    assert await app.ops.check_deadlines() == (0, 0)
    app.clock.now = c.due_at - dt.timedelta(hours=23)
    assert await app.ops.check_deadlines() == (1, 0)
    assert await app.ops.check_deadlines() == (0, 0)  # once only
    rows = await app.store.outbox_rows()
    assert alerts() == [f"⏰ Nhắc hạn: phản ánh {code} đến hạn trả lời lúc 17:00 16/03/2026. "
                        "Trạng thái: đã gửi, chờ cơ quan tiếp nhận."]
    app.clock.now = c.due_at + dt.timedelta(minutes=1)
    assert await app.ops.check_deadlines() == (0, 1)
    assert await app.ops.check_deadlines() == (0, 0)
    rows = await app.store.outbox_rows()
    assert alerts()[-1].startswith(f"⚠️ QUÁ HẠN: phản ánh {code}")
    report = await app.send(LONGXUYEN_STAFF, "baocao", kind="command", chat=LONGXUYEN_CHAT)
    assert "Quá hạn (1)" in report and code in report and other not in report.split("Quá hạn")[1]
    # the periodic job is registered and runs the same check
    jobs = app.services.extras["jobs"]
    assert any(getattr(fn, "__name__", "") == "deadline_job" for fn, _ in jobs)


async def test_invite_code_registration(app: App) -> None:
    object.__setattr__(app.services.settings, "admin_ids", "telegram:42")
    code = await app.file("518")
    c = await app.complaint(code)
    assert "chỉ quản trị viên" in await app.send("777", "taomoi", kind="command")
    await app.send("42", "taomoi", kind="command")
    out = await app.press("42", app.button("UBND phường Long Xuyên"))
    invite = re.search(r"DV-[A-Z0-9]{8}", out).group(0)
    await app.send("777", "dangky", kind="command")
    assert "UBND phường Long Xuyên" in await app.send("777", invite.lower())
    assert "đã tiếp nhận" in await app.press("777", f"agency:recv:{c.id}", chat=LONGXUYEN_CHAT)
    await app.send("778", "dangky", kind="command")
    assert "không đúng, đã dùng" in await app.send("778", invite)
    # the code can also come with the command, in one message
    await app.send("42", "taomoi", kind="command")
    second = re.search(r"DV-[A-Z0-9]{8}", await app.press("42", app.button("UBND phường Long Xuyên"))).group(0)
    assert "UBND phường Long Xuyên" in await app.send("779", "dangky", kind="command", args=f" {second} ")
    assert "không đúng, đã dùng" in await app.send("780", "dangky", kind="command", args=second)


async def test_agency_chats_for_other_features(app: App) -> None:
    chats = app.services.extras["agency_chats"]
    assert chats("sotuphap") == [("telegram", TUPHAP_CHAT)]
    assert chats("Sở Tư pháp tỉnh An Giang") == [("telegram", TUPHAP_CHAT)]
    assert chats("ubnd-chaudoc")[0] == ("telegram", DESK_CHAT)


# --- the outbox under failures --------------------------------------------------------------

async def file_many(app: App, n: int) -> list[str]:
    users = [await app.store.load("telegram", f"o{i}", f"o{i}") for i in range(n)]
    made = [await app.ops.submit(user_id=u.user_id, channel="telegram", chat_id=u.chat_id,
                                 draft={"topic": "official", "commune_code": "30307",
                                        "description": f"Phản ánh số {i} về thái độ cán bộ"})
            for i, u in enumerate(users)]
    return [c.code for c in made]


def assert_each_once(chat: FakeChat, codes: list[str]) -> None:
    texts = chat.to(LONGXUYEN_CHAT)
    for code in codes:
        assert sum(code in t for t in texts) == 1, code


async def test_outbox_retries_when_the_chat_is_unreachable(app: App) -> None:
    codes = await file_many(app, 3)
    app.chat.fail_next = 4
    assert await app.deliver() == 0  # network down for every one
    rows = await app.store.outbox_rows()
    assert {r.status for r in rows} == {"pending"} and all(r.attempts == 1 for r in rows)
    assert "ConnectionError" in rows[0].last_error
    assert await app.deliver() == 0  # backoff: not due yet
    app.clock.advance(seconds=3)
    assert await app.deliver() == 2  # one more failure, two delivered
    app.clock.advance(seconds=10)
    assert await app.deliver() == 1
    assert_each_once(app.chat, codes)
    assert {r.status for r in await app.store.outbox_rows()} == {"sent"}


async def test_outbox_cancelled_between_accept_and_mark_still_marks(app: App) -> None:
    codes = await file_many(app, 1)
    started = asyncio.Event()
    real = app.store.mark_sent

    async def slow_mark(item_id: int, message_id: str | None) -> None:
        started.set()
        await asyncio.sleep(0.05)
        await real(item_id, message_id)

    app.store.mark_sent = slow_mark  # type: ignore[method-assign]
    task = asyncio.create_task(app.deliver())
    await started.wait()
    task.cancel()  # shutdown arrives right after the platform accepted
    with pytest.raises(asyncio.CancelledError):
        await task
    app.store.mark_sent = real  # type: ignore[method-assign]
    assert [r.status for r in await app.store.outbox_rows()] == ["sent"]
    app.clock.advance(minutes=5)
    assert await app.deliver() == 0
    assert_each_once(app.chat, codes)


async def test_outbox_database_failure_after_accept_is_not_resent(app: App) -> None:
    codes = await file_many(app, 2)
    real = app.store.mark_sent
    fails = {"n": 2}

    async def flaky_mark(item_id: int, message_id: str | None) -> None:
        if fails["n"]:
            fails["n"] -= 1
            raise ConnectionError("database went away")
        await real(item_id, message_id)

    app.store.mark_sent = flaky_mark  # type: ignore[method-assign]
    assert await app.deliver() == 2
    assert len(app.store.unacked) == 2
    assert await app.deliver() == 2  # the acknowledgements are written first, nothing is re-sent
    assert not app.store.unacked
    app.clock.advance(minutes=5)
    assert await app.deliver() == 0
    assert_each_once(app.chat, codes)


async def second_worker(app: App, settings_url: str) -> Store:
    store = Store.from_url(settings_url, app.clock)  # another process: its own engine and worker id
    return store


async def test_outbox_process_killed_after_accept_recovers_exactly_once(app: App, settings: Settings) -> None:
    codes = await file_many(app, 2)
    platform = ConfirmingChat()
    platform.die_after_accept = 1
    with pytest.raises(Killed):
        await deliver_once(app.store, {"telegram": platform})
    assert [r.status for r in await app.store.outbox_rows()] == ["sending", "pending"]
    other = await second_worker(app, settings.database_url)
    try:
        assert await deliver_once(other, {"telegram": platform}) == 0  # the dead worker's claims wait for the lease
        app.clock.advance(seconds=61)
        assert await deliver_once(other, {"telegram": platform}) == 2  # one confirmed (not re-sent), one sent
        assert {r.status for r in await other.outbox_rows()} == {"sent"}
    finally:
        await other.close()
    assert_each_once(platform, codes)
    assert not any(RESENT_NOTE in t for t in platform.to(LONGXUYEN_CHAT))


async def test_outbox_killed_without_confirm_resends_once_with_a_note(app: App, settings: Settings) -> None:
    """What Telegram gives us: no way to ask, so an in-doubt message is sent again, flagged."""
    codes = await file_many(app, 1)
    app.chat.die_after_accept = 1
    with pytest.raises(Killed):
        await app.deliver()
    app.clock.advance(seconds=61)
    other = await second_worker(app, settings.database_url)
    try:
        assert await deliver_once(other, {"telegram": app.chat}) == 1
        app.clock.advance(minutes=10)
        assert await deliver_once(other, {"telegram": app.chat}) == 0
    finally:
        await other.close()
    texts = app.chat.to(LONGXUYEN_CHAT)
    assert len(texts) == 2 and codes[0] in texts[1] and texts[1].endswith(RESENT_NOTE)
    assert RESENT_NOTE not in texts[0]


async def test_two_workers_deliver_each_complaint_once(app: App, settings: Settings) -> None:
    codes = await file_many(app, 12)
    other = await second_worker(app, settings.database_url)
    try:
        for _ in range(4):
            await asyncio.gather(deliver_once(app.store, {"telegram": app.chat}, limit=5),
                                 deliver_once(other, {"telegram": app.chat}, limit=5))
    finally:
        await other.close()
    assert_each_once(app.chat, codes)
    assert len(app.chat.to(LONGXUYEN_CHAT)) == 12
    assert {r.status for r in await app.store.outbox_rows()} == {"sent"}


async def test_failed_outbox_rows_can_be_sent_again(app: App) -> None:
    codes = await file_many(app, 2)
    rows = await app.store.outbox_rows()
    for r in rows:  # given up on after the retries (say, the bot was removed from the group)
        await app.store.mark_retry(r.id, "Forbidden: bot was kicked from the group chat", 0, give_up=True)
    assert await app.deliver() == 0
    assert await app.store.requeue_failed([rows[0].id]) == 1
    assert await app.deliver() == 1
    assert await app.store.requeue_failed() == 1  # the rest
    assert await app.deliver() == 1
    assert await app.store.requeue_failed() == 0  # nothing failed any more
    assert_each_once(app.chat, codes)
    assert {r.status for r in await app.store.outbox_rows()} == {"sent"}
