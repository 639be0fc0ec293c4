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

from handlers import conversation
from handlers.context import Context, Services
from handlers.router import Router
from handlers.texts import common as T
from handlers.texts import media as TM
from handlers.types import Button, Incoming, Outcome, Reply
from knowledge import dialogue
from knowledge.normalize import fold
from storage.store import LockTimeout, SessionState, Turn, TurnRequest

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # characters of a message the core reads whole
KEEP_HEAD, KEEP_TAIL = 3000, 1000  # of a longer one: its start and its end (where questions often are)
ORDER_WAIT = 5.0  # seconds to wait for an earlier message of the same user held by another worker
LOCK_WAIT = 20.0  # seconds to wait for the conversation lock before answering "busy"
GROUP_STATE = "@group"  # a state handler registered under this name sees group-chat texts first
CHOICES_KEY = "_choices"
NAMED_KEY = "_named_next"  # set during a turn: choices to keep reachable by name after it
EXTRA_KEY = "_choices_named"  # choices of an earlier screen reachable by name only (not by number)
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
        self._announced: dict[tuple[str, str], Turn] = {}  # updates recorded while queued (see announce)

    async def announce(self, incoming: Incoming) -> None:
        """Record an update that must wait behind another of the same user in this process.

        Other workers then see it waiting and do not overtake it with a later message; ``handle``
        continues from what was recorded here.
        """
        key = (incoming.channel, incoming.update_key)
        if not incoming.update_key or key in self._announced:
            return  # (a copy of an update already queued here: it will be found a duplicate when it runs)
        turn = self._announced[key] = self._new_turn(incoming)  # taken before awaiting: copies skip it
        try:
            await self.services.store.admit(turn, incoming.channel, incoming.update_key)
        except Exception:  # noqa: BLE001 - handle() records it again
            log.warning("could not announce an update of %s", turn.conversation, exc_info=True)
            if self._announced.get(key) is turn:
                del self._announced[key]

    async def handle(self, incoming: Incoming) -> Outcome:
        """Handle one update; never raises (a failure becomes a polite error reply).

        Two transactions in the usual case: one records the update id, takes the conversation
        lock and loads the session; one saves the session and releases the lock.
        """
        store = self.services.store
        turn = self._announced.pop((incoming.channel, incoming.update_key), None) if incoming.update_key else None
        turn = turn or self._new_turn(incoming)
        try:
            if not turn.admitted and store.busy_here(turn.conversation):
                await store.admit(turn, incoming.channel, incoming.update_key)  # be seen waiting (see announce)
            if turn.duplicate:
                return Outcome(duplicate=True)
            async with store.local_lock(turn.conversation):
                await self._start(turn, incoming)
                if turn.duplicate:
                    return Outcome(duplicate=True)
                assert turn.session is not None
                replies = await self._handle_locked(incoming, turn.session)
                self._remember_choices(turn.session, replies)
                await store.finish_turn(turn)
                return Outcome(replies=replies)
        except LockTimeout:
            log.warning("conversation busy: %s", turn.conversation)
            return Outcome(replies=[Reply.make(T.BUSY)])
        except Exception:  # noqa: BLE001 - the bot must stay up; details go to the log, not to the user
            log.exception("failed to handle an update from %s", turn.conversation)
            return Outcome(replies=[Reply.make(T.ERROR)])
        finally:
            if turn.pending_id is not None or turn.session is not None:
                with contextlib.suppress(Exception):  # never block the user's next messages
                    await store.abandon_turn(turn)

    @staticmethod
    def _new_turn(incoming: Incoming) -> Turn:
        return Turn(f"{incoming.channel}:{incoming.user_id}", seq=incoming.seq)

    async def _start(self, turn: Turn, incoming: Incoming) -> None:
        """Take the conversation lock and load the session, waiting for other workers if needed."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        delay = 0.005
        while True:
            waited = loop.time() - started
            await self.services.store.start_turn(turn, TurnRequest(
                incoming.channel, incoming.update_key, incoming.user_id, incoming.chat_id, incoming.display_name,
                order_wait=ORDER_WAIT if waited < ORDER_WAIT else None))
            if turn.duplicate or turn.session is not None:
                return
            if waited > LOCK_WAIT:
                raise LockTimeout(turn.conversation)
            await asyncio.sleep(delay)  # another worker holds this user, or an earlier message goes first
            delay = min(delay * 2, 0.1)

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
                prefix.append(Reply.make(T.LONG_READ.format(n=len(text))))
                text = text[:KEEP_HEAD] + "\n" + text[-KEEP_TAIL:]
            if not has_words(text):
                return [Reply.make(T.EMOJI_ONLY)]
            chosen = self._choice_for(session, text)
            several = _labels_starting(session.data.get(CHOICES_KEY) or [], text) if not chosen else []
            if several:  # "sửa" before "Sửa nội dung", "Sửa xã/phường"…: those choices, nothing else changes
                shown = {action for _, action in several}
                session.data[NAMED_KEY] = [c for c in self._all_choices(session) if c[1] not in shown]
                return [Reply.make(T.WHICH_OF_THESE, [[Button(label, action)] for label, action in several])]
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
        if inc.chat_type != "group":
            for before in self.router.befores.values():
                replies = await before(ctx)
                if replies is not None:
                    return replies
        state = ctx.session.state
        state_handler = self.router.find_state(state)
        if state_handler is not None:
            replies = await state_handler(ctx)
            if replies is not None:
                return replies
        prefix: list[Reply] = []
        private = inc.chat_type == "private"
        if inc.kind in ("photo", "document") and private and has_words(inc.text):  # the caption asks
            ctx.incoming = inc = _replace(inc, kind="text")
            prefix = [Reply.make(TM.CAPTION_READ)]
        elif inc.kind in ("photo", "document", "location") and private:
            rows = [[Button(TM.BTN_COMPLAINT, "complaint:start"), Button(TM.BTN_MENU, "menu")]]
            return [Reply.make(TM.PIN_UNUSED if inc.kind == "location" else TM.PHOTO_UNREAD, rows)]
        if inc.kind != "text":
            return [Reply.make(T.NO_TEXT)]
        replies = await conversation.respond(ctx, self.router)
        if prefix:  # a photo's caption was read; if a flow kept the photo itself (a complaint), say that instead
            prefix = [Reply.make(TM.KEPT_AT_OTHER_STEP)] if getattr(ctx, "attachment_kept", False) else prefix
            replies = prefix + replies
        if state and ctx.session.state == state:  # a detour: the flow is kept, say how to go back
            resume = self.router.find_resume(state)
            note = await resume(ctx) if resume is not None else None
            if note is not None:
                replies.append(note)
        return replies

    # --- numbered choices -----------------------------------------------------

    @staticmethod
    def _remember_choices(session: SessionState, replies: list[Reply]) -> None:
        """Keep this turn's buttons, numbered across replies, so "2" or a label maps back to them."""
        buttons = [b for reply in replies for b in reply.all_buttons()]
        named = session.data.pop(NAMED_KEY, None) if replies else None
        if buttons:
            session.data[CHOICES_KEY] = [[b.label, b.action] for b in buttons]
        elif replies:
            session.data.pop(CHOICES_KEY, None)
        if named:  # the choices of the previous screen not shown again: still reachable by their names
            session.data[EXTRA_KEY] = named
        elif replies:
            session.data.pop(EXTRA_KEY, None)

    @staticmethod
    def _all_choices(session: SessionState) -> list[list[str]]:
        """The screen's choices, then the earlier screen's still reachable by name (none once the screen's
        choices were cleared: a person talking, a flow that dropped them)."""
        numbered = list(session.data.get(CHOICES_KEY) or [])
        return numbered + list(session.data.get(EXTRA_KEY) or []) if numbered else []

    @staticmethod
    def _choice_for(session: SessionState, text: str) -> str | None:
        numbered = session.data.get(CHOICES_KEY) or []
        choices = Dispatcher._all_choices(session)
        if not choices:
            return None
        m = _NUMBER.match(text)
        if m:
            n = int(m.group(1))
            return numbered[n - 1][1] if 1 <= n <= len(numbered) else None
        key = fold(text)
        for label, action in choices:
            if key and fold(label) == key:
                return action
        family = dialogue.families(text)  # "dạ vâng" -> the "Có" button, "ok" -> "Tiếp"
        if family:
            for label, action in choices:
                if dialogue.families(label) & family:
                    return action
        return _label_start(choices, key)


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


