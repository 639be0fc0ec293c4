"""A live chat with a person carries photos (and, on Telegram, documents) both ways, through the outbox
(issue 14), and a waiting citizen hears their place in the queue when it moves, without a flood.

- Telegram: the citizen's album and document reach the team's group as the files themselves (captions
  kept, the ticket named); the helper's photo (a reply to the card) and document (in a private chat with
  the bot) reach the citizen; the assistant says nothing itself meanwhile;
- Zalo: the citizen's image reaches a Zalo team chat by its whole URL; the helper sends a photo captioned
  with the ticket code (Zalo has no replies); a photo Zalo cannot receive is refused with the reason;
- queue: three citizens wait, the first is taken: the others are told their new place once, at most every
  two minutes, nothing when nothing moved.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from knowledge.base import KnowledgeBase
from tests.drivers import TelegramDriver, ZaloDriver
from tests.fake_zalo import FakeZalo
from tests.test_handoff import CITIZEN, HELPER_A, TEAM_CHAT, joined, until, write

ZALO_TEAM, ZALO_HELPER = "-zalo-team", "zalo-helper-1"
ZALO_HELPERS = f"""
teams:
  - name: Tổ công nghệ số cộng đồng phường Long Xuyên
    commune: Phường Long Xuyên
    province: An Giang
    members: [zalo:{ZALO_HELPER}]
    chats: [{{channel: zalo, chat_id: "{ZALO_TEAM}"}}]
