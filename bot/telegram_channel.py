"""Telegram channel: translates python-telegram-bot updates to the core and replies back.

Only translation happens here: HTML escaping, inline keyboards, splitting long messages,
the typing indicator and bot commands. All state is in storage, not in PTB's persistence.
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any

from telegram import (BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, LinkPreviewOptions,
                      Message, MessageEntity, Update)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.config import Settings
from bot.outbox_worker import MediaRefused, send_held
from bot.render import clean_incoming, split_text
from bot.telegram_request import AiohttpRequest
from handlers.dispatcher import Dispatcher
from handlers.types import Attachment, Incoming, Reply

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_MESSAGE = 4096
MAX_CAPTION = 1024
MAX_ALBUM = 10  # sendMediaGroup takes 2-10 items
PLAIN_CHUNK = 3500  # plain-text size per message, leaving room for HTML escapes
TYPING_DELAY = 0.4  # seconds before "typing…" is shown for an answer still being prepared
TYPING_MAX_IN_FLIGHT = 8  # in a burst (more updates in hand than this), answers go out first, no "typing…"
_in_flight = 0  # updates of this process being handled now
_typing_tasks: set[asyncio.Task[None]] = set()  # referenced until done
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # answers quote portal links; previews would bury the text
BOT_API_CONNECTIONS = 16  # to the Bot API: plenty for Telegram's ~30 messages/s per bot
COMMANDS = [
    BotCommand("start", "Bắt đầu, xem menu chính"),
    BotCommand("menu", "Các mục chính"),
    BotCommand("help", "Cách dùng trợ lý"),
    BotCommand("hotro", "Tổ công nghệ số: hướng dẫn thay người dân"),
    BotCommand("thongke", "Tổ công nghệ số: số lượt hỗ trợ"),
    BotCommand("baocao", "Cơ quan: báo cáo phản ánh"),
]


def to_incoming(update: Update | dict[str, Any]) -> Incoming | None:
    """Translate a Telegram update (PTB's ``Update``, or the webhook's JSON as it came);
    None for updates the bot ignores (edits, joins...) or that are not updates at all."""
    data = update.to_dict() if isinstance(update, Update) else update
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return None
    seq = data["update_id"]
    key = str(seq)
    query = data.get("callback_query")
    if isinstance(query, dict):
        user = query.get("from")
        if not isinstance(user, dict) or not _is_id(user.get("id")):
            return None
        message = query.get("message")
        chat = message.get("chat") if isinstance(message, dict) else None
        chat = chat if isinstance(chat, dict) and _is_id(chat.get("id")) else None
        return Incoming(CHANNEL, str(user["id"]), str(chat["id"] if chat else user["id"]), "action",
                        action=str(query.get("data") or ""), display_name=_full_name(user), update_key=key, seq=seq,
                        chat_type="private" if chat is None or chat.get("type") == "private" else "group")
    msg = data.get("message")
    if not isinstance(msg, dict):
        return None
    user, chat = msg.get("from"), msg.get("chat")
    if not isinstance(user, dict) or not _is_id(user.get("id")) or not isinstance(chat, dict) \
            or not _is_id(chat.get("id")):
        return None  # no sender, or ids that are not numbers (from.id null, a list, a string...)
    if any(msg.get(k) for k in SERVICE_KEYS):  # (PTB's to_dict() gives absent flags as False)
        return None  # joins, leaves, pins, title changes...: nothing a person said to the bot
    base: dict[str, Any] = dict(
        channel=CHANNEL, user_id=str(user["id"]), chat_id=str(chat["id"]), display_name=_full_name(user),
        update_key=key, seq=seq, chat_type="private" if chat.get("type") == "private" else "group",
    )
    text = msg.get("text")
    replied = msg.get("reply_to_message")
    reply_to = str(replied.get("message_id", "")) if isinstance(replied, dict) else ""
    caption = msg.get("caption")
    for_ticket = isinstance(caption, str) and caption.strip()[:2].upper() == "HT"
    if base["chat_type"] == "group" and not isinstance(text, str) and not ((reply_to or for_ticket) and _media(msg)):
        return None  # photos, stickers and the like in groups (agency chats) are chatter, not for the bot
        # (a photo or document replying to the bot's message, or captioned "HT12 …", is a helper's, for the citizen)
    if isinstance(text, str):
        text = clean_incoming(text)
        command = _command(text, msg.get("entities"))
        if command:
            parts = text.split(None, 1)
            return Incoming(kind="command", text=command, args=parts[1].strip() if len(parts) > 1 else "", **base)
        return Incoming(kind="text", text=text, reply_to=reply_to, **base)
    media = _media(msg)
    if media is not None:
        caption = msg.get("caption")
        caption = clean_incoming(caption) if isinstance(caption, str) else ""
        album = msg.get("media_group_id")
        att = Attachment(media[0], media[1], "telegram", caption, media[2])
        return Incoming(kind=media[0], photo_url=att.ref, attachment=att, text=caption, reply_to=reply_to,
                        album=str(album)[:64] if isinstance(album, (str, int)) else "", **base)
    location = msg.get("location")
    if isinstance(location, dict) and _coordinate(location.get("latitude"), 90) is not None \
            and _coordinate(location.get("longitude"), 180) is not None:
        return Incoming(kind="location", location=(float(location["latitude"]), float(location["longitude"])),
                        **base)
    if msg.get("sticker") is not None:
        return Incoming(kind="sticker", **base)
    return Incoming(kind="other", **base)


def _media(msg: dict[str, Any]) -> tuple[str, str, str] | None:
    """("photo" | "document", file_id, file name) of a message's photo (its largest size) or document."""
    photo = msg.get("photo")
    if isinstance(photo, list) and photo:
        sizes = [p for p in photo if isinstance(p, dict) and isinstance(p.get("file_id"), str) and p["file_id"]]
        if sizes:
            best = max(sizes, key=lambda p: (_area(p), sizes.index(p)))
            return "photo", best["file_id"][:512], ""
    doc = msg.get("document")
    if isinstance(doc, dict) and isinstance(doc.get("file_id"), str) and doc["file_id"]:
        name = doc.get("file_name")
        return "document", doc["file_id"][:512], clean_incoming(name)[:160] if isinstance(name, str) else ""
    return None


