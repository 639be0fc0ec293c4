"""The web chat over real HTTP against the real server app (bot/webchat_channel.py, docs/webchat.md): CORS limited
to the configured portals, the signed cookie session, limits per session and per IP address, forged buttons, bad
bodies, and messages pushed while the page was closed shown when it reconnects (also after a restart)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from bot.config import Settings
from bot.server import create_app
from handlers.texts import common as T
from handlers.texts import webchat as TW
from handlers.types import Button, Reply
from knowledge.base import KnowledgeBase
from storage.models import User
from tests.drivers import WEBCHAT_SECRET
from tests.fake_telegram import free_port

PORTAL = "https://dichvucong.angiang.gov.vn"


@contextlib.asynccontextmanager
async def server(settings: Settings, kb: KnowledgeBase, **webchat: Any) -> AsyncIterator[tuple[str, Any]]:
    """The real app (lifespan on) with the web chat on; yields (base URL, the app's runtime)."""
    cfg = settings.model_copy(update={"webchat_secret": WEBCHAT_SECRET, "webchat_origins": PORTAL,
                                      "webchat_poll_seconds": 0.05, **webchat})
    app = create_app(cfg, kb=kb)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on"))
    task = asyncio.create_task(srv.serve())
    try:
        while not srv.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{srv.config.port}", app.state.runtime
    finally:
        srv.should_exit = True
        await task


def client(base: str, origin: str = PORTAL, cookies: Any = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=20, headers={"Origin": origin}, cookies=cookies)


_n = 0


async def say(http: httpx.AsyncClient, text: str) -> httpx.Response:
    global _n
    _n += 1
    return await http.post("/webchat/message", json={"id": f"test-msg-{_n:06d}", "text": text})


def texts(r: httpx.Response) -> str:
    return "\n".join(m["text"] for m in r.json()["messages"])


async def user_ids(rt: Any) -> list[str]:
    async with rt.dispatcher.services.store.sessions() as db:
        return list((await db.execute(select(User.external_id).where(User.channel == "webchat"))).scalars())


async def test_only_the_configured_portals_may_call_it(settings: Settings, kb: KnowledgeBase) -> None:
    async with server(settings, kb) as (base, _):
        async with client(base, "https://evil.example") as evil:
            r = await say(evil, "lệ phí làm hộ chiếu bao nhiêu")
            assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
            assert "set-cookie" not in r.headers  # no session for a refused origin
            pre = await evil.options("/webchat/message", headers={"Access-Control-Request-Method": "POST"})
            assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
            assert (await evil.get("/webchat/events")).status_code == 403
        async with client(base) as portal:
            pre = await portal.options("/webchat/message", headers={"Access-Control-Request-Method": "POST",
                                                                    "Access-Control-Request-Headers": "content-type"})
            assert pre.status_code == 204
            assert pre.headers["access-control-allow-origin"] == PORTAL
            assert pre.headers["access-control-allow-credentials"] == "true"
            r = await say(portal, "lệ phí làm hộ chiếu bao nhiêu")
            assert r.status_code == 200 and r.headers["access-control-allow-origin"] == PORTAL
            assert "hộ chiếu" in texts(r).lower() and "100.000 đ" in texts(r)
        async with httpx.AsyncClient(base_url=base) as no_origin:  # a POST without Origin is not from the widget
            r = await no_origin.post("/webchat/message", json={"id": "no-origin-1", "text": "xin chào"})
            assert r.status_code == 403
        widget = await httpx.AsyncClient(base_url=base).get("/webchat/widget.js")
        assert widget.status_code == 200 and widget.headers["content-type"].startswith("application/javascript")
        assert "textContent" in widget.text and "innerHTML" not in widget.text and "insertAdjacentHTML" not in widget.text


async def test_the_cookie_is_signed_anonymous_and_keeps_the_conversation(settings: Settings,
                                                                        kb: KnowledgeBase) -> None:
    async with server(settings, kb) as (base, rt), client(base) as http:
        r = await say(http, "đăng ký khai sinh")
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Path=/webchat" in cookie and "SameSite=Lax" in cookie  # http: no Secure
        value = http.cookies["dvc_webchat"]
        assert len(value) < 64 and "khai" not in value
        giay_to = next(b for row in r.json()["messages"][-1]["buttons"] for b in row if b["label"] == "Giấy tờ")
        r = await http.post("/webchat/message", json={"id": "press-000001", "action": giay_to["action"],
                                                      "sig": giay_to["sig"]})
        assert "Giấy tờ cho thủ tục \"Đăng ký khai sinh\"" in texts(r)
        assert "set-cookie" not in r.headers  # the same session
        assert len(await user_ids(rt)) == 1
        # a tampered cookie is a new visitor: nothing of the first conversation is theirs
        sid, _, mac = value.partition(".")
        forged = f"{sid}x.{mac}"
        async with client(base, cookies={"dvc_webchat": forged}) as other:
            r = await say(other, "1")
            assert "Giấy tờ cho thủ tục" not in texts(r)
            assert r.headers["set-cookie"].split(";")[0] != f"dvc_webchat={forged}"
        assert len(await user_ids(rt)) == 2
        # behind the reverse proxy on https: a cross-site cookie, Secure and partitioned by the portal
        async with client(base) as tls:
            r = await tls.post("/webchat/session", json={}, headers={"X-Forwarded-Proto": "https"})
            attrs = [a.strip() for a in r.headers["set-cookie"].split(";")]
            assert {"HttpOnly", "SameSite=None", "Secure", "Partitioned"} <= set(attrs) and r.json()["new"]
        # the same message id again (a retried request) is handled once
        body = {"id": "retry-0000001", "text": "lệ phí làm hộ chiếu bao nhiêu"}
        first = await http.post("/webchat/message", json=body)
        again = await http.post("/webchat/message", json=body)
        assert first.json()["messages"] and again.json() == {"ok": True, "duplicate": True, "messages": [],
                                                             "notice": TW.DUPLICATE}


async def test_forged_buttons_are_refused(settings: Settings, kb: KnowledgeBase) -> None:
    async with server(settings, kb) as (base, rt), client(base) as a, client(base) as b:
        r = await say(a, "/start")
        menu = [btn for row in r.json()["messages"][0]["buttons"] for btn in row]
        assert [x["label"] for x in menu][:2] == ["Hỏi thủ tục", "Hướng dẫn nộp trực tuyến"]
        await say(b, "/start")
        turns_before = len(await user_ids(rt))
        for forged in ({"action": "complaint:rate:1:5", "sig": "AAAAAAAAAAAAAAAAAAAAAA"},  # made up
                       {"action": "complaint:rate:1:5", "sig": menu[0]["sig"]},  # a real signature, another action
                       {"action": menu[0]["action"], "sig": menu[0]["sig"]},  # a's button pressed by b
                       {"action": ["menu"], "sig": None}):  # not even strings
            r = await b.post("/webchat/message", json={"id": f"forged-{abs(hash(str(forged))) % 10**8:08d}",
                                                       **forged})
            assert r.status_code == 200
            assert texts(r) == T.UNKNOWN_BUTTON
            assert [x["label"] for row in r.json()["messages"][0]["buttons"] for x in row] == [T.BTN_MENU]
        assert len(await user_ids(rt)) == turns_before
        r = await a.post("/webchat/message", json={"id": "real-press-01", "action": menu[0]["action"],
                                                   "sig": menu[0]["sig"]})
        assert texts(r) != T.UNKNOWN_BUTTON and r.json()["messages"]


async def test_limits_per_session_and_per_address(settings: Settings, kb: KnowledgeBase) -> None:
    async with server(settings, kb, webchat_per_minute=5, webchat_ip_per_minute=600) as (base, _), \
            client(base) as a, client(base) as b:
        codes = [(await say(a, f"câu hỏi số {i}")).status_code for i in range(5)]
        assert codes == [200] * 5
        r = await say(a, "câu hỏi nữa")
        assert r.status_code == 429 and texts(r) == TW.SLOW_DOWN and r.headers["retry-after"]
        assert r.headers["access-control-allow-origin"] == PORTAL  # the widget can read the reason
        assert (await say(b, "đăng ký khai sinh")).status_code == 200  # another session is not slowed
    async with server(settings, kb, webchat_per_minute=600, webchat_ip_per_minute=6) as (base, _):
        codes = []
        for i in range(8):  # eight new sessions from one address
            async with client(base) as c:
                codes.append((await say(c, f"xin chào {i}")).status_code)
        assert codes[:5] == [200] * 5 and codes[-1] == 429


async def test_bad_bodies_get_a_readable_reply(settings: Settings, kb: KnowledgeBase) -> None:
    async with server(settings, kb) as (base, _), client(base) as http:
        r = await http.post("/webchat/message", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and texts(r) == TW.NOT_READABLE
        r = await http.post("/webchat/message", json={"id": "x", "text": "ngắn"})  # a message id too short
        assert r.status_code == 400 and texts(r) == TW.NOT_READABLE
        r = await http.post("/webchat/message", json={"id": "bad-types-01", "text": {"a": 1}})
        assert r.status_code == 400
        r = await http.post("/webchat/message", json={"id": "huge-body-01", "text": "ạ" * 30_000})
        assert r.status_code == 413 and texts(r) == TW.TOO_LONG
        r = await say(http, "   ")
        assert r.status_code == 200 and texts(r) == T.EMPTY
        injection = "<img src=x onerror=alert(1)><script>alert(2)</script>"
        r = await say(http, injection)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert "Dạ" in texts(r)
        r = await say(http, "đăng ký khai sinh")  # still answering
        assert "khai sinh" in texts(r).lower()


async def _events(http: httpx.AsyncClient, after: int | None = None, last_event_id: str | None = None,
                  want: int = 1, timeout: float = 10.0) -> list[tuple[int, dict[str, Any]]]:
    """Read the event stream until ``want`` messages came."""
    got: list[tuple[int, dict[str, Any]]] = []
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    params = {"after": after} if after is not None else {}

    async def read() -> None:
        async with http.stream("GET", "/webchat/events", params=params, headers=headers) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            event_id = 0
            async for line in r.aiter_lines():
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    got.append((event_id, json.loads(line[6:])))
                    if len(got) >= want:
                        return

    await asyncio.wait_for(read(), timeout)
    return got


async def test_pushed_messages_wait_for_the_page_and_come_once(settings: Settings, kb: KnowledgeBase) -> None:
    async with server(settings, kb) as (base, rt), client(base) as http:
        await say(http, "/start")
        user = (await user_ids(rt))[0]
        channel = rt.channels[0]
        # the page is closed: two notifications are queued (as a dossier's change or a helper's line would be)
        await channel.push(user, Reply.make("Dạ, hồ sơ của anh/chị đã có kết quả ạ.",
                                            [[Button("Xem hồ sơ", "menu")]]))
        await channel.push(user, Reply.make("<b>Tin thứ hai</b> & <script>x</script>"))
        cookies = http.cookies
    async with server(settings, kb) as (base, rt):  # a restart in between: everything is in the database
        async with client(base, cookies=cookies) as http:
            got = await _events(http, after=0, want=2)
            assert [m["text"] for _, m in got] == ["Dạ, hồ sơ của anh/chị đã có kết quả ạ.",
                                                   "<b>Tin thứ hai</b> & <script>x</script>"]
            first_id, first = got[0]
            # the pushed button works like any other (signed for this session)
            press = first["buttons"][0][0]
            r = await http.post("/webchat/message", json={"id": "pushed-press-1", "action": press["action"],
                                                          "sig": press["sig"]})
            assert texts(r) != T.UNKNOWN_BUTTON
            # the connection dropped after the first one: the browser reconnects with its Last-Event-ID
            again = await _events(http, last_event_id=str(first_id))
            assert [m["text"] for _, m in again] == [got[1][1]["text"]]
            # what the page saw is not sent again; a new one is
            await rt.channels[0].push((await user_ids(rt))[0], Reply.make("Tin mới"))
            latest = await _events(http, after=got[1][0])
            assert [m["text"] for _, m in latest] == ["Tin mới"]
            r = await http.get("/webchat/messages", params={"after": latest[0][0]})
            assert r.json()["messages"] == []
        async with client(base) as stranger:  # another session sees none of them
            await say(stranger, "/start")
            assert (await stranger.get("/webchat/messages", params={"after": 0})).json()["messages"] == []
        async with httpx.AsyncClient(base_url=base, headers={"Origin": PORTAL}) as nobody:
            assert (await nobody.get("/webchat/events")).status_code == 401  # no session cookie


async def test_off_without_a_secret(settings: Settings, kb: KnowledgeBase) -> None:
    app = create_app(settings, kb=kb)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on"))
    task = asyncio.create_task(srv.serve())
    try:
        while not srv.started:
            await asyncio.sleep(0.01)
        async with client(f"http://127.0.0.1:{srv.config.port}") as http:
            assert (await say(http, "xin chào")).status_code == 404
            health = (await http.get("/healthz")).json()
            assert "webchat" not in health["channels"]
    finally:
        srv.should_exit = True
        await task


@pytest.mark.parametrize("origins", ["https://a.gov.vn/path", "javascript:alert(1)", "a.gov.vn"])
def test_origins_must_be_origins(origins: str) -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="WEBCHAT_ORIGINS"):
        load_settings(webchat_origins=origins)
    with pytest.raises(ConfigError, match="WEBCHAT_SECRET"):
        load_settings(webchat_secret="short")


async def test_a_held_message_that_becomes_due_later_still_arrives(settings: Settings, kb: KnowledgeBase) -> None:
    """A row held for the direct answer (a tracking code) that falls back to the outbox gets a lower id than a
    message pushed after it: the open stream still shows it when it becomes due, and a first visit's stream
    gives the page a cursor so that later reads do not start from the oldest row."""
    async with server(settings, kb) as (base, rt), client(base) as http:
        await say(http, "/start")
        user = (await user_ids(rt))[0]
        store = rt.dispatcher.services.store
        await rt.channels[0].push("w-someone-else", Reply.make("Tin của người khác"))
        async with http.stream("GET", "/webchat/events") as r:  # a first visit: a cursor event, no message
            lines = []
            async for line in r.aiter_lines():
                lines.append(line)
                if line.startswith("event: "):
                    break
        assert lines[-1] == "event: cursor" and any(x.startswith("id: ") for x in lines)
        async with store.sessions.begin() as db:
            store.enqueue(db, dedup_key="held-code-1", channel="webchat", chat_id=user,
                          text="Dạ, mã phản ánh của anh/chị là PAKN-2026-000001 ạ.", hold=0.6)
        await rt.channels[0].push(user, Reply.make("Tin gửi sau"))
        got = await _events(http, after=0, want=2)
        assert [m["text"] for _, m in got] == ["Tin gửi sau", "Dạ, mã phản ánh của anh/chị là PAKN-2026-000001 ạ."]
        assert got[1][0] < got[0][0]  # the held row's id is the older one


async def test_two_workers_share_every_conversation(settings: Settings, kb: KnowledgeBase) -> None:
    """Two server processes' apps on one database (as behind a load balancer): a button from one worker's answer
    is pressed on the other, and a message pushed by one reaches the page streaming from the other."""
    async with server(settings, kb) as (base_a, rt_a), server(settings, kb) as (base_b, _):
        async with client(base_a) as on_a:
            r = await say(on_a, "đăng ký khai sinh")
            giay_to = next(b for row in r.json()["messages"][-1]["buttons"] for b in row if b["label"] == "Giấy tờ")
            cookies = on_a.cookies
        async with client(base_b, cookies=cookies) as on_b:
            r = await on_b.post("/webchat/message", json={"id": "other-worker-1", "action": giay_to["action"],
                                                          "sig": giay_to["sig"]})
            assert "Giấy tờ cho thủ tục \"Đăng ký khai sinh\"" in texts(r)
            await rt_a.channels[0].push((await user_ids(rt_a))[0], Reply.make("Tin từ worker A"))
            got = await _events(on_b, after=0)
            assert [m["text"] for _, m in got] == ["Tin từ worker A"]
