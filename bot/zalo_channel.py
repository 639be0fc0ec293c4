"""Zalo channel: translates Zalo Bot Platform updates to the core and replies in plain text.

Zalo has no buttons and a 2,000-character limit, so every reply is rendered with
``bot.render.render_plain`` (choices as a numbered list, "Gõ 1, 2 hoặc 3") and split at
line or sentence boundaries. A typed "1" maps back to the choice in the core dispatcher.
Updates arrive by long polling (``run_zalo_polling``) or by webhook (``bot.server``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select

from bot.config import ConfigError, Settings
from bot.outbox_worker import MediaRefused, send_held
from bot.render import clean_incoming, render_all, render_plain, split_text
from bot.task_pool import TaskPool
from bot.zalo_client import ZaloClient, ZaloError
from handlers.dispatcher import CHOICES_KEY, Dispatcher
from handlers.types import Attachment, Incoming, Reply
from storage.models import User
from storage.store import Store

log = logging.getLogger(__name__)

CHANNEL = "zalo"
MAX_MESSAGE = 2000
MAX_CAPTION = 1000
EVENT_TEXT = "message.text.received"
EVENT_IMAGE = "message.image.received"
EVENT_STICKER = "message.sticker.received"


# --- incoming -----------------------------------------------------------------

def unwrap(body: Any) -> dict[str, Any] | None:
    """The update itself, whether the body is flat or wrapped as ``{"ok": true, "result": {...}}``."""
    if not isinstance(body, dict):
        return None
    inner = body.get("result")
    if isinstance(inner, dict) and "message" not in body:
        return inner
    return body


def update_key(update: dict[str, Any]) -> str:
    """``event_name:message_id``; the dispatcher stores it, so a redelivery is handled once."""
    msg = update.get("message")
    message_id = msg.get("message_id") if isinstance(msg, dict) else None
    if message_id in (None, ""):
        return ""
    return f"{update.get('event_name') or ''}:{message_id}"


def to_incoming(body: Any) -> Incoming | None:
    """Translate a Zalo update; None for what the bot ignores (no message, no sender)."""
    update = unwrap(body)
    if update is None:
        return None
    msg = update.get("message")
    if not isinstance(msg, dict):
        return None
    sender = msg.get("from") if isinstance(msg.get("from"), dict) else {}
    chat = msg.get("chat") if isinstance(msg.get("chat"), dict) else {}
    if not _id_ok(sender.get("id")) or not _id_ok(chat.get("id")):
        return None  # ids given as objects, lists, booleans or very long strings
    user_id = _str(sender.get("id")) or _str(chat.get("id"))
    chat_id = _str(chat.get("id")) or user_id
    if not user_id:
        return None
    event = str(update.get("event_name") or "")
    chat_type = "group" if str(chat.get("chat_type") or "").upper() == "GROUP" else "private"
    base: dict[str, Any] = dict(channel=CHANNEL, user_id=user_id, chat_id=chat_id, update_key=update_key(update),
                                display_name=clean_incoming(str(sender.get("display_name") or sender.get("name")
                                                                or "")),
                                chat_type=chat_type, seq=_seq(msg.get("date")))
    text = msg.get("text")
    if event == EVENT_TEXT or (not event and isinstance(text, str)):
        text = clean_incoming(text) if isinstance(text, str) else ""
        command = _command(text)
        if command:
            parts = text.split(None, 1)
            return Incoming(kind="command", text=command, args=parts[1].strip() if len(parts) > 1 else "", **base)
        return Incoming(kind="text", text=text, **base)
    if chat_type == "group" and not (event == EVENT_IMAGE and isinstance(msg.get("caption"), str)):
        return None  # stickers, other events and uncaptioned images in groups (agency chats) are not for the bot
        # (a captioned image may be a helper's, "HT12 …", for the citizen in a live chat)
    if event == EVENT_IMAGE:
        url = _photo_url(msg)
        caption = msg.get("caption")
        caption = clean_incoming(caption) if isinstance(caption, str) else ""
        if url:  # the full address, never cut: the agency's chat gets the photo itself from it
            return Incoming(kind="photo", photo_url=url, attachment=Attachment("photo", url, "url", caption),
                            text=caption, **base)
        return Incoming(kind="other", **base)
    if event == EVENT_STICKER:
        return Incoming(kind="sticker", **base)
    return Incoming(kind="other", **base)


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _id_ok(value: Any) -> bool:
    """Absent, or a string or integer id of a sane length."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return False
    return 0 < len(str(value)) <= 64


def _seq(date: Any) -> int | None:
    """The message time in ms orders one user's messages across workers (None if absent)."""
    if isinstance(date, int) and not isinstance(date, bool):
        return date
    if isinstance(date, str) and date.isdigit():
        return int(date)
    return None


