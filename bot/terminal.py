"""Terminal channel: chat with the bot in a shell, or pipe one message per line."""

from __future__ import annotations

import asyncio
import getpass
import logging
import re
import sys
from typing import Any, TextIO

from bot.outbox_worker import deliver_once
from bot.render import clean_incoming, render_all
from handlers.dispatcher import Dispatcher
from handlers.texts import media as TM
from handlers.types import Attachment, Incoming, Reply

CHANNEL = "terminal"
log = logging.getLogger(__name__)


_PIN = re.compile(r"^(-?\d{1,2}(?:\.\d+)?)\s*[,; ]\s*(-?\d{1,3}(?:\.\d+)?)$")


def to_incoming(line: str, user_id: str) -> Incoming:
    """A typed line: '/start' and friends are commands, anything else is text.

    The terminal cannot attach files, so two commands stand for them: ``/anh URL [chú thích]`` sends the
    photo at that http(s) address (as a Zalo image arrives), ``/vitri 10.3661, 105.423`` a location pin.
    """
    text = clean_incoming(line.rstrip("\r\n"))
    stripped = text.strip()
    word, _, rest = stripped.partition(" ")
    if word.lower() == "/anh" and rest.strip().startswith(("http://", "https://")):
        url, _, caption = rest.strip().partition(" ")
        att = Attachment("photo", url, "url", caption.strip())
        return Incoming(CHANNEL, user_id, user_id, "photo", text=caption.strip(), photo_url=url, attachment=att)
    pin = _PIN.match(rest.strip()) if word.lower() == "/vitri" else None
    if pin and abs(float(pin.group(1))) <= 90 and abs(float(pin.group(2))) <= 180:
        return Incoming(CHANNEL, user_id, user_id, "location", location=(float(pin.group(1)), float(pin.group(2))))
    if stripped.startswith("/") and len(stripped) > 1 and stripped[1:].split()[0].isalpha():
        name, _, args = stripped[1:].partition(" ")
        return Incoming(CHANNEL, user_id, user_id, "command", text=name.lower(), args=args.strip())
    return Incoming(CHANNEL, user_id, user_id, "text", text=text)


def format_replies(replies: list[Reply]) -> str:
    return "\n\n".join(render_all(replies))


class TerminalSender:
    """Delivers the outbox messages of the terminal's user (a helper's line, a complaint's answer, a photo
    as a line with its address) to the screen, after the turn's own replies; the choices of a pushed
    message become the current numbered choices, as on Zalo."""

    channel = CHANNEL

    def __init__(self, out: TextIO, store: Any) -> None:
        self.out, self.store, self.count = out, store, 0

    @staticmethod
    def can_send(att: Attachment) -> bool:
        return att.source == "url"  # an address can be shown; a Telegram file id cannot be opened here

    @staticmethod
    def media_groups(atts: list[Attachment]) -> list[list[int]]:
        return [[i] for i in range(len(atts))]

    async def send_media(self, chat_id: str, atts: list[Attachment]) -> str:
        att = atts[0]
        line = (TM.TERMINAL_PHOTO if att.kind == "photo" else TM.TERMINAL_DOCUMENT).format(ref=att.ref)
        return self._write(f"{line}\n{att.caption}" if att.caption else line)

    async def send(self, chat_id: str, reply: Reply) -> str:
        if reply.buttons:
            await self._remember(chat_id, reply)
        return self._write(format_replies([reply]))

    def _write(self, text: str) -> str:
        self.count += 1
        self.out.write(text + "\n\n")
        self.out.flush()
        return f"terminal-{self.count}"

    async def _remember(self, chat_id: str, reply: Reply) -> None:
        from handlers.dispatcher import CHOICES_KEY

        async with self.store.conversation_lock(f"{CHANNEL}:{chat_id}"):
            session = await self.store.load(CHANNEL, chat_id, chat_id)
            session.data[CHOICES_KEY] = [[b.label, b.action] for b in reply.all_buttons()]
            await self.store.save(session)


async def deliver_pushed(dispatcher: Dispatcher, sender: TerminalSender, user_id: str) -> int:
    """Show what the outbox holds for this terminal user (nothing else is claimed)."""
    try:
        return await deliver_once(dispatcher.services.store, {CHANNEL: sender}, only=(CHANNEL, user_id))
    except Exception:  # noqa: BLE001 - shown at the next turn
        log.warning("could not show the pushed messages", exc_info=True)
        return 0


async def run_terminal(dispatcher: Dispatcher, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
                       user_id: str | None = None, interactive: bool | None = None) -> None:
    """Read messages line by line and print the bot's replies."""
    user_id = user_id or f"local-{getpass.getuser()}"
    interactive = stdin.isatty() if interactive is None else interactive
    pushed = TerminalSender(stdout, dispatcher.services.store)
    if interactive:
        out = await dispatcher.handle(to_incoming("/start", user_id))
        stdout.write(format_replies(out.replies) + "\n\n(Gõ câu hỏi; Ctrl+D để thoát.)\n")
        await deliver_pushed(dispatcher, pushed, user_id)
    loop = asyncio.get_running_loop()
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = await loop.run_in_executor(None, stdin.readline)
        if not line:
            break
        out = await dispatcher.handle(to_incoming(line, user_id))
        stdout.write(format_replies(out.replies) + "\n")
        await deliver_pushed(dispatcher, pushed, user_id)  # what came for this user meanwhile
        if not interactive:
            stdout.write("---\n")
        stdout.flush()
