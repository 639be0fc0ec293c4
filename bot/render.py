"""Plain-text rendering of replies for channels without buttons (terminal, Zalo)."""

from __future__ import annotations

import unicodedata

from handlers.texts import common as T
from handlers.types import Reply


def choice_hint(n: int) -> str:
    """'Gõ 1, 2 hoặc 3 để chọn ạ.'"""
    if n == 1:
        numbers = "1"
    else:
        numbers = ", ".join(str(i) for i in range(1, n)) + f" hoặc {n}"
    return T.CHOICE_HINT.format(numbers=numbers)


def render_plain(reply: Reply, start: int = 1, hint: bool = True) -> str:
    """Title, text, then the buttons as a numbered list (numbers from ``start``) with a hint."""
    parts = []
    if reply.title:
        parts.append(reply.title.upper() if len(reply.title) < 80 else reply.title)
    parts.append(reply.text)
    buttons = reply.all_buttons()
    if buttons:
        parts.append("\n".join(f"{i}. {b.label}" for i, b in enumerate(buttons, start)))
        if hint:
            parts.append(choice_hint(start + len(buttons) - 1))
    return "\n".join(parts)


def render_all(replies: list[Reply]) -> list[str]:
    """Render one turn's replies with choices numbered across them, as the core remembers them.

    The hint ("Gõ 1, 2 … hoặc 6") goes under the last reply that has choices.
    """
    last_with_buttons = max((i for i, r in enumerate(replies) if r.buttons), default=-1)
    out, number = [], 1
    for i, reply in enumerate(replies):
        out.append(render_plain(reply, start=number, hint=i == last_with_buttons))
        number += len(reply.all_buttons())
    return out


def split_text(text: str, limit: int) -> list[str]:
    """Split a long message at line, then sentence, then word boundaries, each part ≤ limit."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = window.rfind("\n")
        if cut < limit // 3:
            cut = max(window.rfind(". "), window.rfind("! "), window.rfind("? "))
            cut = cut + 1 if cut >= limit // 3 else window.rfind(" ")
        if cut < limit // 3:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return [p for p in parts if p]


_UNSAFE = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C}


def clean_incoming(text: str) -> str:
    """A user's text as the core may read, store and echo it: no NUL or other control characters
    (ANSI escape sequences lose their ESC), no bidirectional overrides; line breaks and tabs kept."""
    if not text or text.isprintable():
        return text
    return "".join(ch for ch in text if ch in "\n\t" or (unicodedata.category(ch) != "Cc" and ord(ch) not in _UNSAFE))


def clean_payload(value: object) -> object:
    """A webhook's JSON with NUL characters removed from every string (PostgreSQL rejects them)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {clean_payload(k): clean_payload(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_payload(v) for v in value]
    return value
