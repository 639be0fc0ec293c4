"""Issue 14: the guide's stuck path and repeated "not found" reach a person; Zalo staff work by typed commands;
the terminal (staff as a second terminal user); a restart in the middle of a live chat loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.terminal import to_incoming
from knowledge.base import KnowledgeBase
from tests.drivers import TerminalDriver, ZaloDriver

HELPERS = """
teams:
  - name: Tổ công nghệ số cộng đồng phường Long Xuyên
    commune: Phường Long Xuyên
    province: An Giang
    members: [zalo:helper-z, terminal:helper-t]
    chats:
      - {channel: zalo, chat_id: "-team-lx"}
      - {channel: terminal, chat_id: "team-lx"}
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    path = tmp_path / "helpers.yaml"
    path.write_text(HELPERS, encoding="utf-8")
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600,
                         helpers_file=path, default_province="An Giang")


def joined(seen: list) -> str:
    return "\n".join(s.text for s in seen)


async def card_rows(driver) -> list:  # noqa: ANN001
    return [r for r in await driver.dispatcher.services.store.outbox_rows() if ":card:" in r.dedup_key]


async def test_stuck_twice_on_a_step_offers_a_person_and_the_card_carries_the_guide(terminal: TerminalDriver) -> None:
    await terminal.say("/menu")
    await terminal.press("Hướng dẫn nộp trực tuyến")
    await terminal.press("Đăng ký khai sinh")
    for _ in range(3):
        await terminal.press("Có")
    seen = await terminal.press("Tiếp")
    assert "BƯỚC 2/9" in joined(seen).upper()
    first = await terminal.press("Tôi bị vướng")
    assert "lần thứ hai" not in joined(first)
    await terminal.press("Quay lại bước")
    second = await terminal.press("Tôi bị vướng")
    assert "lần thứ hai" in joined(second) and second[0].labels[0] == "Nhờ người hỗ trợ"
    asked = await terminal.press("Nhờ người hỗ trợ")
    assert "xã, phường nào" in joined(asked)
    told = joined(await terminal.say("Long Xuyên"))
    assert "em đang báo cho Tổ công nghệ số cộng đồng phường Long Xuyên" in told and "Chưa có ai nhận" in told
    cards = await card_rows(terminal)
    assert {r.chat_id for r in cards} == {"-team-lx", "team-lx"}
    text = cards[0].payload["text"]
    assert "Đang hỏi về: Đăng ký khai sinh" in text and "bị vướng khi làm hướng dẫn" in text
    assert "┃ Thủ tục: Đăng ký khai sinh" in text and "bước 2/9" in text


async def test_three_not_found_in_a_row_offer_a_person_first(terminal: TerminalDriver) -> None:
    for n, question in enumerate(["thủ tục cấp phép nuôi chim yến", "thủ tục cấp phép khai thác cát sông",
                                  "thủ tục cấp phép nuôi chim yến"], 1):
        seen = await terminal.say(question)
        if any("Không phải các mục trên" in s.labels for s in seen):
            seen = await terminal.press("Không phải các mục trên")
        if n < 3:
            assert "người hỗ trợ không ạ" not in joined(seen)
    assert "Anh/chị có muốn trò chuyện với người hỗ trợ không ạ?" in joined(seen)
    assert seen[-1].labels[0] == "Gặp người hỗ trợ"  # offered, not forced
    assert await card_rows(terminal) == []
    assert "xã, phường nào" in joined(await terminal.press("Gặp người hỗ trợ"))
    assert "em đang báo" in joined(await terminal.say("Long Xuyên"))
    assert "đã huỷ yêu cầu" in joined(await terminal.say("Kết thúc"))  # before anyone took it: cancelled
    notes = [r.payload["text"] for r in await terminal.dispatcher.services.store.outbox_rows()]
    assert "Người dân đã huỷ yêu cầu HT1, không cần nhận nữa." in notes


