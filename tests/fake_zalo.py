"""A small fake Zalo Bot Platform API server on 127.0.0.1 for driving the real Zalo channel.

Tests queue updates (texts, images, stickers); the bot fetches them with ``getUpdates``
(one update per call, error 408 after a short wait when idle), or the fake posts them to
the registered webhook with ``X-Bot-Api-Secret-Token``. Every message the bot sends is
recorded. Failures can be injected: 5xx or 429 answers to the next sends.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fake_telegram import free_port

TOKEN = "987654321:ZALOTESTTOKEN-abcdefghijklmnop"
BOT_INFO = {"id": "bot-1", "account_name": "bot.trolydvc", "account_type": "BASIC", "can_join_groups": False}
_NUMBERED = re.compile(r"^(\d{1,2})\. (.+)$")
_HINT = re.compile(r"^Gõ ([\d, ]+(?: hoặc \d+)?) để chọn ạ\.$")


def turn_labels(texts: list[str]) -> list[list[str]]:
    """The numbered choices in each of one turn's messages.

    Choices are numbered across the turn's messages and the hint ("Gõ 1, 2 … hoặc 7 để chọn ạ.")
    closes the last list, so walk back from the hint collecting "7. …", "6. …" … "1. …".
    """
    found: list[list[str]] = [[] for _ in texts]
    lines = [t.rstrip().split("\n") for t in texts]
    last = max((i for i, ls in enumerate(lines) if _HINT.match(ls[-1].strip())), default=-1)
    if last < 0:
        return found
    expected = int(re.findall(r"\d+", _HINT.match(lines[last][-1].strip()).group(1))[-1])  # type: ignore[union-attr]
    lines[last] = lines[last][:-1]
    for i in range(last, -1, -1):
        for line in reversed(lines[i]):
            m = _NUMBERED.match(line)
            if expected < 1 or not m or int(m.group(1)) != expected:
                break
            found[i].insert(0, m.group(2))
            expected -= 1
    return found if expected == 0 else [[] for _ in texts]


@dataclass
class Sent:
    """A message the bot sent (plain text: choices are a numbered list; a photo: ``text`` is its caption)."""

    chat_id: str
    text: str
    message_id: str
    kind: str = "text"  # text | photo
    media: str = ""  # the photo's URL

    @property
    def labels(self) -> list[str]:
        """The choices of a message that stands alone (numbered from 1, hint included)."""
        return turn_labels([self.text])[0]


class FakeZalo:
    """Fake Zalo Bot API. Use ``async with FakeZalo() as zalo`` and ``zalo.base_url``."""

    def __init__(self, idle_wait: float = 0.3) -> None:
        self.port = free_port()
        self.idle_wait = idle_wait  # getUpdates waits at most this long before answering 408
        self.queue: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.idle_answers = 0  # how many getUpdates calls ended with 408
        self.fail_sends: list[int] = []  # HTTP status for the next sendMessage calls (e.g. [502, 429]; 200 = accept)
        self.webhook: dict[str, str] = {}
        self.pushed: dict[str, dict[str, Any]] = {}
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._new_sent = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> "FakeZalo":
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["POST", "GET"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        self._new_update.set()
        await self._task

    # --- the API --------------------------------------------------------------

    @staticmethod
    def _error(code: int, description: str, status: int | None = None) -> JSONResponse:
        return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=status or code)

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if request.path_params["token"] != TOKEN:
            return self._error(401, "Unauthorized")
        if "json" not in request.headers.get("content-type", ""):
            return self._error(400, "Content-Type must be application/json")
        params = dict(await request.json())
        self.calls.append((method, params))
        if method == "getUpdates":
            return await self._get_updates(request, params)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, f"Method {method} not found")
        return await handler(params)

    async def _m_getMe(self, params: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"ok": True, "result": BOT_INFO})

    async def _get_updates(self, request: Request, params: dict[str, Any]) -> JSONResponse:
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), self.idle_wait)
        while True:
            if await request.is_disconnected():  # the poller gave up: keep the update for the next one
                return self._error(499, "Client closed request")
            if self.queue:
                return JSONResponse({"ok": True, "result": self.queue.pop(0)})  # one update at a time
            if time.monotonic() >= deadline or (self._server is not None and self._server.should_exit):
                self.idle_answers += 1
                return self._error(408, "Request timeout", status=200)
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), min(0.05, max(0.01, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                pass

    async def _m_sendMessage(self, params: dict[str, Any]) -> JSONResponse:
        if self.fail_sends and (status := self.fail_sends.pop(0)) != 200:  # (200: accept this one)
            return self._error(status, "Too Many Requests" if status == 429 else "Internal error")
        chat_id, text = params.get("chat_id"), params.get("text")
        if not isinstance(chat_id, str) or not chat_id or not isinstance(text, str) or not text:
            return self._error(400, "chat_id and text are required")
        if len(text) > 2000:
            return self._error(400, "text is too long (max 2000 characters)")
        msg_id = f"m{next(self._message_ids)}"
        self.sent.append(Sent(chat_id, text, msg_id))
        self._new_sent.set()
        return JSONResponse({"ok": True, "result": {"message_id": msg_id, "date": int(time.time() * 1000)}})

    async def _m_sendPhoto(self, params: dict[str, Any]) -> JSONResponse:
        """A photo by URL; a URL containing "/gone" cannot be fetched (400), as an expired CDN link."""
        if self.fail_sends and (status := self.fail_sends.pop(0)) != 200:
            return self._error(status, "Too Many Requests" if status == 429 else "Internal error")
        chat_id, photo, caption = params.get("chat_id"), params.get("photo"), params.get("caption", "")
        if not isinstance(chat_id, str) or not chat_id or not isinstance(photo, str) or not photo:
            return self._error(400, "chat_id and photo are required")
        if not photo.startswith(("http://", "https://")) or "/gone" in photo:
            return self._error(400, "photo url can not be fetched")
        if not isinstance(caption, str) or len(caption) > 2000:
            return self._error(400, "caption is too long")
        msg_id = f"m{next(self._message_ids)}"
        self.sent.append(Sent(chat_id, caption, msg_id, kind="photo", media=photo))
        self._new_sent.set()
        return JSONResponse({"ok": True, "result": {"message_id": msg_id, "date": int(time.time() * 1000)}})

    async def _m_sendChatAction(self, params: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"ok": True, "result": True})

    async def _m_setWebhook(self, params: dict[str, Any]) -> JSONResponse:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str) or not url.startswith("https://"):
            return self._error(400, "url must be https")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return self._error(400, "secret_token must be 8-256 characters")
        self.webhook = {"url": url, "secret_token": secret}
        return JSONResponse({"ok": True, "result": {"url": url, "updated_at": int(time.time() * 1000)}})

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> JSONResponse:
        self.webhook = {}
        return JSONResponse({"ok": True, "result": {"url": ""}})

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"ok": True, "result": {"url": self.webhook.get("url", "")}})

    # --- making updates -------------------------------------------------------

    @staticmethod
    def make(event_name: str, chat_id: str | int, user_id: str | int | None = None,
             **fields: Any) -> dict[str, Any]:
        """A flat Zalo update; group chats are ids starting with '-'."""
        chat = str(chat_id)
        user = str(user_id or chat_id).lstrip("-")
        message = {"message_id": uuid.uuid4().hex, "date": int(time.time() * 1000),
                   "chat": {"id": chat, "chat_type": "GROUP" if chat.startswith("-") else "PRIVATE"},
                   "from": {"id": user, "display_name": f"Dân {user}", "is_bot": False}, **fields}
        return {"event_name": event_name, "message": message}

    @staticmethod
    def key(update: dict[str, Any]) -> str:
        return f"{update['event_name']}:{update['message']['message_id']}"

    def push(self, update: dict[str, Any]) -> str:
        """Queue an update for getUpdates; returns its key ``event_name:message_id``."""
        self.queue.append(update)
        self.pushed[self.key(update)] = update
        self._new_update.set()
        return self.key(update)

    def text(self, chat_id: str | int, text: str, user_id: str | int | None = None) -> str:
        return self.push(self.make("message.text.received", chat_id, user_id, text=text))

    def image(self, chat_id: str | int, url: str = "https://zalo.example/img/1.jpg", caption: str = "") -> str:
        fields: dict[str, Any] = {"photo_url": url}
        if caption:
            fields["caption"] = caption
        return self.push(self.make("message.image.received", chat_id, **fields))

    def sticker(self, chat_id: str | int) -> str:
        return self.push(self.make("message.sticker.received", chat_id, sticker="d063f44dc80821567819"))

    def unsupported(self, chat_id: str | int) -> str:
        return self.push(self.make("message.unsupported.received", chat_id))

    def redeliver(self, key: str) -> None:
        """Deliver an update again (the same event and message id), as Zalo may after a timeout."""
        self.queue.append(dict(self.pushed[key]))
        self._new_update.set()

    @staticmethod
    async def post_webhook(url: str, update: dict[str, Any], secret: str | None,
                           wrapped: bool = False) -> httpx.Response:
        """POST an update to a bot's webhook as Zalo does (optionally wrapped in ``result``)."""
        body = {"ok": True, "result": update} if wrapped else update
        headers = {"X-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(url, json=body, headers=headers)

    # --- waiting for the bot --------------------------------------------------

    def to(self, chat_id: str | int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == str(chat_id)]

    async def wait_for(self, chat_id: str | int, count: int, timeout: float = 10.0) -> list[Sent]:
        """Wait until the bot has sent at least ``count`` messages to ``chat_id``."""
        deadline = time.monotonic() + timeout
        while len(self.to(chat_id)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"chat {chat_id}: wanted {count} messages, got "
                                     f"{[s.text[:60] for s in self.to(chat_id)]}")
            self._new_sent.clear()
            try:
                await asyncio.wait_for(self._new_sent.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        return self.to(chat_id)
