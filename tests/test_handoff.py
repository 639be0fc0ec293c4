"""A real person behind "Gặp người hỗ trợ" (issue 14), through the real Telegram channel and the fake Bot API:
a citizen in a private chat, a community team in its group chat, the outbox worker in between."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from tests.drivers import TelegramDriver

TEAM_CHAT, DESK_CHAT, HELPER_A, HELPER_B, STRANGER, DESK_STAFF = -100300, -100100, 9001, 9002, 9003, 9100
CITIZEN = 5001  # the driver's private chat
HELPERS = f"""
teams:
  - name: Tổ công nghệ số cộng đồng phường Long Xuyên
    commune: Phường Long Xuyên
    province: An Giang
    members: [telegram:{HELPER_A}, telegram:{HELPER_B}]
    chats: [{{channel: telegram, chat_id: "{TEAM_CHAT}"}}]
    hotline: "0296 3 111 222"
  - name: Tổ công nghệ số cộng đồng phường Châu Đốc
    commune: Phường Châu Đốc
    province: An Giang
    members: [telegram:{HELPER_A}]
    chats: [{{channel: telegram, chat_id: "-100301"}}]
    hours: "mon-fri 07:30-11:30 13:30-17:00"
"""
AGENCIES = f"""
province: An Giang
hotline: "0296 1022"
agencies:
  - key: desk
    name: Trung tâm Phục vụ hành chính công tỉnh An Giang
    is_default_desk: true
    address: 12 Lê Lợi, phường Long Xuyên
    hours: "mon-fri 07:00-11:30 13:00-17:00; sat 07:30-11:30"
    hotline: "0296 3 999 999"
    chats: [{{channel: telegram, chat_id: "{DESK_CHAT}"}}]
    members: [telegram:{DESK_STAFF}]
  - key: ubnd-chaudoc
    name: Bộ phận Một cửa UBND phường Châu Đốc
    one_stop: true
    area: [Phường Châu Đốc]
    address: 5 Trần Hưng Đạo, phường Châu Đốc
    hours: "mon-fri 07:30-11:30 13:30-17:00"
    hotline: "0296 3 866 866"
