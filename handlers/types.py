"""What goes into the conversation core and what comes out of it, whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MessageKind = Literal["text", "action", "command", "photo", "sticker", "other"]


@dataclass(frozen=True)
class Button:
    """A choice offered to the user. ``action`` is what a press sends back (≤ 64 bytes)."""

    label: str
    action: str

    def __post_init__(self) -> None:
        if len(self.action.encode()) > 64:
            raise ValueError(f"button action too long for Telegram callback data: {self.action!r}")


@dataclass(frozen=True)
class Reply:
    """One message to the user: plain text (channels escape it) plus rows of buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    title: str = ""  # shown bold where the channel can
    # The outbox dedup key of a held copy of this reply, queued in the same transaction as what it
    # reports (a complaint's tracking code): the channel sends it directly and marks that row sent;
    # if the direct send fails or the process dies, the outbox delivers the copy. "" = ordinary reply.
    durable: str = ""
    durable_again: bool = False  # send it even if the outbox already delivered the held copy (a repeated request)

    @classmethod
    def make(cls, text: str, buttons: list[list[Button]] | None = None, title: str = "") -> "Reply":
        return cls(text=text, buttons=tuple(tuple(row) for row in (buttons or [])), title=title)

    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


@dataclass(frozen=True)
class Incoming:
    """One thing the user did: typed text, pressed a button, sent a command, a photo or a sticker."""

    channel: str  # "telegram" | "zalo" | "terminal"
    user_id: str
    chat_id: str
    kind: MessageKind
    text: str = ""  # the typed text, or the command name for kind="command" (without "/")
    action: str = ""  # the pressed button's action for kind="action"
    photo_url: str = ""  # for kind="photo"
    display_name: str = ""
    update_key: str = ""  # platform update id, for de-duplication ("" = none)
    chat_type: str = "private"  # "private" | "group" (agency chats are groups)
    reply_to: str = ""  # id of the bot message this text answers (Telegram "reply"), if any
    args: str = ""  # for kind="command": what follows the command ("/hotro ABCD" → "ABCD")
    seq: int | None = None  # platform order of the update (Telegram update_id, Zalo date); None = no ordering


@dataclass
class Outcome:
    """What the core returns: replies, and whether the update was a duplicate or throttled."""

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
