"""Helper mode: who may use it, invite codes, outcomes and weekly / per-commune counts."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.render import render_all
from bot.terminal import to_incoming
from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from handlers.helpers_mode import HelpersFileError, clean_code, load_helpers, new_code
from handlers.types import Incoming
from knowledge.base import KnowledgeBase
from storage.guide_models import GuideProgress, HelperSession

HELPERS_YAML = """
teams:
  - name: Tổ CNS phường Sài Gòn
    commune: Phường Sài Gòn
    members:
      - terminal:helper-a
      - terminal:helper-b
"""


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.timezone.utc)  # Monday, ISO week 2026-W10

    def __call__(self) -> dt.datetime:
        return self.now


class Chat:
    """One terminal user: type text, or pick a numbered choice by part of its label."""

    def __init__(self, dispatcher: Dispatcher, user: str) -> None:
        self.dispatcher, self.user = dispatcher, user
        self.labels: list[str] = []

    async def say(self, text: str) -> str:
        out = await self.dispatcher.handle(to_incoming(text, self.user))
        labels = [b.label for r in out.replies for b in r.all_buttons()]  # numbered across the turn
        if labels:
            self.labels = labels
        return "\n".join(render_all(out.replies))

    async def press(self, part: str) -> str:
        for i, label in enumerate(self.labels):
            if part.lower() in label.lower():
                return await self.say(str(i + 1))
        raise AssertionError(f"no choice like {part!r} in {self.labels}")

    async def action(self, action: str) -> str:
        out = await self.dispatcher.handle(Incoming("terminal", self.user, self.user, "action", action=action))
        return "\n".join(render_all(out.replies))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def dispatcher(settings: Settings, kb: KnowledgeBase, tmp_path: Path, clock: Clock) -> AsyncIterator[Dispatcher]:
    helpers = tmp_path / "helpers.yaml"
    helpers.write_text(HELPERS_YAML, encoding="utf-8")
    configured = settings.model_copy(update={"helpers_file": helpers, "admin_ids": "terminal:admin"})
    d = await build_dispatcher(configured, kb=kb, clock=clock)
    yield d
    await d.services.store.close()


async def helper_sessions(d: Dispatcher) -> list[HelperSession]:
    async with d.services.store.sessions() as db:
        return list((await db.execute(select(HelperSession).order_by(HelperSession.id))).scalars())


async def test_unregistered_user_cannot_use_helper_mode(dispatcher: Dispatcher) -> None:
    stranger = Chat(dispatcher, "stranger")
    assert "dành cho thành viên Tổ công nghệ số cộng đồng" in await stranger.say("/hotro")
    assert "dành cho thành viên" in await stranger.say("/thongke")
    assert "dành cho thành viên" in await stranger.action("helper:go:khai-sinh")
    assert "dành cho thành viên" in await stranger.action("helper:outcome:1:submitted")
    assert "chỉ quản trị viên" in await stranger.say("/moi")
    menu = await stranger.action("guide:menu")
    assert "Hỗ trợ người dân" not in menu
    assert await helper_sessions(dispatcher) == []
    # Guessing codes is cut off after a few tries.
    await stranger.say("/hotro")
    for _ in range(5):
        assert "không đúng" in await stranger.say("ABCD2345")
    assert "sai mã nhiều lần" in await stranger.say("ABCD2346")
    # A configured helper sees the helper entry in the guide menu.
    assert "Hỗ trợ người dân" in await Chat(dispatcher, "helper-a").action("guide:menu")


async def test_admin_invite_code_registers_a_helper_once(dispatcher: Dispatcher) -> None:
    admin = Chat(dispatcher, "admin")
    assert "tên tổ" in await admin.say("/moi")
    reply = await admin.say("Tổ CNS xã Bình Mỹ")
    match = re.search(r": ([A-Z2-9]{8})\n", reply)
    assert match, reply
    code = match.group(1)
    newbie = Chat(dispatcher, "newbie")
    assert "dành cho thành viên" in await newbie.say("/hotro")
    welcome = await newbie.say(f"{code[:4].lower()}-{code[4:]}")  # typed loosely
    assert 'tổ "Tổ CNS xã Bình Mỹ"' in welcome
    assert "xã/phường nào" in await newbie.say("/hotro")
    other = Chat(dispatcher, "other")
    await other.say("/hotro")
    assert "không đúng, đã dùng rồi" in await other.say(code)  # one-time code
    # "/hotro CODE" in one message
    second = re.search(r": ([A-Z2-9]{8})\n", await admin.say("/moi") and await admin.say("Tổ CNS phường An Phú"))
    assert second, "no second code"
    quick = Chat(dispatcher, "quick")
    assert 'tổ "Tổ CNS phường An Phú"' in await quick.say(f"/hotro {second.group(1)}")
    assert "xã/phường nào" in await quick.say("/hotro")
    assert "không đúng" in await Chat(dispatcher, "late").say(f"/hotro {second.group(1)}")


async def _guide_for_resident(chat: Chat, commune: str | None, outcome: str | None, finish: bool = False) -> None:
    assert "xã/phường nào" in await chat.say("/hotro")
    if commune is None:
        text = await chat.press("Xã/phường của tổ")
    else:
        text = await chat.say(commune)
    assert "Người dân cần nộp thủ tục nào" in text
    text = await chat.press("Đăng ký khai sinh")
    assert "Câu hỏi 1/3" in text
    if finish:
        for _ in range(3):
            await chat.press("Có")
        for _ in range(8):
            await chat.press("Tiếp")
        text = await chat.press("Xong")
        assert "đã đi hết các bước" in text
    else:
        text = await chat.press("Để sau")
    assert "ghi nhận kết quả" in text
    if outcome is not None:
        assert "em đã ghi nhận" in await chat.press(outcome)


async def test_counts_per_week_and_commune_after_several_sessions(dispatcher: Dispatcher, clock: Clock) -> None:
    a, b = Chat(dispatcher, "helper-a"), Chat(dispatcher, "helper-b")
    await _guide_for_resident(a, None, "Đã nộp xong", finish=True)
    await _guide_for_resident(a, "Xã Bình Mỹ", "Cần theo dõi thêm")
    await _guide_for_resident(b, "phường  sài gòn", "Người dân đi nộp trực tiếp")
    clock.now += dt.timedelta(days=7)
    await _guide_for_resident(a, "Xã Bình Mỹ", "Đã nộp xong")
    await _guide_for_resident(a, None, None)  # no outcome recorded yet

    stats = await a.say("/thongke")
    mine, team = stats.split('Cả tổ "Tổ CNS phường Sài Gòn":')
    assert "• Tuần 2026-W11 (09/03–15/03/2026): 2 lượt (đã nộp 1, chưa ghi kết quả 1)" in mine
    assert "• Tuần 2026-W10 (02/03–08/03/2026): 2 lượt (đã nộp 1, cần theo dõi 1)" in mine
    assert "• Xã Bình Mỹ: 2 lượt (đã nộp 1, cần theo dõi 1)" in mine
    assert "• Phường Sài Gòn: 2 lượt (đã nộp 1, chưa ghi kết quả 1)" in mine
    assert "• Tuần 2026-W10 (02/03–08/03/2026): 3 lượt (đã nộp 1, cần theo dõi 1, đi nộp trực tiếp 1)" in team
    assert "• Tuần 2026-W11 (09/03–15/03/2026): 2 lượt (đã nộp 1, chưa ghi kết quả 1)" in team
    assert "• Phường Sài Gòn: 3 lượt (đã nộp 1, đi nộp trực tiếp 1, chưa ghi kết quả 1)" in team
    assert "• Xã Bình Mỹ: 2 lượt (đã nộp 1, cần theo dõi 1)" in team
    b_stats = await b.say("/thongke")
    assert "• Phường Sài Gòn: 1 lượt (đi nộp trực tiếp 1)" in b_stats.split("Cả tổ")[0]

    # Only procedure, commune, week and outcome are kept; a finished guide's answers are not.
    rows = await helper_sessions(dispatcher)
    assert [(r.helper, r.commune, r.week, r.outcome) for r in rows] == [
        ("terminal:helper-a", "Phường Sài Gòn", "2026-W10", "submitted"),
        ("terminal:helper-a", "Xã Bình Mỹ", "2026-W10", "followup"),
        ("terminal:helper-b", "phường sài gòn", "2026-W10", "inperson"),
        ("terminal:helper-a", "Xã Bình Mỹ", "2026-W11", "submitted"),
        ("terminal:helper-a", "Phường Sài Gòn", "2026-W11", None),
    ]
    # Someone else cannot record an outcome on a helper's session.
    assert "không phải của anh/chị" in await b.action(f"helper:outcome:{rows[-1].id}:submitted")
    async with dispatcher.services.store.sessions() as db:
        done = (await db.execute(select(GuideProgress).where(GuideProgress.status == "done"))).scalars().all()
    assert done == []


def test_codes_are_read_as_typed() -> None:
    assert clean_code("kk7p-qx9m ") == "KK7PQX9M"  # repeated letters stay
    assert len(new_code()) == 8 and new_code() != new_code()


def test_helpers_file_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "h.yaml"
    good.write_text(HELPERS_YAML, encoding="utf-8")
    helpers = load_helpers(good)
    assert helpers["terminal:helper-a"].team == "Tổ CNS phường Sài Gòn"
    assert helpers["terminal:helper-b"].commune == "Phường Sài Gòn"
    bad = tmp_path / "bad.yaml"
    bad.write_text("teams:\n  - name: X\n    members: ['not an id']\n", encoding="utf-8")
    with pytest.raises(HelpersFileError, match="channel:user_id"):
        load_helpers(bad)
    example = Path(__file__).resolve().parent.parent / "examples" / "helpers.example.yaml"
    assert load_helpers(example)