def _area(size: dict[str, Any]) -> int:
    w, h = size.get("width"), size.get("height")
    return w * h if isinstance(w, int) and isinstance(h, int) else 0


def _coordinate(value: Any, bound: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if -bound <= value <= bound else None


def _full_name(user: dict[str, Any]) -> str:
    first, last = str(user.get("first_name") or ""), str(user.get("last_name") or "")
    return clean_incoming(f"{first} {last}" if last else first)


def _is_id(value: Any) -> bool:
    """A Telegram user or chat id: an integer (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool)


# Service messages (Bot API "Message" fields): the bot receives them in groups even in privacy mode.
SERVICE_KEYS = frozenset({
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
    "group_chat_created", "supergroup_chat_created", "channel_chat_created", "message_auto_delete_timer_changed",
    "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message", "users_shared", "chat_shared",
    "write_access_allowed", "proximity_alert_triggered", "boost_added", "chat_background_set",
    "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened",
    "general_forum_topic_hidden", "general_forum_topic_unhidden", "video_chat_scheduled", "video_chat_started",
    "video_chat_ended", "video_chat_participants_invited", "giveaway_created", "connected_website",
})


def _command(text: str, entities: Any) -> str:
    """The command name if the message starts with a bot_command entity."""
    for ent in entities if isinstance(entities, list) else ():
        if isinstance(ent, dict) and ent.get("type") == MessageEntity.BOT_COMMAND and ent.get("offset") == 0:
            length = ent.get("length")
            if isinstance(length, int) and length > 1:
                return text[1:length].split("@", 1)[0].lower()
    return ""


def to_html(reply: Reply) -> list[str]:
    """Escaped HTML chunks, each within Telegram's 4,096-character limit."""
    chunks = split_text(reply.text, PLAIN_CHUNK)
    out = [html.escape(c, quote=False) for c in chunks]
    if reply.title:
        out[0] = f"<b>{html.escape(reply.title, quote=False)}</b>\n{out[0]}"
    final: list[str] = []
    for chunk in out:  # escaping can still overflow in pathological texts
        final.extend(split_text(chunk, MAX_MESSAGE) if len(chunk) > MAX_MESSAGE else [chunk])
    return final


def to_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.action) for b in row]
                                 for row in reply.buttons])


