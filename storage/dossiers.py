"""Dossier repository: records, idempotent status changes, history, subscriptions, attempts, late query.

Everything that writes a status change also queues the subscribers' notifications in the
same transaction (outbox dedup key ``dossier:<code>:<change_id>:<user_id>``), so a change is
announced exactly once, whatever crashes or restarts happen around it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.intent import find_dossier_code
from knowledge.normalize import fold
from storage.dossier_models import Dossier, DossierAttempt, DossierEvent, DossierSubscription
from storage.db import is_postgres
from storage.models import ActionKey
from storage.store import Store

VN = dt.timezone(dt.timedelta(hours=7), "ICT")  # Vietnam time, for dates people type and read
STATUSES = ("received", "processing", "supplement", "result_ready", "delivered", "rejected")
FINISHED = frozenset({"result_ready", "delivered", "rejected"})  # nothing late about these
# Waiting for the citizen's supplement: the processing time counts from the complete, valid dossier
# (one-stop rules, Nghị định 118/2025/NĐ-CP, which replaced Nghị định 61/2018/NĐ-CP on 1 July 2025),
# so such a dossier is not late; the one-stop system sends the new due date with its next change.
PAUSED = frozenset({"supplement"})
NOTE_REQUIRED = frozenset({"supplement", "rejected"})  # the citizen must learn what to add / why
MAX_CODE = 40
MAX_CHANGE_ID = 64
SOON = dt.timedelta(days=1)  # "one day before the due date"

# Throttle: every PER_CODE_STEP wrong tries on one code (since the last right one), and every
# OVERALL_STEP wrong tries on any code in a day, the next try waits 1, 5, then 15 minutes.
PER_CODE_STEP = 3
OVERALL_STEP = 5
WAITS = (60, 300, 900)
ATTEMPT_WINDOW = dt.timedelta(hours=24)
# Across accounts: every CODE_STEP wrong tries on one code from anyone within ATTEMPT_WINDOW lock the
# code for CODE_WAITS (15 min, 1 h, then the rest of the day) for everyone who never verified it,
# and the owning agency is alerted once per step. Unknown codes are counted the same way (no probing).
CODE_STEP = 10
CODE_WAITS = (900, 3600, 86400)
ATTEMPT_KEEP = dt.timedelta(days=7)
# One-time codes (DOSSIER_ONE_TIME_CODE): sent to the chats subscribed to a dossier when someone who never
# verified it gives the right phone digits; valid OTP_TTL, OTP_TRIES tries each, at most OTP_PER_HOUR
# codes a dossier an hour whoever asks (the subscriber is not flooded with codes).
OTP_DIGITS = 6
OTP_TTL = dt.timedelta(minutes=10)
OTP_TRIES = 3
OTP_PER_HOUR = 3

_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−_"})
_LOOSE = re.compile(r"(?<![A-Z0-9.])([A-Z0-9]{1,13}(?:\.[A-Z0-9]{1,13}){0,5})-(\d{6})-(\d{4,6})(?![0-9])")

_STATUS_WORDS = {
    "da tiep nhan": "received", "tiep nhan": "received", "moi tiep nhan": "received", "cho tiep nhan": "received",
    "dang xu ly": "processing", "dang giai quyet": "processing", "xu ly": "processing",
    "dang tham dinh": "processing",
    "yeu cau bo sung": "supplement", "bo sung": "supplement", "can bo sung": "supplement",
    "bo sung ho so": "supplement", "cho bo sung": "supplement",
    "da co ket qua": "result_ready", "co ket qua": "result_ready", "cho tra ket qua": "result_ready",
    "da giai quyet": "result_ready",
    "da tra ket qua": "delivered", "tra ket qua": "delivered", "hoan thanh": "delivered", "da hoan thanh": "delivered",
    "tu choi": "rejected", "bi tu choi": "rejected", "khong giai quyet": "rejected", "tra lai": "rejected",
}


# --- codes, statuses, times ------------------------------------------------------------


def normalize_dossier_code(text: str) -> str | None:
    """The dossier code in ``text`` in canonical form (upper case, '-' between parts), or None.

    Portal formats (``H21.22-250312-0005``, ``000.00.18.H21-250412-0001``) go through the
    matcher's ``find_dossier_code``; other unit prefixes of the same shape are accepted too.
    """
    if not text:
        return None
    text = text[:2000]
    code = find_dossier_code(text)
    if code:
        return code
    cleaned = text.upper().translate(_DASHES)
    cleaned = re.sub(r"\s*([.\-/])\s*", lambda m: "-" if m.group(1) == "/" else m.group(1), cleaned)
    m = _LOOSE.search(cleaned)
    if m is None:
        return None
    date = m.group(2)
    if not 1 <= int(date[2:4]) <= 12 or not 1 <= int(date[4:6]) <= 31:
        return None
    code = m.group(0)
    return code if len(code) <= MAX_CODE else None


def parse_status(value: str) -> str | None:
    """A machine status key from a key ("supplement") or a Vietnamese label ("Yêu cầu bổ sung")."""
    key = (value or "").strip().lower()
    if key in STATUSES:
        return key
    return _STATUS_WORDS.get(fold(value or "").strip())


_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y")
_DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def parse_when(value: str, *, end_of_day: bool = False) -> dt.datetime:
    """A UTC datetime from dd/mm/yyyy[ HH:MM], yyyy-mm-dd or ISO 8601; naive values are Vietnam time.

    A date without a time means the start of that day, or its end with ``end_of_day``
    (a due date of 20/03 is met by a result on 20/03). Raises ValueError.
    """
    value = (value or "").strip()
    if not value:
        raise ValueError("empty")
    for fmt in _DATE_FORMATS:
        try:
            day = dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        if not 2000 <= day.year <= 2100:
            raise ValueError("year out of range")
        local = day.replace(tzinfo=VN)
        if end_of_day:
            local = local.replace(hour=23, minute=59, second=59)
        return local.astimezone(dt.timezone.utc)
    for fmt in _DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=VN).astimezone(dt.timezone.utc)
        except ValueError:
            continue
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not 2000 <= when.year <= 2100:
        raise ValueError("year out of range")
    return (when.replace(tzinfo=VN) if when.tzinfo is None else when).astimezone(dt.timezone.utc)


def vn_date(when: dt.datetime | None) -> str:
    """dd/mm/yyyy in Vietnam time ("" for None)."""
    return when.astimezone(VN).strftime("%d/%m/%Y") if when else ""


def phone_digits(value: str) -> str:
    return "".join(ch for ch in (value or "") if ch.isdigit())[-20:]


# --- values ----------------------------------------------------------------------------


@dataclass
class DossierRecord:
    """A whole dossier as the one-stop system (or a CSV row) describes it."""

    code: str
    agency_key: str
    phone_digits: str
    status: str
    received_at: dt.datetime
    due_at: dt.datetime
    procedure_id: str = ""
    procedure_name: str = ""
    agency_name: str = ""
    applicant_name: str = ""
    status_note: str = ""
    result_at: dt.datetime | None = None
    delivery_method: str = ""
    status_at: dt.datetime | None = None  # when the current status was set (default: now)
    change_id: str = ""  # the source's id of the current status change (default: derived)


@dataclass
class StatusChange:
    """One pushed change of a dossier's status (and optionally of its dates)."""

    code: str
    change_id: str
    status: str
    at: dt.datetime
    note: str = ""
    due_at: dt.datetime | None = None
    result_at: dt.datetime | None = None
    delivery_method: str | None = None