async def test_terminal_staff_as_a_second_user(terminal: TerminalDriver) -> None:
    """The helper is another terminal user: typed commands only, as on Zalo."""
    await terminal.say("gặp người thật")
    await terminal.say("phường Long Xuyên")
    d = terminal.dispatcher

    async def staff(text: str) -> str:
        out = await d.handle(to_incoming(text, "helper-t"))
        return "\n".join(r.text for r in out.replies)

    assert "không có trong tổ" not in await staff("/nhan HT1")
    assert (await d.services.extras["handoff_repo"].get(1)).status == "live"
    assert await terminal.say("cháu cần làm khai sinh") == []
    assert await terminal.say("Xong rồi") == []  # a step done, told to the helper: the chat goes on
    assert (await d.services.extras["handoff_repo"].get(1)).status == "live"
    assert await staff("Dạ chị gửi ảnh giấy chứng sinh nhé") == ""  # a private line goes to the citizen
    rows = [r for r in await d.services.store.outbox_rows() if r.chat_id == "citizen-1"]
    assert rows[-1].payload["text"].endswith("Dạ chị gửi ảnh giấy chứng sinh nhé")
    assert "Đã kết thúc HT1".lower() in (await staff("/ketthuc HT1")).lower()
    assert (await d.services.extras["handoff_repo"].get(1)).closed_by == "terminal:helper-t"


@pytest.fixture
async def zalo(settings: Settings, kb: KnowledgeBase) -> AsyncIterator[ZaloDriver]:
    from tests.fake_zalo import TOKEN as ZALO_TOKEN, FakeZalo

    async with FakeZalo() as zfake:
        z_settings = settings.model_copy(update={"zalo_bot_token": ZALO_TOKEN, "zalo_base_url": zfake.base_url})
        driver = await ZaloDriver(z_settings, kb, zfake).start()
        yield driver
        await driver.close()


async def _until(check, timeout: float = 10.0) -> None:  # noqa: ANN001
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def _release_claims_of_the_old_process(zalo: ZaloDriver) -> None:
    """What the start-up clean-up does for a dead process of this host (the test restarts inside one process)."""
    from sqlalchemy import update

    from storage.models import Outbox

    store = zalo.dispatcher.services.store
    async with store.sessions.begin() as db:
        await db.execute(update(Outbox).where(Outbox.status != "sent", Outbox.claimed_by != store.worker_id)
                         .values(claimed_until=None))


def _no_note(text: str) -> str:
    from bot.outbox_worker import RESENT_NOTE

    return text.removesuffix(RESENT_NOTE).rstrip()


async def test_zalo_staff_by_typed_commands_and_restart_mid_chat(zalo: ZaloDriver) -> None:
    fake, citizen, team = zalo.fake, zalo.chat_id, "-team-lx"
    await zalo.say("/start")
    await zalo.press("Gặp người hỗ trợ")
    told = joined(await zalo.say("phuong long xuyen"))
    assert "em đang báo" in told
    card = (await fake.wait_for(team, 1))[0]
    assert "/nhan HT1" in card.text
    taken = joined(await zalo.say_in(team, "/nhan HT1", "helper-z"))
    assert "đã nhận HT1" in taken
    await _until(lambda: any("đã nhận và sẽ trò chuyện" in s.text for s in fake.to(citizen)))

    for i in range(1, 6):
        own = [s for s in await zalo.say(f"câu {i} của em") if not s.text.startswith("💬")]
        assert own == []  # the assistant says nothing of its own (relayed helper lines may arrive meanwhile)
        await zalo.say_in(team, f"/traloi HT1 trả lời {i}", "helper-z")
        if i == 3:
            await zalo.restart()  # the process stops and starts again in the middle of the chat
            await _release_claims_of_the_old_process(zalo)
    await _until(lambda: len([s for s in fake.to(team) if s.text.startswith("👤 HT1:")]) == 5)
    await _until(lambda: len([s for s in fake.to(citizen) if "trả lời" in s.text and "Dân helper-z" in s.text]) == 5)
    await asyncio.sleep(0.3)
    # each line once, in order; a line the stopped process had taken when it stopped may carry the outbox's
    # in-doubt note (docs/complaints.md: the one in-doubt window is marked), never a second copy
    assert [_no_note(s.text) for s in fake.to(team) if s.text.startswith("👤 HT1:")] == [
        f"👤 HT1: câu {i} của em" for i in range(1, 6)]
    assert [_no_note(s.text) for s in fake.to(citizen) if "Dân helper-z:" in s.text] == [
        f"💬 Dân helper-z: trả lời {i}" for i in range(1, 6)]

    ended = joined(await zalo.say_in(team, "/ketthuc HT1", "helper-z"))
    assert "Đã kết thúc HT1".lower() in ended.lower()
    await _until(lambda: any("đã kết thúc cuộc trò chuyện" in s.text for s in fake.to(citizen)))
    assert "5/5" in joined(await zalo.say("5"))  # the rating, typed
    t = await zalo.dispatcher.services.extras["handoff_repo"].get(1)
    assert (t.status, t.rating) == ("closed", 5)


