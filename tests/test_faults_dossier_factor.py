"""The dossier lookup's second factor against guessing with many accounts (issue 20, B2.7).

Wrong phone digits on one code are counted across accounts: every 10 within a day lock the
code for whoever never verified it (15 minutes, then 1 hour, then the rest of the day), the same
for unknown codes (nothing to probe), and the owning agency's chat is told through the outbox.
``DOSSIER_FACTOR_DIGITS=6`` asks for 6 digits instead of 4.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.dossier_import import import_csv_command
from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from knowledge.base import KnowledgeBase
from tests.test_dossiers import Clock, bot, clock, csv_file, say, text_of  # noqa: F401  (fixtures)

CODE = "H21.22-250312-0005"  # ubnd-p1, phone 0912345678
LOCKED = "tạm dừng tra cứu mã này"


async def test_wrong_tries_from_many_accounts_lock_the_code_and_alert_the_agency(bot: Dispatcher,  # noqa: F811
                                                                                 clock: Clock) -> None:  # noqa: F811
    services = bot.services
    services.extras["agency_chats"] = lambda key: [("telegram", "-1001")] if key == "ubnd-p1" else []
    # The applicant looked the dossier up before.
    await say(bot, CODE, user="owner")
    assert "Đang xử lý" in text_of(await say(bot, "5678", user="owner"))

    # Four throw-away accounts, three wrong tries each (each within its own per-account limit).
    replies = []
    for account in range(4):
        user = f"guesser-{account}"
        await say(bot, CODE, user=user)
        for i in range(3):
            replies.append(text_of(await say(bot, f"{account}{i}00", user=user)))
    assert all(LOCKED not in r for r in replies[:10])  # the 10th wrong try is still answered "not found"
    assert all(LOCKED in r for r in replies[10:])  # then the code is locked for every account
    assert "15 phút" in replies[10]
    # Even the right digits from a new account wait; the applicant who verified before does not.
    await say(bot, CODE, user="newcomer")
    locked = text_of(await say(bot, "5678", user="newcomer"))
    assert LOCKED in locked and "Đang xử lý" not in locked
    await say(bot, CODE, user="owner")
    assert "Đang xử lý" in text_of(await say(bot, "5678", user="owner"))

    # The agency's chat is told once, with counts and the code only (no name, no phone).
    rows = [r for r in await services.store.outbox_rows() if r.dedup_key.startswith(f"dossier-guess:{CODE}:")]
    assert len(rows) == 1 and (rows[0].channel, rows[0].chat_id) == ("telegram", "-1001")
    text = rows[0].payload["text"]
    assert CODE in text and "10 lần" in text and "4 tài khoản" in text
    assert "Nguyễn" not in text and "0912" not in text and "5678" not in text

    # After the 15 minutes anyone may try again; from then on each wrong try locks the code for another
    # 15 minutes (about 4 guesses an hour), and the 20th locks it for an hour and alerts the agency again.
    clock.advance(minutes=15, seconds=1)
    await say(bot, CODE, user="newcomer")
    assert "Đang xử lý" in text_of(await say(bot, "5678", user="newcomer"))
    for account in range(4, 14):
        user = f"guesser-{account}"
        await say(bot, CODE, user=user)
        assert LOCKED not in text_of(await say(bot, "1000", user=user))
        await say(bot, CODE, user=f"{user}-b")
        assert LOCKED in text_of(await say(bot, "1001", user=f"{user}-b"))
        clock.advance(minutes=15, seconds=1)
    clock.advance(minutes=-15)
    await say(bot, CODE, user="late")
    assert "60 phút" in text_of(await say(bot, "1111", user="late"))
    rows = [r for r in await services.store.outbox_rows() if r.dedup_key.startswith(f"dossier-guess:{CODE}:")]
    assert len(rows) == 2 and "20 lần" in rows[1].payload["text"]


async def test_an_unknown_code_is_locked_the_same_way(bot: Dispatcher) -> None:  # noqa: F811
    unknown = "H21.22-250101-0099"
    texts = []
    for account in range(4):
        await say(bot, unknown, user=f"prober-{account}")
        for i in range(3):
            texts.append(text_of(await say(bot, f"{account}{i}11", user=f"prober-{account}")))
    assert LOCKED not in texts[9] and LOCKED in texts[10]
    await say(bot, CODE, user="x")
    await say(bot, unknown, user="y")
    # The same answer as for an existing code: a lock reveals nothing.
    assert not [r for r in await bot.services.store.outbox_rows() if r.dedup_key.startswith("dossier-guess:")]


@pytest.fixture
async def bot6(settings: Settings, kb: KnowledgeBase, clock: Clock,  # noqa: F811
               csv_file: Path) -> AsyncIterator[Dispatcher]:  # noqa: F811
    six = settings.model_copy(update={"dossier_factor_digits": 6})
    assert await import_csv_command(six, csv_file) == 0
    dispatcher = await build_dispatcher(six, kb=kb, clock=clock)
    yield dispatcher
    await dispatcher.services.store.close()


async def test_a_six_digit_factor(bot6: Dispatcher) -> None:
    asked = text_of(await say(bot6, CODE))
    assert "6 số cuối" in asked
    assert "đúng 6 chữ số" in text_of(await say(bot6, "5678"))  # four digits are not enough
    assert "chưa tìm thấy" in text_of(await say(bot6, "305678"))
    assert "Đang xử lý" in text_of(await say(bot6, "345678"))
    await say(bot6, CODE, user="other")
    assert "Đang xử lý" in text_of(await say(bot6, "0912 345 678", user="other"))  # the whole number works
