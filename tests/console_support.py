"""The real server (``bot.server.create_app``, uvicorn, lifespan on) against the fake Telegram Bot API,
with agencies, a helpers team and an operator, for the web console's tests (tests/test_console*.py)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bot.config import load_settings
from bot.server import create_app
from tests.fake_telegram import TOKEN, FakeTelegram, Sent, free_port

SECRET = "console-test-secret"
DESK_CHAT, LX_CHAT, TP_CHAT, TEAM_CHAT = -100100, -100200, -100300, -100400
LX_STAFF, TP_STAFF, HELPER, OPERATOR, CITIZEN, STRANGER = 9001, 9003, 9004, 9009, 5001, 9777
AGENCIES = f"""
province: An Giang
agencies:
  - key: desk
    name: Trung tâm Phục vụ hành chính công tỉnh An Giang
    is_default_desk: true
    chats: [{{channel: telegram, chat_id: "{DESK_CHAT}"}}]
  - key: lx
    name: UBND phường Long Xuyên
    topics: [official]
    area: [Phường Long Xuyên]
    chats: [{{channel: telegram, chat_id: "{LX_CHAT}"}}]
    members: [telegram:{LX_STAFF}]
  - key: tp
    name: Sở Tư pháp tỉnh An Giang
    fields: [Hộ tịch]
    chats: [{{channel: telegram, chat_id: "{TP_CHAT}"}}]
    members: [telegram:{TP_STAFF}]
"""
HELPERS = f"""
teams:
  - name: Tổ công nghệ số phường Long Xuyên
    commune: Phường Long Xuyên
    province: An Giang
    members: [telegram:{HELPER}]
    chats: [{{channel: telegram, chat_id: "{TEAM_CHAT}"}}]