def _command(text: str) -> str:
    """'/start' and friends (Zalo has no command entities: the text itself decides)."""
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1:
        word = stripped[1:].split()[0]
        if word.isascii() and word.isalpha():
            return word.lower()
    return ""


MAX_URL = 2048


def _photo_url(msg: dict[str, Any]) -> str:
    for key in ("photo_url", "photo", "url", "image_url"):
        value = msg.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) <= MAX_URL \
                and not any(ch.isspace() for ch in value):
            return value
    return ""


# --- outgoing -----------------------------------------------------------------

def to_messages(reply: Reply) -> list[str]:
    """One reply as plain text with its choices numbered, in parts of at most 2,000 characters."""
    return split_text(render_plain(reply), MAX_MESSAGE)


def turn_messages(replies: list[Reply]) -> list[list[str]]:
    """A turn's replies, choices numbered across them as the core remembers them; each split."""
    return [split_text(text, MAX_MESSAGE) for text in render_all(replies)]


async def _send_parts(client: ZaloClient, chat_id: str, parts: list[str], skip: int = 0,
                      on_part: Any = None) -> str:
    """Send the parts from ``skip`` on; ``on_part(n)`` once part n-1 (not the last) was accepted."""
    message_id = ""
    for i, part in enumerate(parts):
        if i < skip and i < len(parts) - 1:
            continue
        result = await client.send_message(chat_id, part)
        message_id = _str(result.get("message_id"))
        if on_part is not None and i < len(parts) - 1:
            await on_part(i + 1)
    return message_id


async def send_reply(client: ZaloClient, chat_id: str, reply: Reply) -> str:
    """Send one reply (possibly several messages); returns the last message's id."""
    return await _send_parts(client, chat_id, to_messages(reply))


class ZaloSender:
    """Pushes outbox messages to Zalo chats (registered as ``extras["senders"]["zalo"]``).

    A pushed message's choices are numbered too, and become the
    recipient's current choices: a typed "1" then means the first choice of that message
    (on Telegram the button itself carries the action).
    """

    channel = CHANNEL

    def __init__(self, client: ZaloClient, store: Store | None = None) -> None:
        self.client = client
        self.store = store

    @staticmethod
    def can_send(att: Attachment) -> bool:
        """Zalo sends photos by URL only: a Telegram file_id or a document cannot go to a Zalo chat."""
        return att.kind == "photo" and att.source == "url"

    @staticmethod
    def media_groups(atts: list[Attachment]) -> list[list[int]]:
        return [[i] for i in range(len(atts))]  # no albums: one sendPhoto each

    async def send_media(self, chat_id: str, atts: list[Attachment]) -> str:
        att = atts[0]
        try:
            result = await self.client.send_photo(chat_id, att.ref, att.caption[:MAX_CAPTION])
        except ZaloError as exc:
            words = ("photo", "image", "url", "fetch", "download", "file")
            if exc.error_code == 400 and any(w in exc.description.lower() for w in words):
                raise MediaRefused(exc.description) from None
            raise
        return _str(result.get("message_id"))

    async def send(self, chat_id: str, reply: Reply) -> str:
        return await self.send_parts(chat_id, reply, 0, None)

    async def send_parts(self, chat_id: str, reply: Reply, skip: int, on_part: Any) -> str:
        """``send`` from part ``skip`` on, reporting each accepted part (the outbox records them).

        The choices are remembered before the message goes out: a citizen who types "5" the moment the
        message appears must find them in place (remembering is idempotent, so a resend is harmless).
        """
        if self.store is not None and reply.buttons:
            try:
                await remember_choices(self.store, chat_id, reply)
            except Exception:  # noqa: BLE001 - the message matters more; numbers then fall back to words
                log.warning("could not remember the choices of a pushed zalo message", exc_info=True)
        return await _send_parts(self.client, chat_id, to_messages(reply), skip, on_part)


async def remember_choices(store: Store, chat_id: str, reply: Reply) -> None:
    """Make ``reply``'s buttons the current numbered choices of the one user of this private chat."""
    async with store.sessions() as db:
        users = (await db.execute(select(User.external_id).where(User.channel == CHANNEL, User.chat_id == chat_id)
                                  .limit(2))).scalars().all()
    if len(users) != 1:  # unknown chat, or a group: nobody's choices to replace
        return
    async with store.conversation_lock(f"{CHANNEL}:{users[0]}"):
        session = await store.load(CHANNEL, users[0], chat_id)
        session.data[CHOICES_KEY] = [[b.label, b.action] for b in reply.all_buttons()]
        await store.save(session)


def attach(dispatcher: Dispatcher, client: ZaloClient) -> None:
    """Register the Zalo sender so the outbox can push notifications to Zalo chats."""
    dispatcher.services.extras.setdefault("senders", {})[CHANNEL] = ZaloSender(client, dispatcher.services.store)


def make_client(settings: Settings) -> ZaloClient:
    return ZaloClient(settings.zalo_bot_token, settings.zalo_base_url)


