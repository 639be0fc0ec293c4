"""Scenario tests of the core, run through every channel (terminal, Telegram, ...)."""

from __future__ import annotations

import pytest

from tests.drivers import Driver

MENU = ["Hỏi thủ tục", "Hướng dẫn nộp trực tuyến", "Tra cứu hồ sơ", "Gửi phản ánh", "Gặp người hỗ trợ"]


def joined(seen: list) -> str:
    return "\n".join(s.text for s in seen)


async def test_start_greets_and_shows_menu(channel: Driver) -> None:
    seen = await channel.say("/start")
    assert "Dạ, em chào anh/chị" in seen[0].text
    assert seen[0].labels == MENU


@pytest.mark.parametrize("question", ["làm giấy khai sinh cho con", "lam giay khai sinh cho con",
                                      "ĐĂNG KÝ KHAI SINH", "đăng ky\u0301 khai sinh"])
async def test_question_with_and_without_diacritics_gets_the_card(channel: Driver, question: str) -> None:
    seen = await channel.say(question)
    text = joined(seen)
    assert "ĐĂNG KÝ KHAI SINH" in text.upper()
    assert "Cơ quan giải quyết" in text and "Phí, lệ phí" in text and "Thời hạn" in text
    assert "Giấy chứng sinh" in text
    assert "Cổng Dịch vụ công là căn cứ chính thức" in text


@pytest.mark.parametrize("question", ["làm giấy khai sinh cho con ở đâu", "lam giay khai sinh cho con o dau"])
async def test_question_with_an_aspect_gets_that_aspect_first(channel: Driver, question: str) -> None:
    seen = await channel.say(question)
    text = joined(seen)
    assert "Nộp ở đâu — \"Đăng ký khai sinh\"" in text
    assert "Trực tiếp:" in text
    assert "Giấy tờ" in seen[-1].labels and "Phí và thời hạn" in seen[-1].labels  # the card's choices


async def test_button_press_shows_detail(channel: Driver) -> None:
    await channel.say("đăng ký khai sinh")
    seen = await channel.press("Các bước nộp")
    text = joined(seen)
    assert "Các bước nộp trực tuyến" in text
    assert "1. " in text and "VNeID" in text


async def test_restart_in_the_middle_continues(channel: Driver) -> None:
    await channel.say("đăng ký khai sinh")
    await channel.restart()
    seen = await channel.press("Giấy tờ")  # the choices offered before the restart still work
    assert "Giấy tờ cho thủ tục \"Đăng ký khai sinh\"" in joined(seen)


async def test_unknown_question_is_honest(channel: Driver) -> None:
    seen = await channel.say("giá vàng hôm nay bao nhiêu")
    text = joined(seen)
    assert "chưa có thông tin về việc này" in text
    assert "ĐĂNG KÝ" not in text.upper()
    assert "Gặp người hỗ trợ" in seen[-1].labels


async def test_menu_item_not_built_says_so_or_works(channel: Driver) -> None:
    await channel.say("/menu")
    seen = await channel.press("Gặp người hỗ trợ")
    assert "18001096" in joined(seen)


@pytest.mark.parametrize("bad", ["", "   ", "😀😀😀", "<b>đậm</b> & <script>alert(1)</script>",
                                 "'; DROP TABLE users; --", "x" * 10_000])
async def test_bad_input_gets_a_polite_reply_and_bot_stays_up(channel: Driver, bad: str) -> None:
    seen = await channel.say(bad)
    assert seen, "every input gets an answer"
    assert all(s.text.strip() for s in seen)
    assert any("Dạ" in s.text for s in seen)
    after = await channel.say("đăng ký khai sinh")
    assert "khai sinh" in joined(after).lower()