"""
LINK = re.compile(r"https?://[^\s]+/console/login/[A-Za-z0-9_-]+")


@dataclass
class ConsoleServer:
    base: str
    app: Any
    fake: FakeTelegram
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))

    @property
    def services(self) -> Any:
        return self.app.state.runtime.dispatcher.services

    async def post_update(self, update: dict[str, Any]) -> None:
        resp = await self.http.post(f"{self.base}/telegram/webhook", json=update,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert resp.status_code == 200, resp.text

    async def _settle(self, chat_id: int, before: int, timeout: float = 10.0) -> list[Sent]:
        """Wait for at least one new message to ``chat_id``, then until none comes for a moment."""
        await self.fake.wait_for(chat_id, before + 1, timeout=timeout)
        count = len(self.fake.to(chat_id))
        while True:
            await asyncio.sleep(0.15)
            if len(self.fake.to(chat_id)) == count:
                return self.fake.to(chat_id)[before:]
            count = len(self.fake.to(chat_id))

    async def say(self, chat_id: int, text: str, user_id: int | None = None) -> list[Sent]:
        before = len(self.fake.to(chat_id))
        self.fake.text(chat_id, text, user_id=user_id)
        await self.post_update(dict(self.fake.updates.pop()))
        return await self._settle(chat_id, before)

    async def press(self, chat_id: int, label: str) -> list[Sent]:
        """Press the button labelled like ``label`` on the latest message that has one."""
        for sent in reversed(self.fake.to(chat_id)):
            if any(label.lower() in b.lower() for b in sent.labels):
                data = sent.action(label)
                break
        else:
            raise AssertionError(f"no button like {label!r} sent to {chat_id}")
        before = len(self.fake.to(chat_id))
        self.fake.press(chat_id, data)
        await self.post_update(dict(self.fake.updates.pop()))
        return await self._settle(chat_id, before)

    async def console_link(self, user_id: int) -> str:
        replies = await self.say(user_id, "/console")
        found = LINK.search("\n".join(s.text for s in replies))
        assert found, [s.text for s in replies]
        return found.group(0)

    async def signed_in_client(self, user_id: int) -> httpx.AsyncClient:
        """An HTTP client signed in as ``user_id`` through the link the bot sent to their chat."""
        link = (await self.console_link(user_id)).replace("http://", "http://", 1)
        client = httpx.AsyncClient(base_url=self.base, timeout=10)
        page = await client.get(link)
        assert page.status_code == 200, page.text
        done = await client.post(link)
        assert done.status_code == 303, done.text
        return client


def write_config(tmp_path: Path) -> tuple[Path, Path]:
    agencies, helpers = tmp_path / "agencies.yaml", tmp_path / "helpers.yaml"
    agencies.write_text(AGENCIES, encoding="utf-8")
    helpers.write_text(HELPERS, encoding="utf-8")
    return agencies, helpers


@contextlib.asynccontextmanager
async def console_server(tmp_path: Path, database_url: str, fake: FakeTelegram) -> AsyncIterator[ConsoleServer]:
    agencies, helpers = write_config(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(database_url=database_url, telegram_bot_token=TOKEN, zalo_bot_token="", telegram_base_url=fake.base_url,
                             telegram_webhook_secret=SECRET, agencies_file=agencies, helpers_file=helpers,
                             admin_ids=f"telegram:{OPERATOR}", public_url=base, default_province="An Giang",
                             rate_limit_per_minute=600)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    srv = ConsoleServer(base, app, fake)
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped during start-up")
            await asyncio.sleep(0.02)
        yield srv
    finally:
        await srv.http.aclose()
        server.should_exit = True
        await task


async def file_complaint(srv: ConsoleServer, description: str) -> str:
    """A citizen files a complaint about an official of phường Long Xuyên in their Telegram chat; its code."""
    await srv.say(CITIZEN, "/start")
    await srv.press(CITIZEN, "Gửi phản ánh")
    await srv.press(CITIZEN, "Gửi phản ánh mới")
    await srv.press(CITIZEN, "Thái độ, hành vi")
    await srv.say(CITIZEN, "phuong long xuyen")
    await srv.say(CITIZEN, description)
    await srv.press(CITIZEN, "Bỏ qua")
    await srv.press(CITIZEN, "Không, chỉ nhắn tin")
    done = "\n".join(s.text for s in await srv.press(CITIZEN, "Gửi phản ánh"))
    found = re.search(r"PAKN-\d{4}-\d{6}", done)
    assert found, done
    return found.group(0)


async def seed_history(srv: ConsoleServer, n: int = 160, seed: int = 17) -> None:
    """``n`` earlier complaints over the last 11 weeks (statuses, answers, ratings), written directly,
    so that the figures have something to show (and to check against the database)."""
    import datetime as dt
    import random

    from sqlalchemy import insert

    from knowledge.communes import find_in_province
    from storage.complaint_models import Complaint, ComplaintEvent

    rnd = random.Random(seed)
    services = srv.services
    user = await services.store.load("telegram", str(CITIZEN), str(CITIZEN), "Dân")
    communes = [find_in_province(name, "An Giang") for name in
                ("Phường Long Xuyên", "Phường Châu Đốc", "Phường Tân Châu", "Phường Bình Đức", "Phường Mỹ Thới")]
    now = services.now()
    async with services.store.sessions.begin() as db:
        for _ in range(n):
            created = now - dt.timedelta(minutes=rnd.randint(60, 11 * 7 * 1440))  # within the 12 weeks shown
            status = rnd.choices(["new", "received", "answered", "closed"], [10, 15, 50, 25])[0]
            commune = rnd.choice(communes)
            c = Complaint(user_id=user.user_id, channel="telegram", chat_id=str(CITIZEN),
                          topic=rnd.choice(["procedure", "dossier", "official", "portal", "other"]),
                          commune_code=commune.code, place=f"{commune.name}, An Giang",
                          description="Phản ánh trước đây", agency_key=rnd.choice(["lx", "tp", "desk"]),
                          route_rule="seed", status=status, due_at=created + dt.timedelta(days=14),
                          rating=rnd.randint(1, 5) if status in ("answered", "closed") and rnd.random() < 0.6
                          else None, created_at=created, updated_at=created, version=1)
            db.add(c)
            await db.flush()
            c.code = f"PAKN-{created.year}-{c.id:06d}"
            events = [("created", created)]
            if status != "new":
                events.append(("received", created + dt.timedelta(hours=rnd.randint(1, 30))))
            if status in ("answered", "closed"):
                events.append((status, created + dt.timedelta(hours=rnd.randint(30, 24 * 20))))
            await db.execute(insert(ComplaintEvent), [
                dict(complaint_id=c.id, kind=k, actor="telegram:1" if k != "created" else "citizen",
                     agency_key=c.agency_key, note="", created_at=min(at, now)) for k, at in events])
