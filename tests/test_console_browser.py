"""The web console in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)
against the real server and the fake Telegram Bot API: a citizen files a complaint in their chat, staff
sign in with the link the bot sent them, answer it in the page, and the citizen's chat gets the answer.

Screenshots of the main pages go to a folder the test prints (CONSOLE_SCREENSHOTS, else a temporary one).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import statistics
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from storage.complaint_models import Complaint, ComplaintEvent
from storage.console import token_hash
from storage.console_models import ConsoleLink
from storage.models import QuestionLog
from tests.console_support import (
    CITIZEN,
    LX_STAFF,
    OPERATOR,
    TP_STAFF,
    ConsoleServer,
    console_server,
    file_complaint,
    seed_history,
)
from tests.fake_telegram import FakeTelegram

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
VN = dt.timezone(dt.timedelta(hours=7))

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) or not os.path.exists(CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, "
                                       "/usr/bin/chromedriver); .ci/run installs them")


class Browser:
    """A headless Chromium; every Selenium call runs in a thread so that the server keeps serving."""

    def __init__(self, shots: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="dvc-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", f"--user-data-dir={self.profile}", "--window-size=1200,900",
                    "--lang=vi"):
            opts.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_page_load_timeout(20)
        self.shots = shots

    async def run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def get(self, url: str) -> None:
        await self.run(self.driver.get, url)

    async def text(self, css: str = "body") -> str:
        return await self.run(lambda: self.driver.find_element("css selector", css).text)

    async def click(self, css: str) -> None:
        """Click (a link or a submit button) and wait for the next page to load."""
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        def go() -> None:
            page = self.driver.find_element("tag name", "html")
            self.driver.find_element("css selector", css).click()
            WebDriverWait(self.driver, 15).until(expected_conditions.staleness_of(page))
            WebDriverWait(self.driver, 15).until(
                lambda d: d.execute_script("return document.readyState") == "complete")
        await self.run(go)

    async def type(self, css: str, text: str) -> None:
        await self.run(lambda: self.driver.find_element("css selector", css).send_keys(text))

    async def table(self, css: str) -> list[list[str]]:
        def read() -> list[list[str]]:
            rows = self.driver.find_elements("css selector", f"{css} tbody tr")
            return [[c.text for c in r.find_elements("css selector", "th, td")] for r in rows]
        return await self.run(read)

    async def shot(self, name: str, width: int = 1200) -> None:
        def take() -> None:
            self.driver.set_window_size(width, 900)
            height = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(width, min(max(int(height), 600), 2400))
            self.driver.save_screenshot(str(self.shots / f"{name}.png"))
            self.driver.set_window_size(1200, 900)
        await self.run(take)

    async def forget_cookies(self) -> None:
        await self.run(self.driver.delete_all_cookies)

    def quit(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


async def sign_in(browser: Browser, srv: ConsoleServer, user_id: int) -> str:
    await browser.forget_cookies()
    link = await srv.console_link(user_id)
    await browser.get(link)
    await browser.click("#sign-in")
    return link


def week_of(when: dt.datetime) -> str:
    day = when.astimezone(VN).date()
    return (day - dt.timedelta(days=day.weekday())).strftime("%d/%m/%Y")


async def test_console_in_a_real_browser(tmp_path: Path) -> None:
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {shots}")
    async with FakeTelegram() as fake, console_server(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}",
                                                      fake) as srv:
        browser = await asyncio.to_thread(Browser, shots)
        try:
            await _story(srv, fake, browser)
        finally:
            await asyncio.to_thread(browser.quit)


async def _story(srv: ConsoleServer, fake: FakeTelegram, browser: Browser) -> None:
    # a citizen asks a question and files a complaint in their Telegram chat
    await srv.say(CITIZEN, "làm giấy khai sinh cần gì")
    code = await file_complaint(srv, "Cán bộ một cửa phường bắt tôi nộp bản sao và chờ ba buổi liền")

    # staff of phường Long Xuyên sign in with the link the bot sent to their private chat
    link = await sign_in(browser, srv, LX_STAFF)
    assert "Phản ánh, kiến nghị" in await browser.text("h1")
    listed = await browser.table("#complaints")
    assert [code, "Mới, chờ tiếp nhận", "Thái độ, hành vi cán bộ", "UBND phường Long Xuyên"] == listed[0][:4]
    await browser.shot("complaints")
    await browser.shot("complaints-phone", width=390)

    # the detail page, then an answer typed in the page
    await browser.click("#complaints a")
    assert code in await browser.text("h1")
    assert "chờ ba buổi liền" in await browser.text("#description")
    await browser.shot("complaint")

    def accessible() -> tuple[list[str], str]:
        d = browser.driver
        unlabeled = [f.get_attribute("id") or f.get_attribute("name") for f in d.find_elements(
            "css selector", "input:not([type=hidden]), select, textarea")
            if not f.get_attribute("id") or not d.find_elements("css selector", f"label[for='{f.get_attribute('id')}']")]
        from selenium.webdriver.common.keys import Keys
        d.find_element("tag name", "body").send_keys(Keys.TAB)  # the first Tab reaches the skip link
        return unlabeled, d.switch_to.active_element.get_attribute("class")
    unlabeled, first_focus = await browser.run(accessible)
    assert unlabeled == [] and first_focus == "skip"
    before = len(fake.to(CITIZEN))
    await browser.type("#answer-text", "Dạ, phường đã nhắc nhở cán bộ, mời anh/chị đến nhận kết quả sáng mai")
    await browser.click("#act-answer")
    assert "Đã gửi trả lời" in await browser.text("#notice")
    assert "Cơ quan trả lời" in await browser.text("#timeline")
    answer = (await fake.wait_for(CITIZEN, before + 1))[-1]
    assert "UBND phường Long Xuyên đã trả lời phản ánh" in answer.text and "nhắc nhở cán bộ" in answer.text
    await srv.press(CITIZEN, "4")  # the citizen rates the answer in the chat

    # the same link again: refused
    await browser.forget_cookies()
    await browser.get(link)
    assert "đã hết hạn hoặc đã được dùng" in await browser.text()
    # an expired link: refused
    expired = await srv.console_link(TP_STAFF)
    async with srv.services.store.sessions.begin() as db:
        await db.execute(update(ConsoleLink).where(ConsoleLink.token_hash == token_hash(expired.rsplit("/", 1)[1]))
                         .values(expires_at=srv.services.now() - dt.timedelta(minutes=1)))
    await browser.get(expired)
    assert "đã hết hạn hoặc đã được dùng" in await browser.text()

    # staff of another agency do not see it, and cannot open it
    await sign_in(browser, srv, TP_STAFF)
    assert code not in await browser.text("main")
    c = await srv.services.extras["complaint_ops"].repo.by_code(code)
    await browser.get(f"{srv.base}/console/complaints/{c.id}")
    assert "không có quyền" in await browser.text("main")
    assert "chờ ba buổi" not in await browser.text()

    # the operator's figures match the database (with earlier complaints, so that there is something to see)
    await seed_history(srv)
    await sign_in(browser, srv, OPERATOR)
    await browser.get(f"{srv.base}/console/figures")
    await browser.shot("figures")
    async with srv.services.store.sessions() as db:
        complaints = list((await db.execute(select(Complaint))).scalars())
        questions = list((await db.execute(select(QuestionLog))).scalars())
    per_week = Counter(week_of(x.created_at) for x in complaints)
    per_week_topic = Counter((week_of(x.created_at), x.topic) for x in complaints)
    header = await browser.run(lambda: [th.text for th in browser.driver.find_elements(
        "css selector", "#fig-topic thead th")])
    topic_rows = {r[0]: r for r in await browser.table("#fig-topic")}
    for week, n in per_week.items():
        assert topic_rows[week][-1] == str(n)  # the total column of that week
    labels = {"Thủ tục hành chính": "procedure", "Hồ sơ đã nộp": "dossier", "Thái độ, hành vi cán bộ": "official",
              "Cổng Dịch vụ công": "portal", "Việc khác": "other"}
    for week, row in topic_rows.items():
        for i, name in enumerate(header[1:-1], 1):
            assert row[i] == str(per_week_topic[(week, labels[name])])
    assert sum(int(r[-1]) for r in topic_rows.values()) == len(complaints)
    ratings = {r[0]: r[1] for r in await browser.table("#fig-ratings")}
    assert ratings == {str(k): str(sum(1 for x in complaints if x.rating == k)) for k in range(1, 6)}
    assert int(ratings["4"]) >= 1
    per_day = Counter(q.created_at.astimezone(VN).strftime("%d/%m/%Y") for q in questions)
    day_rows = {r[0]: r[1] for r in await browser.table("#fig-questions")}
    for day, n in per_day.items():
        assert day_rows[day] == str(n)
    async with srv.services.store.sessions() as db:
        events = list((await db.execute(select(ComplaintEvent).order_by(ComplaintEvent.id))).scalars())
    by_id = {x.id: x for x in complaints}
    first_answer: dict[int, dt.datetime] = {}
    first_done: dict[int, dt.datetime] = {}
    for e in events:
        if e.kind == "answered":
            first_answer.setdefault(e.complaint_id, e.created_at)
        if e.kind in ("answered", "closed"):
            first_done[e.complaint_id] = min(first_done.get(e.complaint_id, e.created_at), e.created_at)
    hours = sorted((at - by_id[cid].created_at).total_seconds() / 3600 for cid, at in first_answer.items())
    p90 = hours[-(-9 * len(hours) // 10) - 1]
    summary = await browser.text("#answer-summary")
    assert f"Số đã trả lời: {len(hours)}" in summary
    assert f"Trung vị (giờ): {statistics.median(hours):.1f}" in summary and f"90% trong (giờ): {p90:.1f}" in summary
    ontime = {r[0]: r for r in await browser.table("#fig-ontime")}
    expected: dict[str, list[int]] = {}
    now = srv.services.now()
    for x in complaints:
        done = first_done.get(x.id)
        if done is None and x.due_at >= now:
            continue
        row = expected.setdefault(week_of(x.created_at), [0, 0])
        row[0 if done is not None and done <= x.due_at else 1] += 1
    for week, (ok, late) in expected.items():
        assert ontime[week][1:3] == [str(ok), str(late)]
    assert sum(int(r[1]) + int(r[2]) for r in ontime.values()) == sum(sum(v) for v in expected.values())
    communes = {r[0]: r for r in await browser.table("#fig-commune")}
    assert sum(sum(int(v) for v in r[1:]) for r in communes.values()) == len(complaints)

    # the other main pages, for the screenshots
    for page in ("handoffs", "knowledge", "dossiers", "outbox", "audit"):
        await browser.get(f"{srv.base}/console/{page}")
        assert "Trang quản lý" in await browser.text("header")
        await browser.shot(page)
    await browser.get(f"{srv.base}/console/complaints/{c.id}")
    timeline = await browser.text("#timeline")
    assert "Người dân đánh giá" in timeline and f"telegram:{LX_STAFF}" in timeline
    assert re.search(r"PAKN-\d{4}-\d{6}", await browser.text("h1"))
