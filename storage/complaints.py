"""Repository of complaints: every change and the messages it causes commit in one transaction.

Each write takes a ``render`` callback that turns the changed complaint into outbox messages
(agency cards, citizen notifications); they are queued inside the same transaction, so a
complaint is never stored without its deliveries nor delivered without being stored.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.complaint_models import OPEN_STATUSES, AgencyInvite, AgencyMember, Complaint, ComplaintEvent
from storage.media_models import ComplaintMedia
from storage.models import ActionKey, Outbox
from storage.store import Store

VN_TZ = dt.timezone(dt.timedelta(hours=7))
CARD_KEY = "card"


@dataclass(frozen=True)
class Message:
    """One outbox message caused by a change; ``key`` makes its dedup key unique per event."""

    channel: str
    chat_id: str
    text: str
    key: str
    buttons: list[list[dict[str, str]]] = field(default_factory=list)
    hold: float = 0.0  # seconds before the outbox may send it (the channel sends it directly first)
    dedup: str = ""  # a dedup key of its own, instead of the per-event one
    media: list[dict[str, str]] = field(default_factory=list)  # photos/documents sent before the text


async def _media_rows(db: AsyncSession, complaint_id: int) -> list[ComplaintMedia]:
    q = select(ComplaintMedia).where(ComplaintMedia.complaint_id == complaint_id).order_by(ComplaintMedia.position)
    return list((await db.execute(q)).scalars())


def submitted_key(complaint_id: int, channel: str, chat_id: str) -> str:
    """The outbox dedup key of the citizen's tracking-code message for a complaint."""
    return f"pakn:{complaint_id}:submitted:{channel}:{chat_id}"


Render = Callable[[Complaint, ComplaintEvent], Sequence[Message]]


def code_for(complaint_id: int, created: dt.datetime) -> str:
    """Tracking code from the autoincrement id: unique whatever the concurrency."""
    return f"PAKN-{created.astimezone(VN_TZ).year}-{complaint_id:06d}"


def id_from_code(code: str) -> int | None:
    parts = code.strip().upper().split("-")
    if len(parts) != 3 or parts[0] != "PAKN" or not parts[2].isdigit():
        return None
    return int(parts[2])


