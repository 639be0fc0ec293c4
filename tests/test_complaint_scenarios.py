"""Complaints through every channel (terminal, Telegram, Zalo, web chat): a complaint told in one message, a ward
of another province, a rating that reaches the agency; and Zalo staff who act by typing codes."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings, load_settings
from handlers.types import Incoming
from tests.drivers import Driver, Seen

CODE = re.compile(r"PAKN-\d{4}-\d{6}")
TG_DESK, TG_WARD = "-100100", "-100200"  # Telegram agency groups
TG_STAFF = 9001
ZALO_STAFF = "zstaff"  # a Zalo staff member: the desk's cards come to their private chat with the bot
AGENCIES = f"""
province: An Giang
agencies:
  - key: desk
    name: Trung tâm Phục vụ hành chính công tỉnh An Giang
    is_default_desk: true
    chats: [{{channel: telegram, chat_id: "{TG_DESK}"}}, {{channel: zalo, chat_id: "{ZALO_STAFF}"}},
            {{channel: terminal, chat_id: "desk"}}]
    members: [telegram:{TG_STAFF}, terminal:staff]
  - key: rachgia
    name: UBND phường Rạch Giá
    topics: [local]
    area: [Phường Rạch Giá]
    chats: [{{channel: telegram, chat_id: "{TG_WARD}"}}, {{channel: zalo, chat_id: "{ZALO_STAFF}"}},
            {{channel: terminal, chat_id: "ward"}}]
    members: [telegram:{TG_STAFF}, terminal:staff]
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    path = tmp_path / "agencies.yaml"
    path.write_text(AGENCIES, encoding="utf-8")
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600,
                         agencies_file=path, default_province="An Giang", admin_ids="zalo:zadmin")


def joined(seen: list[Seen]) -> str:
    return "\n".join(s.text for s in seen)


def is_summary(seen: list[Seen]) -> bool:
    return "xem lại phản ánh" in joined(seen)


async def file_one_message(channel: Driver, text: str, answers: list[str]) -> tuple[str, str]:
    """Say ``text``; answer each question asked before the summary from ``answers``; send. (summary, code)"""
    seen = await channel.say(text)
    asked = 0
    while not is_summary(seen):
        assert asked < len(answers), f"asked more than {len(answers)} question(s): {joined(seen)}"
        seen = await channel.say(answers[asked])
        asked += 1
    summary = joined(seen)
    done = joined(await channel.press("Gửi phản ánh"))
    m = CODE.search(done)
    assert m, done
    return summary, m.group(0)


async def agency_texts(channel: Driver, chat: dict[str, str], count: int) -> list[str]:
    """What the agency's chat on this channel received (the outbox rows for the terminal, which sends none).
    A citizen on the web chat has the agency at its terminal desk (agencies work on Telegram, Zalo, the terminal)."""
    if channel.name in ("terminal", "webchat"):
        rows = await channel.dispatcher.services.store.outbox_rows()
        return [r.payload["text"] for r in rows if r.channel == "terminal" and r.chat_id == chat["terminal"]]
    fake: Any = channel.fake  # type: ignore[attr-defined]
    return [s.text for s in await fake.wait_for(chat[channel.name], count)]


async def staff_says(channel: Driver, chat: dict[str, str], text: str) -> str:
    """A staff member of the agency types ``text`` where they work on this channel."""
    if channel.name == "telegram":
        return joined(await channel.say_in(int(chat["telegram"]), text, TG_STAFF))  # type: ignore[attr-defined]
    if channel.name == "zalo":
        return joined(await channel.say_in(ZALO_STAFF, text, ZALO_STAFF))  # type: ignore[attr-defined]
    out = await channel.dispatcher.handle(Incoming("terminal", "staff", chat["terminal"], "text", text=text))
    return "\n".join(r.text for r in out.replies)


async def arrives(fake: Any, chat: Any, needle: str) -> Any:
    """The first message to ``chat`` containing ``needle``, once the outbox delivered it."""
    for _ in range(200):
        found = [s for s in fake.to(chat) if needle in s.text]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {needle!r} in {[s.text[:50] for s in fake.to(chat)]}")


