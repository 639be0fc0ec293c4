"""The procedure in focus: what the conversation is about, so follow-ups need not name it.

Kept in the session (so every worker sees it): the entry id, when it was set, and the aspect
last answered ("fees", "time"...). A focus older than ``FOCUS_TTL`` seconds, or cleared by
/start or the menu, no longer captures a question.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import Context

FOCUS_KEY = "focus"
TOPIC_KEY = "last_topic"  # kept for the handoff summary
FOCUS_TTL = 30 * 60  # seconds of silence after which a focus is old


@dataclass(frozen=True)
class Focus:
    entry_id: str
    aspect: str = ""


def set_focus(ctx: Context, entry_id: str, aspect: str = "") -> None:
    ctx.session.data[FOCUS_KEY] = {"id": entry_id, "at": ctx.now().timestamp(), "aspect": aspect}
    ctx.session.data[TOPIC_KEY] = entry_id


def touch(ctx: Context) -> None:
    """The conversation goes on about the same thing (a button of the focused card): keep it fresh."""
    focus = ctx.session.data.get(FOCUS_KEY)
    if isinstance(focus, dict):
        focus["at"] = ctx.now().timestamp()


def clear_focus(ctx: Context) -> None:
    ctx.session.data.pop(FOCUS_KEY, None)


def get_focus(ctx: Context) -> Focus | None:
    """The focus if it is fresh and still names a known entry."""
    focus = ctx.session.data.get(FOCUS_KEY)
    if not isinstance(focus, dict):
        return None
    entry_id = focus.get("id")
    at = focus.get("at")
    if not isinstance(entry_id, str) or not isinstance(at, (int, float)) or ctx.kb.get(entry_id) is None:
        return None
    if ctx.now().timestamp() - at > FOCUS_TTL:
        return None
    return Focus(entry_id, str(focus.get("aspect") or ""))
