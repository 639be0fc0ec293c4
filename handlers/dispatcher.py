"""The conversation core: one incoming message plus the stored session in, replies out.

Channels call ``Dispatcher.handle``; everything channel-independent happens here:
de-duplication, the per-conversation lock, flood control, bad-input replies,
mapping "1"/"2"/a button's words back to the button, routing, and saving the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import unicodedata

from handlers.context import Context, Services
from handlers.router import Router
from handlers.texts import common as T
from handlers.types import Button, Incoming, Outcome, Reply
from knowledge.normalize import fold
from storage.store import LockTimeout, SessionState

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # characters of a message the core reads
ORDER_WAIT = 5.0  # seconds to wait for an earlier message of the same user held by another worker
GROUP_STATE = "@group"  # a state handler registered under this name sees group-chat texts first
CHOICES_KEY = "_choices"
RATE_KEY = "_rate"
ESCAPE_WORDS = {"menu", "huy", "thoat", "ve menu", "quay ve menu", "bat dau lai", "start"}
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def has_words(text: str) -> bool:
    """True if the text has at least one letter or digit (not only emoji, symbols, spaces)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


class Dispatcher:
    """Turns an ``Incoming`` into replies, with all state read from and written to storage."""

    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router

    async def handle(self, incoming: Incoming) -> Outcome:
        """Handle one update; never raises (a failure becomes a polite error reply)."""
        store = self.services.store
        conversation = f"{incoming.channel}:{incoming.user_id}"
        pending: int | None = None
        try:
            if incoming.update_key and not await store.first_time(incoming.channel, incoming.update_key):
                return Outcome(duplicate=True)
            if incoming.seq is not None:
                pending = await store.add_pending(conversation, incoming.seq)
            waited = 0.0
            while True:
                async with store.conversation_lock(conversation):
                    if pending is not None and waited < ORDER_WAIT and await store.earlier_pending(
                            conversation, pending, incoming.seq or 0, ORDER_WAIT):
                        pass  # an earlier message of this user is waiting on another worker: let it go first
                    else:
                        session = await store.load(incoming.channel, incoming.user_id, incoming.chat_id,
                                                   incoming.display_name)
                        replies = await self._handle_locked(incoming, session)
                        self._remember_choices(session, replies)
                        await store.save(session)
                        if pending is not None:
                            await store.done_pending(pending)
                            pending = None
                        return Outcome(replies=replies)
                await asyncio.sleep(0.02)
                waited += 0.02
        except LockTimeout:
            log.warning("conversation busy: %s:%s", incoming.channel, incoming.user_id)
            return Outcome(replies=[Reply.make(T.BUSY)])
        except Exception:  # noqa: BLE001 - the bot must stay up; details go to the log, not to the user
            log.exception("failed to handle an update from %s user %s", incoming.channel, incoming.user_id)
            return Outcome(replies=[Reply.make(T.ERROR)])
        finally:
            if pending is not None:  # failed before handling: never block the user's next messages
                with contextlib.suppress(Exception):
                    await store.done_pending(pending)

    async def _handle_locked(self, incoming: Incoming, session: SessionState) -> list[Reply]:
        if not self._allow(session):
            if session.data.get("_warned"):
                return []
            session.data["_warned"] = True
            return [Reply.make(T.SLOW_DOWN)]
        session.data.pop("_warned", None)

        prefix: list[Reply] = []
        if incoming.kind == "text":
            text = incoming.text.strip()
            if not text:
                return [Reply.make(T.EMPTY)]
            if len(text) > MAX_TEXT:
                prefix.append(Reply.make(T.TOO_LONG.format(n=len(text))))
                text = text[:MAX_TEXT]
            if not has_words(text):
                return [Reply.make(T.EMOJI_ONLY)]
            chosen = self._choice_for(session, text)
            if chosen:
                incoming = _replace(incoming, kind="action", action=chosen, text="")
            else:
                incoming = _replace(incoming, text=text)
        ctx = Context(self.services, incoming, session)
        return prefix + await self._route(ctx)

    async def _route(self, ctx: Context) -> list[Reply]:
        inc = ctx.incoming
        if inc.kind == "command":
            handler = self.router.commands.get(inc.text.lower()) or self.router.commands["help"]
            return await handler(ctx, inc.args)
        if inc.kind == "action":
            handler, arg = self.router.find_action(inc.action)
            if handler is None:
                return [Reply.make(T.UNKNOWN_BUTTON, [[Button(T.BTN_MENU, "menu")]])]
            return await handler(ctx, arg)
        if inc.kind == "text" and fold(inc.text) in ESCAPE_WORDS:
            ctx.session.state = ""
            return await self.router.commands["menu"](ctx, "")
        group_handler = self.router.states.get(GROUP_STATE) if inc.chat_type == "group" else None
        if group_handler is not None:  # group chats (agency groups): replies to cards, quiet otherwise
            replies = await group_handler(ctx)
            if replies is not None:
                return replies
        state_handler = self.router.find_state(ctx.session.state)
        if state_handler is not None:
            replies = await state_handler(ctx)
            if replies is not None:
                return replies
        if inc.kind != "text":
            return [Reply.make(T.NO_TEXT)]
        result = ctx.kb.matcher.match(inc.text)
        best = result.matches[0] if result.matches else None
        await ctx.store.log_question(
            user_id=ctx.session.user_id, channel=inc.channel, text=inc.text, normalized=result.normalized,
            intent=result.intent, decision=result.decision, best_id=best.id if best else None,
            score=best.score if best else None)
        handler = self.router.intents.get(result.intent) or self.router.intents["unknown"]
        return await handler(ctx, result)

    # --- numbered choices -----------------------------------------------------

    @staticmethod
    def _remember_choices(session: SessionState, replies: list[Reply]) -> None:
        """Keep this turn's buttons, numbered across replies, so "2" or a label maps back to them."""
        buttons = [b for reply in replies for b in reply.all_buttons()]
        if buttons:
            session.data[CHOICES_KEY] = [[b.label, b.action] for b in buttons]
        elif replies:
            session.data.pop(CHOICES_KEY, None)

    @staticmethod
    def _choice_for(session: SessionState, text: str) -> str | None:
        choices = session.data.get(CHOICES_KEY) or []
        if not choices:
            return None
        m = _NUMBER.match(text)
        if m:
            n = int(m.group(1))
            return choices[n - 1][1] if 1 <= n <= len(choices) else None
        key = fold(text)
        for label, action in choices:
            if key and fold(label) == key:
                return action
        return None

    # --- flood control --------------------------------------------------------

    def _allow(self, session: SessionState) -> bool:
        """Token bucket per user, kept in the session so every worker sees the same bucket."""
        per_minute = self.services.settings.rate_limit_per_minute
        capacity = max(5.0, per_minute / 2)
        now = time.time()
        tokens, last = session.data.get(RATE_KEY) or [capacity, now]
        tokens = min(capacity, tokens + (now - last) * per_minute / 60.0)
        if tokens < 1.0:
            session.data[RATE_KEY] = [tokens, now]
            return False
        session.data[RATE_KEY] = [tokens - 1.0, now]
        return True


def _replace(incoming: Incoming, **changes: str) -> Incoming:
    from dataclasses import replace

    return replace(incoming, **changes)
