"""Guided online submission, run through every channel: branches, back, stuck with handoff, restart."""

from __future__ import annotations

from bot.config import Settings
from handlers.context import Context
from handlers.types import Incoming
from knowledge.base import KnowledgeBase
from knowledge.schema import OnlineLevel
from tests.drivers import Driver, TerminalDriver


def joined(seen: list) -> str:
    return "\n".join(s.text for s in seen)


def at_step(seen: list, where: str) -> bool:
    return where.upper() in joined(seen).upper()


async def test_whole_birth_registration_guide(channel: Driver) -> None:
    await channel.say("/menu")
    seen = await channel.press("Hướng dẫn nộp trực tuyến")
    assert "hướng dẫn nộp thủ tục nào" in joined(seen)
    seen = await channel.press("Đăng ký khai sinh")
    assert "Câu hỏi 1/3" in joined(seen) and "sinh ra tại Việt Nam" in joined(seen)

    # Branch: born abroad → this guide does not fit; say why and where to go, then answer again.
    seen = await channel.press("Không")
    assert "Cơ quan đại diện Việt Nam" in joined(seen) and "Bộ phận Một cửa" in joined(seen)
    seen = await channel.press("Trả lời lại")
    assert "Câu hỏi 1/3" in joined(seen)
    await channel.press("Có")
    seen = await channel.press("Có")
    assert "Câu hỏi 3/3" in joined(seen)
    # Branch: wants the combined procedure → offered the variant's own guide.
    seen = await channel.press("Không")
    assert "thủ tục liên thông" in joined(seen)
    assert any("Hướng dẫn: Liên thông" in label for s in seen for label in s.labels)
    await channel.press("Trả lời lại")
    seen = await channel.press("Có")
    assert at_step(seen, "Bước 1/9") and "Còn thiếu:" in joined(seen) and "Bệnh viện" in joined(seen)
    assert "đã có dữ liệu trên VNeID" in joined(seen)

    # Checklist: tick the birth certificate, send the list as one message to keep.
    seen = await channel.press("Giấy chứng sinh")
    assert "Đã có:" in joined(seen) and "đã có đủ giấy tờ" in joined(seen)
    seen = await channel.press("Gửi danh sách")
    assert "Danh sách giấy tờ".upper() in joined(seen).upper() and "✅ Giấy chứng sinh" in joined(seen)

    seen = await channel.press("Tiếp")
    assert at_step(seen, "Bước 2/9") and "VNeID mức 2" in joined(seen)
    seen = await channel.press("Tiếp")
    assert at_step(seen, "Bước 3/9")
    seen = await channel.press("Quay lại")
    assert at_step(seen, "Bước 2/9")
    await channel.press("Tiếp")
    seen = await channel.press("Tiếp")
    assert at_step(seen, "Bước 4/9") and "Điền tờ khai" in joined(seen)

    # The bot restarts; the citizen comes back through the menu and is offered to continue.
    await channel.restart()
    seen = await channel.say("menu")
    assert 'Tiếp tục hướng dẫn "Đăng ký khai sinh" ở bước 4/9' in joined(seen)
    seen = await channel.press("Tiếp tục")
    assert at_step(seen, "Bước 4/9")

    # Stuck at the upload step: a known problem, then a person.
    seen = await channel.press("Tiếp")
    assert at_step(seen, "Bước 5/9") and "5 MB" in joined(seen)
    seen = await channel.press("Tôi bị vướng")
    assert "Tệp quá lớn" in joined(seen) or any("Tệp quá lớn" in label for s in seen for label in s.labels)
    seen = await channel.press("Tệp quá lớn")
    assert "quét tài liệu" in joined(seen)
    seen = await channel.press("Vẫn chưa được")
    assert "18001096" in joined(seen) and "Tổ công nghệ số cộng đồng" in joined(seen)
    handoffs = await channel.dispatcher.services.store.handoffs()
    assert len(handoffs) == 1 and handoffs[0].reason == "guide:khai-sinh"
    summary = handoffs[0].summary
    assert "bước 5/9" in summary and "Tệp quá lớn" in summary
    assert "Bé được sinh ra tại Việt Nam phải không ạ? → Có" in summary
    assert "Giấy tờ đã có: Giấy chứng sinh" in summary

    # Back to the same step, then to the end.
    seen = await channel.press("Tiếp tục")
    assert at_step(seen, "Bước 5/9")
    for n in range(6, 10):
        seen = await channel.press("Tiếp")
        assert at_step(seen, f"Bước {n}/9")
    assert at_step(seen, "Nhận kết quả")
    seen = await channel.press("Xong")
    assert "đã đi hết các bước" in joined(seen)
    seen = await channel.say("menu")
    assert "Tiếp tục hướng dẫn" not in joined(seen)


