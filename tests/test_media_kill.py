"""kill -9 between intake and delivery of a complaint with an album (issue 15, "Photos and place"):
``python -m bot serve`` behind the webhooks takes a complaint with three captioned photos to its summary,
a citizen on Telegram and one on Zalo press "Gửi phản ánh", the server acknowledges the presses and is
killed with SIGKILL at once (the desk's Telegram group also refuses the first delivery attempt, so no
photo can have been delivered before the kill). The restarted server delivers: the desk's group gets
the three photos as photos, in order, with their captions, right before the card, exactly once; on
Telegram (file ids) and on Zalo (image URLs, which reach the desk's Telegram group by URL and its Zalo
chat by sendPhoto)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_telegram import FakeTelegram, free_port
from tests.fake_zalo import FakeZalo, turn_labels
from tests.test_server import TG_SECRET, ZALO_SECRET, BotProcess, bot_env, wait_healthy

DESK, ZALO_DESK = -100100, "-zalo-desk"
TG_CITIZEN, ZALO_CITIZEN = 4343, "zalo-citizen-7"
AGENCIES = f"""
province: An Giang
agencies:
  - key: desk
    name: Trung tâm Phục vụ hành chính công tỉnh An Giang
    is_default_desk: true
    chats: [{{channel: telegram, chat_id: "{DESK}"}}, {{channel: zalo, chat_id: "{ZALO_DESK}"}}]