@dataclass(frozen=True)
class DossierView:
    """A read-only snapshot of a dossier."""

    id: int
    code: str
    procedure_id: str
    procedure_name: str
    agency_key: str
    agency_name: str
    applicant_name: str
    phone_digits: str
    status: str
    status_note: str
    status_at: dt.datetime
    received_at: dt.datetime
    due_at: dt.datetime
    result_at: dt.datetime | None
    delivery_method: str
    citizen_alert: str = ""
    agency_alert: str = ""

    @classmethod
    def of(cls, row: Dossier) -> "DossierView":
        return cls(row.id, row.code, row.procedure_id, row.procedure_name, row.agency_key, row.agency_name,
                   row.applicant_name, row.phone_digits, row.status, row.status_note, row.status_at,
                   row.received_at, row.due_at, row.result_at, row.delivery_method,
                   row.citizen_alert, row.agency_alert)

    def stage(self, now: dt.datetime) -> str:
        """"late" (past due, no result), "soon" (due within a day), or "" (also while paused for a supplement)."""
        if self.status in FINISHED or self.status in PAUSED:
            return ""
        if now > self.due_at:
            return "late"
        return "soon" if now >= self.due_at - SOON else ""

    def is_late(self, now: dt.datetime) -> bool:
        return self.stage(now) == "late"

    def phone_matches(self, digits: str) -> bool:
        """True if the stored phone ends with ``digits`` (which must be all digits, ≥ 2)."""
        return len(digits) >= 2 and digits.isdigit() and len(self.phone_digits) >= len(digits) \
            and self.phone_digits.endswith(digits)