async def test_two_guides_open_at_once(terminal: TerminalDriver) -> None:
    await terminal.say("/menu")
    await terminal.press("Hướng dẫn nộp trực tuyến")
    await terminal.press("Đăng ký khai sinh")
    for _ in range(3):
        await terminal.press("Có")
    await terminal.press("Tiếp")  # khai sinh: bước 2/9
    seen = await terminal.press("Dừng")
    assert "đã lưu lại" in joined(seen) and "bước 2/9" in joined(seen)
    await terminal.say("đăng ký tạm trú")
    seen = await terminal.press("Hướng dẫn nộp trực tuyến")  # from the procedure card
    assert "Câu hỏi 1/" in joined(seen)
    seen = await terminal.say("/menu")
    text = joined(seen)
    assert "Đăng ký khai sinh — bước 2/9" in text and "Đăng ký tạm trú" in text
    seen = await terminal.press("Tiếp tục: Đăng ký khai sinh")
    assert at_step(seen, "Bước 2/9")
    # Starting a guide that is already open offers to continue it.
    await terminal.say("đăng ký khai sinh")
    seen = await terminal.press("Hướng dẫn nộp trực tuyến")
    assert 'Tiếp tục hướng dẫn "Đăng ký khai sinh" ở bước 2/9' in joined(seen)
    seen = await terminal.press("Làm lại từ đầu")
    assert "Câu hỏi 1/3" in joined(seen)


async def test_typed_words_drive_the_guide_and_double_taps_do_not_skip(terminal: TerminalDriver) -> None:
    await terminal.say("/menu")
    await terminal.press("Hướng dẫn nộp trực tuyến")
    await terminal.press("Đăng ký khai sinh")
    seen = await terminal.say("tiếp")  # a yes/no question needs an answer first
    assert "Câu hỏi 1/3" in joined(seen)
    for word in ("vâng", "có", "đúng rồi"):
        seen = await terminal.say(word)
    assert at_step(seen, "Bước 1/9")
    seen = await terminal.say("xong")
    assert at_step(seen, "Bước 2/9")
    services = terminal.dispatcher.services
    tap = Incoming("terminal", terminal.user, terminal.user, "action", action="guide:next:khai-sinh:3")
    out = await terminal.dispatcher.handle(tap)  # the checklist's "Tiếp" pressed a second time
    assert "Bước 2/9" in out.replies[0].title
    progress = await services.extras["guide_store"].get(1, "khai-sinh")
    assert progress is not None and progress.pos == 4
    seen = await terminal.say("quay lại")
    assert at_step(seen, "Bước 1/9")


async def test_typed_request_starts_the_guide(terminal: TerminalDriver) -> None:
    services = terminal.dispatcher.services
    session = await services.store.load("terminal", "typed-1", "typed-1")
    ctx = Context(services, Incoming("terminal", "typed-1", "typed-1", "text", text="hướng dẫn nộp khai sinh online"),
                  session)
    replies = await services.extras["guide"](ctx, "khai-sinh")
    assert "Câu hỏi 1/3" in replies[0].text and session.state == "guide:run:khai-sinh"


async def test_in_person_procedure_says_where_to_go(settings: Settings, kb: KnowledgeBase) -> None:
    base = kb.procedure("khai-sinh")
    assert base is not None
    only_in_person = base.model_copy(update={"id": "chi-truc-tiep", "name": "Thủ tục chỉ nộp trực tiếp",
                                             "online_level": OnlineLevel.IN_PERSON})
    driver = await TerminalDriver(settings, KnowledgeBase([*kb.entries.values(), only_in_person])).start()
    try:
        start = Incoming("terminal", "u", "u", "action", action="guide:start:chi-truc-tiep")
        out = await driver.dispatcher.handle(start)
        text = out.replies[0].text
        assert "chưa nộp trực tuyến được" in text and base.in_person in text
        assert "bưu chính công ích" in text and base.postal in text
        assert "Giấy tờ cần mang" in [b.label for b in out.replies[0].all_buttons()]
        no_postal = only_in_person.model_copy(update={"id": "chi-truc-tiep-2", "postal": ""})
        driver2 = await TerminalDriver(settings, KnowledgeBase([*kb.entries.values(), no_postal])).start()
        out = await driver2.dispatcher.handle(Incoming("terminal", "u", "u", "action",
                                                       action="guide:start:chi-truc-tiep-2"))
        await driver2.close()
        assert "bưu chính" not in out.replies[0].text
    finally:
        await driver.close()


async def test_stale_or_forged_buttons_are_harmless(terminal: TerminalDriver) -> None:
    for action in ("guide:next:khong-co:1", "guide:doc:khai-sinh:99", "guide:elig:khai-sinh:9:y",
                   "guide:problem:khai-sinh:x", "guide:start:faq-tai-khoan", "guide:stuck:khai-sinh"):
        out = await terminal.dispatcher.handle(Incoming("terminal", "u2", "u2", "action", action=action))
        assert out.replies and all("Dạ" in r.text or r.title for r in out.replies), action
