"""Channel drivers for scenario tests: the same conversation runs through every channel.

A driver lets a test ``say`` text, ``press`` a button by (part of) its label, and
``restart`` the bot (a new process would see only what is in the database).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.config import Settings
from bot.render import render_all
from bot.runtime import background_jobs
from bot.terminal import to_incoming as terminal_incoming
from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from knowledge.base import KnowledgeBase
from tests.fake_telegram import FakeTelegram


@dataclass
class Seen:
    """One message as the user sees it: its text and its choices."""

    text: str
    labels: list[str] = field(default_factory=list)
    raw: Any = None


class Driver(Protocol):
    name: str
    dispatcher: Dispatcher

    async def say(self, text: str) -> list[Seen]: ...
    async def press(self, label_part: str) -> list[Seen]: ...
    async def restart(self) -> None: ...
    async def close(self) -> None: ...


def _find(labels: list[str], part: str) -> int:
    for i, label in enumerate(labels):
        if part.lower() in label.lower():
            return i
    raise AssertionError(f"no choice like {part!r} in {labels}")


class TerminalDriver:
    """Drives the terminal channel: choices are picked by typing their number."""

    name = "terminal"

    def __init__(self, settings: Settings, kb: KnowledgeBase, user: str = "citizen-1") -> None:
        self.settings, self.kb, self.user = settings, kb, user
        self.last_labels: list[str] = []
        self.dispatcher: Dispatcher

    async def start(self) -> "TerminalDriver":
        self.dispatcher = await build_dispatcher(self.settings, kb=self.kb)
        return self

    async def say(self, text: str) -> list[Seen]:
        out = await self.dispatcher.handle(terminal_incoming(text, self.user))
        rendered = render_all(out.replies)
        seen = [Seen(t, [b.label for b in r.all_buttons()], r) for t, r in zip(rendered, out.replies)]
        labels = [label for s in seen for label in s.labels]
        if labels:
            self.last_labels = labels
        return seen

    async def press(self, label_part: str) -> list[Seen]:
        return await self.say(str(_find(self.last_labels, label_part) + 1))

    async def restart(self) -> None:
        await self.dispatcher.services.store.close()
        await self.start()

    async def close(self) -> None:
        await self.dispatcher.services.store.close()


class TelegramDriver:
    """Drives the real python-telegram-bot Application against the fake Bot API."""

    name = "telegram"

    def __init__(self, settings: Settings, kb: KnowledgeBase, fake: FakeTelegram, chat_id: int = 5001) -> None:
        self.settings, self.kb, self.fake, self.chat_id = settings, kb, fake, chat_id
        self.last_buttons: list[dict[str, str]] = []
        self.dispatcher: Dispatcher
        self.app: Any = None
        self._done: dict[str, asyncio.Event] = {}
        self._jobs: Any = None

    async def start(self) -> "TelegramDriver":
        from bot.telegram_channel import build_application, start_application

        self.dispatcher = await build_dispatcher(self.settings, kb=self.kb)
        self.dispatcher.services.extras["after_update"] = self._handled
        self.app = build_application(self.settings, self.dispatcher)
        await start_application(self.app, poll_interval=0.0, timeout=1)
        self._jobs = background_jobs(self.dispatcher.services, outbox_interval=0.05)
        await self._jobs.__aenter__()  # the outbox worker pushes notifications as in production
        return self

    def _handled(self, channel: str, update_key: str) -> None:
        self._done.setdefault(update_key, asyncio.Event()).set()

    async def wait_handled(self, update_id: int, timeout: float = 15.0) -> None:
        event = self._done.setdefault(str(update_id), asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout)

    async def _do(self, make_update: Any, chat_id: int | None = None) -> list[Seen]:
        chat = chat_id or self.chat_id
        before = len(self.fake.to(chat))
        update_id = make_update()
        await self.wait_handled(update_id)
        seen = [Seen(s.text, s.labels, s) for s in self.fake.to(chat)[before:]]
        for s in seen:
            if s.labels:
                self.last_buttons = [b for row in s.raw.buttons for b in row]
        return seen

    async def say(self, text: str, user_id: int | None = None) -> list[Seen]:
        return await self._do(lambda: self.fake.text(self.chat_id, text, user_id))

    async def press(self, label_part: str) -> list[Seen]:
        labels = [b["text"] for b in self.last_buttons]
        data = self.last_buttons[_find(labels, label_part)]["callback_data"]
        return await self._do(lambda: self.fake.press(self.chat_id, data))

    async def say_in(self, chat_id: int, text: str, user_id: int | None = None,
                     reply_to: int | None = None) -> list[Seen]:
        """Text from another chat (e.g. an agency group, chat_id < 0) or another user."""
        return await self._do(lambda: self.fake.text(chat_id, text, user_id, reply_to), chat_id)

    async def press_in(self, chat_id: int, data: str, user_id: int | None = None) -> list[Seen]:
        """A button press with raw callback data, in any chat, by any user."""
        return await self._do(lambda: self.fake.press(chat_id, data, user_id), chat_id)

    async def restart(self) -> None:
        await self.close()
        await self.start()

    async def close(self) -> None:
        if self._jobs is not None:
            await self._jobs.__aexit__(None, None, None)
            self._jobs = None
        if self.app is not None:
            from bot.telegram_channel import stop_application

            await stop_application(self.app)
            self.app = None
        await self.dispatcher.services.store.close()


class ZaloDriver:
    """Drives the real Zalo channel (long polling) against the fake Zalo Bot API.

    Zalo has no buttons: ``press`` types the number of the choice, as a citizen would.
    """

    name = "zalo"

    def __init__(self, settings: Settings, kb: KnowledgeBase, fake: Any, chat_id: str = "zalo-user-1") -> None:
        self.settings, self.kb, self.fake, self.chat_id = settings, kb, fake, chat_id
        self.last_labels: list[str] = []
        self.dispatcher: Dispatcher
        self.client: Any = None
        self.pool: Any = None
        self._poller: asyncio.Task[None] | None = None
        self._done: dict[str, asyncio.Event] = {}
        self._jobs: Any = None

    async def start(self) -> "ZaloDriver":
        from bot.task_pool import TaskPool
        from bot.zalo_channel import attach, make_client, start_polling

        self.dispatcher = await build_dispatcher(self.settings, kb=self.kb)
        self.dispatcher.services.extras["after_update"] = self._handled
        self.client = make_client(self.settings)
        self.client.retry_delay = 0.01
        attach(self.dispatcher, self.client)
        self.pool = TaskPool()
        self._poller = await start_polling(self.dispatcher, self.client, self.pool, timeout=1)
        self._jobs = background_jobs(self.dispatcher.services, outbox_interval=0.05)
        await self._jobs.__aenter__()  # the outbox worker pushes notifications as in production
        return self

    def _handled(self, channel: str, update_key: str) -> None:
        self._done.setdefault(update_key, asyncio.Event()).set()

    async def wait_handled(self, key: str, timeout: float = 15.0) -> None:
        event = self._done.setdefault(key, asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout)

    async def _do(self, make_update: Any, chat_id: str | int | None = None) -> list[Seen]:
        chat = str(chat_id or self.chat_id)
        before = len(self.fake.to(chat))
        key = make_update()
        await self.wait_handled(key)
        from tests.fake_zalo import turn_labels

        sent = self.fake.to(chat)[before:]
        seen = [Seen(s.text, labels, s) for s, labels in zip(sent, turn_labels([s.text for s in sent]))]
        labels = [label for s in seen for label in s.labels]
        if labels:
            self.last_labels = labels
        return seen

    async def say(self, text: str, user_id: str | int | None = None) -> list[Seen]:
        return await self._do(lambda: self.fake.text(self.chat_id, text, user_id))

    async def press(self, label_part: str) -> list[Seen]:
        return await self.say(str(_find(self.last_labels, label_part) + 1))

    async def say_in(self, chat_id: str | int, text: str, user_id: str | int | None = None,
                     reply_to: Any = None) -> list[Seen]:
        """Text from another chat (a chat id starting with '-' is a group) or another user.

        Zalo has no "reply to a message": ``reply_to`` is accepted for the common interface and ignored.
        """
        return await self._do(lambda: self.fake.text(chat_id, text, user_id), chat_id)

    async def restart(self) -> None:
        await self.close()
        await self.start()

    async def close(self) -> None:
        if self._jobs is not None:
            await self._jobs.__aexit__(None, None, None)
            self._jobs = None
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self.pool is not None:
            await self.pool.drain(5.0)
        if self.client is not None:
            await self.client.close()
            self.client = None
        await self.dispatcher.services.store.close()


WEBCHAT_SECRET = "test-webchat-secret-0123456789-abcdefghij"


class WebChatDriver:
    """Drives the web chat over real HTTP against the real server app (``bot.server.create_app``, lifespan
    on) on 127.0.0.1, as the widget does: a cookie session, POST /webchat/message, signed buttons; what the
    outbox pushed to this session is read back (GET /webchat/messages) after each turn."""

    name = "webchat"

    def __init__(self, settings: Settings, kb: KnowledgeBase) -> None:
        self.settings = settings.model_copy(update={
            "webchat_secret": WEBCHAT_SECRET, "webchat_poll_seconds": 0.05,
            "webchat_per_minute": max(settings.webchat_per_minute, 6000),
            "webchat_ip_per_minute": max(settings.webchat_ip_per_minute, 60000)})
        self.kb = kb
        self.last_buttons: list[dict[str, str]] = []
        self.dispatcher: Dispatcher
        self.http: Any = None
        self.base = ""
        self.after = 0
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._count = 0

    async def start(self) -> "WebChatDriver":
        import httpx
        import uvicorn

        from bot.server import create_app
        from tests.fake_telegram import free_port

        app = create_app(self.settings, kb=self.kb)
        port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                     lifespan="on"))
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the web server stopped during start-up")
            await asyncio.sleep(0.01)
        self.base = f"http://127.0.0.1:{port}"
        self.dispatcher = app.state.runtime.dispatcher
        cookies = self.http.cookies if self.http is not None else None
        if self.http is not None:
            await self.http.aclose()
        self.http = httpx.AsyncClient(base_url=self.base, timeout=30, cookies=cookies,
                                      headers={"Origin": self.base})
        return self

    def _seen(self, messages: list[dict[str, Any]]) -> list[Seen]:
        seen = []
        for m in messages:
            text = f"{m['title']}\n{m['text']}" if m.get("title") else m["text"]
            seen.append(Seen(text, [b["label"] for row in m["buttons"] for b in row], m))
        buttons = [b for m in messages for row in m["buttons"] for b in row]
        if buttons:
            self.last_buttons = buttons
        return seen

    async def post(self, body: dict[str, Any]) -> list[Seen]:
        self._count += 1
        r = await self.http.post("/webchat/message", json={"id": f"msg-{self._count:06d}", **body})
        assert r.status_code == 200, (r.status_code, r.text)
        return self._seen(r.json()["messages"]) + await self.pushed()

    async def pushed(self) -> list[Seen]:
        """Messages the outbox pushed to this session since the last look."""
        r = await self.http.get("/webchat/messages", params={"after": self.after})
        assert r.status_code == 200, (r.status_code, r.text)
        messages = r.json()["messages"]
        if messages:
            self.after = messages[-1]["id"]
        return self._seen(messages)

    async def say(self, text: str) -> list[Seen]:
        return await self.post({"text": text})

    async def press(self, label_part: str) -> list[Seen]:
        b = self.last_buttons[_find([b["label"] for b in self.last_buttons], label_part)]
        return await self.post({"action": b["action"], "sig": b["sig"]})

    async def restart(self) -> None:
        await self._stop_server()
        await self.start()

    async def _stop_server(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            assert self._task is not None
            await self._task
            self._server = None

    async def close(self) -> None:
        await self._stop_server()
        if self.http is not None:
            await self.http.aclose()
            self.http = None

    async def wait_pushed(self, needle: str, timeout: float = 10.0) -> list[Seen]:
        """Read pushed messages until one contains ``needle`` (the outbox row may be held a moment)."""
        seen: list[Seen] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(needle in s.text for s in seen):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no pushed message with {needle!r} in {[s.text[:60] for s in seen]}")
            seen += await self.pushed()
            await asyncio.sleep(0.05)
        return seen