@dataclass(frozen=True)
class EventView:
    change_id: str
    status: str
    note: str
    at: dt.datetime
    source: str


@dataclass
class Notice:
    """A message for a subscriber: text plus button rows as the outbox stores them."""

    text: str
    buttons: list[list[dict[str, str]]] = field(default_factory=list)


# ``(dossier, event) -> Notice``: renders a change for subscribers (handlers.dossier provides it).
NoticeRenderer = Callable[[DossierView, EventView], Notice]
# ``(dossier, stage) -> Notice``: renders a late / soon notice for a subscriber.
LateRenderer = Callable[[DossierView, str], Notice]
# ``(agency_name, [(dossier, stage)], now) -> Notice``: the list an agency chat receives.
AgencyRenderer = Callable[[str, list[tuple[DossierView, str]], dt.datetime], Notice]


def _default_renderers() -> tuple[NoticeRenderer, LateRenderer, AgencyRenderer]:
    from handlers import dossier as views  # imported late: the handlers import this module

    return views.change_notice, views.late_notice, views.agency_late_notice


def _hash(*parts: object) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def otp_digest(salt: str, otp: str) -> str:
    """What is kept of a one-time code (never the code itself): ``salt:sha256(salt:code)`` (49 characters)."""
    return f"{salt}:" + hashlib.sha256(f"{salt}:{otp}".encode()).hexdigest()[:40]


def otp_matches(kept: str, typed: str) -> bool:
    import hmac

    salt, _, _ = kept.partition(":")
    return bool(salt) and hmac.compare_digest(otp_digest(salt, typed), kept)


def _alert_marker(stage: str, due_at: dt.datetime) -> str:
    return f"{stage}@{due_at.astimezone(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S')}"


def _needs_alert(previous: str, marker: str) -> bool:
    """A marker is new unless the same due date was already alerted at this stage or a later one."""
    if previous == marker:
        return False
    prev_stage, _, prev_due = previous.partition("@")
    stage, _, due = marker.partition("@")
    return not (prev_due == due and prev_stage == "late" and stage == "soon")


# --- the repository --------------------------------------------------------------------


def subscribed_key(subscription_id: int) -> str:
    """The outbox dedup key of the held confirmation of a dossier subscription."""
    return f"dossier-sub:{subscription_id}:confirm"