DESK = {"telegram": TG_DESK, "zalo": ZALO_STAFF, "terminal": "desk"}
WARD = {"telegram": TG_WARD, "zalo": ZALO_STAFF, "terminal": "ward"}


async def register_zalo_staff(channel: Driver) -> None:
    """On Zalo the staff member registers with invite codes an administrator made with /taomoi (one per agency)."""
    if channel.name != "zalo":
        return
    for choice in ("1", "2"):  # the desk, then the ward
        assert "đơn vị nào" in joined(await channel.say_in("zadmin", "/taomoi", "zadmin"))  # type: ignore[attr-defined]
        made = joined(await channel.say_in("zadmin", choice, "zadmin"))  # type: ignore[attr-defined]
        code = re.search(r"DV-[A-Z0-9]+", made).group(0)  # type: ignore[union-attr]
        ok = joined(await channel.say_in(ZALO_STAFF, f"/dangky {code}", ZALO_STAFF))  # type: ignore[attr-defined]
        assert "đã được đăng ký" in ok


async def test_road_complaint_in_one_message_asks_nothing(channel: Driver) -> None:
    summary, code = await file_one_message(channel, "đường ở phường Rạch Giá bị hư nặng, ổ gà nhiều, đề nghị sửa", [])
    assert "Chủ đề: Đường sá, cầu, hẻm" in summary and "Nơi xảy ra: Phường Rạch Giá, An Giang" in summary
    assert "Gửi tới: UBND phường Rạch Giá" in summary
    assert "ổ gà nhiều, đề nghị sửa" in summary
    card = (await agency_texts(channel, WARD, 1))[0]
    assert card.startswith(f"📮 PHẢN ÁNH MỚI {code}") and "Gửi tới đơn vị vì: việc ở địa phương" in card
    assert "Định tuyến" not in card and "topic=" not in card
    if channel.name != "telegram":  # no buttons: the card says what to type
        assert f"2 {code}" in card and "Bấm" not in card


async def test_street_light_complaint_asks_only_the_ward(channel: Driver) -> None:
    summary, code = await file_one_message(channel, "đèn đường hư cả tháng không ai sửa", ["phuong rach gia"])
    assert "Chủ đề: Đèn đường, chiếu sáng" in summary and "Thời gian: cả tháng" in summary
    assert "Gửi tới: UBND phường Rạch Giá" in summary
    assert any(code in t for t in await agency_texts(channel, WARD, 1))


async def test_a_ward_of_another_province_is_not_routed_here(channel: Driver) -> None:
    seen = await channel.say("phường Quy Nhơn có cống bị nghẹt, mưa là ngập, đề nghị nạo vét")
    text = joined(seen)
    assert "Phường Quy Nhơn, Gia Lai thuộc tỉnh Gia Lai" in text and "tỉnh An Giang" in text
    assert "dichvucong.gov.vn" in text and "Gửi tới" not in text
    seen = await channel.press("Huỷ")
    store = channel.dispatcher.services.store
    assert not [r for r in await store.outbox_rows() if r.chat_id in (TG_DESK, TG_WARD, ZALO_STAFF, "desk", "ward")]
    # typed at the commune question too: still said plainly, and the draft goes on once a ward here is given
    await channel.say("cống thoát nước bị nghẹt, mưa là ngập tới gối, đề nghị nạo vét")
    text = joined(await channel.say("phuong quy nhon"))
    assert "thuộc tỉnh Gia Lai" in text and "dichvucong.gov.vn" in text
    assert "xem lại phản ánh" in joined(await channel.say("phường Rạch Giá"))