"""


def write(tmp_path: Path, helpers: str = HELPERS, agencies: str = AGENCIES) -> tuple[Path, Path]:
    h, a = tmp_path / "helpers.yaml", tmp_path / "agencies.yaml"
    h.write_text(helpers, encoding="utf-8")
    a.write_text(agencies, encoding="utf-8")
    return h, a


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    h, a = write(tmp_path)
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600,
                         helpers_file=h, agencies_file=a, default_province="An Giang", handoff_claim_minutes=10)


async def until(check, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def joined(seen: list) -> str:
    return "\n".join(s.text for s in seen)


async def _ask_for_person(telegram: TelegramDriver, commune: str = "phuong long xuyen") -> str:
    await telegram.say("/start")
    asked = joined(await telegram.press("Gặp người hỗ trợ"))
    assert "xã, phường nào" in asked
    return joined(await telegram.say(commune))


async def test_ask_claim_chat_both_ways_end_and_rate(telegram: TelegramDriver) -> None:
    fake = telegram.fake
    told = await _ask_for_person(telegram)
    # honest: being passed on, nobody has it yet; no promise that a person was told
    assert "em đang báo cho Tổ công nghệ số cộng đồng phường Long Xuyên" in told and "Chưa có ai nhận" in told
    assert "đã chuyển" not in told

    card = (await fake.wait_for(TEAM_CHAT, 1))[0]
    assert card.text.startswith("🙋 NGƯỜI DÂN CẦN HỖ TRỢ HT1") and card.labels == ["Nhận"]
    assert "Phường Long Xuyên" in card.text and "Telegram" in card.text and "không để lại số" in card.text
    assert fake.to(DESK_CHAT) == []

    # someone who is not in the team cannot take it
    refused = await telegram.press_in(TEAM_CHAT, card.action("Nhận"), STRANGER)
    assert "chưa có trong tổ" in joined(refused)

    # the helper takes it; the citizen is told who
    before = len(fake.to(CITIZEN))
    taken = await telegram.press_in(TEAM_CHAT, card.action("Nhận"), HELPER_A)
    assert "Dân 9001 đã nhận HT1" in joined(taken)
    claimed = (await fake.wait_for(CITIZEN, before + 1))[-1]
    assert "Dân 9001 (Tổ công nghệ số cộng đồng phường Long Xuyên) đã nhận" in claimed.text

    # five messages each way; the assistant says nothing itself to the citizen meanwhile
    citizen_lines = ["em chào anh", "em không đăng nhập được VNeID", "khai sinh", "lệ phí bao nhiêu", "1"]
    for line in citizen_lines:
        assert await telegram.say(line) == []  # no reply of the bot's own
    relayed = await fake.wait_for(TEAM_CHAT, 3 + 5)  # card, refusal, claim + five lines
    assert [s.text for s in relayed[-5:]] == [f"👤 HT1: {line}" for line in citizen_lines]

    before = len(fake.to(CITIZEN))
    await telegram.say_in(TEAM_CHAT, "Chào chị, chị mở ứng dụng VNeID giúp em", HELPER_A, reply_to=card.message_id)
    await telegram.say_in(TEAM_CHAT, "/traloi HT1 Chị bấm Quên mật khẩu nhé", HELPER_A)
    await telegram.say_in(HELPER_A, "Em nhắn riêng: chị chờ mã OTP", HELPER_A)  # the helper's private chat
    await telegram.say_in(TEAM_CHAT, "/traloi HT1 Có mã rồi thì nhập vào", HELPER_A)
    await telegram.say_in(TEAM_CHAT, "Xong rồi chị đăng nhập lại", HELPER_A, reply_to=relayed[-1].message_id)
    answers = (await fake.wait_for(CITIZEN, before + 5))[before:]
    assert [a.text for a in answers] == [
        "💬 Dân 9001: Chào chị, chị mở ứng dụng VNeID giúp em", "💬 Dân 9001: Chị bấm Quên mật khẩu nhé",
        "💬 Dân 9001: Em nhắn riêng: chị chờ mã OTP", "💬 Dân 9001: Có mã rồi thì nhập vào",
        "💬 Dân 9001: Xong rồi chị đăng nhập lại"]
    # the other helper cannot talk in it
    other = await telegram.say_in(TEAM_CHAT, "/traloi HT1 Để tôi", HELPER_B)
    assert "do Dân 9001 phụ trách" in joined(other)

    ended = await telegram.say("Kết thúc")
    assert "đã kết thúc cuộc trò chuyện với Dân 9001" in joined(ended)
    assert ended[-1].labels[:5] == ["1", "2", "3", "4", "5"]
    note = await fake.wait_for(TEAM_CHAT, len(relayed) + 2)
    assert note[-1].text == "Người dân đã kết thúc HT1."
    rated = await telegram.press("5")
    assert "5/5" in joined(rated)

    # after the end the assistant answers again
    back = await telegram.say("đăng ký khai sinh cần giấy tờ gì")
    assert back and "khai sinh" in joined(back).lower()

    repo = telegram.dispatcher.services.extras["handoff_repo"]
    t = await repo.get(1)
    assert (t.status, t.rating, t.closed_by, t.claimed_by) == ("closed", 5, "citizen", f"telegram:{HELPER_A}")
    transcript = await repo.messages(1)
    assert [m.sender for m in transcript] == ["citizen"] * 5 + [f"telegram:{HELPER_A}"] * 5
    assert len(fake.to(DESK_CHAT)) == 0


async def test_two_helpers_claim_at_once_one_wins(telegram: TelegramDriver) -> None:
    fake = telegram.fake
    await _ask_for_person(telegram)
    left = joined(await telegram.say("menu"))  # the citizen goes back to the menu while waiting
    assert "HT1) đang chờ người nhận" in left
    card = (await fake.wait_for(TEAM_CHAT, 1))[0]
    data = card.action("Nhận")
    before = len(fake.to(TEAM_CHAT))
    ids = [fake.press(TEAM_CHAT, data, HELPER_A), fake.press(TEAM_CHAT, data, HELPER_B)]
    await asyncio.gather(*(telegram.wait_handled(i) for i in ids))
    answers = [s.text for s in (await fake.wait_for(TEAM_CHAT, before + 2))[before:]]
    assert len([a for a in answers if "đã nhận HT1. Nhắn riêng" in a]) == 1
    assert len([a for a in answers if "HT1 đã được" in a and "nhận rồi" in a]) == 1
    t = await telegram.dispatcher.services.extras["handoff_repo"].get(1)
    assert t.status == "live" and t.claimed_by in (f"telegram:{HELPER_A}", f"telegram:{HELPER_B}")
    await until(lambda: any("đã nhận và sẽ trò chuyện" in s.text for s in fake.to(CITIZEN)))
    await asyncio.sleep(0.3)
    assert len([s for s in fake.to(CITIZEN) if "đã nhận và sẽ trò chuyện" in s.text]) == 1
    # ... and what they type next reaches the helper, not the assistant
    before = len(fake.to(TEAM_CHAT))
    assert await telegram.say("em cần làm khai sinh cho con") == []
    assert (await fake.wait_for(TEAM_CHAT, before + 1))[-1].text == "👤 HT1: em cần làm khai sinh cho con"


async def test_claim_is_one_statement_across_many_racers(telegram: TelegramDriver) -> None:
    """Ten claims at once straight on the repository (as several workers would): exactly one wins."""
    await _ask_for_person(telegram)
    repo = telegram.dispatcher.services.extras["handoff_repo"]
    results = await asyncio.gather(*(repo.claim(1, f"telegram:{n}", f"H{n}", f"telegram:{TEAM_CHAT}", lambda t: [])
                                     for n in range(10)))
    winners = [r for r in results if not isinstance(r, str)]
    assert len(winners) == 1 and all(r == "status:live" for r in results if isinstance(r, str))


async def test_no_team_for_the_commune_gives_the_desk_and_hotline_at_once(tmp_path: Path, database_url: str,
                                                                          kb, fake_telegram) -> None:
    from tests.fake_telegram import TOKEN

    no_desk_chat = AGENCIES.replace(f'    chats: [{{channel: telegram, chat_id: "{DESK_CHAT}"}}]\n', "")
    h, a = write(tmp_path, agencies=no_desk_chat)
    settings = load_settings(database_url=database_url, telegram_bot_token=TOKEN,
                             telegram_base_url=fake_telegram.base_url, rate_limit_per_minute=600, helpers_file=h,
                             agencies_file=a, default_province="An Giang")
    telegram = await TelegramDriver(settings, kb, fake_telegram).start()
    try:
        told = await _ask_for_person(telegram, "phường Mỹ Thới")
        assert "chưa có tổ hỗ trợ trực tuyến" in told and "chưa chuyển được" in told
        assert "Trung tâm Phục vụ hành chính công tỉnh An Giang: 12 Lê Lợi" in told
        assert "thứ Hai–thứ Sáu 7:00–11:30 và 13:00–17:00; thứ Bảy 7:30–11:30" in told
        assert "0296 3 999 999" in told and "18001096" in told and "0296 1022" in told
        assert "đang báo" not in told
        t = (await telegram.dispatcher.services.extras["handoff_repo"].tickets())[0]
        assert t.status == "unreachable"
        # the commune is remembered: the next request does not ask again
        again = joined(await telegram.press("Về menu")) and joined(await telegram.say("cho tôi gặp người thật"))
        assert "xã, phường nào" not in again and "18001096" in again
    finally:
        await telegram.close()


async def test_out_of_hours_gives_the_commune_desk_hours_at_once(telegram: TelegramDriver) -> None:
    """Sunday evening: the Châu Đốc team (weekday hours) and the one-stop desk are closed, the province desk too."""
    store = telegram.dispatcher.services.store
    store.now = lambda: dt.datetime(2026, 11, 29, 13, 0, tzinfo=dt.timezone.utc)  # Sunday 20:00 in Vietnam
    told = await _ask_for_person(telegram, "phuong chau doc")
    assert "ngoài giờ làm việc" in told and "chưa chuyển được" in told
    assert "Bộ phận Một cửa UBND phường Châu Đốc: 5 Trần Hưng Đạo" in told
    assert "thứ Hai–thứ Sáu 7:30–11:30 và 13:30–17:00" in told and "0296 3 866 866" in told
    await asyncio.sleep(0.3)
    assert telegram.fake.to(-100301) == [] and telegram.fake.to(DESK_CHAT) == []


async def test_unclaimed_goes_to_the_province_desk_then_expires_honestly(telegram: TelegramDriver) -> None:
    from handlers.handoff import check_timers

    services = telegram.dispatcher.services
    store = services.store
    base = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)  # a Tuesday, 09:00 in Vietnam: the desk is open
    store.now = lambda: base
    await _ask_for_person(telegram)
    await telegram.fake.wait_for(TEAM_CHAT, 1)
    store.now = lambda: base + dt.timedelta(minutes=11)
    assert await check_timers(services) == (1, 0, 0)
    assert await check_timers(services) == (0, 0, 0)  # once
    desk_card = (await telegram.fake.wait_for(DESK_CHAT, 1))[0]
    assert "CHUYỂN TIẾP" in desk_card.text and desk_card.labels == ["Nhận"]
    await until(lambda: any("chưa ai nhận" in s.text and "0296 3 999 999" in s.text
                            for s in telegram.fake.to(CITIZEN)))
    store.now = lambda: base + dt.timedelta(minutes=22)
    assert await check_timers(services) == (0, 1, 0)
    t = await services.extras["handoff_repo"].get(1)
    assert t.status == "expired"
    await until(lambda: any("rất tiếc" in s.text for s in telegram.fake.to(CITIZEN)))
    expired = next(s.text for s in telegram.fake.to(CITIZEN) if "rất tiếc" in s.text)
    assert "chưa chuyển được yêu cầu cho ai" not in expired  # it was passed on, twice: nobody took it
    assert "Trung tâm Phục vụ hành chính công tỉnh An Giang chưa có ai rảnh để nhận" in expired
    late = await telegram.press_in(DESK_CHAT, desk_card.action("Nhận"), HELPER_A)
    assert "đã kết thúc" in joined(late)
    # desk staff (not helpers) see the figures with /thongke; someone else is asked for a helper code
    stats = joined(await telegram.say_in(DESK_STAFF, "/thongke", DESK_STAFF))
    assert ("Trung tâm Phục vụ hành chính công tỉnh An Giang — Phường Long Xuyên, An Giang: 1 yêu cầu, "
            "0 được nhận, 1 không ai nhận") in stats
    assert "Gặp người hỗ trợ" not in joined(await telegram.say_in(STRANGER, "/thongke", STRANGER))


async def test_silent_live_chat_is_closed_with_a_note_to_both(telegram: TelegramDriver) -> None:
    from handlers.handoff import check_timers

    services = telegram.dispatcher.services
    await _ask_for_person(telegram)
    card = (await telegram.fake.wait_for(TEAM_CHAT, 1))[0]
    await telegram.press_in(TEAM_CHAT, card.action("Nhận"), HELPER_A)
    real_now = services.store.now
    services.store.now = lambda: real_now() + dt.timedelta(minutes=31)
    assert await check_timers(services) == (0, 0, 1)
    team = await telegram.fake.wait_for(TEAM_CHAT, 3)
    assert team[-1].text == "HT1 đã lâu không có tin nhắn nên được đóng lại."
    await until(lambda: any("lâu không có tin nhắn" in s.text and "1" in s.labels for s in telegram.fake.to(CITIZEN)))
    # no "bấm Gặp người hỗ trợ": that message's buttons are the rating; typing the words works on every channel
    assert any('gõ "gặp người hỗ trợ"' in s.text for s in telegram.fake.to(CITIZEN))


async def test_queue_position_and_figures(telegram: TelegramDriver) -> None:
    from handlers.handoff import figures

    await _ask_for_person(telegram)
    second = TelegramDriver(telegram.settings, telegram.kb, telegram.fake, chat_id=5002)
    second.dispatcher, second._done = telegram.dispatcher, telegram._done
    await second.say("cho tôi nói chuyện với cán bộ")
    told = joined(await second.say("Long Xuyên"))
    assert "Trước anh/chị còn 1 người đang chờ" in told
    card = (await telegram.fake.wait_for(TEAM_CHAT, 2))[0]
    await telegram.press_in(TEAM_CHAT, card.action("Nhận"), HELPER_A)
    stats = joined(await telegram.say_in(HELPER_A, "/thongke", HELPER_A))
    assert "Tổ công nghệ số cộng đồng phường Long Xuyên — Phường Long Xuyên, An Giang: 2 yêu cầu, 1 được nhận" in stats
    rows = figures(await telegram.dispatcher.services.extras["handoff_repo"].tickets())
    assert rows[0]["tickets"] == 2 and rows[0]["claimed"] == 1 and rows[0]["waiting"] == 1

    # python -m bot handoffs --csv / --tickets
    import io

    from bot.handoff_report import report

    out = io.StringIO()
    assert await report(telegram.settings, as_csv=True, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("team,commune,tickets,claimed,unclaimed,waiting,claim_median_min,claim_p90_min")
    assert lines[1].startswith("Tổ công nghệ số cộng đồng phường Long Xuyên,\"Phường Long Xuyên, An Giang\",2,1,0,1,")
    out = io.StringIO()
    await report(telegram.settings, tickets=True, out=out)
    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == ["code", "HT1", "HT2"]


async def test_a_person_taking_the_request_reaches_a_citizen_who_went_into_another_flow(
        telegram: TelegramDriver) -> None:
    """While waiting the citizen started a dossier lookup; once a helper takes the request, what the citizen
    types goes to the helper (the router's ``before`` hook), not to the lookup or the assistant."""
    fake = telegram.fake
    await _ask_for_person(telegram)
    card = (await fake.wait_for(TEAM_CHAT, 1))[0]
    lookup = joined(await telegram.say("tra cứu hồ sơ"))
    assert "mã hồ sơ" in lookup
    before = len(fake.to(CITIZEN))
    await telegram.press_in(TEAM_CHAT, card.action("Nhận"), HELPER_A)
    await fake.wait_for(CITIZEN, before + 1)
    assert await telegram.say("em vẫn chưa biết mã hồ sơ ạ") == []  # relayed, no reply of the bot's own
    relayed = await fake.wait_for(TEAM_CHAT, 3)
    assert relayed[-1].text == "👤 HT1: em vẫn chưa biết mã hồ sơ ạ"
