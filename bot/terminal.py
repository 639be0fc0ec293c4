"""Terminal channel: chat with the bot in a shell, or pipe one message per line."""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
from typing import TextIO

from bot.render import clean_incoming, render_all
from handlers.dispatcher import Dispatcher
from handlers.types import Attachment, Incoming, Reply

CHANNEL = "terminal"


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


async def run_terminal(dispatcher: Dispatcher, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
                       user_id: str | None = None, interactive: bool | None = None) -> None:
    """Read messages line by line and print the bot's replies."""
    user_id = user_id or f"local-{getpass.getuser()}"
    interactive = stdin.isatty() if interactive is None else interactive
    if interactive:
        out = await dispatcher.handle(to_incoming("/start", user_id))
        stdout.write(format_replies(out.replies) + "\n\n(Gõ câu hỏi; Ctrl+D để thoát.)\n")
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
        if not interactive:
            stdout.write("---\n")
        stdout.flush()