async def test_rating_and_comment_reach_the_agency(channel: Driver) -> None:
    await register_zalo_staff(channel)
    _, code = await file_one_message(channel, "đèn đường hẻm 5 phường Rạch Giá tắt cả tuần, đề nghị sửa", [])
    await agency_texts(channel, WARD, 1)
    said = await staff_says(channel, WARD, f"/phanhoi {code} Dạ, điện lực đã thay bóng đèn hẻm 5 hôm nay ạ")
    assert "đã gửi câu trả lời" in said
    ops = channel.dispatcher.services.extras["complaint_ops"]
    c = await ops.repo.by_code(code)
    assert c.status == "answered"
    # the citizen rates it (a button on Telegram, a typed number on Zalo; the terminal presses the action)
    if channel.name == "terminal":
        out = await channel.dispatcher.handle(Incoming("terminal", "citizen-1", "citizen-1", "action",
                                                       action=f"complaint:rate:{c.id}:4"))
        assert "4/5" in out.replies[0].text
        out = await channel.dispatcher.handle(Incoming("terminal", "citizen-1", "citizen-1", "action",
                                                       action=f"complaint:comment:{c.id}"))
    elif channel.name == "telegram":
        fake: Any = channel.fake  # type: ignore[attr-defined]
        answer = await arrives(fake, 5001, "điện lực đã thay bóng")
        assert "4/5" in joined(await channel.press_in(5001, answer.action("4"), 5001))  # type: ignore[attr-defined]
    elif channel.name == "webchat":  # pushed to the page, with its buttons (signed for this session)
        await channel.wait_pushed("điện lực đã thay bóng")  # type: ignore[attr-defined]
        assert "4/5" in joined(await channel.press("4"))
    else:
        fake = channel.fake  # type: ignore[attr-defined]
        await arrives(fake, "zalo-user-1", "điện lực đã thay bóng")
        assert "4/5" in joined(await channel.say("4"))
    if channel.name != "terminal":
        await channel.press("Góp ý thêm")
    await channel.say("Cảm ơn phường, lần sau mong sửa nhanh hơn")
    for _ in range(200):  # the outbox delivers them
        texts = await agency_texts(channel, WARD, 0)
        if any("mong sửa nhanh hơn" in t for t in texts):
            break
        await asyncio.sleep(0.05)
    assert any(f"Người dân chấm phản ánh {code}: 4/5" in t for t in texts)
    assert any("┃ Cảm ơn phường, lần sau mong sửa nhanh hơn" in t for t in texts)


# --- Zalo staff: no buttons, so everything is typed -----------------------------------------------------

@pytest.fixture
async def zalo(settings: Settings, kb: Any) -> Any:
    from tests.drivers import ZaloDriver
    from tests.fake_zalo import TOKEN as ZALO_TOKEN
    from tests.fake_zalo import FakeZalo

    async with FakeZalo() as fake:
        z_settings = settings.model_copy(update={"zalo_bot_token": ZALO_TOKEN, "zalo_base_url": fake.base_url})
        driver = await ZaloDriver(z_settings, kb, fake).start()
        yield driver
        await driver.close()