async def test_staff_registered_with_an_invite_code_can_take_a_ticket(settings: Settings, kb: KnowledgeBase) -> None:
    """A Zalo-style helper who was never listed: an admin's /moi code for the team, then /nhan by typing."""
    import re

    driver = await TerminalDriver(settings.model_copy(update={"admin_ids": "terminal:admin"}), kb).start()
    try:
        d = driver.dispatcher

        async def as_user(user: str, text: str) -> str:
            out = await d.handle(to_incoming(text, user))
            return "\n".join(r.text for r in out.replies)

        await driver.say("cho tôi nói chuyện với cán bộ")
        await driver.say("Long Xuyên")
        assert "chưa có trong tổ" in await as_user("newbie", "/nhan HT1")
        await as_user("admin", "/moi")
        code = re.search(r"[A-Z2-9]{8}", await as_user("admin", "Tổ công nghệ số cộng đồng phường Long Xuyên")).group(0)
        assert "chào mừng" in await as_user("newbie", f"/hotro {code}")
        assert "đã nhận HT1" in await as_user("newbie", "/nhan HT1")
        assert (await d.services.extras["handoff_repo"].get(1)).claimed_by == "terminal:newbie"
    finally:
        await driver.close()


async def test_the_card_says_what_the_citizen_was_asking_about(terminal: TerminalDriver) -> None:
    await terminal.say("đăng ký khai sinh cần giấy tờ gì")
    asked = joined(await terminal.say("cho tôi nói chuyện với cán bộ"))
    assert "xã, phường nào" in asked
    await terminal.say("Long Xuyên")
    text = (await card_rows(terminal))[0].payload["text"]
    assert "Đang hỏi về: Đăng ký khai sinh" in text and "Lý do: xin gặp người thật" in text
    assert "Kênh: thử nghiệm" in text and "không để lại số" in text
    # the phone number goes to the team only when the citizen chooses to leave it
    assert "số điện thoại" in joined(await terminal.press("Để lại số điện thoại"))
    assert "chưa đúng" in joined(await terminal.say("12345"))
    saved = joined(await terminal.say("0912 345 678"))  # queued for the team's chat, not yet "sent"
    assert "đã ghi số 0912345678 và đang báo cho" in saved and "đã gửi" not in saved
    notes = [r.payload["text"] for r in await terminal.dispatcher.services.store.outbox_rows()]
    assert "HT1: người dân để lại số điện thoại 0912345678." in notes
    assert (await terminal.dispatcher.services.extras["handoff_repo"].get(1)).phone == "0912345678"


async def test_the_card_names_a_recent_complaint_code(terminal: TerminalDriver) -> None:
    from handlers.complaint_ops import ComplaintOps

    await terminal.say("/start")
    session = await terminal.dispatcher.services.store.load("terminal", "citizen-1", "citizen-1")
    ops: ComplaintOps = terminal.dispatcher.services.extras["complaint_ops"]
    c = await ops.submit(user_id=session.user_id, channel="terminal", chat_id="citizen-1",
                         draft={"topic": "portal", "description": "Cổng báo lỗi khi nộp hồ sơ khai sinh"})
    await terminal.say("gặp người thật")
    await terminal.say("Long Xuyên")
    text = (await card_rows(terminal))[0].payload["text"]
    assert f"┃ Phản ánh gần nhất: {c.code}" in text


async def test_zalo_citizen_leaving_by_menu_rates_by_typing_the_number(zalo: ZaloDriver) -> None:
    """"menu" in a live chat ends it and asks the rating: on Zalo (numbered choices) typing "1" must rate 1,
    not open the menu's first item; the menu's items follow the rating's five numbers."""
    fake, citizen, team = zalo.fake, zalo.chat_id, "-team-lx"
    await zalo.say("gặp người thật")
    assert "em đang báo" in joined(await zalo.say("phuong long xuyen"))
    await fake.wait_for(team, 1)
    await zalo.say_in(team, "/nhan HT1", "helper-z")
    await _until(lambda: any("đã nhận và sẽ trò chuyện" in s.text for s in fake.to(citizen)))
    left = joined(await zalo.say("menu"))
    assert left.index("rời cuộc trò chuyện") < left.index("cần em giúp việc gì")
    assert "em đang báo cho người hỗ trợ" in left  # the note is queued for the helper's chat, not yet delivered
    assert "1/5" in joined(await zalo.say("1"))
    t = await zalo.dispatcher.services.extras["handoff_repo"].get(1)
    assert (t.status, t.closed_by, t.rating) == ("closed", "citizen", 1)


