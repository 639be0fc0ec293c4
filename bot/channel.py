"""The one interface every channel implements, and the registry the server mounts them from.

A channel (Telegram, Zalo, the terminal, the web chat) does four things and says what it can do:

- ``to_incoming(payload)``: translate what the platform sent into the core's ``Incoming`` (None: ignored);
- ``send(chat_id, reply)``: deliver one of the core's replies to a chat, returning the platform message id;
- ``push(chat_id, reply)``: deliver a notification that did not answer a message (the outbox calls it);
- ``routes()``: the HTTP routes it needs on the server (a webhook, a widget's endpoints), mounted as they are;
- ``capabilities``: buttons, editing sent messages, photos, the longest message.

In the spirit of Rasa's ``InputChannel``/``OutputChannel`` with their single ``blueprint()``, but with the
core's own types: a channel never holds conversation state (that is in storage), it only translates.

Adding a channel: one module with a class implementing ``Channel`` and a ``build(settings, dispatcher)``
returning it (or None when the settings leave it off), plus one line in ``CHANNEL_MODULES`` below; the
server (``bot/server.py``) starts, mounts and stops every channel that module returns.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from handlers.types import Incoming, Reply


@dataclass(frozen=True)
class Capabilities:
    """What a channel can show; the core's replies are the same everywhere, channels adapt them."""

    buttons: bool  # real buttons (else choices are a numbered list and the citizen types a number)
    editing: bool  # a sent message can be edited in place
    photos: bool  # photos can be shown in the chat
    max_message: int  # characters per message; longer replies are split


@runtime_checkable
class Channel(Protocol):
    """One way citizens reach the assistant."""

    name: str
    capabilities: Capabilities

    def to_incoming(self, payload: Any) -> Incoming | None: ...

    async def send(self, chat_id: str, reply: Reply) -> str: ...

    async def push(self, chat_id: str, reply: Reply) -> str: ...

    def routes(self) -> Sequence[Any]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# Channels the server builds from the settings and mounts generically (each module has ``build``).
# Telegram and Zalo keep their own webhook paths in bot/server.py (they record updates in the inbox
# before answering); their adapters below give the rest of the interface.
CHANNEL_MODULES: list[str] = ["bot.webchat_channel"]


def build_channels(settings: Any, dispatcher: Any) -> list[Channel]:
    """Every registered channel the settings turn on."""
    out: list[Channel] = []
    for name in CHANNEL_MODULES:
        channel = importlib.import_module(name).build(settings, dispatcher)
        if channel is not None:
            out.append(channel)
    return out


# --- adapters of the existing channels -----------------------------------------------------------------

class _SenderChannel:
    """A channel whose sending already lives in an outbox ``Sender`` (Telegram, Zalo, the terminal)."""

    name = ""
    capabilities = Capabilities(False, False, False, 4096)

    def __init__(self, sender: Any) -> None:
        self.sender = sender

    async def send(self, chat_id: str, reply: Reply) -> str:
        return str(await self.sender.send(chat_id, reply))

    async def push(self, chat_id: str, reply: Reply) -> str:
        return await self.send(chat_id, reply)

    def routes(self) -> Sequence[Any]:
        return ()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class TelegramChannel(_SenderChannel):
    """Telegram: buttons (inline keyboards), edits, photos, 4,096 characters (its webhook: bot/server.py)."""

    name = "telegram"
    capabilities = Capabilities(buttons=True, editing=True, photos=True, max_message=4096)

    def to_incoming(self, payload: Any) -> Incoming | None:
        from bot.telegram_channel import to_incoming

        return to_incoming(payload)


class ZaloChannel(_SenderChannel):
    """Zalo Bot Platform: no buttons (numbered choices), photos by URL, 2,000 characters."""

    name = "zalo"
    capabilities = Capabilities(buttons=False, editing=False, photos=True, max_message=2000)

    def to_incoming(self, payload: Any) -> Incoming | None:
        from bot.zalo_channel import to_incoming

        return to_incoming(payload)


class TerminalChannel(_SenderChannel):
    """The terminal (``python -m bot chat``): numbered choices, photos shown as their address."""

    name = "terminal"
    capabilities = Capabilities(buttons=False, editing=False, photos=False, max_message=1_000_000)

    def __init__(self, sender: Any, user_id: str) -> None:
        super().__init__(sender)
        self.user_id = user_id

    def to_incoming(self, payload: Any) -> Incoming | None:
        from bot.terminal import to_incoming

        return to_incoming(str(payload), self.user_id) if isinstance(payload, str) else None


__all__ = ["CHANNEL_MODULES", "Capabilities", "Channel", "TelegramChannel", "TerminalChannel", "ZaloChannel",
           "build_channels"]
