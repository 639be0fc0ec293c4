"""The web chat in a real headless Chromium: a portal page on another origin embeds the widget with one script tag;
a citizen asks about the passport fee, reads the answer, presses a button; markup typed by the citizen stays text;
a message pushed by the outbox arrives over server-sent events and, after a page change, is shown once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from bot.config import Settings
from bot.server import create_app
from handlers.types import Button, Reply
from knowledge.base import KnowledgeBase
from storage.models import User
from tests.drivers import WEBCHAT_SECRET
from tests.fake_telegram import free_port
from tests.test_console_browser import CHROMEDRIVER, CHROMIUM, Browser

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) or not os.path.exists(CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, "
                                       "/usr/bin/chromedriver); .ci/run installs them")

INJECTION = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
LOG_TEXT = "return document.getElementById('dvc-webchat').shadowRoot.querySelector('.log').innerText"


@contextlib.asynccontextmanager
async def serving(app: Any, port: int, lifespan: str) -> AsyncIterator[str]:
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan))
    task = asyncio.create_task(srv.serve())
    try:
        while not srv.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        await task


def portal(bot_base: str) -> Starlette:
    page = f"""<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cổng dịch vụ công tỉnh</title></head>
<body><h1>Cổng Dịch vụ công tỉnh An Giang</h1><p>Trang thử nhúng trợ lý.</p>
<script src="{bot_base}/webchat/widget.js" data-title="Trợ lý Dịch vụ công An Giang" data-open="true" async></script>
</body></html>"""

    async def home(request: Any) -> HTMLResponse:
        return HTMLResponse(page)

    return Starlette(routes=[Route("/", home), Route("/other", home)])


async def test_a_citizen_uses_the_widget_on_a_portal_page(settings: Settings, kb: KnowledgeBase) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    page_port = free_port()
    page_origin = f"http://127.0.0.1:{page_port}"
    cfg = settings.model_copy(update={"webchat_secret": WEBCHAT_SECRET, "webchat_origins": page_origin,
                                      "webchat_poll_seconds": 0.1})
    app = create_app(cfg, kb=kb)
    shots = Path(os.environ.get("WEBCHAT_SCREENSHOTS") or tempfile.mkdtemp(prefix="dvc-webchat-shots-"))
    shots.mkdir(parents=True, exist_ok=True)
    async with serving(app, free_port(), "on") as bot_base, serving(portal(bot_base), page_port, "off") as page:
        browser = Browser(shots)
        d = browser.driver
        try:
            def log_text() -> str:
                return str(d.execute_script(LOG_TEXT))

            def wait_for(needle: str, timeout: float = 20) -> None:
                WebDriverWait(d, timeout).until(lambda _: needle in log_text())

            def shadow(css: str) -> Any:
                return d.execute_script(
                    "return document.getElementById('dvc-webchat').shadowRoot.querySelector(arguments[0])", css)

            def choices(label: str) -> list[Any]:
                return d.execute_script(
                    "return Array.from(document.getElementById('dvc-webchat').shadowRoot"
                    ".querySelectorAll('button.choice')).filter(b => b.textContent === arguments[0])", label)

            await browser.get(page + "/")
            await browser.run(wait_for, "Dạ, em chào anh/chị")  # opened at load: the greeting and the menu
            assert await browser.run(lambda: shadow("button.launch").get_attribute("aria-expanded")) == "true"
            assert await browser.run(lambda: shadow(".log").get_attribute("role")) == "log"
            assert await browser.run(lambda: shadow("label[for=dvc-input]").get_attribute("textContent"))
            assert await browser.run(lambda: len(choices("Hỏi thủ tục"))) == 1  # the menu, as real buttons

            def ask(text: str) -> None:
                box = shadow("textarea")
                box.send_keys(text)
                box.send_keys(Keys.ENTER)

            await browser.run(ask, "lệ phí làm hộ chiếu bao nhiêu")
            await browser.run(wait_for, "Phí, lệ phí và thời hạn")
            text = await browser.run(log_text)
            assert "Cấp hộ chiếu phổ thông" in text and "100.000 đ" in text
            await browser.shot("webchat-answer", width=1000)
            await browser.run(lambda: choices("Giấy tờ")[-1].click())  # the answer's own button
            await browser.run(wait_for, "Giấy tờ cho thủ tục \"Cấp hộ chiếu phổ thông")

            # markup typed by the citizen (and echoed by nobody) stays text: nothing runs, no element is made
            await browser.run(ask, INJECTION)
            await browser.run(lambda: WebDriverWait(d, 20).until(
                lambda _: d.execute_script("return document.getElementById('dvc-webchat').shadowRoot"
                                           ".querySelectorAll('.msg.me').length") >= 3))
            await asyncio.sleep(0.5)  # the reply to it arrives; an onerror would have fired by now
            assert INJECTION in await browser.run(log_text)
            assert await browser.run(lambda: d.execute_script(
                "const r = document.getElementById('dvc-webchat').shadowRoot;"
                "return [r.querySelectorAll('img').length, r.querySelectorAll('script').length, "
                "typeof window.__pwned]")) == [0, 0, "undefined"]

            # a notification pushed by the outbox arrives over the event stream, with its button
            async with app.state.runtime.dispatcher.services.store.sessions() as db:
                (user,) = (await db.execute(select(User.external_id).where(User.channel == "webchat"))).scalars()
            channel = app.state.runtime.channels[0]
            await channel.push(user, Reply.make("Dạ, hồ sơ HS-001 của anh/chị đã có kết quả ạ.",
                                                [[Button("Về menu", "menu")]]))
            await browser.run(wait_for, "HS-001 của anh/chị đã có kết quả")
            # another page of the portal: the conversation is still there, the pushed message once
            await browser.get(page + "/other")
            await browser.run(wait_for, "HS-001 của anh/chị đã có kết quả")
            await asyncio.sleep(0.6)  # several polls of the stream
            assert (await browser.run(log_text)).count("HS-001 của anh/chị đã có kết quả") == 1
            await browser.run(lambda: choices("Về menu")[-1].click())
            await browser.run(lambda: WebDriverWait(d, 20).until(lambda _: log_text().count("Hỏi thủ tục") >= 2))
            await browser.shot("webchat-after-push", width=420)
            print(f"screenshots: {shots}")
        finally:
            await browser.run(browser.quit)