class DossierStore:
    """Async access to the dossier tables, on the core ``Store`` (same database, same clock)."""

    def __init__(self, store: Store, renderers: tuple[NoticeRenderer, LateRenderer, AgencyRenderer] | None = None):
        self.store = store
        self._renderers = renderers

    @property
    def renderers(self) -> tuple[NoticeRenderer, LateRenderer, AgencyRenderer]:
        if self._renderers is None:
            self._renderers = _default_renderers()
        return self._renderers

    def now(self) -> dt.datetime:
        return self.store.now()

    async def _enqueue(self, db: AsyncSession, *, dedup_key: str, channel: str, chat_id: str, notice: Notice) -> bool:
        """Queue a message inside ``db``'s transaction; False (and no harm) if that key was queued before."""
        try:
            async with db.begin_nested():
                self.store.enqueue(db, dedup_key=dedup_key, channel=channel, chat_id=chat_id, text=notice.text,
                                   buttons=notice.buttons)
                await db.flush()
            return True
        except IntegrityError:
            return False

    @staticmethod
    async def _row(db: AsyncSession, code: str) -> Dossier | None:
        return (await db.execute(select(Dossier).where(Dossier.code == code))).scalar_one_or_none()

    # --- reading --------------------------------------------------------------

    async def get(self, code: str) -> DossierView | None:
        async with self.store.sessions() as db:
            row = await self._row(db, code)
            return DossierView.of(row) if row else None

    async def history(self, code: str, limit: int | None = None) -> list[EventView]:
        """Status changes, newest first."""
        q = (select(DossierEvent).join(Dossier, Dossier.id == DossierEvent.dossier_id)
             .where(Dossier.code == code).order_by(DossierEvent.at.desc(), DossierEvent.id.desc()))
        if limit:
            q = q.limit(limit)
        async with self.store.sessions() as db:
            return [EventView(e.change_id, e.status, e.note, e.at, e.source) for e in (await db.execute(q)).scalars()]

    # --- writing --------------------------------------------------------------

    async def upsert(self, record: DossierRecord, source: str = "import") -> str:
        """Create or update a dossier; "new", "updated" or "unchanged".

        A changed status, note or due date becomes a history event and notifies subscribers.
        """
        now = self.now()
        try:
            async with self.store.sessions.begin() as db:
                return await self._upsert(db, record, source, now)
        except IntegrityError:  # the same code created concurrently: update it instead
            async with self.store.sessions.begin() as db:
                return await self._upsert(db, record, source, now)

    async def create(self, record: DossierRecord, source: str = "api") -> str:
        """Create a dossier for ``record.agency_key`` unless the code exists: "new", "exists" (same agency:
        nothing written, the caller applies its change) or "forbidden" (another agency's code).

        Ownership is decided by one statement: ``INSERT … ON CONFLICT (code) DO NOTHING``. Of two agencies
        creating the same new code at the same moment exactly one inserts; the other then reads the owner.
        """
        now = self.now()
        r = record
        status_at = r.status_at or now
        change_id = r.change_id or f"{source}:{_hash(r.status, r.status_note, r.due_at, status_at)}"
        values = dict(code=r.code, procedure_id=r.procedure_id, procedure_name=r.procedure_name,
                      agency_key=r.agency_key, agency_name=r.agency_name, applicant_name=r.applicant_name,
                      phone_digits=r.phone_digits, status=r.status, status_note=r.status_note, status_at=status_at,
                      received_at=r.received_at, due_at=r.due_at,
                      result_at=r.result_at or (status_at if r.status in ("result_ready", "delivered") else None),
                      delivery_method=r.delivery_method, citizen_alert="", agency_alert="", created_at=now,
                      updated_at=now)
        insert = pg_insert if is_postgres(self.store.engine) else sqlite_insert
        stmt = insert(Dossier).values(**values).on_conflict_do_nothing(index_elements=["code"]).returning(Dossier.id)
        async with self.store.sessions.begin() as db:
            new_id = (await db.execute(stmt)).scalar()
            if new_id is not None:
                db.add(DossierEvent(dossier_id=new_id, change_id=change_id, status=r.status, note=r.status_note,
                                    at=status_at, source=source, created_at=now))
                return "new"
            owner = (await db.execute(select(Dossier.agency_key).where(Dossier.code == r.code))).scalar()
        return "exists" if owner == r.agency_key else "forbidden"

    async def _upsert(self, db: AsyncSession, r: DossierRecord, source: str, now: dt.datetime) -> str:
        row = await self._row(db, r.code)
        status_at = r.status_at or now
        change_id = r.change_id or f"{source}:{_hash(r.status, r.status_note, r.due_at, status_at)}"
        if row is None:
            row = Dossier(code=r.code, procedure_id=r.procedure_id, procedure_name=r.procedure_name,
                          agency_key=r.agency_key, agency_name=r.agency_name, applicant_name=r.applicant_name,
                          phone_digits=r.phone_digits, status=r.status, status_note=r.status_note,
                          status_at=status_at, received_at=r.received_at, due_at=r.due_at,
                          result_at=r.result_at or (status_at if r.status in ("result_ready", "delivered") else None),
                          delivery_method=r.delivery_method, created_at=now, updated_at=now)
            db.add(row)
            await db.flush()
            db.add(DossierEvent(dossier_id=row.id, change_id=change_id, status=r.status, note=r.status_note,
                                at=status_at, source=source, created_at=now))
            return "new"
        changed = False
        for name in ("procedure_id", "procedure_name", "agency_key", "agency_name", "applicant_name",
                     "phone_digits", "received_at", "delivery_method"):
            value = getattr(r, name)
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if r.result_at is not None and row.result_at != r.result_at:
            row.result_at = r.result_at
            changed = True
        if (row.status, row.status_note, row.due_at) != (r.status, r.status_note, r.due_at):
            change = StatusChange(r.code, change_id, r.status, status_at, r.status_note, due_at=r.due_at)
            outcome = await self._apply(db, row, change, source, now)
            changed = changed or outcome == "applied"
        if changed:
            row.updated_at = now
        return "updated" if changed else "unchanged"

    async def apply_change(self, change: StatusChange, agency_key: str | None = None, source: str = "api") -> str:
        """Apply one pushed change: "applied", "stale" (older than the current status: history only),
        "duplicate" (this change id was seen), "unknown" (no such dossier) or "forbidden" (other agency)."""
        now = self.now()
        try:
            async with self.store.sessions.begin() as db:
                row = await self._row(db, change.code)
                if row is None:
                    return "unknown"
                if agency_key is not None and row.agency_key != agency_key:
                    return "forbidden"
                return await self._apply(db, row, change, source, now)
        except IntegrityError:  # the same change id applied concurrently
            return "duplicate"

    async def _apply(self, db: AsyncSession, row: Dossier, c: StatusChange, source: str, now: dt.datetime) -> str:
        seen = await db.execute(select(DossierEvent.id).where(DossierEvent.dossier_id == row.id,
                                                              DossierEvent.change_id == c.change_id))
        if seen.first() is not None:
            return "duplicate"
        event = DossierEvent(dossier_id=row.id, change_id=c.change_id, status=c.status, note=c.note, at=c.at,
                             source=source, created_at=now)
        db.add(event)
        if c.at < row.status_at:
            await db.flush()
            return "stale"
        row.status, row.status_note, row.status_at, row.updated_at = c.status, c.note, c.at, now
        if c.due_at is not None:
            row.due_at = c.due_at
        if c.result_at is not None:
            row.result_at = c.result_at
        elif c.status in ("result_ready", "delivered") and row.result_at is None:
            row.result_at = c.at
        if c.delivery_method:
            row.delivery_method = c.delivery_method
        await db.flush()
        view = DossierView.of(row)
        ev = EventView(c.change_id, c.status, c.note, c.at, source)
        render = self.renderers[0]
        subs = (await db.execute(select(DossierSubscription).where(DossierSubscription.dossier_id == row.id))).scalars()
        for sub in list(subs):
            await self._enqueue(db, dedup_key=f"dossier:{row.code}:{c.change_id}:{sub.user_id}", channel=sub.channel,
                                chat_id=sub.chat_id, notice=render(view, ev))
        return "applied"

    # --- subscriptions --------------------------------------------------------

    async def subscribe(self, code: str, user_id: int, channel: str, chat_id: str,
                        confirm: tuple[str, list[list[dict[str, str]]], float] | None = None,
                        idem: str | None = None) -> bool:
        """Subscribe a user to a dossier's changes; False if already subscribed (chat updated).

        ``confirm`` = (text, buttons, hold): a held outbox copy of the confirmation, queued in the same
        transaction as a new subscription (key ``subscribed_key``), for the channel to send directly.
        ``idem`` (an action key) is stored with a new subscription; a repeat of that key changes nothing
        and returns True, as the first time (the caller answers with the same held confirmation).
        """
        try:
            async with self.store.sessions.begin() as db:
                row = await self._row(db, code)
                if row is None:
                    raise LookupError(code)
                if idem and await db.get(ActionKey, idem) is not None:
                    return True
                existing = (await db.execute(select(DossierSubscription).where(
                    DossierSubscription.dossier_id == row.id, DossierSubscription.user_id == user_id)
                )).scalar_one_or_none()
                if existing is not None:
                    existing.channel, existing.chat_id = channel, chat_id
                    return False
                sub = DossierSubscription(dossier_id=row.id, user_id=user_id, channel=channel, chat_id=chat_id,
                                          created_at=self.now())
                db.add(sub)
                if idem:
                    await db.flush()
                    db.add(ActionKey(key=idem, ref=str(sub.id), created_at=self.now()))
                if confirm is not None:
                    await db.flush()
                    text, buttons, hold = confirm
                    self.store.enqueue(db, dedup_key=subscribed_key(sub.id), channel=channel, chat_id=chat_id,
                                       text=text, buttons=buttons, hold=hold)
                return True
        except IntegrityError:
            return False

    async def subscription_id(self, code: str, user_id: int) -> int | None:
        async with self.store.sessions() as db:
            q = (select(DossierSubscription.id).join(Dossier, Dossier.id == DossierSubscription.dossier_id)
                 .where(Dossier.code == code, DossierSubscription.user_id == user_id))
            return (await db.execute(q)).scalar()

    async def unsubscribe(self, code: str, user_id: int) -> bool:
        async with self.store.sessions.begin() as db:
            row = await self._row(db, code)
            if row is None:
                return False
            res = await db.execute(delete(DossierSubscription).where(
                DossierSubscription.dossier_id == row.id, DossierSubscription.user_id == user_id))
            return res.rowcount > 0

    async def is_subscribed(self, code: str, user_id: int) -> bool:
        q = (select(DossierSubscription.id).join(Dossier, Dossier.id == DossierSubscription.dossier_id)
             .where(Dossier.code == code, DossierSubscription.user_id == user_id))
        async with self.store.sessions() as db:
            return (await db.execute(q)).first() is not None

    # --- lookup attempts ------------------------------------------------------

    async def record_attempt(self, user_id: int, code: str, ok: bool) -> None:
        async with self.store.sessions.begin() as db:
            db.add(DossierAttempt(user_id=user_id, code=code[:64], ok=ok, at=self.now()))

    async def wait_seconds(self, user_id: int, code: str) -> int:
        """Seconds this user must wait before trying ``code`` again (0 = may try now)."""
        now = self.now()
        since = now - ATTEMPT_WINDOW
        A = DossierAttempt
        async with self.store.sessions() as db:
            last_ok = (await db.execute(select(func.max(A.at)).where(
                A.user_id == user_id, A.code == code, A.ok.is_(True), A.at > since))).scalar()
            start = max(since, last_ok) if last_ok else since
            n_code, last_code = (await db.execute(select(func.count(), func.max(A.at)).where(
                A.user_id == user_id, A.code == code, A.ok.is_(False), A.at > start))).one()
            n_all, last_all = (await db.execute(select(func.count(), func.max(A.at)).where(
                A.user_id == user_id, A.ok.is_(False), A.at > since))).one()
        return max(_wait(n_code, last_code, PER_CODE_STEP, now), _wait(n_all, last_all, OVERALL_STEP, now))

    async def code_failures(self, code: str) -> tuple[int, int, dt.datetime | None]:
        """Wrong tries on ``code`` from anyone within the window: (tries, distinct accounts, last try)."""
        A = DossierAttempt
        since = self.now() - ATTEMPT_WINDOW
        async with self.store.sessions() as db:
            n, users, last = (await db.execute(select(func.count(), func.count(func.distinct(A.user_id)),
                                                      func.max(A.at)).where(
                A.code == code, A.ok.is_(False), A.at > since))).one()
        return int(n), int(users), last

    async def code_wait_seconds(self, user_id: int, code: str) -> int:
        """Seconds anyone who never verified ``code`` must wait because of wrong tries from all accounts."""
        n, _, last = await self.code_failures(code)
        if n < CODE_STEP or await self.verified(user_id, code):
            return 0
        return _wait(n, last, CODE_STEP, self.now(), CODE_WAITS)

    async def alert_guessing(self, code: str, chats: list[tuple[str, str]], notice: Notice, tier: int) -> int:
        """Queue ``notice`` (repeated wrong tries on ``code``) to the owning agency's chats, once per tier a day."""
        day = self.now().astimezone(VN).strftime("%Y%m%d")
        sent = 0
        async with self.store.sessions.begin() as db:
            for channel, chat_id in chats:
                sent += await self._enqueue(db, dedup_key=f"dossier-guess:{code}:{day}:{tier}:{_hash(channel, chat_id)}",
                                            channel=channel, chat_id=chat_id, notice=notice)
        return sent

    async def subscriber_chats(self, code: str, other_than: int) -> list[tuple[str, str]]:
        """The chats subscribed to ``code`` by users other than ``other_than`` (channel, chat id), once each."""
        S = DossierSubscription
        q = (select(S.channel, S.chat_id).join(Dossier, Dossier.id == S.dossier_id)
             .where(Dossier.code == code, S.user_id != other_than).order_by(S.id))
        async with self.store.sessions() as db:
            rows = (await db.execute(q)).all()
        return list(dict.fromkeys((str(ch), str(chat)) for ch, chat in rows))

    async def issue_one_time_code(self, code: str, idem: str, chats: list[tuple[str, str]],
                                  render: Callable[[str], Notice]) -> tuple[str, dt.datetime] | None:
        """Make a one-time code for ``code`` and queue ``render(otp)`` to ``chats``, in one transaction.

        ``idem`` (an action key of the asking session step, starting ``otp:``) is stored with the code's
        digest: a repeat of the same step (the turn died after this committed) gets the same digest and
        queues nothing more. Returns (digest, expiry), or None when OTP_PER_HOUR codes were already
        issued for this dossier within the hour.
        """
        now = self.now()
        async with self.store.sessions.begin() as db:
            done = await db.get(ActionKey, idem[:160])
            if done is not None:
                return done.ref, done.created_at + OTP_TTL
            recent = (await db.execute(select(func.count()).select_from(ActionKey).where(
                ActionKey.key.like(f"otp:%:{code}:v%"), ActionKey.created_at > now - dt.timedelta(hours=1)))).scalar()
            if (recent or 0) >= OTP_PER_HOUR:
                return None
            otp = "".join(secrets.choice("0123456789") for _ in range(OTP_DIGITS))
            kept = otp_digest(secrets.token_hex(4), otp)
            db.add(ActionKey(key=idem[:160], ref=kept, created_at=now))
            notice = render(otp)
            for channel, chat_id in chats:
                self.store.enqueue(db, dedup_key=f"dossier-otp:{_hash(idem)}:{_hash(channel, chat_id)}",
                                   channel=channel, chat_id=chat_id, text=notice.text, buttons=notice.buttons)
        return kept, now + OTP_TTL

    async def verified(self, user_id: int, code: str) -> bool:
        """True if this user once gave the right phone digits for this code."""
        A = DossierAttempt
        async with self.store.sessions() as db:
            return (await db.execute(select(A.id).where(A.user_id == user_id, A.code == code,
                                                        A.ok.is_(True)).limit(1))).first() is not None

    async def verified_codes(self, user_id: int, limit: int = 3) -> list[str]:
        """Codes this user looked up successfully, most recent first."""
        A = DossierAttempt
        q = (select(A.code, func.max(A.at).label("last")).where(A.user_id == user_id, A.ok.is_(True))
             .group_by(A.code).order_by(func.max(A.at).desc()).limit(limit))
        async with self.store.sessions() as db:
            return [r.code for r in (await db.execute(q)).all()]

    async def forget_old_attempts(self) -> int:
        """Delete wrong attempts older than a week (right ones prove who may follow a dossier)."""
        async with self.store.sessions.begin() as db:
            res = await db.execute(delete(DossierAttempt).where(
                DossierAttempt.ok.is_(False), DossierAttempt.at < self.now() - ATTEMPT_KEEP))
            return res.rowcount or 0

    # --- late dossiers --------------------------------------------------------

    async def due_soon_or_late(self, now: dt.datetime, agency_key: str | None = None) -> list[DossierView]:
        """Dossiers without a result whose due date is past or less than a day away, earliest first."""
        q = (select(Dossier).where(Dossier.status.not_in(sorted(FINISHED | PAUSED)), Dossier.due_at <= now + SOON)
             .order_by(Dossier.due_at, Dossier.id))
        if agency_key is not None:
            q = q.where(Dossier.agency_key == agency_key)
        async with self.store.sessions() as db:
            return [DossierView.of(r) for r in (await db.execute(q)).scalars()]

    async def alert_citizens(self, now: dt.datetime) -> int:
        """Notify subscribers of dossiers that became due-soon or late; each (dossier, stage, due) once."""
        sent = 0
        render = self.renderers[1]
        for d in await self.due_soon_or_late(now):
            marker = _alert_marker(d.stage(now), d.due_at)
            if not _needs_alert(d.citizen_alert, marker):
                continue
            async with self.store.sessions.begin() as db:
                res = await db.execute(update(Dossier)
                                       .where(Dossier.id == d.id, Dossier.citizen_alert == d.citizen_alert)
                                       .values(citizen_alert=marker))
                if res.rowcount != 1:
                    continue  # another worker took it
                subs = (await db.execute(select(DossierSubscription)
                                         .where(DossierSubscription.dossier_id == d.id))).scalars()
                notice = render(d, d.stage(now))
                for sub in list(subs):
                    sent += await self._enqueue(db, dedup_key=f"dossier-late:{d.code}:{marker}:{sub.user_id}",
                                                channel=sub.channel, chat_id=sub.chat_id, notice=notice)
        return sent

    async def alert_agencies(self, now: dt.datetime, resolver: Callable[[str], Any]) -> int:
        """Send each agency chat the list of its dossiers that newly became due-soon or late."""
        pending: dict[str, list[DossierView]] = {}
        for d in await self.due_soon_or_late(now):
            if _needs_alert(d.agency_alert, _alert_marker(d.stage(now), d.due_at)):
                pending.setdefault(d.agency_key, []).append(d)
        sent = 0
        render = self.renderers[2]
        for agency_key, dossiers in pending.items():
            chats = await _resolve(resolver, agency_key)
            if not chats and dossiers[0].agency_name:
                chats = await _resolve(resolver, dossiers[0].agency_name)
            if not chats:
                continue
            async with self.store.sessions.begin() as db:
                listed: list[tuple[DossierView, str]] = []
                for d in dossiers:
                    marker = _alert_marker(d.stage(now), d.due_at)
                    res = await db.execute(update(Dossier).where(Dossier.id == d.id,
                                                                 Dossier.agency_alert == d.agency_alert)
                                           .values(agency_alert=marker))
                    if res.rowcount == 1:
                        listed.append((d, d.stage(now)))
                if not listed:
                    continue
                name = dossiers[0].agency_name or agency_key
                notice = render(name, listed, now)
                digest = _hash(agency_key, *(f"{d.code}:{_alert_marker(s, d.due_at)}" for d, s in listed))
                for channel, chat_id in chats:
                    sent += await self._enqueue(db, dedup_key=f"dossier-late-agency:{_hash(channel, chat_id)}:{digest}",
                                                channel=channel, chat_id=chat_id, notice=notice)
        return sent