class ComplaintRepo:
    """Complaints, their events, agency members and invites."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- writing ------------------------------------------------------------

    def _enqueue(self, db: AsyncSession, c: Complaint, ev: ComplaintEvent, messages: Sequence[Message]) -> None:
        for m in messages:
            self.store.enqueue(db, dedup_key=m.dedup or f"pakn:{c.id}:{ev.id}:{m.key}:{m.channel}:{m.chat_id}",
                               channel=m.channel, chat_id=m.chat_id, text=m.text, buttons=m.buttons, hold=m.hold,
                               media=m.media)

    async def create(self, values: dict[str, Any], rule: str, render: Render) -> Complaint:
        """Store a new complaint, its 'created' event and its messages; returns it with its code."""
        c, _ = await self.create_once(values, rule, render)
        return c

    async def create_once(self, values: dict[str, Any], rule: str, render: Render) -> tuple[Complaint, bool]:
        """``create``, idempotent on ``values["idem_key"]``: (the complaint, True if filed now).

        With an idempotency key already used, nothing is written and the complaint filed then is
        returned with False (a second "Gửi" of the same draft, e.g. after a crash before the session
        was saved). The unique index settles two filings racing with the same key.
        """
        values = dict(values)
        media = list(values.pop("media", None) or [])  # ComplaintMedia fields, in the citizen's order
        key = values.get("idem_key")
        for _ in range(2):
            if key:
                existing = await self.by_idem_key(key)
                if existing is not None:
                    return existing, False
            now = self.store.now()
            try:
                async with self.store.sessions.begin() as db:
                    c = Complaint(**values, status="new", created_at=now, updated_at=now, version=0)
                    db.add(c)
                    await db.flush()
                    c.code = code_for(c.id, now)
                    rows = [ComplaintMedia(complaint_id=c.id, position=i, created_at=now, **m)
                            for i, m in enumerate(media, 1)]
                    db.add_all(rows)
                    c.media_rows = rows  # type: ignore[attr-defined]  # for render: the card carries them
                    ev = ComplaintEvent(complaint_id=c.id, kind="created", actor="citizen",
                                        agency_key=c.agency_key, note=rule, created_at=now)
                    db.add(ev)
                    await db.flush()
                    self._enqueue(db, c, ev, render(c, ev))
                return c, True
            except IntegrityError:
                if not key:
                    raise
        raise RuntimeError("complaint idempotency key conflict not resolved")

    async def by_idem_key(self, key: str) -> Complaint | None:
        async with self.store.sessions() as db:
            return (await db.execute(select(Complaint).where(Complaint.idem_key == key))).scalar_one_or_none()

    async def change(self, complaint_id: int, *, expect: Sequence[str] | None, values: dict[str, Any],
                     kind: str, actor: str, note: str = "", render: Render | None = None,
                     check: Callable[[Complaint], str | None] | None = None,
                     idem: str | None = None) -> Complaint | str:
        """Apply ``values`` if the status is in ``expect`` (compare-and-set on the version).

        Returns the changed complaint, or a reason string: "missing", "status:<current>" or what
        ``check`` returned. With ``idem`` (an action key) the key is stored with the change; if it was
        stored before, nothing changes and the complaint is returned as if changed now (one effect).
        """
        for _ in range(5):
            now = self.store.now()
            try:
                result = await self._change_once(complaint_id, expect, values, kind, actor, note, render, check,
                                                 idem, now)
            except IntegrityError:  # the same action key stored concurrently: read again
                continue
            if result is not None:
                return result
        return "busy"

    async def _change_once(self, complaint_id: int, expect: Sequence[str] | None, values: dict[str, Any],
                           kind: str, actor: str, note: str, render: Render | None,
                           check: Callable[[Complaint], str | None] | None, idem: str | None,
                           now: dt.datetime) -> Complaint | str | None:
        async with self.store.sessions.begin() as db:
            c = await db.get(Complaint, complaint_id)
            if c is None:
                return "missing"
            if idem and await db.get(ActionKey, idem) is not None:
                return c  # this step's action was done before: its effect, not a second one
            if expect is not None and c.status not in expect:
                return f"status:{c.status}"
            if check is not None and (reason := check(c)):
                return reason
            res = await db.execute(
                update(Complaint).where(Complaint.id == c.id, Complaint.version == c.version)
                .values(**values, version=c.version + 1, updated_at=now))
            if res.rowcount != 1:
                return None  # someone else changed it meanwhile: read again
            if idem:
                db.add(ActionKey(key=idem, ref=str(c.id), created_at=now))
            await db.refresh(c)
            ev = ComplaintEvent(complaint_id=c.id, kind=kind, actor=actor, agency_key=c.agency_key,
                                note=note, created_at=now)
            db.add(ev)
            await db.flush()
            if render is not None:
                c.media_rows = await _media_rows(db, c.id)  # type: ignore[attr-defined]
                self._enqueue(db, c, ev, render(c, ev))
            return c

    async def media(self, complaint_id: int) -> list[ComplaintMedia]:
        """The photos, documents and location attached to a complaint, in the order they were sent."""
        async with self.store.sessions() as db:
            return await _media_rows(db, complaint_id)

    async def add_event(self, complaint_id: int, kind: str, actor: str, note: str = "",
                        render: Render | None = None, agency_key: str = "") -> None:
        """Record an event that changes no status (refused attempts, reminders)."""
        async with self.store.sessions.begin() as db:
            c = await db.get(Complaint, complaint_id)
            if c is None:
                return
            ev = ComplaintEvent(complaint_id=complaint_id, kind=kind, actor=actor,
                                agency_key=agency_key or c.agency_key, note=note, created_at=self.store.now())
            db.add(ev)
            await db.flush()
            if render is not None:
                self._enqueue(db, c, ev, render(c, ev))

    async def flag(self, complaint_id: int, column: str, kind: str, render: Render) -> bool:
        """Set ``reminded_at``/``overdue_at`` once (guarded) and queue the alert with it."""
        now = self.store.now()
        col = getattr(Complaint, column)
        async with self.store.sessions.begin() as db:
            res = await db.execute(update(Complaint).where(Complaint.id == complaint_id, col.is_(None))
                                   .values({column: now}))
            if res.rowcount != 1:
                return False
            c = await db.get(Complaint, complaint_id)
            assert c is not None
            ev = ComplaintEvent(complaint_id=c.id, kind=kind, actor="system", agency_key=c.agency_key,
                                created_at=now)
            db.add(ev)
            await db.flush()
            self._enqueue(db, c, ev, render(c, ev))
            return True

    # --- reading ------------------------------------------------------------

    async def get(self, complaint_id: int) -> Complaint | None:
        async with self.store.sessions() as db:
            return await db.get(Complaint, complaint_id)

    async def by_code(self, code: str) -> Complaint | None:
        cid = id_from_code(code)
        if cid is None:
            return None
        c = await self.get(cid)
        return c if c is not None and c.code == code.strip().upper() else None

    async def events(self, complaint_id: int) -> list[ComplaintEvent]:
        async with self.store.sessions() as db:
            q = select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id).order_by(ComplaintEvent.id)
            return list((await db.execute(q)).scalars())

    async def count_since(self, user_id: int, since: dt.datetime) -> int:
        async with self.store.sessions() as db:
            q = select(func.count()).select_from(Complaint).where(Complaint.user_id == user_id,
                                                                  Complaint.created_at >= since)
            return int((await db.execute(q)).scalar_one())

    async def counts(self, agency_key: str) -> dict[str, int]:
        async with self.store.sessions() as db:
            q = (select(Complaint.status, func.count()).where(Complaint.agency_key == agency_key)
                 .group_by(Complaint.status))
            return {s: int(n) for s, n in (await db.execute(q)).all()}

    async def open_complaints(self, agency_key: str | None = None) -> list[Complaint]:
        q = select(Complaint).where(Complaint.status.in_(OPEN_STATUSES)).order_by(Complaint.due_at, Complaint.id)
        if agency_key is not None:
            q = q.where(Complaint.agency_key == agency_key)
        async with self.store.sessions() as db:
            return list((await db.execute(q)).scalars())

    async def by_card(self, channel: str, chat_id: str, message_id: str) -> int | None:
        """The complaint whose agency card is the platform message ``message_id`` in that chat."""
        q = (select(Outbox.dedup_key).where(Outbox.channel == channel, Outbox.chat_id == chat_id,
                                            Outbox.platform_message_id == message_id,
                                            Outbox.dedup_key.like("pakn:%")))
        async with self.store.sessions() as db:
            for key in (await db.execute(q)).scalars():
                parts = key.split(":")
                if len(parts) > 3 and parts[3] == CARD_KEY and parts[1].isdigit():
                    return int(parts[1])
        return None

    # --- agency members and invites -----------------------------------------

    async def member_agencies(self, actor: str) -> list[str]:
        async with self.store.sessions() as db:
            q = select(AgencyMember.agency_key).where(AgencyMember.actor == actor).order_by(AgencyMember.id)
            return list((await db.execute(q)).scalars())

    async def create_invite(self, agency_key: str, created_by: str, days: int = 7) -> str:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        for _ in range(5):
            code = "DV-" + "".join(secrets.choice(alphabet) for _ in range(8))
            try:
                async with self.store.sessions.begin() as db:
                    db.add(AgencyInvite(code=code, agency_key=agency_key, created_by=created_by,
                                        expires_at=self.store.now() + dt.timedelta(days=days)))
                return code
            except IntegrityError:
                continue
        raise RuntimeError("could not create a unique invite code")

    async def use_invite(self, code: str, actor: str) -> str | None:
        """Register ``actor`` with the invite's agency; the agency key, or None if invalid/used/expired."""
        code = code.strip().upper()
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            res = await db.execute(update(AgencyInvite).where(
                AgencyInvite.code == code, AgencyInvite.used_by.is_(None), AgencyInvite.expires_at > now)
                .values(used_by=actor, used_at=now))
            if res.rowcount != 1:
                return None
            invite = await db.get(AgencyInvite, code)
            assert invite is not None
            exists = await db.execute(select(AgencyMember.id).where(
                AgencyMember.agency_key == invite.agency_key, AgencyMember.actor == actor))
            if exists.first() is None:
                db.add(AgencyMember(agency_key=invite.agency_key, actor=actor, invited_by=invite.created_by,
                                    created_at=now))
            return invite.agency_key
