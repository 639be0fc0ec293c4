"""Repository of handoff tickets: every change and the messages it causes commit in one transaction.

As for complaints, a ``render`` callback turns the changed ticket into outbox messages (the card
in the team's chat, notes to the citizen, relayed chat lines); they are queued in the same
transaction, so nothing is promised that is not stored, and nothing stored is left unsent.
A claim is one guarded UPDATE: among workers and helpers pressing at once, exactly one wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.complaints import Message
from storage.handoff_models import OPEN_TICKET_STATUSES, HandoffMessage, HandoffTicket
from storage.models import ConversationSession, Outbox
from storage.store import Store

CARD_KEY = "card"
Render = Callable[[HandoffTicket], Sequence[Message]]


def code_for(ticket_id: int) -> str:
    return f"HT{ticket_id}"


def id_from_code(text: str) -> int | None:
    t = text.strip().upper().replace("-", "").replace(" ", "")
    if t.startswith("HT"):
        t = t[2:]
    return int(t) if t.isdigit() and len(t) <= 9 else None


class HandoffRepo:
    """Tickets and their transcripts."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _enqueue(self, db: AsyncSession, t: HandoffTicket, event: str, messages: Sequence[Message]) -> None:
        for m in messages:
            self.store.enqueue(db, dedup_key=m.dedup or f"handoff:{t.id}:{event}:{m.key}:{m.channel}:{m.chat_id}",
                               channel=m.channel, chat_id=m.chat_id, text=m.text, buttons=m.buttons, hold=m.hold,
                               media=m.media)

    # --- writing ------------------------------------------------------------

    async def create(self, values: dict[str, Any], render: Render) -> HandoffTicket:
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            t = HandoffTicket(**values, created_at=now, last_activity_at=now)
            db.add(t)
            await db.flush()
            t.code = code_for(t.id)
            self._enqueue(db, t, "new", render(t))
            return t

    async def claim(self, ticket_id: int, actor: str, name: str, staff_chat: str, render: Render,
                    forget: tuple[str, ...] = ()) -> HandoffTicket | str:
        """Take a waiting ticket: one UPDATE decides; the loser gets "status:live" (see ``get`` for who)."""
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            res = await db.execute(
                update(HandoffTicket).where(HandoffTicket.id == ticket_id, HandoffTicket.status == "waiting")
                .values(status="live", claimed_by=actor, claimed_name=name[:128], staff_chat=staff_chat[:64],
                        claimed_at=now, last_activity_at=now))
            t = await db.get(HandoffTicket, ticket_id)
            if t is None:
                return "missing"
            if res.rowcount != 1:
                return f"status:{t.status}"
            # A citizen who went back to the menu while waiting is put back into the chat, so that what
            # they type next reaches the helper; a citizen in another flow is left there (best effort: a
            # turn of theirs running now keeps its own state).
            await db.execute(update(ConversationSession).where(ConversationSession.user_id == t.user_id,
                                                               ConversationSession.state == "")
                             .values(state=f"handoff:{t.id}"))
            # ``forget``: the citizen's session data keys to drop (the numbered choices of the last screen,
            # so that "1" typed to the helper is a message, not that screen's first button)
            row = (await db.execute(select(ConversationSession).where(ConversationSession.user_id == t.user_id))
                   ).scalar_one_or_none()
            if row is not None and isinstance(row.data, dict) and any(k in row.data for k in forget):
                row.data = {k: v for k, v in row.data.items() if k not in forget}
            self._enqueue(db, t, "claimed", render(t))
            return t

    async def relay(self, ticket_id: int, sender: str, text: str, update_key: str, render: Render
                    ) -> HandoffTicket | str:
        """Store one chat line of a live ticket and queue it to the other side; "status:…", "not_yours", "dup"."""
        now = self.store.now()
        try:
            async with self.store.sessions.begin() as db:
                t = await db.get(HandoffTicket, ticket_id)
                if t is None:
                    return "missing"
                if t.status != "live":
                    return f"status:{t.status}"
                if sender != "citizen" and sender != t.claimed_by:
                    return "not_yours"
                msg = HandoffMessage(ticket_id=t.id, sender=sender, text=text, update_key=update_key or None,
                                     created_at=now)
                db.add(msg)
                await db.flush()
                t.last_activity_at = now
                self._enqueue(db, t, f"m{msg.id}", render(t))
                return t
        except IntegrityError:
            return "dup"  # the same platform update handled again (after a crash): relayed once already

    async def close(self, ticket_id: int, by: str, render: Render,
                    expect: Sequence[str] = OPEN_TICKET_STATUSES, status: str = "closed",
                    older_than: dt.datetime | None = None) -> HandoffTicket | str:
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            q = update(HandoffTicket).where(HandoffTicket.id == ticket_id, HandoffTicket.status.in_(expect))
            if older_than is not None:
                q = q.where(HandoffTicket.last_activity_at < older_than)
            res = await db.execute(q.values(status=status, closed_at=now, closed_by=by[:80]))
            t = await db.get(HandoffTicket, ticket_id)
            if t is None:
                return "missing"
            if res.rowcount != 1:
                return f"status:{t.status}"
            self._enqueue(db, t, status, render(t))
            return t

    async def escalate(self, ticket_id: int, target_key: str, target_name: str, render: Render
                       ) -> HandoffTicket | None:
        """Pass a still-unclaimed ticket to the fallback desk, once."""
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            res = await db.execute(
                update(HandoffTicket).where(HandoffTicket.id == ticket_id, HandoffTicket.status == "waiting",
                                            HandoffTicket.escalated_at.is_(None))
                .values(escalated_at=now, target_key=target_key[:64], target_name=target_name[:160]))
            if res.rowcount != 1:
                return None
            t = await db.get(HandoffTicket, ticket_id)
            assert t is not None
            self._enqueue(db, t, "escalated", render(t))
            return t

    async def share_phone(self, ticket_id: int, user_id: int, phone: str, render: Render) -> HandoffTicket | None:
        """The citizen chose to leave a phone number on an open ticket; the team is told with it."""
        async with self.store.sessions.begin() as db:
            res = await db.execute(update(HandoffTicket).where(
                HandoffTicket.id == ticket_id, HandoffTicket.user_id == user_id,
                HandoffTicket.status.in_(OPEN_TICKET_STATUSES)).values(phone=phone[:16]))
            if res.rowcount != 1:
                return None
            t = await db.get(HandoffTicket, ticket_id)
            assert t is not None
            self._enqueue(db, t, f"phone-{phone[-4:]}", render(t))
            return t

    async def tell_queue(self, ticket_id: int, position: int, spacing: dt.timedelta, render: Render) -> bool:
        """Tell a waiting citizen their new place in the queue, once per place and at most once per ``spacing``:
        only if it moved forward since last told (``queue_told``), guarded in one UPDATE (several workers)."""
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            res = await db.execute(
                update(HandoffTicket).where(
                    HandoffTicket.id == ticket_id, HandoffTicket.status == "waiting",
                    or_(HandoffTicket.queue_told.is_(None), HandoffTicket.queue_told > position),
                    or_(HandoffTicket.queue_told_at.is_(None), HandoffTicket.queue_told_at <= now - spacing))
                .values(queue_told=position, queue_told_at=now))
            if res.rowcount != 1:
                return False
            t = await db.get(HandoffTicket, ticket_id)
            assert t is not None
            self._enqueue(db, t, f"queue{position}", render(t))
            return True

    async def queue_shown(self, ticket_id: int, position: int) -> None:
        """The place the citizen was shown when the ticket was opened (later updates only when it moves)."""
        async with self.store.sessions.begin() as db:
            await db.execute(update(HandoffTicket).where(HandoffTicket.id == ticket_id)
                             .values(queue_told=position, queue_told_at=self.store.now()))

    async def rate(self, ticket_id: int, user_id: int, n: int) -> bool:
        async with self.store.sessions.begin() as db:
            res = await db.execute(update(HandoffTicket).where(
                HandoffTicket.id == ticket_id, HandoffTicket.user_id == user_id,
                HandoffTicket.status.in_(("closed", "expired"))).values(rating=n))
            return res.rowcount == 1

    async def notify(self, ticket_id: int, event: str, messages: Sequence[Message]) -> bool:
        """Queue messages about a ticket once per ``event`` (False if that event was queued before)."""
        try:
            async with self.store.sessions.begin() as db:
                t = await db.get(HandoffTicket, ticket_id)
                if t is None:
                    return False
                self._enqueue(db, t, event, messages)
            return True
        except IntegrityError:
            return False

    # --- reading ------------------------------------------------------------

    async def get(self, ticket_id: int) -> HandoffTicket | None:
        async with self.store.sessions() as db:
            return await db.get(HandoffTicket, ticket_id)

    async def open_for_user(self, user_id: int) -> HandoffTicket | None:
        q = (select(HandoffTicket).where(HandoffTicket.user_id == user_id,
                                         HandoffTicket.status.in_(OPEN_TICKET_STATUSES))
             .order_by(HandoffTicket.id.desc()).limit(1))
        async with self.store.sessions() as db:
            return (await db.execute(q)).scalar_one_or_none()

    async def waiting_before(self, t: HandoffTicket) -> int:
        """How many tickets for the same team wait ahead of this one."""
        q = (select(func.count()).select_from(HandoffTicket)
             .where(HandoffTicket.status == "waiting", HandoffTicket.target_key == t.target_key,
                    HandoffTicket.id < t.id))
        async with self.store.sessions() as db:
            return int((await db.execute(q)).scalar_one())

    async def by_card(self, channel: str, chat_id: str, message_id: str) -> int | None:
        """The ticket whose card (or relayed line) is the platform message ``message_id`` in that chat."""
        q = (select(Outbox.dedup_key).where(Outbox.channel == channel, Outbox.chat_id == chat_id,
                                            Outbox.platform_message_id == message_id,
                                            Outbox.dedup_key.like("handoff:%")))
        async with self.store.sessions() as db:
            for key in (await db.execute(q)).scalars():
                parts = key.split(":")
                if len(parts) > 1 and parts[1].isdigit():
                    return int(parts[1])
        return None

    async def live_of_staff(self, actor: str) -> list[HandoffTicket]:
        q = (select(HandoffTicket).where(HandoffTicket.claimed_by == actor, HandoffTicket.status == "live")
             .order_by(HandoffTicket.id))
        async with self.store.sessions() as db:
            return list((await db.execute(q)).scalars())

    async def waiting(self) -> list[HandoffTicket]:
        q = select(HandoffTicket).where(HandoffTicket.status == "waiting").order_by(HandoffTicket.id)
        async with self.store.sessions() as db:
            return list((await db.execute(q)).scalars())

    async def idle_live(self, before: dt.datetime) -> list[HandoffTicket]:
        q = (select(HandoffTicket).where(HandoffTicket.status == "live", HandoffTicket.last_activity_at < before)
             .order_by(HandoffTicket.id))
        async with self.store.sessions() as db:
            return list((await db.execute(q)).scalars())

    async def messages(self, ticket_id: int) -> list[HandoffMessage]:
        q = select(HandoffMessage).where(HandoffMessage.ticket_id == ticket_id).order_by(HandoffMessage.id)
        async with self.store.sessions() as db:
            return list((await db.execute(q)).scalars())

    async def recent_codes(self, user_id: int, since: dt.datetime) -> tuple[str, str]:
        """(the latest dossier code the citizen follows, their latest complaint code) since ``since``; "" if none."""
        from storage.complaint_models import Complaint
        from storage.dossier_models import Dossier, DossierSubscription

        async with self.store.sessions() as db:
            dossier = (await db.execute(
                select(Dossier.code).join(DossierSubscription, DossierSubscription.dossier_id == Dossier.id)
                .where(DossierSubscription.user_id == user_id, DossierSubscription.created_at >= since)
                .order_by(DossierSubscription.id.desc()).limit(1))).scalar()
            complaint = (await db.execute(
                select(Complaint.code).where(Complaint.user_id == user_id, Complaint.created_at >= since)
                .order_by(Complaint.id.desc()).limit(1))).scalar()
        return dossier or "", complaint or ""

    async def tickets(self, since: dt.datetime | None = None) -> list[HandoffTicket]:
        q = select(HandoffTicket).order_by(HandoffTicket.id)
        if since is not None:
            q = q.where(HandoffTicket.created_at >= since)
        async with self.store.sessions() as db:
            return list((await db.execute(q)).scalars())
