"""Telegram channel: translates python-telegram-bot updates to the core and replies back.

Only translation happens here: HTML escaping, inline keyboards, splitting long messages,
the typing indicator and bot commands. All state is in storage, not in PTB's persistence.
"""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any

from telegram import (BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message,
                      MessageEntity, Update)
from telegram.constants import ChatAction, ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.config import Settings
from bot.render import split_text
from bot.telegram_request import AiohttpRequest
from handlers.dispatcher import Dispatcher
from handlers.types import Incoming, Reply

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_MESSAGE = 4096
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


def to_incoming(update: Update) -> Incoming | None:
    """Translate a Telegram update; None for updates the bot ignores (edits, joins...)."""
    key = str(update.update_id)
    if update.callback_query is not None:
        q = update.callback_query
        chat = q.message.chat if q.message else None
        return Incoming(CHANNEL, str(q.from_user.id), str(chat.id if chat else q.from_user.id), "action",
                        action=q.data or "", display_name=q.from_user.full_name, update_key=key,
                        seq=update.update_id,
                        chat_type="private" if chat is None or chat.type == "private" else "group")
    msg = update.message
    if msg is None or msg.from_user is None:
        return None
    base: dict[str, Any] = dict(
        channel=CHANNEL, user_id=str(msg.from_user.id), chat_id=str(msg.chat.id),
        display_name=msg.from_user.full_name, update_key=key, seq=update.update_id,
        chat_type="private" if msg.chat.type == "private" else "group",
    )
    if msg.text is not None:
        command = _command(msg)
        if command:
            args = msg.text.split(None, 1)[1].strip() if len(msg.text.split(None, 1)) > 1 else ""
            return Incoming(kind="command", text=command, args=args, **base)
        reply_to = str(msg.reply_to_message.message_id) if msg.reply_to_message else ""
        return Incoming(kind="text", text=msg.text, reply_to=reply_to, **base)
    if msg.photo:
        return Incoming(kind="photo", photo_url=f"tg-file:{msg.photo[-1].file_id}", text=msg.caption or "", **base)
    if msg.sticker is not None:
        return Incoming(kind="sticker", **base)
    return Incoming(kind="other", **base)


def _command(msg: Message) -> str:
    """The command name if the message starts with a bot_command entity."""
    for ent in msg.entities or ():
        if ent.type == MessageEntity.BOT_COMMAND and ent.offset == 0:
            name = msg.text[1:ent.length].split("@", 1)[0]  # type: ignore[index]
            return name.lower()
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


async def send_reply(bot: Any, chat_id: str | int, reply: Reply) -> Message:
    """Send one reply (possibly several messages); buttons go on the last one."""
    chunks = to_html(reply)
    last: Message | None = None
    for i, chunk in enumerate(chunks):
        markup = to_keyboard(reply) if i == len(chunks) - 1 else None
        last = await _with_retry(lambda: bot.send_message(chat_id=chat_id, text=chunk, parse_mode=ParseMode.HTML,
                                                          reply_markup=markup, link_preview_options=NO_PREVIEW))
    assert last is not None
    return last


async def _with_retry(call: Any, attempts: int = 3) -> Any:
    for attempt in range(attempts):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt == attempts - 1:
                raise
            delay = exc.retry_after if isinstance(exc.retry_after, (int, float)) else exc.retry_after.total_seconds()
            await asyncio.sleep(min(float(delay), 30.0))
    raise AssertionError("unreachable")


class TelegramSender:
    """Pushes outbox messages to Telegram chats."""

    channel = CHANNEL

    def __init__(self, bot: Any) -> None:
        self.bot = bot

    async def send(self, chat_id: str, reply: Reply) -> str:
        msg = await send_reply(self.bot, chat_id, reply)
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
        builder = builder.rate_limiter(AIORateLimiter(overall_max_rate=settings.telegram_rate_limit, max_retries=3))
    if not updater:
        builder = builder.updater(None)
    app = builder.build()

    async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Without an updater the updates come from our webhook, whose answer already acknowledged presses.
        await handle_update(dispatcher, context.bot, update, answer_callbacks=updater)

    app.add_handler(TypeHandler(Update, on_update))
    app.add_error_handler(_on_error)
    dispatcher.services.extras.setdefault("senders", {})[CHANNEL] = TelegramSender(app.bot)
    return app


async def handle_update(dispatcher: Dispatcher, bot: Any, update: Update, answer_callbacks: bool = True) -> None:
    """Translate, run the core, send the replies.

    ``answer_callbacks=False`` when the webhook already answered the button press (bot/server.py).
    """
    global _in_flight
    incoming = to_incoming(update)
    if incoming is None:
        return
    if update.callback_query is not None and answer_callbacks:
        try:
            await update.callback_query.answer()
        except TelegramError:
            log.debug("callback answer failed", exc_info=True)
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
    for reply in outcome.replies:
        try:
            await send_reply(bot, incoming.chat_id, reply)
        except TelegramError as exc:
            log.warning("send to telegram chat failed: %s", type(exc).__name__)
            break
    after = dispatcher.services.extras.get("after_update")
    if after is not None:  # observers (tests, metrics) learn that the update is fully handled
        after(CHANNEL, incoming.update_key)


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
