"""A guided submission asked for in words, on Telegram, survives ``kill -9`` of the bot process and
resumes at the same step (the progress lives in the database, not in the process)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.fake_telegram import TOKEN, FakeTelegram, Sent
from tests.test_server import ROOT, BotProcess

CHAT = 7301


async def _turn(tg: FakeTelegram, make_update) -> list[Sent]:  # type: ignore[no-untyped-def]
    """Send one update and wait until the bot answered it (at least one new message)."""
    before = len(tg.to(CHAT))
    make_update()
    await tg.wait_for(CHAT, before + 1, timeout=30)
    await asyncio.sleep(0.3)  # a turn may send several messages
    return tg.to(CHAT)[before:]


def _last_with_buttons(sent: list[Sent]) -> Sent:
    return next(s for s in reversed(sent) if s.buttons)


@pytest.mark.slow
async def test_guide_from_words_survives_kill_9_and_resumes_at_the_same_step(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL"))}
        env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
                    "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": tg.base_url})
        async with BotProcess(tmp_path, env, "run") as bot:
            sent = await _turn(tg, lambda: tg.text(CHAT, "hướng dẫn nộp khai sinh online"))
            assert "Câu hỏi 1/" in sent[-1].text and "Đăng ký khai sinh" in "\n".join(s.text for s in sent)
            screen = _last_with_buttons(sent)
            for _ in range(12):  # answer "Có", then "Tiếp", until step 3
                if "Bước 3/" in screen.text:
                    break
                label = "Có" if "Câu hỏi" in screen.text else "Tiếp"
                data = screen.action(label)
                sent = await _turn(tg, lambda data=data: tg.press(CHAT, data))
                screen = _last_with_buttons(sent)
            assert "Bước 3/" in screen.text, screen.text
            step_text = screen.text
            assert await bot.stop(signal.SIGKILL) == -signal.SIGKILL  # no chance to save anything more
        async with BotProcess(tmp_path, env, "run") as bot:
            sent = await _turn(tg, lambda: tg.text(CHAT, "/start"))
            joined = "\n".join(s.text for s in sent)
            assert "bước 3/" in joined  # the menu offers to continue where it stopped
            resume = next(s for s in sent if any("Tiếp tục" in label for label in s.labels))
            data = resume.action("Tiếp tục")
            sent = await _turn(tg, lambda: tg.press(CHAT, data))
            again = _last_with_buttons(sent)
            assert "Bước 3/" in again.text
            assert again.text == step_text  # the same screen, not the start of the guide
            await bot.stop(signal.SIGTERM)
        assert "Traceback" not in bot.output()