async def handle_update(dispatcher: Dispatcher, client: ZaloClient, body: Any) -> None:
    """Translate, run the core, send the replies."""
    incoming = to_incoming(body)
    if incoming is not None:
        await handle_incoming(dispatcher, client, incoming)


async def handle_incoming(dispatcher: Dispatcher, client: ZaloClient, incoming: Incoming) -> None:
    """Run the core and send the replies (the webhook translates once and calls this directly)."""
    if incoming.chat_type == "private":
        try:
            await client.send_chat_action(incoming.chat_id)
        except ZaloError:
            log.debug("typing indicator failed", exc_info=True)
    outcome = await dispatcher.handle(incoming)
    failed = False
    for reply, parts in zip(outcome.replies, turn_messages(outcome.replies)):
        if reply.durable:  # e.g. a tracking code: its held outbox copy is delivered if this fails
            await send_held(dispatcher.services.store, reply.durable,
                            lambda p=parts: _send_parts(client, incoming.chat_id, p),
                            again=reply.durable_again)
            continue
        if reply.private and incoming.chat_type == "group":  # e.g. a refusal: to the person, not the group
            try:
                await _send_parts(client, incoming.user_id, to_messages(reply))
            except ZaloError:
                log.info("a private reply to a group member was not delivered")
            continue
        if failed:
            continue
        try:
            await _send_parts(client, incoming.chat_id, parts)
        except ZaloError as exc:
            log.warning("send to zalo chat failed: error %s", exc.error_code)
            failed = True
    after = dispatcher.services.extras.get("after_update")
    if after is not None:  # observers (tests, metrics) learn that the update is fully handled
        after(CHANNEL, incoming.update_key)


# --- long polling ---------------------------------------------------------------

async def poll(dispatcher: Dispatcher, client: ZaloClient, pool: TaskPool, *, timeout: float = 30.0,
               error_delay: float = 1.0, max_error_delay: float = 60.0) -> None:
    """Fetch updates forever (``getUpdates`` returns one at a time; 408 means idle)."""
    failures = 0
    while True:
        try:
            updates = await client.get_updates(timeout)
        except asyncio.CancelledError:
            raise
        except ZaloError as exc:
            failures += 1
            delay = min(max_error_delay, error_delay * (2 ** min(failures - 1, 10)))
            log.warning("zalo getUpdates failed (error %s), retrying in %.0fs", exc.error_code, delay)
            await asyncio.sleep(delay)
            continue
        failures = 0
        for update in updates:
            incoming = to_incoming(update)
            if incoming is None:
                continue
            while pool.full():
                await asyncio.sleep(0.05)
            # one user's updates in arrival order; different users in parallel
            pool.submit(handle_incoming(dispatcher, client, incoming), f"{CHANNEL}:{incoming.user_id}")


async def check_token(client: ZaloClient) -> None:
    """Fail fast with a one-line message when Zalo rejects the token."""
    try:
        await client.get_me()
    except ZaloError as exc:
        if exc.error_code in (401, 403, 404):
            raise ConfigError(f"Configuration error: ZALO_BOT_TOKEN: rejected by Zalo ({exc.description})") from None
        log.warning("zalo getMe failed (error %s); polling anyway", exc.error_code)


async def start_polling(dispatcher: Dispatcher, client: ZaloClient, pool: TaskPool,
                        timeout: float = 30.0) -> asyncio.Task[None]:
    """Remove any webhook (polling and webhooks exclude each other) and start polling in a task."""
    try:
        await client.delete_webhook()
    except ZaloError as exc:
        log.warning("zalo deleteWebhook failed (error %s)", exc.error_code)
    return asyncio.create_task(poll(dispatcher, client, pool, timeout=timeout))


async def run_zalo_polling(settings: Settings, *, with_telegram: bool = False) -> None:
    """Run the bot on Zalo with long polling (and on Telegram too if asked) until interrupted.

    Both channels share one dispatcher and one outbox worker, so notifications reach either.
    """
    from bot.runtime import background_jobs
    from handlers.app import build_dispatcher

    dispatcher = await build_dispatcher(settings)
    client = make_client(settings)
    pool = TaskPool()
    tg_app: Any = None
    poller: asyncio.Task[None] | None = None
    try:
        await check_token(client)
        attach(dispatcher, client)
        if with_telegram:
            from bot.telegram_channel import build_application, start_application

            tg_app = build_application(settings, dispatcher)
            await start_application(tg_app)
            log.info("Telegram bot running (long polling)")
        poller = await start_polling(dispatcher, client, pool)
        log.info("Zalo bot running (long polling)")
        async with background_jobs(dispatcher.services):
            await poller
    finally:
        if poller is not None:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
        await pool.drain()
        if tg_app is not None:
            from bot.telegram_channel import stop_application

            await stop_application(tg_app)
        await client.close()
        await dispatcher.services.store.close()
