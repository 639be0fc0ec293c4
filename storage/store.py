"""The core store: users, sessions, question log, update de-duplication, locks, handoffs, outbox.

Feature stores (dossiers, complaints, guides) take the same ``Store`` and use its
``sessions`` factory and ``now`` clock, so that one database and one clock serve all.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine, is_postgres, session_factory
from storage.models import (
    ConversationLock,
    ConversationSession,
    Handoff,
    PendingUpdate,
    Outbox,
    ProcessedUpdate,
    QuestionLog,
    User,
)

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class LockTimeout(Exception):
    """The conversation stayed locked by another worker for longer than we wait."""


@dataclass
class SessionState:
    """A user's conversation state as handlers see it; handlers mutate ``state`` and ``data``."""

    user_id: int
    channel: str
    external_id: str
    chat_id: str
    display_name: str = ""
    state: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    attempts: int
    in_doubt: bool = False  # a previous attempt was in flight when its worker died (see docs/complaints.md)


class Store:
    """Async access to the core tables."""

    def __init__(self, engine: AsyncEngine, now: Clock = system_clock) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.now = now
        self.worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._local_locks: dict[str, asyncio.Lock] = {}
        self.unacked: dict[int, str | None] = {}  # outbox ids the platform accepted but not yet marked sent

    @classmethod
    def from_url(cls, database_url: str, now: Clock = system_clock) -> "Store":
        return cls(create_engine(database_url), now)

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.engine)

    async def create_schema(self) -> None:
        """Bring the database to the latest schema with the Alembic migrations (storage/migrate.py)."""
        from storage.migrate import upgrade

        await upgrade(self.engine)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - health check reports, never raises
            return False

    async def close(self) -> None:
        await self.engine.dispose()

    # --- users and sessions -------------------------------------------------

    async def load(self, channel: str, external_id: str, chat_id: str, display_name: str = "") -> SessionState:
        """Find or create the user and return their stored session."""
        now = self.now()
        async with self.sessions.begin() as db:
            user = await self._user(db, channel, external_id)
            if user is None:
                try:
                    async with db.begin_nested():
                        user = User(channel=channel, external_id=external_id, chat_id=chat_id,
                                    display_name=display_name[:128], created_at=now, last_seen_at=now)
                        db.add(user)
                        await db.flush()
                except IntegrityError:
                    user = await self._user(db, channel, external_id)
                    assert user is not None
            else:
                user.last_seen_at = now
                if chat_id and user.chat_id != chat_id:
                    user.chat_id = chat_id
                if display_name and user.display_name != display_name[:128]:
                    user.display_name = display_name[:128]
            row = await db.get(ConversationSession, user.id)
            state, data = (row.state, dict(row.data or {})) if row else ("", {})
            return SessionState(user.id, channel, external_id, user.chat_id, user.display_name, state, data)

    @staticmethod
    async def _user(db: AsyncSession, channel: str, external_id: str) -> User | None:
        res = await db.execute(select(User).where(User.channel == channel, User.external_id == external_id))
        return res.scalar_one_or_none()

    async def save(self, session: SessionState) -> None:
        """Persist the session's state and data."""
        async with self.sessions.begin() as db:
            row = await db.get(ConversationSession, session.user_id)
            if row is None:
                db.add(ConversationSession(user_id=session.user_id, state=session.state,
                                           data=session.data, version=1, updated_at=self.now()))
            else:
                row.state = session.state
                row.data = dict(session.data)
                row.version = (row.version or 0) + 1
                row.updated_at = self.now()

    async def user_chat(self, user_id: int) -> tuple[str, str] | None:
        """(channel, chat_id) of a user, to push messages to them."""
        async with self.sessions() as db:
            user = await db.get(User, user_id)
            return (user.channel, user.chat_id) if user else None

    # --- question log -------------------------------------------------------

    async def log_question(self, *, user_id: int | None, channel: str, text: str, normalized: str,
                           intent: str, decision: str, best_id: str | None, score: float | None) -> None:
        async with self.sessions.begin() as db:
            db.add(QuestionLog(user_id=user_id, channel=channel, text=text[:1000], normalized=normalized[:1000],
                               intent=intent, decision=decision, best_id=best_id, score=score,
                               created_at=self.now()))

    async def question_gaps(self, limit: int = 20, since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Most frequent questions that got no answer or a low-confidence one."""
        q = (
            select(QuestionLog.normalized, func.count().label("n"), func.max(QuestionLog.text).label("example"),
                   func.max(QuestionLog.best_id).label("best_id"), func.avg(QuestionLog.score).label("score"))
            .where(or_(QuestionLog.intent == "unknown", QuestionLog.decision.in_(("ask", "none"))))
            .where(QuestionLog.normalized != "")
            .group_by(QuestionLog.normalized)
            .order_by(func.count().desc(), QuestionLog.normalized)
            .limit(limit)
        )
        if since is not None:
            q = q.where(QuestionLog.created_at >= since)
        async with self.sessions() as db:
            rows = (await db.execute(q)).all()
        return [{"question": r.example, "normalized": r.normalized, "count": r.n, "best_id": r.best_id,
                 "score": round(float(r.score), 3) if r.score is not None else None} for r in rows]

    # --- update de-duplication ----------------------------------------------

    async def first_time(self, channel: str, update_key: str) -> bool:
        """Record an update id; False if it was already recorded (a redelivery)."""
        try:
            async with self.sessions.begin() as db:
                db.add(ProcessedUpdate(channel=channel, update_key=update_key[:128], created_at=self.now()))
            return True
        except IntegrityError:
            return False

    # --- ordering across workers -------------------------------------------

    async def add_pending(self, conversation: str, seq: int) -> int:
        """Announce an update of a conversation before waiting for the lock."""
        async with self.sessions.begin() as db:
            row = PendingUpdate(conversation=conversation, seq=seq, created_at=self.now())
            db.add(row)
            await db.flush()
            return row.id

    async def earlier_pending(self, conversation: str, pending_id: int, seq: int, max_age: float) -> bool:
        """True if an earlier update of the conversation (younger than max_age seconds) still waits."""
        oldest = self.now() - dt.timedelta(seconds=max_age)
        async with self.sessions() as db:
            res = await db.execute(select(PendingUpdate.id).where(
                PendingUpdate.conversation == conversation, PendingUpdate.id != pending_id,
                PendingUpdate.seq < seq, PendingUpdate.created_at >= oldest).limit(1))
            return res.first() is not None

    async def done_pending(self, pending_id: int) -> None:
        async with self.sessions.begin() as db:
            await db.execute(delete(PendingUpdate).where(PendingUpdate.id == pending_id))

    # --- per-conversation lock ----------------------------------------------

    @contextlib.asynccontextmanager
    async def conversation_lock(self, key: str, ttl: float = 30.0, wait: float = 20.0) -> AsyncIterator[None]:
        """Hold a database lease on ``key``; an expired lease (dead worker) is taken over."""
        local = self._local_locks.setdefault(key, asyncio.Lock())
        async with local:
            deadline = asyncio.get_running_loop().time() + wait
            delay = 0.005
            while not await self._try_lock(key, ttl):
                if asyncio.get_running_loop().time() > deadline:
                    raise LockTimeout(key)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
            try:
                yield
            finally:
                async with self.sessions.begin() as db:
                    await db.execute(delete(ConversationLock).where(
                        ConversationLock.key == key, ConversationLock.owner == self.worker_id))
        if not local.locked() and self._local_locks.get(key) is local:
            self._local_locks.pop(key, None)

    async def _try_lock(self, key: str, ttl: float) -> bool:
        now = self.now()
        expires = now + dt.timedelta(seconds=ttl)
        try:
            async with self.sessions.begin() as db:
                await db.execute(insert(ConversationLock).values(key=key, owner=self.worker_id, expires_at=expires))
            return True
        except IntegrityError:
            pass
        async with self.sessions.begin() as db:
            res = await db.execute(
                update(ConversationLock)
                .where(ConversationLock.key == key, ConversationLock.expires_at < now)
                .values(owner=self.worker_id, expires_at=expires)
            )
            return res.rowcount == 1

    # --- handoffs -----------------------------------------------------------

    async def add_handoff(self, user_id: int, reason: str, summary: str) -> int:
        async with self.sessions.begin() as db:
            row = Handoff(user_id=user_id, reason=reason, summary=summary, created_at=self.now())
            db.add(row)
            await db.flush()
            return row.id

    async def handoffs(self, user_id: int | None = None) -> list[Handoff]:
        q = select(Handoff).order_by(Handoff.id)
        if user_id is not None:
            q = q.where(Handoff.user_id == user_id)
        async with self.sessions() as db:
            return list((await db.execute(q)).scalars())

    # --- outbox -------------------------------------------------------------

    def enqueue(self, db: AsyncSession, *, dedup_key: str, channel: str, chat_id: str,
                text: str, buttons: list[list[dict[str, str]]] | None = None) -> None:
        """Add a message to the outbox inside the caller's transaction (ignored if already queued)."""
        db.add(Outbox(dedup_key=dedup_key[:160], channel=channel, chat_id=chat_id,
                      payload={"text": text, "buttons": buttons or []}, status="pending",
                      next_attempt_at=self.now(), created_at=self.now()))

    async def enqueue_once(self, *, dedup_key: str, channel: str, chat_id: str, text: str,
                           buttons: list[list[dict[str, str]]] | None = None) -> bool:
        """Queue a message in its own transaction; False if that dedup key was queued before."""
        try:
            async with self.sessions.begin() as db:
                self.enqueue(db, dedup_key=dedup_key, channel=channel, chat_id=chat_id, text=text, buttons=buttons)
            return True
        except IntegrityError:
            return False

    async def claim_outbox(self, limit: int = 20, lease: float = 60.0) -> list[OutboxItem]:
        """Claim due messages for this worker; a claim that outlives its lease is taken over.

        A row left in ``sending`` by a worker that died mid-send comes back with ``in_doubt=True``.
        """
        now = self.now()
        until = now + dt.timedelta(seconds=lease)
        due = (
            select(Outbox.id)
            .where(Outbox.status.in_(("pending", "sending")), Outbox.next_attempt_at <= now)
            .where(or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now))
            .order_by(Outbox.id)
            .limit(limit)
        )
        if self.is_postgres:
            due = due.with_for_update(skip_locked=True)
        async with self.sessions.begin() as db:
            ids = list((await db.execute(due)).scalars())
            if not ids:
                return []
            # The guard on claimed_until makes the claim atomic on SQLite too.
            await db.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids), or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now))
                .values(claimed_by=self.worker_id, claimed_until=until)
            )
            rows = (await db.execute(select(Outbox).where(Outbox.id.in_(ids), Outbox.claimed_by == self.worker_id,
                                                          Outbox.claimed_until == until))).scalars()
            return [OutboxItem(r.id, r.channel, r.chat_id, dict(r.payload), r.attempts, r.status == "sending")
                    for r in rows]

    async def mark_sending(self, item_id: int) -> bool:
        """Record, before calling the platform, that an attempt is in flight (False: claim lost)."""
        async with self.sessions.begin() as db:
            res = await db.execute(update(Outbox).where(
                Outbox.id == item_id, Outbox.claimed_by == self.worker_id,
                Outbox.status.in_(("pending", "sending"))).values(status="sending"))
            return res.rowcount == 1

    async def mark_sent(self, item_id: int, platform_message_id: str | None) -> None:
        async with self.sessions.begin() as db:
            await db.execute(update(Outbox).where(Outbox.id == item_id, Outbox.status != "sent").values(
                status="sent", sent_at=self.now(), platform_message_id=platform_message_id,
                claimed_by=None, claimed_until=None, attempts=Outbox.attempts + 1))

    async def mark_retry(self, item_id: int, error: str, delay: float, give_up: bool = False) -> None:
        async with self.sessions.begin() as db:
            await db.execute(update(Outbox).where(Outbox.id == item_id, Outbox.status != "sent").values(
                status="failed" if give_up else "pending", last_error=error[:500],
                next_attempt_at=self.now() + dt.timedelta(seconds=delay),
                claimed_by=None, claimed_until=None, attempts=Outbox.attempts + 1))

    async def outbox_rows(self) -> list[Outbox]:
        async with self.sessions() as db:
            return list((await db.execute(select(Outbox).order_by(Outbox.id))).scalars())