async def test_zalo_staff_answer_the_third_newest_card_by_code(zalo: Any) -> None:
    await register_zalo_staff(zalo)
    codes = []
    for text in ("rác thải ùn ứ ở chợ phường Rạch Giá, bốc mùi cả tuần nay, đề nghị thu gom",
                 "đèn đường hẻm 9 phường Rạch Giá tắt cả tháng, đề nghị sửa",
                 "nắp cống trước trường học phường Rạch Giá bị mất, rất nguy hiểm, đề nghị xử lý",
                 "quán nhậu ở phường Rạch Giá mở loa kẹo kéo hát tới 1 giờ sáng, đề nghị nhắc nhở"):
        codes.append((await file_one_message(zalo, text, []))[1])
    cards = [await arrives(zalo.fake, ZALO_STAFF, f"PHẢN ÁNH MỚI {code}") for code in codes]
    assert all("Gõ số để chọn việc" in c.text and "Bấm" not in c.text for c in cards)  # says what to type

    # the newest card's numbers, and they stay valid after an action: "1" (acknowledge), then "2" (answer)
    newest = codes[-1]
    out = joined(await zalo.say_in(ZALO_STAFF, "1", ZALO_STAFF))
    assert f"đã tiếp nhận phản ánh {newest}" in out
    out = joined(await zalo.say_in(ZALO_STAFF, "2", ZALO_STAFF))
    assert f"gõ nội dung trả lời phản ánh {newest}" in out
    out = joined(await zalo.say_in(ZALO_STAFF, "Dạ, công an phường đã nhắc nhở chủ quán ạ", ZALO_STAFF))
    assert f"đã gửi câu trả lời phản ánh {newest}" in out

    # the open complaints, newest first, with their codes
    listing = joined(await zalo.say_in(ZALO_STAFF, "/danhsach", ZALO_STAFF))
    lines = [line for line in listing.split("\n") if line.startswith("• PAKN-")]
    assert [CODE.search(line).group(0) for line in lines] == codes[-2::-1]  # the answered one is not open
    third_newest = codes[1]

    # the third-newest card, by its code: acknowledge with its number, then answer by typing
    out = joined(await zalo.say_in(ZALO_STAFF, f"1 {third_newest}", ZALO_STAFF))
    assert f"đã tiếp nhận phản ánh {third_newest}" in out
    out = joined(await zalo.say_in(ZALO_STAFF, f"trả lời {third_newest} Dạ, điện lực sẽ thay bóng đèn hẻm 9 trong "
                                               "tuần này ạ", ZALO_STAFF))
    assert f"đã gửi câu trả lời phản ánh {third_newest}" in out
    ops = zalo.dispatcher.services.extras["complaint_ops"]
    statuses = {code: (await ops.repo.by_code(code)).status for code in codes}
    assert statuses == {codes[0]: "new", codes[1]: "answered", codes[2]: "new", codes[3]: "answered"}
    await arrives(zalo.fake, "zalo-user-1", "điện lực sẽ thay bóng đèn hẻm 9")
    # then its numbers: "4" closes that same card
    assert f"đã đánh dấu phản ánh {third_newest}" in joined(await zalo.say_in(ZALO_STAFF, "4", ZALO_STAFF))

    # and the other commands by code: ask the citizen for more, close, reopen
    out = joined(await zalo.say_in(ZALO_STAFF, f"hỏi thêm {codes[0]} Anh/chị cho biết rác ở cổng nào của chợ ạ",
                                   ZALO_STAFF))
    assert "đã gửi câu hỏi" in out
    await arrives(zalo.fake, "zalo-user-1", "rác ở cổng nào của chợ")
    assert "đã đánh dấu" in joined(await zalo.say_in(ZALO_STAFF, f"/xong {codes[2]}", ZALO_STAFF))
    assert "đã mở lại" in joined(await zalo.say_in(ZALO_STAFF, f"mở lại {codes[2]} chưa lắp nắp mới", ZALO_STAFF))
    assert (await ops.repo.by_code(codes[2])).status == "reopened"
    out = joined(await zalo.say_in(ZALO_STAFF, f"chuyển {codes[0]} desk rác ở chợ do trung tâm quản lý", ZALO_STAFF))
    assert "đã chuyển phản ánh" in out
    assert (await ops.repo.by_code(codes[0])).agency_key == "desk"


async def test_zalo_non_staff_cannot_act_by_code(zalo: Any) -> None:
    _, code = await file_one_message(zalo, "đường ở phường Rạch Giá bị hư nặng, ổ gà nhiều, đề nghị sửa", [])
    out = joined(await zalo.say_in("stranger", f"/xong {code}", "stranger"))
    assert "chưa được đăng ký" in out
    ops = zalo.dispatcher.services.extras["complaint_ops"]
    assert (await ops.repo.by_code(code)).status == "new"
    # typed without "/", the same words from a citizen are just a message, not a staff action
    out = joined(await zalo.say_in("stranger", f"trả lời {code} xong rồi nhé", "stranger"))
    assert "đã gửi câu trả lời" not in out


async def test_the_send_button_typed_in_words(channel: Driver) -> None:
    """On a phone without buttons (Zalo) or out of habit, citizens type the button's first word: "dạ gửi đi ạ" sends
    the summary (it once read "gửi" as a question about sending papers by post); "sửa" alone, which starts four
    buttons, does not pick one."""
    seen = await channel.say("đèn đường ở phường Rạch Giá hư cả tháng nay không ai sửa")
    assert is_summary(seen), joined(seen)
    which = await channel.say("sửa")
    labels = [label for s in which for label in s.labels]
    assert "chọn giúp em một mục" in joined(which) and len(labels) >= 3, joined(which)
    assert all(label.startswith("Sửa") for label in labels), labels
    assert not CODE.search(joined(which))
    done = joined(await channel.say("dạ gửi đi ạ"))  # the summary's send button, still reachable by its name
    assert CODE.search(done), done
    assert "bưu chính" not in done
