"""The conversation core's rules, through the dispatcher with a real SQLite file and a settable clock:
focus and its expiry, buttons of earlier screens, everyday words mapped to the current choices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import load_settings
from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from handlers.texts import common as T
from handlers.texts import complaint as TC
from handlers.types import Incoming
from knowledge.base import KnowledgeBase

USER = "c-1"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def core(tmp_path: Path, kb: KnowledgeBase):  # type: ignore[no-untyped-def]
    clock = Clock()
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}", telegram_bot_token="",
                             rate_limit_per_minute=6000)
    d = await build_dispatcher(settings, kb=kb, clock=clock)
    yield d, clock
    await d.services.store.close()


async def say(d: Dispatcher, text: str) -> str:
    out = await d.handle(Incoming("terminal", USER, USER, "text", text=text))
    return "\n".join((r.title + "\n" if r.title else "") + r.text for r in out.replies)


async def press(d: Dispatcher, action: str) -> str:
    out = await d.handle(Incoming("terminal", USER, USER, "action", action=action))
    return "\n".join(r.text for r in out.replies)


async def test_follow_up_uses_the_focus_until_it_is_old(core) -> None:  # type: ignore[no-untyped-def]
    d, clock = core
    assert "ĐĂNG KÝ KẾT HÔN" in (await say(d, "đăng ký kết hôn")).upper()
    clock.now += dt.timedelta(minutes=29)
    assert "Phí, lệ phí và thời hạn — \"Đăng ký kết hôn\"" in await say(d, "lệ phí bao nhiêu?")
    clock.now += dt.timedelta(minutes=31)  # silence: the focus is old
    reply = await say(d, "mất mấy ngày?")
    assert T.ASPECT_WHICH.split("{")[0] in reply and "kết hôn" not in reply.lower()


async def test_menu_leaves_the_focus(core) -> None:  # type: ignore[no-untyped-def]
    d, _ = core
    await say(d, "làm hộ chiếu")
    await say(d, "menu")
    assert T.ASPECT_WHICH.split("{")[0] in await say(d, "nộp ở đâu ạ")


async def test_pending_aspect_is_answered_once_the_procedure_is_named(core) -> None:  # type: ignore[no-untyped-def]
    d, _ = core
    assert T.ASPECT_WHICH.split("{")[0] in await say(d, "lệ phí bao nhiêu")
    assert "Phí, lệ phí và thời hạn — \"Cấp, cấp đổi, cấp lại thẻ căn cước\"" in await say(d, "căn cước")


async def test_an_old_complaint_button_does_not_rewind_and_lose_the_description(core) -> None:  # type: ignore[no-untyped-def]
    d, _ = core
    await say(d, "tôi muốn phản ánh")
    await press(d, "complaint:topic:other")
    await press(d, "complaint:commune:skip")
    description = "Đèn đường trước cổng trường tiểu học hỏng cả tháng nay"
    await say(d, description)  # now at the photo step
    reply = await press(d, "complaint:topic:official")  # the topic button of the first screen, pressed again
    assert TC.STALE_STEP in reply and TC.ASK_PHOTO in reply
    session = await d.services.store.load("terminal", USER, USER)
    assert session.state == "complaint:photo"
    assert session.data["pakn"]["description"] == description and session.data["pakn"]["topic"] == "other"


async def test_everyday_words_answer_the_current_question(core) -> None:  # type: ignore[no-untyped-def]
    d, _ = core
    assert "Câu hỏi 1/" in await say(d, "hướng dẫn nộp khai sinh online")
    assert "Câu hỏi 2/" in await say(d, "dạ vâng")  # the "Có" button, not thanks
    reply = await say(d, "không biết")
    assert "Câu hỏi 2/" in reply and "không sao" in reply.lower()
    assert T.THANKS not in await say(d, "ừ đúng rồi")


@pytest.mark.parametrize("text", ["sai rồi", "không phải", "không đúng"])
async def test_wrong_after_an_answer_apologises_and_never_gives_a_card(core, text: str) -> None:  # type: ignore[no-untyped-def]
    d, _ = core
    await say(d, "thủ tục đổi bằng lái")
    reply = await say(d, text)
    assert "xin lỗi" in reply and "Cơ quan giải quyết" not in reply
    assert len(reply) < 400