# Words around a typed button name that do not change it ("dạ gửi đi ạ", "ok gửi luôn nhé").
_AROUND_LABEL = frozenset("da vang ok oke a nhe nha di luon gium dum giup em ngay lien voi".split())


def _label_start(choices: list[list[str]], key: str) -> str | None:
    """The one button whose name starts with what was typed, in a word or two ("gửi" -> "Gửi phản ánh",
    "phí" -> "Phí và thời hạn"); None when none or several do ("sửa" before four "Sửa …")."""
    found = _starting(choices, key)
    return found[0][1] if len(found) == 1 else None


def _labels_starting(choices: list[list[str]], text: str) -> list[tuple[str, str]]:
    """The buttons whose names start with what was typed, when there are several."""
    found = _starting(choices, fold(text))
    return found if len(found) > 1 else []


def _starting(choices: list[list[str]], key: str) -> list[tuple[str, str]]:
    words = key.split()
    while words and words[0] in _AROUND_LABEL:
        words = words[1:]
    while words and words[-1] in _AROUND_LABEL:
        words = words[:-1]
    if not words or len(words) > 2 or len(words[0]) < 2:
        return []
    typed = " ".join(words)
    found: dict[str, str] = {}
    for label, action in choices:
        if f"{fold(label)} ".startswith(f"{typed} "):
            found.setdefault(action, label)
    return [(label, action) for action, label in found.items()]