def _wait(failures: int, last: dt.datetime | None, step: int, now: dt.datetime,
          waits: tuple[int, ...] = WAITS) -> int:
    tier = failures // step
    if tier == 0 or last is None:
        return 0
    if last.tzinfo is None:  # SQLite aggregates come back naive (UTC)
        last = last.replace(tzinfo=dt.timezone.utc)
    delay = waits[min(tier, len(waits)) - 1]
    return max(0, int((last + dt.timedelta(seconds=delay) - now).total_seconds() + 0.999))


async def _resolve(resolver: Callable[[str], Any], key: str) -> list[tuple[str, str]]:
    result = resolver(key)
    if inspect.isawaitable(result):
        result = await result
    return [(str(ch), str(chat)) for ch, chat in (result or [])]


async def late_dossiers_for_agency(store: Store | DossierStore, agency_key: str,
                                   now: dt.datetime | None = None) -> list[DossierView]:
    """An agency's dossiers without a result that are past due or due within a day, earliest first."""
    repo = store if isinstance(store, DossierStore) else DossierStore(store)
    return await repo.due_soon_or_late(now or repo.now(), agency_key)


__all__ = [
    "DossierRecord", "DossierStore", "DossierView", "EventView", "FINISHED", "Notice", "STATUSES", "StatusChange",
    "VN", "late_dossiers_for_agency", "normalize_dossier_code", "parse_status", "parse_when", "phone_digits",
    "vn_date",
]
