"""A small fake Telegram Bot API server on 127.0.0.1 for driving the real python-telegram-bot.

It queues updates that tests create (messages, button presses, photos, stickers), serves
them through ``getUpdates`` (long polling) or posts them to a webhook, and records every
message the bot sends so tests can assert on them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "123456:TESTTOKEN-abcdefghijklmnopqrstuvwxyz"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Trợ lý DVC", "username": "tro_ly_dvc_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
JSON_FIELDS = {"reply_markup", "commands", "allowed_updates", "entities", "offset", "limit", "timeout", "media"}
GONE = "gone"  # a file_id or URL containing this cannot be fetched: sendPhoto & co. answer 400


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sent:
    """A message the bot sent."""

    chat_id: str
    text: str
    message_id: int
    buttons: list[list[dict[str, str]]] = field(default_factory=list)
    parse_mode: str | None = None
    kind: str = "text"  # text | photo | document (a photo of an album is one Sent each)
    media: str = ""  # the file_id or URL sent (kind photo/document); ``text`` is then the caption
    album: int = 0  # photos sent in one sendMediaGroup share this number

    @property
    def labels(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]

    def action(self, label_part: str) -> str:
        """The callback data of the first button whose label contains ``label_part``."""
        for row in self.buttons:
            for b in row:
                if label_part.lower() in b["text"].lower():
                    return b["callback_data"]
        raise AssertionError(f"no button like {label_part!r} in {self.labels}")


class FakeTelegram:
    """Fake Bot API. Use ``async with FakeTelegram() as tg`` and ``tg.base_url``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.updates: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_sends = 0  # answer the next N sendMessage calls with an error
        self.fail_chats: dict[str, int] = {}  # chat id -> answer its next N sendMessage calls with HTTP 502
        self.rate_limit_chats: dict[str, list[int]] = {}  # chat id -> [N, retry_after]: next N calls get 429
        self.slow_chats: dict[str, float] = {}  # chat id -> seconds to wait before answering (accepted)
        self.script_chats: dict[str, list[int]] = {}  # chat id -> HTTP statuses for its next calls (200 = accept)
        self.files: dict[str, bytes] = {}  # file id -> its bytes, for getFile and the file download URL
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._new_sent = asyncio.Event()
        self._by_chat: dict[str, list[Sent]] = {}
        self._sent_cond = asyncio.Condition()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> "FakeTelegram":
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["POST", "GET"]),
                                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        self._new_update.set()  # a pending long poll answers now: the server does not wait out its timeout
        await self._task

    # --- the API --------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        if request.path_params["token"] != TOKEN:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        params = await self._params(request)
        self.calls.append((method, params))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return JSONResponse({"ok": True, "result": True})
        return await handler(params)

    @staticmethod
    async def _params(request: Request) -> dict[str, Any]:
        ctype = request.headers.get("content-type", "")
        # Like the Bot API: a JSON body or a form; either way nested objects may come as JSON strings.
        items = (await request.json()).items() if "json" in ctype else (await request.form()).items()
        out: dict[str, Any] = {}
        for key, value in items:
            if isinstance(value, str) and key in JSON_FIELDS:
                try:
                    out[key] = json.loads(value)
                    continue
                except ValueError:
                    pass
            out[key] = value
        return out

    async def _m_getMe(self, params: dict[str, Any]) -> JSONResponse:
        return JSONResponse({"ok": True, "result": BOT_USER})

    async def _m_getUpdates(self, params: dict[str, Any]) -> JSONResponse:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            ready = [u for u in self.updates if u["update_id"] >= offset]
            if ready or time.monotonic() >= deadline or (self._server is not None and self._server.should_exit):
                return JSONResponse({"ok": True, "result": ready[:100]})
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    async def _gate(self, chat_id: str) -> JSONResponse | None:
        """The failures a test injected for this chat (the same for every kind of send), else None."""
        script = self.script_chats.get(chat_id)
        if script and script.pop(0) != 200:
            return JSONResponse({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status_code=502)
        if self.fail_chats.get(chat_id, 0) > 0:
            self.fail_chats[chat_id] -= 1
            return JSONResponse({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status_code=502)
        limited = self.rate_limit_chats.get(chat_id)
        if limited and limited[0] > 0:
            limited[0] -= 1
            return JSONResponse({"ok": False, "error_code": 429, "description": "Too Many Requests: retry later",
                                 "parameters": {"retry_after": limited[1]}}, status_code=429)
        if self.slow_chats.get(chat_id):
            await asyncio.sleep(self.slow_chats[chat_id])
        return None

    def _record(self, sent: Sent) -> dict[str, Any]:
        self.sent.append(sent)
        self._by_chat.setdefault(sent.chat_id, []).append(sent)
        self._new_sent.set()
        chat_type = "private" if not sent.chat_id.startswith("-") else "group"
        return {"message_id": sent.message_id, "date": int(time.time()), "chat": {"id": int(sent.chat_id),
                "type": chat_type}, "from": BOT_USER}

    async def _notify(self) -> None:
        async with self._sent_cond:
            self._sent_cond.notify_all()

    @staticmethod
    def _gone(ref: Any) -> JSONResponse | None:
        if not isinstance(ref, str) or not ref or GONE in ref:
            return JSONResponse({"ok": False, "error_code": 400, "description":
                                 "Bad Request: wrong file identifier/HTTP URL specified"}, status_code=400)
        return None

    async def _send_file(self, params: dict[str, Any], kind: str) -> JSONResponse:
        chat_id = str(params["chat_id"])
        ref = params.get(kind)
        refused = self._gone(ref) or await self._gate(chat_id)
        if refused is not None:
            return refused
        result = self._record(Sent(chat_id, params.get("caption") or "", next(self._message_ids), kind=kind,
                                   media=ref))
        await self._notify()
        return JSONResponse({"ok": True, "result": {**result, **self._file_fields(kind, ref)}})

    @staticmethod
    def _file_fields(kind: str, ref: str) -> dict[str, Any]:
        """What a sent Message carries for its file (the shape python-telegram-bot reads back)."""
        if kind == "photo":
            return {"photo": [{"file_id": ref, "file_unique_id": ref[-32:], "width": 800, "height": 600}]}
        return {"document": {"file_id": ref, "file_unique_id": ref[-32:]}}

    async def _m_getFile(self, params: dict[str, Any]) -> JSONResponse:
        """Like the Bot API: a known file id gets a path to download it from; another one is refused."""
        ref = str(params.get("file_id") or "")
        if ref not in self.files:
            return JSONResponse({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                                status_code=400)
        return JSONResponse({"ok": True, "result": {"file_id": ref, "file_unique_id": ref[-32:],
                                                    "file_size": len(self.files[ref]), "file_path": f"photos/{ref}.jpg"}})

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != TOKEN:
            return Response(status_code=401)
        path = request.path_params["path"]
        ref = path.removeprefix("photos/").removesuffix(".jpg")
        if ref not in self.files:
            return Response(status_code=404)
        return Response(self.files[ref], media_type="image/jpeg")

    async def _m_sendPhoto(self, params: dict[str, Any]) -> JSONResponse:
        return await self._send_file(params, "photo")

    async def _m_sendDocument(self, params: dict[str, Any]) -> JSONResponse:
        return await self._send_file(params, "document")

    async def _m_sendMediaGroup(self, params: dict[str, Any]) -> JSONResponse:
        chat_id = str(params["chat_id"])
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            return JSONResponse({"ok": False, "error_code": 400, "description":
                                 "Bad Request: wrong number of media"}, status_code=400)
        for item in media:
            refused = self._gone(item.get("media") if isinstance(item, dict) else None)
            if refused is not None:
                return refused
        refused = await self._gate(chat_id)
        if refused is not None:
            return refused
        album = next(self._message_ids)
        results = [{**self._record(Sent(chat_id, item.get("caption") or "", next(self._message_ids), kind="photo",
                                        media=item["media"], album=album)),
                    **self._file_fields("photo", item["media"]), "media_group_id": str(album)} for item in media]
        await self._notify()
        return JSONResponse({"ok": True, "result": results})

    async def _m_sendMessage(self, params: dict[str, Any]) -> JSONResponse:
        if self.fail_sends > 0:
            self.fail_sends -= 1
            return JSONResponse({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status_code=502)
        chat_id = str(params["chat_id"])
        refused = await self._gate(chat_id)
        if refused is not None:
            return refused
        markup = params.get("reply_markup") or {}
        msg_id = next(self._message_ids)
        sent = Sent(chat_id, params.get("text", ""), msg_id, markup.get("inline_keyboard", []),
                    params.get("parse_mode"))
        self.sent.append(sent)
        self._by_chat.setdefault(chat_id, []).append(sent)
        self._new_sent.set()
        async with self._sent_cond:
            self._sent_cond.notify_all()
        chat_type = "private" if not chat_id.startswith("-") else "group"
        return JSONResponse({"ok": True, "result": {
            "message_id": msg_id, "date": int(time.time()), "text": params.get("text", ""),
            "chat": {"id": int(chat_id), "type": chat_type}, "from": BOT_USER}})

    async def _m_editMessageText(self, params: dict[str, Any]) -> JSONResponse:
        return await self._m_sendMessage(params)

    # --- making updates -------------------------------------------------------

    def _push(self, update: dict[str, Any]) -> int:
        update["update_id"] = next(self._update_ids)
        self.updates.append(update)
        self._new_update.set()
        return update["update_id"]

    @staticmethod
    def _user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"Dân {user_id}", "language_code": "vi"}

    def _message(self, chat_id: int, user_id: int | None, **fields: Any) -> dict[str, Any]:
        user_id = user_id or chat_id
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id < 0:
            chat["title"] = "Cơ quan"
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                "from": self._user(user_id), **fields}

    def text(self, chat_id: int, text: str, user_id: int | None = None, reply_to: int | None = None) -> int:
        """A user types ``text``; '/start'-like texts carry a bot_command entity."""
        fields: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            fields["reply_to_message"] = {"message_id": reply_to, "date": int(time.time()),
                                          "chat": {"id": chat_id, "type": "group" if chat_id < 0 else "private"},
                                          "from": BOT_USER, "text": "..."}
        return self._push({"message": self._message(chat_id, user_id, **fields)})

    def press(self, chat_id: int, data: str, user_id: int | None = None) -> int:
        """A user presses an inline button with callback data ``data``."""
        user_id = user_id or chat_id
        msg = {"message_id": 1, "date": int(time.time()), "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
               "from": BOT_USER, "text": "..."}
        return self._push({"callback_query": {"id": str(next(self._update_ids)), "from": self._user(user_id),
                                              "chat_instance": "ci", "data": data, "message": msg}})

    def photo(self, chat_id: int, user_id: int | None = None) -> int:
        sizes = [{"file_id": "photo-small", "file_unique_id": "ps", "width": 90, "height": 90},
                 {"file_id": "photo-big", "file_unique_id": "pb", "width": 800, "height": 800}]
        return self._push({"message": self._message(chat_id, user_id, photo=sizes)})

    def photo_with(self, chat_id: int, file_id: str, caption: str = "", album: str = "", user_id: int | None = None,
                   reply_to: int | None = None) -> int:
        """A photo (three sizes, the largest last) with an optional caption, part of an album if ``album``."""
        sizes = [{"file_id": f"{file_id}-s", "file_unique_id": f"{file_id}-s", "width": 90, "height": 90},
                 {"file_id": file_id, "file_unique_id": file_id, "width": 1280, "height": 960},
                 {"file_id": f"{file_id}-m", "file_unique_id": f"{file_id}-m", "width": 320, "height": 240}]
        fields: dict[str, Any] = {"photo": sizes}
        if caption:
            fields["caption"] = caption
        if album:
            fields["media_group_id"] = album
        if reply_to is not None:
            fields["reply_to_message"] = {"message_id": reply_to, "date": int(time.time()),
                                          "chat": {"id": chat_id, "type": "group" if chat_id < 0 else "private"},
                                          "from": BOT_USER, "text": "..."}
        return self._push({"message": self._message(chat_id, user_id, **fields)})

    def album(self, chat_id: int, items: list[tuple[str, str]], user_id: int | None = None) -> list[int]:
        """Several photos sent together: one update each, sharing a media_group_id (as Telegram does)."""
        group = f"album-{next(self._update_ids)}"
        return [self.photo_with(chat_id, fid, caption, group, user_id) for fid, caption in items]

    def document(self, chat_id: int, file_id: str, name: str = "to-khai.pdf", caption: str = "",
                 user_id: int | None = None, reply_to: int | None = None) -> int:
        fields: dict[str, Any] = {"document": {"file_id": file_id, "file_unique_id": file_id, "file_name": name,
                                               "mime_type": "application/pdf"}}
        if caption:
            fields["caption"] = caption
        if reply_to is not None:
            fields["reply_to_message"] = {"message_id": reply_to, "date": int(time.time()),
                                          "chat": {"id": chat_id, "type": "group" if chat_id < 0 else "private"},
                                          "from": BOT_USER, "text": "..."}
        return self._push({"message": self._message(chat_id, user_id, **fields)})

    def location(self, chat_id: int, latitude: float, longitude: float, user_id: int | None = None) -> int:
        return self._push({"message": self._message(chat_id, user_id,
                                                    location={"latitude": latitude, "longitude": longitude})})

    def sticker(self, chat_id: int, user_id: int | None = None) -> int:
        sticker = {"file_id": "st", "file_unique_id": "st", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False, "type": "regular"}
        return self._push({"message": self._message(chat_id, user_id, sticker=sticker)})

    def redeliver(self, update_id: int) -> None:
        """Deliver an update again with a new position in the queue (same update_id)."""
        original = next(u for u in self.updates if u["update_id"] == update_id)
        self.updates.append(dict(original))
        self._new_update.set()

    # --- waiting for the bot --------------------------------------------------

    def to(self, chat_id: int) -> list[Sent]:
        return list(self._by_chat.get(str(chat_id), ()))

    async def wait_count(self, chat_id: int, count: int, timeout: float = 30.0) -> bool:
        """Wait without polling until ``chat_id`` has received ``count`` messages; False on timeout."""
        chat = str(chat_id)
        try:
            async with self._sent_cond:
                await asyncio.wait_for(
                    self._sent_cond.wait_for(lambda: len(self._by_chat.get(chat, ())) >= count), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def wait_for(self, chat_id: int, count: int, timeout: float = 10.0) -> list[Sent]:
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

    async def reply_to(self, chat_id: int, make_update: Any, timeout: float = 10.0) -> list[Sent]:
        """Do something (``lambda: tg.text(...)``) and return the messages the bot sent in answer."""
        before = len(self.to(chat_id))
        make_update()
        await self.wait_for(chat_id, before + 1, timeout)
        await asyncio.sleep(0.15)  # let multi-message replies finish
        return self.to(chat_id)[before:]