async def send_reply(bot: Any, chat_id: str | int, reply: Reply, transient: bool = False) -> Message:
    """Send one reply (possibly several messages); buttons go on the last one.

    ``transient``: also retry 5xx answers and network failures (a direct reply to the citizen);
    the outbox, which has its own retries, leaves it off.
    """
    return await _send_chunks(bot, chat_id, reply, transient=transient)


async def _send_chunks(bot: Any, chat_id: str | int, reply: Reply, *, transient: bool = False, skip: int = 0,
                       on_part: Any = None) -> Message:
    """The messages of one reply from part ``skip`` on; ``on_part(n)`` after part n-1 of several was accepted."""
    chunks = to_html(reply)
    last: Message | None = None
    for i, chunk in enumerate(chunks):
        if i < skip and i < len(chunks) - 1:
            continue
        markup = to_keyboard(reply) if i == len(chunks) - 1 else None
        last = await _with_retry(lambda: bot.send_message(chat_id=chat_id, text=chunk, parse_mode=ParseMode.HTML,
                                                          reply_markup=markup, link_preview_options=NO_PREVIEW),
                                 transient=transient)
        if on_part is not None and i < len(chunks) - 1:
            await on_part(i + 1)
    assert last is not None
    return last


REPLY_RETRY_DELAYS = (0.5, 1.0, 2.0)  # direct replies: 4 attempts within about 3.5 s (plus retry_after waits)


async def _with_retry(call: Any, attempts: int = 3, transient: bool = False) -> Any:
    """Retry on ``RetryAfter`` (waiting as told, at most 30 s); with ``transient``, also on 5xx answers and
    network failures, a bounded number of times. A timeout is never retried here: the platform may have
    accepted the message (the outbox handles that case, "in doubt")."""
    attempts = max(attempts, len(REPLY_RETRY_DELAYS) + 1) if transient else attempts
    for attempt in range(attempts):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt == attempts - 1:
                raise
            delay = exc.retry_after if isinstance(exc.retry_after, (int, float)) else exc.retry_after.total_seconds()
            await asyncio.sleep(min(float(delay), 30.0))
        except TimedOut:
            raise
        except NetworkError:
            if not transient or attempt == attempts - 1:
                raise
            await asyncio.sleep(REPLY_RETRY_DELAYS[min(attempt, len(REPLY_RETRY_DELAYS) - 1)])
    raise AssertionError("unreachable")


