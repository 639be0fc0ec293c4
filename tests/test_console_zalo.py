"""``/console`` on Zalo: an operator gets a sign-in link in their private Zalo chat, and it signs them in."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from bot.config import Settings
from bot.console import console_mount
from knowledge.base import KnowledgeBase
from storage.console import ConsoleRepo
from tests.drivers import ZaloDriver
from tests.fake_zalo import TOKEN, FakeZalo


async def test_a_zalo_operator_signs_in_with_the_link(settings: Settings, kb: KnowledgeBase) -> None:
    async with FakeZalo() as fake:
        cfg = settings.model_copy(update={"zalo_bot_token": TOKEN, "zalo_base_url": fake.base_url,
                                          "admin_ids": "zalo:zalo-op-1", "public_url": "https://dvc.example.gov.vn"})
        driver = await ZaloDriver(cfg, kb, fake, chat_id="zalo-op-1").start()
        try:
            refused = await driver.say_in("zalo-citizen-2", "/console")
            assert "chỉ dành cho cán bộ" in refused[-1].text
            seen = await driver.say("/console")
            link = re.search(r"https://dvc\.example\.gov\.vn/console/login/([A-Za-z0-9_-]+)", seen[-1].text)
            assert link, seen[-1].text
            services = driver.dispatcher.services
            assert await ConsoleRepo(services.store).link_actor(link.group(1)) == "zalo:zalo-op-1"
            app = Starlette(routes=[console_mount(services)])
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://dvc.example.gov.vn") as http:
                done = await http.post(f"/console/login/{link.group(1)}")
                assert done.status_code == 303 and "secure" in done.headers["set-cookie"].lower()
                page = await http.get("/console/outbox")  # an operator's page
                assert page.status_code == 200 and "zalo:zalo-op-1 (quản trị viên)" in page.text
        finally:
            await driver.close()
