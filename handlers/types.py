"""What goes into the conversation core and what comes out of it, whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

MessageKind = Literal["text", "action", "command", "photo", "document", "location", "sticker", "other"]


@dataclass(frozen=True)
class Attachment:
    """A photo or document a user sent, or one to send: what a channel needs to fetch it again.

    ``source`` says how ``ref`` is read: "telegram" (a Telegram file_id, usable by this bot on
    Telegram only) or "url" (an http(s) address, e.g. a Zalo image; Telegram can fetch it too).
    """

    kind: Literal["photo", "document"]
    ref: str
    source: Literal["telegram", "url"]
    caption: str = ""
    name: str = ""  # a document's file name

    def to_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "ref": self.ref, "source": self.source}
        if self.caption:
            out["caption"] = self.caption
        if self.name:
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Attachment | None":
        """None for anything malformed (stored JSON is data, not trusted shape)."""
        if not isinstance(d, dict):
            return None
        kind, ref, source = d.get("kind"), d.get("ref"), d.get("source")
        if kind not in ("photo", "document") or source not in ("telegram", "url") or not isinstance(ref, str) \
                or not ref:
            return None
        return cls(kind, ref, source, str(d.get("caption") or ""), str(d.get("name") or ""))

    def reachable_on(self, channel: str) -> bool:
        """Whether ``channel`` can send this to its chats: Telegram anything (its own file ids, or a URL it
        fetches); Zalo photos by URL only (no documents, and a Telegram file id means nothing there)."""
        if channel == "telegram":
            return True
        return channel == "zalo" and self.kind == "photo" and self.source == "url"


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
    # Photos/documents sent before the text (an album for several photos where the channel has them);
    # each keeps its own caption. Only the outbox sends these (storage payload "media").
    media: tuple[Attachment, ...] = ()
    # Only for the person who acted: in a group chat the channel sends it to their private chat instead
    # (a refusal to someone who is not staff is not posted in the agency's group).
    private: bool = False

    @classmethod
    def make(cls, text: str, buttons: list[list[Button]] | None = None, title: str = "") -> "Reply":
        return cls(text=text, buttons=tuple(tuple(row) for row in (buttons or [])), title=title)

    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


@dataclass(frozen=True)
class Incoming:
    """One thing the user did: typed text, pressed a button, sent a command, a photo, a document, a
    location pin or a sticker. For a photo or document, ``text`` is its caption."""

    channel: str  # "telegram" | "zalo" | "terminal"
    user_id: str
    chat_id: str
    kind: MessageKind
    text: str = ""  # the typed text, or the command name for kind="command" (without "/")
    action: str = ""  # the pressed button's action for kind="action"
    photo_url: str = ""  # for kind="photo": the attachment's ref (kept for older callers)
    attachment: Attachment | None = None  # for kind="photo" / "document"
    album: str = ""  # photos sent together (Telegram media_group_id): one per update, same album id
    location: tuple[float, float] | None = None  # for kind="location": (latitude, longitude)
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
