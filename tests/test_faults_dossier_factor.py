"""The dossier lookup's second factor against guessing with many accounts (issue 20, B2.7).

Wrong phone digits on one code are counted across accounts: every 10 within a day lock the
code for whoever never verified it (15 minutes, then 1 hour, then the rest of the day), the same
for unknown codes (nothing to probe), and the owning agency's chat is told through the outbox.
``DOSSIER_FACTOR_DIGITS=6`` asks for 6 digits instead of 4. ``DOSSIER_ONE_TIME_CODE`` adds a one-time code
sent through the outbox to the chat subscribed to the dossier, asked after the right digits from anyone who
never verified it: valid 10 minutes, 3 tries, at most 3 codes a dossier an hour.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.dossier_import import import_csv_command
from bot.outbox_worker import deliver_once
from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from knowledge.base import KnowledgeBase
from tests.test_dossiers import Clock, Recorder, bot, clock, csv_file, press, say, text_of  # noqa: F401  (fixtures)
from tests.test_dossiers import repo as d_repo

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


# --- the one-time code (DOSSIER_ONE_TIME_CODE) ----------------------------------------------------------

OTHER = "000.00.18.H21-250412-0001"  # ca-p1, phone 0987654321, nobody subscribed
SENT = "mã xác nhận"


@pytest.fixture
async def bot_otp(settings: Settings, kb: KnowledgeBase, clock: Clock,  # noqa: F811
                  csv_file: Path) -> AsyncIterator[Dispatcher]:  # noqa: F811
    otp = settings.model_copy(update={"dossier_one_time_code": True})
    assert await import_csv_command(otp, csv_file) == 0
    dispatcher = await build_dispatcher(otp, kb=kb, clock=clock)
    yield dispatcher
    await dispatcher.services.store.close()


async def otp_rows(d: Dispatcher) -> list[Any]:
    return [r for r in await d.services.store.outbox_rows() if r.dedup_key.startswith("dossier-otp:")]


def otp_in(row: Any) -> str:
    found = re.search(r": (\d{6})\n", row.payload["text"])
    assert found, row.payload["text"]
    return found.group(1)


async def test_a_one_time_code_goes_to_the_subscribed_chat_and_opens_the_dossier(
        bot_otp: Dispatcher, clock: Clock) -> None:  # noqa: F811
    d = bot_otp
    # The applicant looks the dossier up (phone digits only: nobody follows it yet) and subscribes.
    await say(d, CODE, user="owner")
    assert "Đang xử lý" in text_of(await say(d, "5678", user="owner"))
    await press(d, f"dossier:sub:{CODE}", user="owner")
    # Someone else with the right code and digits gets no card: a code goes to the owner's chat.
    await say(d, CODE, user="newcomer")
    asked = text_of(await say(d, "5678", user="newcomer"))
    assert SENT in asked and "Đang xử lý" not in asked and "Nguyễn" not in asked
    [row] = await otp_rows(d)
    assert (row.channel, row.chat_id) == ("terminal", "owner")
    otp = otp_in(row)
    assert CODE in row.payload["text"] and "0912" not in row.payload["text"] and "Nguyễn" not in row.payload["text"]
    # The outbox delivers it to that chat.
    sender = Recorder()
    assert await deliver_once(d.services.store, {"terminal": sender}) >= 1
    assert [(chat, otp in reply.text) for chat, reply in sender.sent if "🔐" in reply.text] == [("owner", True)]
    wrong = "000000" if otp != "000000" else "111111"
    assert "còn 2 lần" in text_of(await say(d, wrong, user="newcomer"))
    assert "6 chữ số" in text_of(await say(d, "12", user="newcomer"))  # not a try
    assert "Đang xử lý" in text_of(await say(d, otp, user="newcomer"))
    # Verified now: the digits alone open it next time, no second code.
    await say(d, CODE, user="newcomer")
    assert "Đang xử lý" in text_of(await say(d, "5678", user="newcomer"))
    assert len(await otp_rows(d)) == 1
    # A dossier nobody follows opens with the phone digits, as without the option.
    await say(d, OTHER, user="newcomer")
    assert "Cần bổ sung" in text_of(await say(d, "4321", user="newcomer"))


async def test_a_one_time_code_expires_allows_three_tries_and_at_most_three_an_hour(
        bot_otp: Dispatcher, clock: Clock) -> None:  # noqa: F811
    d = bot_otp
    await say(d, CODE, user="owner")
    await say(d, "5678", user="owner")
    await press(d, f"dossier:sub:{CODE}", user="owner")
    # Expired after 10 minutes: asked for the digits again.
    await say(d, CODE, user="late")
    assert SENT in text_of(await say(d, "5678", user="late"))
    otp = otp_in((await otp_rows(d))[-1])
    clock.advance(minutes=10, seconds=1)
    expired = text_of(await say(d, otp, user="late"))
    assert "hết hạn" in expired and "Đang xử lý" not in expired
    # Three wrong tries cancel the code: the right one afterwards opens nothing.
    await say(d, CODE, user="guess")
    assert SENT in text_of(await say(d, "5678", user="guess"))
    otp = otp_in((await otp_rows(d))[-1])
    wrongs = [w for w in ("111111", "222222", "333333", "444444") if w != otp][:3]
    texts = [text_of(await say(d, w, user="guess")) for w in wrongs]
    assert "còn 2 lần" in texts[0] and "còn 1 lần" in texts[1] and "huỷ mã" in texts[2]
    assert "Đang xử lý" not in text_of(await say(d, otp, user="guess"))
    # A third code within the hour is sent; a fourth is not (the subscriber is not flooded).
    await say(d, CODE, user="third")
    assert SENT in text_of(await say(d, "5678", user="third"))
    await say(d, CODE, user="fourth")
    refused = text_of(await say(d, "5678", user="fourth"))
    assert "nhiều mã xác nhận" in refused and "Đang xử lý" not in refused
    assert len(await otp_rows(d)) == 3
    clock.advance(hours=1)
    await say(d, CODE, user="fourth")
    assert SENT in text_of(await say(d, "5678", user="fourth"))
    # The owner, verified before, is never asked for a code.
    await say(d, CODE, user="owner")
    assert "Đang xử lý" in text_of(await say(d, "5678", user="owner"))
    assert len(await otp_rows(d)) == 4


async def test_a_repeated_step_reuses_its_one_time_code(bot_otp: Dispatcher) -> None:
    """The turn that sent a code died before its session was saved: the retried step (same action key)
    gets the same code's digest and queues no second message."""
    from storage.dossiers import Notice, otp_matches

    dossiers = d_repo(bot_otp)
    first = await dossiers.issue_one_time_code(CODE, f"otp:7:{CODE}:v3", [("terminal", "owner")],
                                               lambda otp: Notice(f"mã: {otp}\n"))
    again = await dossiers.issue_one_time_code(CODE, f"otp:7:{CODE}:v3", [("terminal", "owner")],
                                               lambda otp: Notice(f"mã: {otp}\n"))
    assert first is not None and again == first
    [row] = await otp_rows(bot_otp)
    assert otp_matches(first[0], otp_in(row)) and not otp_matches(first[0], "123456")
