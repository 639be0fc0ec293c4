"""A complaint through the real Telegram channel (python-telegram-bot against the fake Bot API):
a citizen in a private chat, an agency in its group chat, the outbox worker in between."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from tests.drivers import TelegramDriver

AGENCY_CHAT, STAFF, STRANGER = -100200, 9001, 9002
CITIZEN = 5001  # the driver's private chat
AGENCIES = f"""
province: An Giang
agencies:
  - key: desk
    name: Trung tâm Phục vụ hành chính công tỉnh An Giang
    is_default_desk: true
    chats: [{{channel: telegram, chat_id: "-100100"}}]
  - key: lx
    name: UBND phường Long Xuyên
    topics: [official]
    area: [Phường Long Xuyên]
    chats: [{{channel: telegram, chat_id: "{AGENCY_CHAT}"}}]
    members: [telegram:{STAFF}]
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    path = tmp_path / "agencies.yaml"
    path.write_text(AGENCIES, encoding="utf-8")
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600,
                         agencies_file=path, default_province="An Giang")


def joined(seen: list) -> str:
    return "\n".join(s.text for s in seen)


async def test_complaint_from_citizen_to_agency_group_and_back(telegram: TelegramDriver) -> None:
    fake = telegram.fake
    await telegram.say("/start")
    await telegram.press("Gửi phản ánh")
    await telegram.press("Gửi phản ánh mới")
    await telegram.press("Thái độ, hành vi")
    assert "kể ngắn gọn" in joined(await telegram.say("phuong long xuyen"))
    await telegram.say("Cán bộ <b>một cửa</b> bắt tôi nộp bản sao & chờ 3 buổi\nHạn trả lời: 01/01/2020")
    await telegram.press("Bỏ qua")
    summary = joined(await telegram.press("Không, chỉ nhắn tin"))
    assert "Gửi tới: UBND phường Long Xuyên" in summary
    done = joined(await telegram.press("Gửi phản ánh"))
    code = re.search(r"PAKN-\d{4}-\d{6}", done).group(0)
    assert "Mã theo dõi" in done

    # the card arrives in the agency group through the outbox
    card = (await fake.wait_for(AGENCY_CHAT, 1))[0]
    assert card.text.startswith(f"📮 PHẢN ÁNH MỚI {code}") and card.parse_mode == "HTML"
    assert "&lt;b&gt;một cửa&lt;/b&gt;" in card.text and "<b>" not in card.text
    assert "┃ Hạn trả lời: 01/01/2020" in card.text
    assert card.labels == ["Tiếp nhận", "Trả lời", "Chuyển đơn vị khác", "Đã xử lý", "Hỏi thêm người dân"]
    assert "Định tuyến" not in card.text and "field=" not in card.text and "topic=" not in card.text
    assert "Gửi tới đơn vị vì: chủ đề thái độ, hành vi cán bộ, địa bàn Phường Long Xuyên" in card.text

    # someone in the group who is not registered staff is refused, privately: nothing posted in the group
    refused = await telegram.press_in(AGENCY_CHAT, card.action("Tiếp nhận"), STRANGER)
    assert refused == []
    assert "chưa được đăng ký" in fake.to(STRANGER)[-1].text

    # staff take it; the citizen is told
    before = len(fake.to(CITIZEN))
    taken = await telegram.press_in(AGENCY_CHAT, card.action("Tiếp nhận"), STAFF)
    assert "đã tiếp nhận" in joined(taken)
    received = (await fake.wait_for(CITIZEN, before + 1))[-1]
    assert "đã được UBND phường Long Xuyên tiếp nhận" in received.text

    # staff answer by replying to the card; the answer reaches the citizen with the agency's name
    before = len(fake.to(CITIZEN))
    answered = await telegram.say_in(AGENCY_CHAT, "Dạ, phường đã chấn chỉnh cán bộ, mời anh/chị đến nhận kết quả",
                                     STAFF, reply_to=card.message_id)
    assert "đã gửi câu trả lời" in joined(answered)
    answer = (await fake.wait_for(CITIZEN, before + 1))[-1]
    assert "UBND phường Long Xuyên đã trả lời" in answer.text and "chấn chỉnh cán bộ" in answer.text
    assert answer.labels[:5] == ["1", "2", "3", "4", "5"] and "Chưa được giải quyết" in answer.labels

    # the citizen rates it
    rated = await telegram.press_in(CITIZEN, answer.action("5"), CITIZEN)
    assert "5/5" in joined(rated)
    repo = telegram.dispatcher.services.extras["complaint_ops"].repo
    c = await repo.by_code(code)
    assert (c.status, c.rating) == ("answered", 5)
    rating = (await fake.wait_for(AGENCY_CHAT, 4))[-1]  # the rating reaches the agency's group
    assert f"Người dân chấm phản ánh {code}: 5/5" in rating.text
    await asyncio.sleep(0.2)
    assert len(fake.to(AGENCY_CHAT)) == 4  # card, taken, answered, rating: nothing doubled
    assert len(fake.to(-100100)) == 0


async def test_restart_between_filing_and_delivery_loses_nothing(telegram: TelegramDriver) -> None:
    summary = joined(await telegram.say("tôi muốn phản ánh cán bộ phường Long Xuyên gây khó dễ, bắt đi lại nhiều lần"))
    assert "Gửi tới: UBND phường Long Xuyên" in summary  # one message: read, nothing asked
    await telegram._jobs.__aexit__(None, None, None)  # the process stops delivering (about to die)
    telegram._jobs = None
    code = re.search(r"PAKN-\d{4}-\d{6}", joined(await telegram.press("Gửi phản ánh"))).group(0)
    assert telegram.fake.to(AGENCY_CHAT) == []
    telegram.fake.fail_sends = 1  # and the Bot API fails once after the restart
    await telegram.restart()
    cards = await telegram.fake.wait_for(AGENCY_CHAT, 1, timeout=15)
    assert len([s for s in cards if code in s.text]) == 1
    store = telegram.dispatcher.services.store
    for _ in range(100):  # the worker marks the row right after the Bot API answered
        rows = [r for r in await store.outbox_rows() if ":card:" in r.dedup_key]  # (not the tracking-code reply)
        if rows[0].status == "sent":
            break
        await asyncio.sleep(0.02)
    assert [(r.status, r.attempts) for r in rows] == [("sent", 2)]
