"""The web chat for provincial portals: a widget embedded with one ``<script>`` tag (docs/webchat.md).

Routes (under ``/webchat``):
- ``GET /webchat/widget.js``: the widget (bot/webchat/static/widget.js), public;
- ``POST /webchat/session``: make sure the browser has its anonymous session cookie;
- ``POST /webchat/message``: ``{"id", "text"}`` or ``{"id", "action", "sig"}``; the turn's replies come back in
  the answer;
- ``GET /webchat/events?after=N``: server-sent events with the messages pushed to this session (outbox rows:
  a dossier's change, a complaint's answer, a helper's line in a live chat), each with its outbox id;
- ``GET /webchat/messages?after=N``: the same as one JSON answer (long polling without waiting).

The session is a signed random id in an HttpOnly cookie (no personal data); the user id is derived from it with
the secret, so it cannot be chosen. A button's action is signed for that user: a forged press is refused. Pushed
messages stay in the outbox table: a page that was closed or lost its connection gets them when it comes back,
from its last seen id (``Last-Event-ID``). Every request's origin must be one of WEBCHAT_ORIGINS (or the server
itself). Limits per browser session and per IP address are kept per worker process; the core's own per-user
limit, in storage, holds across workers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.channel import Capabilities
from bot.outbox_worker import LEASE as OUTBOX_LEASE
from bot.outbox_worker import deliver_item, payload_to_reply, send_held
from bot.render import clean_incoming
from handlers.texts import common as T
from handlers.texts import webchat as TW
from handlers.types import Attachment, Button, Incoming, Reply

log = logging.getLogger(__name__)

CHANNEL = "webchat"
PREFIX = "/webchat"
COOKIE = "dvc_webchat"
COOKIE_DAYS = 30
MAX_BODY = 48 * 1024  # bytes of a message request: a longer one is refused with a polite reply
MAX_TEXT = 4000  # characters the widget lets one type (the core reads a longer text's start and end)
STREAM_SECONDS = 20.0  # an event stream ends after this and the browser reconnects (a shutdown waits for no more)
HEARTBEAT_SECONDS = 10.0
STREAMS_PER_SESSION = 3  # open event streams of one session in one worker (tabs)
DIRECT = "webchat-direct"  # platform id of outbox rows already shown in a message's answer
PUSHED = "webchat-pushed"
STATIC = Path(__file__).parent / "webchat" / "static"
_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class RateLimiter:
    """Token buckets by key (a session, an IP address), in this process."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(5.0, per_minute / 2)
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        tokens, last = self.buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        if len(self.buckets) > 50_000:  # forget full buckets (those at capacity behave as new ones)
            self.buckets = {k: v for k, v in self.buckets.items()
                            if min(self.capacity, v[0] + (now - v[1]) * self.rate) < self.capacity}
        if tokens < 1.0:
            self.buckets[key] = (tokens, now)
            return False
        self.buckets[key] = (tokens - 1.0, now)
        return True