class PerChatRateLimiter(AIORateLimiter):
    """python-telegram-bot's ``AIORateLimiter`` (overall and per-group rates), except that a ``RetryAfter``
    (429) pauses only the chat that got it: PTB's pauses every request of the bot, so one rate-limited
    agency group would hold every citizen's reply and every other agency's card."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._paused: dict[str, float] = {}  # chat id -> loop time until which its requests wait

    async def process_request(self, callback: Any, args: Any, kwargs: dict[str, Any], endpoint: str,
                              data: dict[str, Any], rate_limit_args: int | None) -> Any:
        loop = asyncio.get_running_loop()
        max_retries = rate_limit_args or self._max_retries
        chat_id = data.get("chat_id")
        key = str(chat_id) if chat_id is not None else ""
        group: int | str | bool = False
        try:
            group = int(chat_id) if chat_id is not None else False  # type: ignore[arg-type]
            group = group if isinstance(group, int) and group < 0 else False
        except (TypeError, ValueError):
            group = str(chat_id)
        for attempt in range(max_retries + 1):
            wait = self._paused.get(key, 0.0) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await self._run_request(chat=chat_id is not None, group=group,
                                               allow_paid_broadcast=bool(data.get("allow_paid_broadcast", False)),
                                               callback=callback, args=args, kwargs=kwargs)
            except RetryAfter as exc:
                if attempt == max_retries:
                    raise
                delay = exc.retry_after if isinstance(exc.retry_after, (int, float)) else \
                    exc.retry_after.total_seconds()
                self._paused[key] = max(self._paused.get(key, 0.0), loop.time() + float(delay) + 0.1)
                if len(self._paused) > 512:
                    now = loop.time()
                    self._paused = {k: t for k, t in self._paused.items() if t > now}
        raise AssertionError("unreachable")


# Bot API answers (400) that mean the file itself cannot be sent, not the chat.
_FILE_REFUSALS = ("file", "url", "photo", "image", "media", "document", "dimensions", "too big", "web page content")


def _file_refused(exc: BadRequest) -> bool:
    message = str(exc.message if hasattr(exc, "message") else exc).lower()
    return "chat not found" not in message and any(word in message for word in _FILE_REFUSALS)


def _caption(att: Attachment) -> str | None:
    return att.caption[:MAX_CAPTION] or None


class TelegramSender:
    """Pushes outbox messages to Telegram chats: text (in parts), photos (one, or an album), documents."""

    channel = CHANNEL

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    @staticmethod
    def can_send(att: Attachment) -> bool:
        return True  # a file_id of this bot, or a URL Telegram fetches itself

    @staticmethod
    def media_groups(atts: list[Attachment]) -> list[list[int]]:
        """Consecutive photos as albums of up to 10 (one call each), documents one by one."""
        groups: list[list[int]] = []
        for i, att in enumerate(atts):
            last = groups[-1] if groups else None
            if att.kind == "photo" and last and atts[last[-1]].kind == "photo" and len(last) < MAX_ALBUM:
                last.append(i)
            else:
                groups.append([i])
        return groups

    async def send_media(self, chat_id: str, atts: list[Attachment]) -> str:
        """One photo (sendPhoto), an album (sendMediaGroup) or a document (sendDocument); captions in plain text."""
        try:
            if len(atts) > 1:
                media = [InputMediaPhoto(media=a.ref, caption=_caption(a)) for a in atts]
                sent = await _with_retry(lambda: self.bot.send_media_group(chat_id=chat_id, media=media))
                return str(sent[-1].message_id)
            att = atts[0]
            if att.kind == "document":
                msg = await _with_retry(lambda: self.bot.send_document(chat_id=chat_id, document=att.ref,
                                                                       caption=_caption(att)))
            else:
                msg = await _with_retry(lambda: self.bot.send_photo(chat_id=chat_id, photo=att.ref,
                                                                    caption=_caption(att)))
            return str(msg.message_id)
        except BadRequest as exc:
            if _file_refused(exc):
                raise MediaRefused(str(exc)) from None
            raise

    async def send(self, chat_id: str, reply: Reply) -> str:
        msg = await send_reply(self.bot, chat_id, reply)
        return str(msg.message_id)

    async def send_parts(self, chat_id: str, reply: Reply, skip: int, on_part: Any) -> str:
        """``send`` from part ``skip`` on, reporting each accepted part (the outbox records them)."""
        msg = await _send_chunks(self.bot, chat_id, reply, skip=skip, on_part=on_part)
        return str(msg.message_id)


def build_application(settings: Settings, dispatcher: Dispatcher, *, updater: bool = True) -> Application:
    """A PTB Application whose only handler passes every update to the core."""
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_url.replace("/bot", "/file/bot"))
        .concurrent_updates(64)
        .request(AiohttpRequest(connection_pool_size=BOT_API_CONNECTIONS))
    )
    if settings.telegram_rate_limit:
        builder = builder.rate_limiter(PerChatRateLimiter(overall_max_rate=settings.telegram_rate_limit, max_retries=3))
    if not updater:
        builder = builder.updater(None)
    app = builder.build()

    async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await handle_update(dispatcher, context.bot, update)

    app.add_handler(TypeHandler(Update, on_update))
    app.add_error_handler(_on_error)
    dispatcher.services.extras.setdefault("senders", {})[CHANNEL] = TelegramSender(app.bot)
    return app


async def handle_update(dispatcher: Dispatcher, bot: Any, update: Update) -> None:
    """Long polling: acknowledge a button press, then handle the update."""
    incoming = to_incoming(update)
    if incoming is None:
        return
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()
        except TelegramError:
            log.debug("callback answer failed", exc_info=True)
    await handle_incoming(dispatcher, bot, incoming)


async def handle_incoming(dispatcher: Dispatcher, bot: Any, incoming: Incoming) -> None:
    """Run the core and send the replies (webhook: bot/server.py calls this directly)."""
    global _in_flight
    typing = None
    if incoming.chat_type == "private" and _in_flight < TYPING_MAX_IN_FLIGHT:
        typing = asyncio.get_running_loop().call_later(TYPING_DELAY, _show_typing, bot, incoming.chat_id)
    _in_flight += 1
    try:
        outcome = await dispatcher.handle(incoming)
    finally:
        _in_flight -= 1
        if typing is not None:
            typing.cancel()
    failed = False
    for reply in outcome.replies:
        if reply.durable:  # e.g. a tracking code: its held outbox copy is delivered if this fails
            await send_held(dispatcher.services.store, reply.durable,
                            lambda r=reply: _message_id(send_reply(bot, incoming.chat_id, r, transient=True)),
                            again=reply.durable_again)
            continue
        if reply.private and incoming.chat_type == "group":  # e.g. a refusal: to the person, not the group
            try:
                await send_reply(bot, incoming.user_id, reply, transient=True)
            except TelegramError:
                log.info("a private reply to a group member was not delivered (no private chat with the bot)")
            continue
        if failed:
            continue
        try:
            await send_reply(bot, incoming.chat_id, reply, transient=True)
        except TelegramError as exc:
            log.warning("send to telegram chat failed: %s", type(exc).__name__)
            failed = True  # the rest of this turn's ordinary replies would arrive out of context
    after = dispatcher.services.extras.get("after_update")
    if after is not None:  # observers (tests, metrics) learn that the update is fully handled
        after(CHANNEL, incoming.update_key)


async def _message_id(sending: Any) -> str:
    return str((await sending).message_id)


def _show_typing(bot: Any, chat_id: str) -> None:
    """Show "typing…" only when an answer takes a moment (scheduled TYPING_DELAY after the update
    arrived, cancelled if the answer is ready first): quick answers need no indicator, and skipping
    it halves the calls to the Bot API under load."""
    task = asyncio.ensure_future(_send_typing(bot, chat_id))
    _typing_tasks.add(task)
    task.add_done_callback(_typing_tasks.discard)


async def _send_typing(bot: Any, chat_id: str) -> None:
    try:
        await bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
    except TelegramError:
        log.debug("typing indicator failed", exc_info=True)


async def start_application(app: Application, polling: bool = True, **polling_kwargs: Any) -> None:
    """Initialize, register the bot commands, start, and (optionally) start long polling."""
    await app.initialize()
    await register_commands(app)
    await app.start()
    if polling:
        polling_kwargs.setdefault("allowed_updates", Update.ALL_TYPES)
        await app.updater.start_polling(**polling_kwargs)  # type: ignore[union-attr]


async def stop_application(app: Application) -> None:
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()


async def register_commands(app: Application) -> None:
    try:
        await app.bot.set_my_commands(COMMANDS)
    except TelegramError:
        log.warning("could not register bot commands", exc_info=True)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("telegram error: %s", type(context.error).__name__, exc_info=context.error)


async def run_polling(settings: Settings) -> None:
    """Run the bot on Telegram with long polling until interrupted."""
    from bot.runtime import background_jobs
    from handlers.app import build_dispatcher

    dispatcher = await build_dispatcher(settings)
    app = build_application(settings, dispatcher)
    await start_application(app)
    log.info("Telegram bot running (long polling)")
    try:
        async with background_jobs(dispatcher.services):
            await asyncio.Event().wait()  # until cancelled (Ctrl+C)
    finally:
        await stop_application(app)
        await dispatcher.services.store.close()