"""


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    h, a = write(tmp_path)
    return load_settings(database_url=database_url, telegram_bot_token="", rate_limit_per_minute=600,
                         helpers_file=h, agencies_file=a, default_province="An Giang", handoff_claim_minutes=10)


async def _live(telegram: TelegramDriver) -> None:
    await telegram.say("/start")
    await telegram.press("Gặp người hỗ trợ")
    await telegram.say("phuong long xuyen")
    card = (await telegram.fake.wait_for(TEAM_CHAT, 1))[0]
    await telegram.press_in(TEAM_CHAT, card.action("Nhận"), HELPER_A)
    await until(lambda: any("đã nhận và sẽ trò chuyện" in s.text for s in telegram.fake.to(CITIZEN)))


async def test_telegram_photos_and_documents_both_ways(telegram: TelegramDriver) -> None:
    fake = telegram.fake
    await _live(telegram)
    card = fake.to(TEAM_CHAT)[0]
    before_team = len(fake.to(TEAM_CHAT))
    ids = fake.album(CITIZEN, [("scr-1", "màn hình báo lỗi"), ("scr-2", "")])
    await telegram.wait_handled(ids[-1])
    await telegram._do(lambda: fake.document(CITIZEN, "doc-tk", "to-khai.pdf", "tờ khai của tôi"))
    team = (await fake.wait_for(TEAM_CHAT, before_team + 3))[before_team:]
    assert [(s.kind, s.media, s.text) for s in team] == [
        ("photo", "scr-1", "👤 HT1\nmàn hình báo lỗi"), ("photo", "scr-2", "👤 HT1"),
        ("document", "doc-tk", "👤 HT1\ntờ khai của tôi")]
    assert not [s for s in fake.to(CITIZEN) if "chỉ đọc được" in s.text or "chưa chuyển được" in s.text]

    before = len(fake.to(CITIZEN))
    await telegram._do(lambda: fake.photo_with(TEAM_CHAT, "ans-1", "chị bấm vào đây", user_id=HELPER_A,
                                               reply_to=card.message_id), TEAM_CHAT)
    fake.photo_with(TEAM_CHAT, "chatter", "ảnh nội bộ", user_id=HELPER_A)  # staff chatter: not even an update
    await telegram._do(lambda: fake.document(HELPER_A, "mau-01", "mau.pdf", "mẫu đơn", user_id=HELPER_A), HELPER_A)
    got = (await fake.wait_for(CITIZEN, before + 2))[before:]
    assert [(s.kind, s.media, s.text) for s in got] == [("photo", "ans-1", "💬 Dân 9001\nchị bấm vào đây"),
                                                        ("document", "mau-01", "💬 Dân 9001\nmẫu đơn")]
    await asyncio.sleep(0.3)
    assert len(fake.to(CITIZEN)) == before + 2  # the staff's own photo (no reply, no code) was not relayed
    assert not [s for s in fake.to(TEAM_CHAT) if "chỉ đọc được" in s.text]  # and nothing said in the group
    transcript = [m.text for m in await telegram.dispatcher.services.extras["handoff_repo"].messages(1)]
    assert transcript == ["[ảnh] màn hình báo lỗi", "[ảnh]", "[tệp to-khai.pdf] tờ khai của tôi",
                          "[ảnh] chị bấm vào đây", "[tệp mau.pdf] mẫu đơn"]


async def test_zalo_photos_both_ways_by_url_and_code(tmp_path: Path, database_url: str, kb: KnowledgeBase) -> None:
    from tests.fake_zalo import TOKEN

    h, a = write(tmp_path, helpers=ZALO_HELPERS)
    async with FakeZalo() as zalo:
        settings = load_settings(database_url=database_url, rate_limit_per_minute=600, helpers_file=h,
                                 agencies_file=a, default_province="An Giang", zalo_bot_token=TOKEN,
                                 zalo_base_url=zalo.base_url, telegram_bot_token="")
        driver = await ZaloDriver(settings, kb, zalo).start()
        try:
            await driver.say("cho tôi gặp người thật")
            await driver.say("phường Long Xuyên")
            await driver.say_in(ZALO_TEAM, "/nhan HT1", ZALO_HELPER)
            await until(lambda: any("đã nhận và sẽ trò chuyện" in s.text for s in zalo.to(driver.chat_id)))
            url = "https://photo-stal-3.zdn.vn/jpg/" + "b" * 150 + "/loi.jpg?sig=" + "c" * 50
            assert await driver._do(lambda: zalo.image(driver.chat_id, url, "lỗi khi nộp")) == []
            await until(lambda: any(s.kind == "photo" for s in zalo.to(ZALO_TEAM)))
            photo = [s for s in zalo.to(ZALO_TEAM) if s.kind == "photo"]
            assert [(s.media, s.text) for s in photo] == [(url, "👤 HT1\nlỗi khi nộp")]
            before = len(zalo.to(driver.chat_id))
            group_photo = FakeZalo.make("message.image.received", ZALO_TEAM, ZALO_HELPER,
                                        photo_url="https://photo.zdn.vn/huong-dan.jpg", caption="HT1 làm như ảnh này")
            await driver._do(lambda: zalo.push(group_photo), ZALO_TEAM)
            await until(lambda: len(zalo.to(driver.chat_id)) > before)
            got = zalo.to(driver.chat_id)[before:]
            assert [(s.kind, s.media, s.text) for s in got] == [
                ("photo", "https://photo.zdn.vn/huong-dan.jpg", "💬 Dân zalo-helper-1\nlàm như ảnh này")]
        finally:
            await driver.close()


async def test_a_file_the_other_app_cannot_receive_is_refused_with_the_reason(telegram: TelegramDriver) -> None:
    """A Telegram helper, a citizen whose chat is on Zalo: a Telegram photo cannot go there, and says so."""
    from handlers.context import Context
    from handlers.handoff import staff_say
    from handlers.types import Attachment, Incoming

    await _live(telegram)
    services = telegram.dispatcher.services
    repo = services.extras["handoff_repo"]
    t = await repo.get(1)
    t.channel = "zalo"  # as if the citizen wrote from Zalo
    att = Attachment("photo", "tg-only", "telegram")
    session = await services.store.load("telegram", str(HELPER_A), str(TEAM_CHAT))
    inc = Incoming("telegram", str(HELPER_A), str(TEAM_CHAT), "photo", chat_type="group", attachment=att)
    replies = await staff_say(Context(services, inc, session), t, "", att)
    assert "người dân đang nhắn qua Zalo nên ảnh này em chưa chuyển được" in joined(replies)
    assert await repo.messages(1) == []  # nothing relayed, nothing recorded as said


async def test_queue_place_is_told_when_it_moves_and_never_floods(telegram: TelegramDriver) -> None:
    from handlers.handoff import check_timers

    services = telegram.dispatcher.services
    drivers = [telegram]
    for chat in (5002, 5003):
        d = TelegramDriver(telegram.settings, telegram.kb, telegram.fake, chat_id=chat)
        d.dispatcher, d._done = telegram.dispatcher, telegram._done
        drivers.append(d)
    opened = []
    for d in drivers:
        await d.say("cho tôi nói chuyện với cán bộ")
        opened.append(joined(await d.say("Long Xuyên")))
    assert "Trước anh/chị còn 2 người đang chờ" in opened[2]
    real_now = services.store.now
    services.store.now = lambda: real_now() + dt.timedelta(minutes=1)  # inside the 10 minutes to claim
    await check_timers(services)
    await asyncio.sleep(0.3)
    counts = [len(telegram.fake.to(d.chat_id)) for d in drivers]
    card = telegram.fake.to(TEAM_CHAT)[0]
    await telegram.press_in(TEAM_CHAT, card.action("Nhận"), HELPER_A)  # the first citizen is taken
    await check_timers(services)  # within two minutes of being told their place: not yet
    await asyncio.sleep(0.3)
    assert [len(telegram.fake.to(d.chat_id)) for d in drivers[1:]] == counts[1:]
    services.store.now = lambda: real_now() + dt.timedelta(minutes=3)
    await check_timers(services)
    await until(lambda: len(telegram.fake.to(5003)) > counts[2] and len(telegram.fake.to(5002)) > counts[1])
    assert telegram.fake.to(5002)[-1].text == ("Dạ, anh/chị là người tiếp theo đang chờ Tổ công nghệ số cộng đồng "
                                               "phường Long Xuyên ạ. Chưa có ai nhận.")  # no promise of "ngay"
    assert telegram.fake.to(5003)[-1].text == "Dạ, trước anh/chị còn 1 người đang chờ Tổ công nghệ số cộng đồng " \
                                              "phường Long Xuyên ạ."
    services.store.now = lambda: real_now() + dt.timedelta(minutes=6)
    await check_timers(services)  # nothing moved: nothing said
    await asyncio.sleep(0.3)
    assert len(telegram.fake.to(5002)) == counts[1] + 1 and len(telegram.fake.to(5003)) == counts[2] + 1
    resumed = joined(await drivers[2].say("tôi vẫn đang chờ à"))
    assert "Trước anh/chị còn 1 người đang chờ ạ." in resumed  # the way back names the place too


async def test_a_terminal_citizen_sees_the_helpers_lines_and_photos_and_sends_a_photo(
        telegram: TelegramDriver) -> None:
    """The terminal shows what the outbox holds for its user after each turn (a helper's line, a photo as its
    address), and a photo typed as ``/anh URL`` reaches the helper's Telegram group by URL."""
    import io
    import queue

    from bot.terminal import run_terminal

    class Lines:
        def __init__(self) -> None:
            self.q: queue.Queue[str] = queue.Queue()

        def readline(self) -> str:
            return self.q.get(timeout=30)

        def isatty(self) -> bool:
            return False

    fake, lines, out = telegram.fake, Lines(), io.StringIO()
    task = asyncio.create_task(run_terminal(telegram.dispatcher, lines, out,  # type: ignore[arg-type]
                                            user_id="term-1"))

    async def say(text: str, expect: str) -> None:
        lines.q.put(text + "\n")
        try:
            await until(lambda: expect in out.getvalue(), 15)
        except AssertionError:
            raise AssertionError(out.getvalue()[-1500:]) from None

    try:
        await say("cho tôi gặp người thật", "xã, phường nào")
        await say("phường Long Xuyên", "đang báo cho")
        card = (await fake.wait_for(TEAM_CHAT, 1))[0]
        await telegram.press_in(TEAM_CHAT, card.action("Nhận"), HELPER_A)
        await telegram.say_in(TEAM_CHAT, "/traloi HT1 Chào anh, anh cần gì ạ", HELPER_A)
        await asyncio.sleep(0.3)
        await say("/anh https://anh.example.vn/loi.png màn hình lỗi", "💬 Dân 9001: Chào anh, anh cần gì ạ")
        await until(lambda: any(s.media == "https://anh.example.vn/loi.png" for s in fake.to(TEAM_CHAT)))
        assert [s.text for s in fake.to(TEAM_CHAT) if s.kind == "photo"] == ["👤 HT1\nmàn hình lỗi"]
        refused = await telegram._do(lambda: fake.photo_with(TEAM_CHAT, "tg-file", "xem ảnh", user_id=HELPER_A,
                                                             reply_to=card.message_id), TEAM_CHAT)
        assert "người dân đang nhắn qua thử nghiệm nên ảnh này em chưa chuyển được" in joined(refused)
        await telegram.say_in(TEAM_CHAT, "/ketthuc HT1", HELPER_A)
        await say("cảm ơn", "Anh/chị thấy sự hỗ trợ vừa rồi thế nào")
        await say("5", "5/5")  # the pushed rating's choices are the current ones
    finally:
        lines.q.put("")
        await asyncio.wait_for(task, 10)
    assert out.getvalue().count("💬 Dân 9001: Chào anh, anh cần gì ạ") == 1