"""
CODE = re.compile(r"PAKN-\d{4}-\d{6}")
RESENT = "Tin gửi lại"
CAPTIONS = ["ổ gà trước cổng chợ", "nước đọng sau mưa", ""]


async def _until(check: Any, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time: {what}")
        await asyncio.sleep(0.05)


class TelegramCitizen:
    def __init__(self, http: httpx.AsyncClient, base: str, tg: FakeTelegram) -> None:
        self.http, self.base, self.tg = http, base, tg

    async def post(self, update: dict[str, Any]) -> None:
        resp = await self.http.post(f"{self.base}/telegram/webhook", json=update,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        assert resp.status_code == 200, resp.text

    def _take(self) -> dict[str, Any]:
        return dict(self.tg.updates.pop())  # (to the webhook, not getUpdates)

    async def step(self, make: Any, expect: str) -> None:
        before = len(self.tg.to(TG_CITIZEN))
        make()
        await self.post(self._take())
        await _until(lambda: any(expect.lower() in label.lower() for s in self.tg.to(TG_CITIZEN)[before:]
                                 for label in s.labels), what=f"{expect!r} after {len(self.tg.to(TG_CITIZEN))}")

    def press(self, label: str) -> Any:
        for s in reversed(self.tg.to(TG_CITIZEN)):
            if any(label.lower() in b.lower() for b in s.labels):
                data = s.action(label)
                return lambda: self.tg.press(TG_CITIZEN, data)
        raise AssertionError(f"no button {label!r}")


class ZaloCitizen:
    def __init__(self, http: httpx.AsyncClient, base: str, zalo: FakeZalo) -> None:
        self.http, self.base, self.zalo = http, base, zalo
        self.labels: list[str] = []

    async def post(self, update: dict[str, Any]) -> None:
        resp = await FakeZalo.post_webhook(f"{self.base}/zalo/webhook", update, ZALO_SECRET)
        assert resp.status_code == 200, resp.text

    async def step(self, update: dict[str, Any], expect: str) -> None:
        before = len(self.zalo.to(ZALO_CITIZEN))
        await self.post(update)

        def arrived() -> bool:
            texts = [s.text for s in self.zalo.to(ZALO_CITIZEN)[before:]]
            labels = [label for group in turn_labels(texts) for label in group]
            if any(expect.lower() in label.lower() for label in labels):
                self.labels = labels
                return True
            return False

        await _until(arrived, what=f"{expect!r}")

    def choose(self, label: str) -> dict[str, Any]:
        n = next(i for i, text in enumerate(self.labels, 1) if label.lower() in text.lower())
        return FakeZalo.make("message.text.received", ZALO_CITIZEN, text=str(n))


async def _walk_telegram(c: TelegramCitizen, tg: FakeTelegram) -> None:
    await c.step(lambda: tg.text(TG_CITIZEN, "/start"), "Gửi phản ánh")
    await c.step(c.press("Gửi phản ánh"), "Gửi phản ánh mới")
    await c.step(c.press("Gửi phản ánh mới"), "Đường sá")
    await c.step(c.press("Đường sá"), "Bỏ qua")
    await c.step(lambda: tg.text(TG_CITIZEN, "phường Long Xuyên"), "Huỷ")
    await c.step(lambda: tg.text(TG_CITIZEN, "Đường trước chợ hư nặng, ổ gà nhiều, đề nghị sửa sớm"), "Bỏ qua")
    before = len(tg.to(TG_CITIZEN))
    for i, caption in enumerate(CAPTIONS, 1):  # an album: three updates sharing a media_group_id
        tg.photo_with(TG_CITIZEN, f"ph-{i}", caption, "album-kill-1")
        await c.post(c._take())
    await _until(lambda: any("Xong" in label for s in tg.to(TG_CITIZEN)[before:] for label in s.labels))
    await asyncio.sleep(0.5)
    assert len(tg.to(TG_CITIZEN)[before:]) == 1  # acknowledged once, never "chỉ đọc được tin nhắn chữ"
    await c.step(c.press("Xong"), "Không, chỉ nhắn tin")
    await c.step(c.press("Không, chỉ nhắn tin"), "Gửi phản ánh")


async def _walk_zalo(c: ZaloCitizen, urls: list[str]) -> None:
    def text(t: str) -> dict[str, Any]:
        return FakeZalo.make("message.text.received", ZALO_CITIZEN, text=t)

    await c.step(text("/start"), "Gửi phản ánh")
    await c.step(c.choose("Gửi phản ánh"), "Gửi phản ánh mới")
    await c.step(c.choose("Gửi phản ánh mới"), "Đường sá")
    await c.step(c.choose("Đường sá"), "Bỏ qua")
    await c.step(text("phường Long Xuyên"), "Huỷ")
    await c.step(text("Nước cống tràn ra đường trước chợ, hôi thối cả tuần nay"), "Bỏ qua")
    for url, caption in zip(urls, CAPTIONS):
        fields: dict[str, Any] = {"photo_url": url, **({"caption": caption} if caption else {})}
        await c.step(FakeZalo.make("message.image.received", ZALO_CITIZEN, **fields), "Xong")
    await c.step(c.choose("Xong"), "Không, chỉ nhắn tin")
    await c.step(c.choose("Không, chỉ nhắn tin"), "Gửi phản ánh")


@pytest.mark.slow
async def test_an_album_reaches_the_agency_as_photos_in_order_once_across_kill_9(tmp_path: Path) -> None:
    agencies = tmp_path / "agencies.yaml"
    agencies.write_text(AGENCIES, encoding="utf-8")
    urls = [f"https://photo-stal-9.zdn.vn/jpg/{'a' * 90}{i}/anh.jpg?exp=1764500000&sig={'f' * 40}" for i in (1, 2, 3)]
    async with FakeTelegram() as tg, FakeZalo() as zalo:
        env = bot_env(tmp_path, tg, zalo, AGENCIES_FILE=str(agencies), DEFAULT_PROVINCE="An Giang",
                      RATE_LIMIT_PER_MINUTE="600")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        args = ("serve", "--host", "127.0.0.1", "--port", str(port))
        async with httpx.AsyncClient(timeout=10) as http:
            tcit, zcit = TelegramCitizen(http, base, tg), ZaloCitizen(http, base, zalo)
            async with BotProcess(tmp_path, env, *args) as first:
                await wait_healthy(base, first)
                await _walk_telegram(tcit, tg)
                await _walk_zalo(zcit, urls)
                tg.script_chats[str(DESK)] = [502]  # the first delivery attempt to the desk's group fails
                tcit.press("Gửi phản ánh")()
                await tcit.post(tcit._take())
                await zcit.post(zcit.choose("Gửi phản ánh"))
                assert first.proc is not None
                first.proc.kill()  # right after both presses were acknowledged: filed, not yet delivered
                await first.proc.wait()
            assert not [s for s in tg.to(DESK) if s.kind == "photo"]
            async with BotProcess(tmp_path, env, *args) as second:
                await wait_healthy(base, second)
                await _until(lambda: len([s for s in tg.to(DESK) if s.kind == "text"]) >= 2
                             and len([s for s in zalo.to(ZALO_DESK) if s.kind == "text"]) >= 2, 30,
                             "cards delivered after the restart")
                await asyncio.sleep(1.5)  # nothing more arrives
    desk = tg.to(DESK)
    assert not [s for s in desk + zalo.to(ZALO_DESK) if RESENT in s.text]
    # each complaint's photos come right before its card, in one row; the two complaints' rows may come in
    # either order (the first attempt of one failed and was retried after the other)
    assert len(desk) == 8 and desk[3].kind == desk[7].kind == "text"
    tg_round, z_round = (desk[:4], desk[4:]) if desk[0].media == "ph-1" else (desk[4:], desk[:4])
    # Telegram citizen: one album of the three file ids, in order, captions kept, then the card; once
    assert [(s.kind, s.media) for s in tg_round] == [("photo", "ph-1"), ("photo", "ph-2"), ("photo", "ph-3"),
                                                    ("text", "")]
    assert len({s.album for s in tg_round[:3]}) == 1
    code1 = CODE.search(tg_round[3].text).group(0)
    assert [s.text for s in tg_round[:3]] == [f"📷 1/3 · {code1}\n┃ ổ gà trước cổng chợ",
                                              f"📷 2/3 · {code1}\n┃ nước đọng sau mưa", f"📷 3/3 · {code1}"]
    assert "Ảnh/tệp kèm theo: 3 ảnh" in tg_round[3].text
    # Zalo citizen: the whole URLs reach the desk's Telegram group as an album and its Zalo chat as photos
    assert [(s.kind, s.media) for s in z_round] == [("photo", u) for u in urls] + [("text", "")]
    assert len({s.album for s in z_round[:3]}) == 1
    code2 = CODE.search(z_round[3].text).group(0)
    zdesk = zalo.to(ZALO_DESK)
    assert [(s.kind, s.media) for s in zdesk] == [("text", "")] + [("photo", u) for u in urls] + [("text", "")]
    assert code1 in zdesk[0].text
    assert "Ảnh 1/3, Ảnh 2/3, Ảnh 3/3: gửi qua Telegram nên không chuyển sang Zalo được" in zdesk[0].text
    assert [s.text for s in zdesk[1:4]] == [f"📷 1/3 · {code2}\n┃ ổ gà trước cổng chợ",
                                            f"📷 2/3 · {code2}\n┃ nước đọng sau mưa", f"📷 3/3 · {code2}"]
    assert code1 != code2  # two complaints, one card each (the tracking codes: tests/test_faults_kill_filing.py)