class WebChatChannel:
    """The web chat channel (implements ``bot.channel.Channel``)."""

    name = CHANNEL
    capabilities = Capabilities(buttons=True, editing=False, photos=False, max_message=MAX_TEXT * 2)

    def __init__(self, settings: Any, dispatcher: Any) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self.secret = settings.webchat_secret.encode()
        self.origins = settings.webchat_allowed
        self.poll = settings.webchat_poll_seconds
        self.per_session = RateLimiter(settings.webchat_per_minute)
        self.per_ip = RateLimiter(settings.webchat_ip_per_minute)
        self.streams: dict[str, int] = {}
        self._widget = (STATIC / "widget.js").read_bytes()
        self._pushed: list[tuple[str, Reply]] = []  # filled by ``_Marker`` during one read-back

    # --- signing ----------------------------------------------------------------------------------

    def _mac(self, *parts: str) -> str:
        return _b64(hmac.new(self.secret, "\x00".join(parts).encode(), hashlib.sha256).digest()[:16])

    def user_of(self, sid: str) -> str:
        return "w" + hmac.new(self.secret, b"user\x00" + sid.encode(), hashlib.sha256).hexdigest()[:24]

    def new_cookie(self) -> tuple[str, str]:
        sid = secrets.token_urlsafe(18)
        return sid, f"{sid}.{self._mac('sid', sid)}"

    def session_from(self, cookie: str | None) -> str | None:
        """The session id of a well-signed cookie, else None."""
        if not cookie or len(cookie) > 100 or "." not in cookie:
            return None
        sid, _, mac = cookie.partition(".")
        return sid if sid and hmac.compare_digest(mac, self._mac("sid", sid)) else None

    def sign_action(self, user_id: str, action: str) -> str:
        return self._mac("btn", user_id, action)

    def check_action(self, user_id: str, action: Any, sig: Any) -> bool:
        return (isinstance(action, str) and isinstance(sig, str) and 0 < len(action) <= 256
                and hmac.compare_digest(sig, self.sign_action(user_id, action)))

    # --- the Channel interface --------------------------------------------------------------------

    def to_incoming(self, payload: Any) -> Incoming | None:
        """``{"user_id", "id", "text"}`` or ``{"user_id", "id", "action"}`` (checked by the route) → Incoming."""
        if not isinstance(payload, dict) or not isinstance(payload.get("user_id"), str):
            return None
        user = payload["user_id"]
        key = f"{user}:{payload['id']}" if isinstance(payload.get("id"), str) else ""
        base: dict[str, Any] = {"channel": CHANNEL, "user_id": user, "chat_id": user, "update_key": key}
        if isinstance(payload.get("action"), str):
            return Incoming(kind="action", action=payload["action"], **base)
        text = clean_incoming(payload.get("text") if isinstance(payload.get("text"), str) else "")
        stripped = text.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            word, _, args = stripped[1:].partition(" ")
            if word.isascii() and word.isalpha():
                return Incoming(kind="command", text=word.lower(), args=args.strip(), **base)
        return Incoming(kind="text", text=text, **base)

    def render(self, user_id: str, reply: Reply) -> dict[str, Any]:
        """One reply as the widget shows it: plain text (the page never reads it as HTML) and signed buttons."""
        text = reply.text
        extra = []
        for att in reply.media:
            extra.append(TW.PHOTO_LINK.format(url=att.ref) if _viewable(att) else TW.MEDIA_ELSEWHERE)
        if extra:
            text = "\n".join([text, *extra]) if text else "\n".join(extra)
        return {"title": reply.title, "text": text,
                "buttons": [[{"label": b.label, "action": b.action, "sig": self.sign_action(user_id, b.action)}
                             for b in row] for row in reply.buttons]}

    async def send(self, chat_id: str, reply: Reply) -> str:
        """A message to a web chat outside a turn goes through the outbox: the page reads it back."""
        return await self.push(chat_id, reply)

    async def push(self, chat_id: str, reply: Reply) -> str:
        key = f"webchat-push:{secrets.token_hex(12)}"
        buttons = [[{"label": b.label, "action": b.action} for b in row] for row in reply.buttons]
        await self.dispatcher.services.store.enqueue_once(dedup_key=key, channel=CHANNEL, chat_id=chat_id,
                                                          text=reply.text, buttons=buttons,
                                                          media=[a.to_dict() for a in reply.media] or None)
        return key

    def routes(self) -> Sequence[Any]:
        return [
            Route(f"{PREFIX}/widget.js", self.widget, methods=["GET"]),
            Route(f"{PREFIX}/session", self.session, methods=["POST", "OPTIONS"]),
            Route(f"{PREFIX}/message", self.message, methods=["POST", "OPTIONS"]),
            Route(f"{PREFIX}/events", self.events, methods=["GET"]),
            Route(f"{PREFIX}/messages", self.messages, methods=["GET"]),
        ]

    async def start(self) -> None:
        if not self.origins:
            log.warning("WEBCHAT_ORIGINS is empty: only pages of this server itself can use the web chat")

    async def stop(self) -> None:
        return None

    # --- HTTP ---------------------------------------------------------------------------------------

    def _origin_ok(self, request: Request, required: bool) -> tuple[bool, str]:
        origin = request.headers.get("origin")
        if origin is None:
            return not required, ""
        own = f"{request.url.scheme}://{request.url.netloc}"
        return (origin in self.origins or origin == own), origin

    @staticmethod
    def _cors(origin: str) -> dict[str, str]:
        if not origin:
            return {}
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}

    def _refuse(self, status: int, error: str, origin: str = "", text: str = "",
                headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"ok": False, "error": error}
        if text:
            body["messages"] = [{"title": "", "text": text, "buttons": []}]
        return JSONResponse(body, status_code=status, headers={**self._cors(origin), **(headers or {})})

    def _set_cookie(self, request: Request, response: Response, cookie: str) -> None:
        secure = request.url.scheme == "https"
        parts = [f"{COOKIE}={cookie}", f"Max-Age={COOKIE_DAYS * 86400}", f"Path={PREFIX}", "HttpOnly"]
        parts += ["SameSite=None", "Secure", "Partitioned"] if secure else ["SameSite=Lax"]
        response.headers.append("set-cookie", "; ".join(parts))

    def _preflight(self, request: Request) -> Response:
        ok, origin = self._origin_ok(request, required=True)
        if not ok:
            return Response(status_code=403)
        return Response(status_code=204, headers={**self._cors(origin), "Access-Control-Allow-Methods": "POST",
                                                  "Access-Control-Allow-Headers": "Content-Type",
                                                  "Access-Control-Max-Age": "600"})

    def _ip(self, request: Request) -> str:
        return request.client.host if request.client else "?"

    async def widget(self, request: Request) -> Response:
        return Response(self._widget, media_type="application/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})

    async def session(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._preflight(request)
        ok, origin = self._origin_ok(request, required=True)
        if not ok:
            return self._refuse(403, "origin not allowed")
        if not self.per_ip.allow(self._ip(request)):
            return self._refuse(429, "too many requests", origin, TW.SLOW_DOWN, {"Retry-After": "30"})
        sid = self.session_from(request.cookies.get(COOKIE))
        response = JSONResponse({"ok": True, "new": sid is None}, headers=self._cors(origin))
        if sid is None:
            _, cookie = self.new_cookie()
            self._set_cookie(request, response, cookie)
        return response

    async def message(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._preflight(request)
        ok, origin = self._origin_ok(request, required=True)
        if not ok:
            return self._refuse(403, "origin not allowed")
        if not self.per_ip.allow(self._ip(request)):
            return self._refuse(429, "too many requests", origin, TW.SLOW_DOWN, {"Retry-After": "30"})
        data = await _json_body(request)
        if data == "too large":
            return self._refuse(413, "too large", origin, TW.TOO_LONG)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not _MSG_ID.match(data["id"]):
            return self._refuse(400, "bad message", origin, TW.NOT_READABLE)
        sid = self.session_from(request.cookies.get(COOKIE))
        cookie = ""
        if sid is None:
            sid, cookie = self.new_cookie()
        user = self.user_of(sid)
        if not self.per_session.allow(sid):
            return self._refuse(429, "too many messages", origin, TW.SLOW_DOWN, {"Retry-After": "30"})
        payload: dict[str, Any] = {"user_id": user, "id": data["id"]}
        if "action" in data:
            if not self.check_action(user, data.get("action"), data.get("sig")):
                log.info("a web chat button press with a wrong signature was refused")
                body = {"ok": True, "messages": [self.render(user, Reply.make(
                    T.UNKNOWN_BUTTON, [[Button(T.BTN_MENU, "menu")]]))]}
                return self._answer(request, body, origin, cookie)
            payload["action"] = data["action"]
        else:
            text = data.get("text")
            if not isinstance(text, str):
                return self._refuse(400, "bad message", origin, TW.NOT_READABLE)
            payload["text"] = text
        incoming = self.to_incoming(payload)
        assert incoming is not None
        replies = await self.handle(incoming)
        if replies is None:
            return self._answer(request, {"ok": True, "duplicate": True, "messages": [], "notice": TW.DUPLICATE},
                                origin, cookie)
        return self._answer(request, {"ok": True, "messages": [self.render(user, r) for r in replies]}, origin,
                            cookie)

    def _answer(self, request: Request, body: dict[str, Any], origin: str, cookie: str) -> Response:
        response = JSONResponse(body, headers={**self._cors(origin), "Cache-Control": "no-store"})
        if cookie:
            self._set_cookie(request, response, cookie)
        return response

    async def handle(self, incoming: Incoming) -> list[Reply] | None:
        """Run the core; the replies to show in the answer (None: a repeated request already answered)."""
        services = self.dispatcher.services
        outcome = await self.dispatcher.handle(incoming)
        if outcome.duplicate:
            return None
        shown: list[Reply] = []
        for reply in outcome.replies:
            if reply.durable:  # a tracking code: its held outbox copy is marked delivered by this answer

                async def direct() -> str:
                    return DIRECT

                if await send_held(services.store, reply.durable, direct, again=reply.durable_again):
                    shown.append(reply)
                continue  # otherwise the outbox already has it: the page reads it back as a pushed message
            shown.append(reply)
        after = services.extras.get("after_update")
        if after is not None:
            after(CHANNEL, incoming.update_key)
        return shown

    # --- pushed messages ------------------------------------------------------------------------------

    async def deliver_due(self, user: str) -> list[int]:
        """Mark this session's due outbox rows delivered (they stay in the table: the row is the message);
        their ids. Only this session's pending rows are looked at (by the status index)."""
        store = self.dispatcher.services.store
        marker = {CHANNEL: _Marker()}
        done: list[int] = []
        try:
            for item in await store.claim_outbox(limit=50, lease=OUTBOX_LEASE, only=(CHANNEL, user)):
                if await deliver_item(store, marker, item):  # type: ignore[arg-type]
                    done.append(item.id)
        except Exception:  # the rows stay pending: the next look delivers them
            log.warning("could not deliver the web chat's outbox rows", exc_info=True)
        return done

    async def read_back(self, user: str, after: int, only: set[int] | None = None) -> list[tuple[int, dict[str, Any]]]:
        """The messages delivered to this session after outbox row ``after`` (``only``: just those rows), rendered;
        rows already shown in a message's answer are left out."""
        rows = await self.dispatcher.services.store.outbox_delivered(CHANNEL, user, after, skip_message_id=DIRECT)
        return [(row_id, self.render(user, payload_to_reply(payload))) for row_id, payload in rows
                if only is None or row_id in only]

    def _stream_request(self, request: Request) -> tuple[Response | None, str, int, str]:
        """(refusal, user, cursor, origin) of an events/messages request."""
        ok, origin = self._origin_ok(request, required=False)
        if not ok:
            return self._refuse(403, "origin not allowed"), "", 0, ""
        if not self.per_ip.allow(self._ip(request)):
            return self._refuse(429, "too many requests", origin, headers={"Retry-After": "30"}), "", 0, origin
        sid = self.session_from(request.cookies.get(COOKIE))
        if sid is None:
            return self._refuse(401, "no session", origin), "", 0, origin
        cursor = 0
        for given in (request.query_params.get("after"), request.headers.get("last-event-id")):
            if given and given.isdigit() and len(given) < 19:
                cursor = max(cursor, int(given))
        return None, self.user_of(sid), cursor, origin

    async def messages(self, request: Request) -> Response:
        refused, user, cursor, origin = self._stream_request(request)
        if refused is not None:
            return refused
        await self.deliver_due(user)
        rows = await self.read_back(user, cursor)
        return JSONResponse({"ok": True, "messages": [{"id": i, **m} for i, m in rows]},
                            headers={**self._cors(origin), "Cache-Control": "no-store"})

    async def events(self, request: Request) -> Response:
        refused, user, cursor, origin = self._stream_request(request)
        if refused is not None:
            return refused
        if self.streams.get(user, 0) >= STREAMS_PER_SESSION:
            return self._refuse(429, "too many streams", origin, headers={"Retry-After": "5"})
        self.streams[user] = self.streams.get(user, 0) + 1

        async def stream() -> AsyncIterator[str]:
            # At the start, every row after the page's cursor (one read); then only the rows this stream marks
            # delivered (a held row can come after a later one: the page keeps the ids it has shown).
            loop = asyncio.get_running_loop()
            try:
                yield "retry: 1000\n\n"
                await self.deliver_due(user)
                rows = await self.read_back(user, cursor)
                if not rows and cursor == 0:  # a first visit: later reads start from here
                    last = await self.dispatcher.services.store.outbox_last_id()
                    if last:
                        yield f"id: {last}\nevent: cursor\ndata: {{}}\n\n"
                end = loop.time() + STREAM_SECONDS
                quiet_since = loop.time()
                while True:
                    for row_id, msg in rows:
                        yield f"id: {row_id}\nevent: message\ndata: {json.dumps(msg, ensure_ascii=False)}\n\n"
                    if rows:
                        quiet_since = loop.time()
                    elif loop.time() - quiet_since > HEARTBEAT_SECONDS:
                        quiet_since = loop.time()
                        yield ": ping\n\n"
                    if loop.time() >= end:
                        return
                    await asyncio.sleep(self.poll)
                    marked = await self.deliver_due(user)
                    rows = await self.read_back(user, min(marked) - 1, set(marked)) if marked else []
            finally:
                left = self.streams.get(user, 1) - 1
                if left > 0:
                    self.streams[user] = left
                else:
                    self.streams.pop(user, None)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={**self._cors(origin), "Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})


class _Marker:
    """The outbox sender for web chat rows: the row itself is the message (the page reads it back), so
    "sending" only marks it delivered; a row found in doubt was delivered too."""

    channel = CHANNEL

    async def send(self, chat_id: str, reply: Reply) -> str:
        return PUSHED

    async def confirm(self, item: Any) -> str:
        return PUSHED


def _viewable(att: Attachment) -> bool:
    return att.kind == "photo" and att.source == "url" and att.ref.startswith(("https://", "http://"))


async def _json_body(request: Request) -> Any:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        return "too large"
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            return "too large"
    try:
        return json.loads(body)
    except ValueError:
        return None


def build(settings: Any, dispatcher: Any) -> WebChatChannel | None:
    """The web chat when WEBCHAT_SECRET is set, else None."""
    return WebChatChannel(settings, dispatcher) if settings.webchat_secret else None