async def test_the_commune_said_in_a_sentence_or_an_address_and_the_request_repeated(terminal: TerminalDriver) -> None:
    """An old citizen answers "xã, phường nào?" in a sentence, repeats the request, or gives the address."""
    await terminal.say("gặp người thật")
    again = joined(await terminal.say("cho tôi nói chuyện với cán bộ"))
    assert "chưa tìm thấy" not in again and "xã, phường nào" in again
    told = joined(await terminal.say("dạ tôi ở phường Long Xuyên"))
    assert "em đang báo cho Tổ công nghệ số cộng đồng phường Long Xuyên" in told
    assert {r.chat_id for r in await card_rows(terminal)} == {"-team-lx", "team-lx"}  # one card to each chat
    assert "đã huỷ" in joined(await terminal.say("Kết thúc"))
    second = TerminalDriver(terminal.settings, terminal.kb, user="citizen-2")
    second.dispatcher = terminal.dispatcher
    await second.say("tôi không biết làm")
    assert "em đang báo" in joined(await second.say("số 12 Trần Hưng Đạo, phường Long Xuyên"))


async def test_a_zalo_card_asks_for_typed_commands_not_a_button_nobody_can_press(zalo: ZaloDriver) -> None:
    """In a Zalo group the numbered "1. Nhận" cannot be chosen and nothing can be replied to: the card and the
    "taken" note say what to type."""
    fake, team = zalo.fake, "-team-lx"
    await zalo.say("gặp người thật")
    await zalo.say("phuong long xuyen")
    card = (await fake.wait_for(team, 1))[0].text
    assert "Gõ /nhan HT1 để nhận" in card
    assert "Bấm" not in card and "Gõ 1" not in card and "Trả lời tin này" not in card
    taken = joined(await zalo.say_in(team, "/nhan HT1", "helper-z"))
    assert "gõ /traloi HT1 nội dung" in taken and "trả lời tin này" not in taken


async def test_the_citizen_ends_the_chat_saying_it_politely(terminal: TerminalDriver) -> None:
    """"Dạ kết thúc ạ", "Cảm ơn cháu, kết thúc nhé" end the chat as "Kết thúc" does; "kết thúc hồ sơ" is a message."""
    d = terminal.dispatcher
    for n, words in enumerate(["Dạ kết thúc ạ", "Cảm ơn cháu, kết thúc nhé"], start=1):
        await terminal.say("gặp người thật")
        if n == 1:
            await terminal.say("phường Long Xuyên")
        await d.handle(to_incoming(f"/nhan HT{n}", "helper-t"))
        assert await terminal.say("bước kết thúc hồ sơ là gì") == []  # relayed to the helper
        ended = joined(await terminal.say(words))
        assert "em đã kết thúc cuộc trò chuyện" in ended and "1 = chưa tốt" in ended
        t = await d.services.extras["handoff_repo"].get(n)
        assert (t.status, t.closed_by) == ("closed", "citizen")


async def test_on_zalo_the_citizens_first_answer_1_goes_to_the_helper(zalo: ZaloDriver) -> None:
    """The helper asks "bác chọn 1 hay 2?": the citizen's "1" is a message, not the pushed "1. Kết thúc"."""
    fake, team, citizen = zalo.fake, "-team-lx", zalo.chat_id
    await zalo.say("gặp người thật")
    await zalo.say("phuong long xuyen")
    await fake.wait_for(team, 1)
    await zalo.say_in(team, "/nhan HT1", "helper-z")
    await _until(lambda: any("đã nhận và sẽ trò chuyện" in s.text for s in fake.to(citizen)))
    assert 'gõ "Kết thúc"' in [s.text for s in fake.to(citizen) if "đã nhận" in s.text][0]
    await zalo.say_in("helper-z", "Bác chọn 1 hay 2 ạ?", "helper-z")  # the helper's private chat with the bot
    await _until(lambda: any("chọn 1 hay 2" in s.text for s in fake.to(citizen)))
    assert await zalo.say("1") == []
    await _until(lambda: any(s.text == "👤 HT1: 1" for s in fake.to(team)))  # where the helper took it
    assert (await zalo.dispatcher.services.extras["handoff_repo"].get(1)).status == "live"
