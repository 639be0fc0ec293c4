"""The core store: users, sessions, question log, update de-duplication, locks, handoffs, outbox.

Feature stores (dossiers, complaints, guides) take the same ``Store`` and use its
``sessions`` factory and ``now`` clock, so that one database and one clock serve all.
"""

from __future__ import annotations

import asyncio
import logging
import contextlib
import datetime as dt
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine, is_postgres, session_factory
from storage.models import (ConversationLock, Handoff, InboxUpdate, Outbox, PendingUpdate, ProcessedUpdate,
                            QuestionLog)
from storage.turn_statements import TurnStatements
from storage.turns import SessionState, Turn, TurnBatcher, TurnRequest, finish_many, load_sessions, save_sessions, start_many

__all__ = ["LockTimeout", "OutboxItem", "SessionState", "Store", "Turn", "TurnRequest"]

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
HOST = socket.gethostname()[:24].replace(":", "-")
INBOX_LEASE = 30.0  # seconds; a live worker renews its inbox rows every INBOX_LEASE / 3
SEEN_RESOLUTION = dt.timedelta(minutes=1)  # users.last_seen_at is refreshed at most this often


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class LockTimeout(Exception):
    """The conversation stayed locked by another worker for longer than we wait."""


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel: str
    chat_id: str
    payload: dict[str, Any]
    attempts: int
    in_doubt: bool = False  # a previous attempt was in flight when its worker died (see docs/complaints.md)


def outbox_kind(media: list[dict[str, str]]) -> str:
    """What an outbox row carries, for listings: text, photo, album, document or media (mixed)."""
    kinds = {m.get("kind") for m in media}
    if not media:
        return "text"
    if kinds == {"photo"}:
        return "photo" if len(media) == 1 else "album"
    return "document" if kinds == {"document"} else "media"


class InboxBatcher:
    """Writes the webhook records of the moment in one transaction: inserts (awaited, the ``200``
    waits for them) and deletions (queued, not awaited), as ``TurnBatcher`` does for turns."""

    MAX = 256

    def __init__(self, store: "Store") -> None:
        self.store = store
        self._adds: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._drops: list[dict[str, str]] = []
        self._runner: asyncio.Task[None] | None = None

    async def add(self, row: dict[str, Any]) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._adds.append((row, fut))
        self._kick()
        return await asyncio.shield(fut)

    def drop(self, key: dict[str, str]) -> None:
        self._drops.append(key)
        self._kick()

    async def flush(self) -> None:
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)

    def _kick(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        sql = self.store.sql
        while self._adds or self._drops:
            drops, self._drops = self._drops[:self.MAX], self._drops[self.MAX:]
            adds, self._adds = self._adds[:self.MAX], self._adds[self.MAX:]
            try:
                async with self.store.engine.begin() as conn:
                    if drops:  # first: a redelivered copy recorded in the same batch stays recorded
                        await conn.execute(sql.drop_inbox, drops)
                    inserted: set[tuple[str, str]] = set()
                    if adds:
                        inserted = {(c, k) for c, k in await conn.execute(sql.record_inboxes, [r for r, _ in adds])}
            except Exception as exc:  # noqa: BLE001 - each waiting webhook answers 503
                for _, fut in adds:
                    if not fut.done():
                        fut.set_exception(exc)
                if drops:
                    log.warning("could not forget %d handled update records", len(drops))
                continue
            for row, fut in adds:
                if not fut.done():
                    fut.set_result((row["channel"], row["update_key"]) in inserted)


class Store:
    """Async access to the core tables."""

    def __init__(self, engine: AsyncEngine, now: Clock = system_clock) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.now = now
        self.worker_id = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # see owner_is_dead
        self._local_locks: dict[str, list[Any]] = {}  # key -> [lock, users]
        self.unacked: dict[int, str | None] = {}  # outbox ids the platform accepted but not yet marked sent
        self.sql = TurnStatements(self.is_postgres)
        self.seen_resolution = SEEN_RESOLUTION
        self.turns = TurnBatcher(self)
        self.inbox = InboxBatcher(self)

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

    async def probe_write(self) -> bool:
        """A real write (a row inserted and deleted in one transaction): False if the database refuses it."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(self.sql.record_update, {"channel": "healthz", "update_key": self.worker_id,
                                                            "created_at": self.now()})
                await conn.execute(delete(ProcessedUpdate).where(ProcessedUpdate.channel == "healthz",
                                                                 ProcessedUpdate.update_key == self.worker_id))
            return True
        except Exception:  # noqa: BLE001 - health check reports, never raises
            return False

    async def close(self) -> None:
        await self.engine.dispose()

    # --- users and sessions -------------------------------------------------

    async def load(self, channel: str, external_id: str, chat_id: str, display_name: str = "") -> SessionState:
        """Find or create the user and return their stored session."""
        turn = Turn(f"{channel}:{external_id}")
        async with self.engine.begin() as conn:
            await load_sessions(self, conn, [(turn, TurnRequest(channel, "", external_id, chat_id, display_name))],
                                self.now())
        assert turn.session is not None
        return turn.session

    async def save(self, session: SessionState) -> None:
        """Persist the session's state and data (and the question-log rows queued on it)."""
        async with self.engine.begin() as conn:
            await save_sessions(self, conn, [session], self.now())
        session.questions.clear()

    # --- question log -------------------------------------------------------

    async def log_question(self, *, user_id: int | None, channel: str, text: str, normalized: str,
                           intent: str, decision: str, best_id: str | None, score: float | None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(insert(QuestionLog).values(
                user_id=user_id, channel=channel, text=text[:1000], normalized=normalized[:1000], intent=intent,
                decision=decision, best_id=best_id, score=score, created_at=self.now()))

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

    async def catalogue_demand(self, limit: int = 20, since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Catalogue procedures (``best_id`` ``tthc:CODE``) by how often citizens asked about them."""
        q = (
            select(QuestionLog.best_id, func.count().label("n"), func.max(QuestionLog.text).label("example"))
            .where(QuestionLog.best_id.like("tthc:%"))
            .group_by(QuestionLog.best_id)
            .order_by(func.count().desc(), QuestionLog.best_id)
            .limit(limit)
        )
        if since is not None:
            q = q.where(QuestionLog.created_at >= since)
        async with self.sessions() as db:
            rows = (await db.execute(q)).all()
        return [{"entry_id": r.best_id, "code": r.best_id.split(":", 1)[1], "count": r.n, "question": r.example}
                for r in rows]

    # --- one turn: de-duplication, ordering across workers, the lock, the session -----

    async def admit(self, turn: Turn, channel: str, update_key: str) -> None:
        """Record the update id and announce the update (its pending row), in one transaction.

        Sets ``turn.duplicate`` if the update id was recorded before (a redelivery).
        """
        async with self.engine.begin() as conn:
            await self._admit(conn, turn, channel, update_key)

    async def start_turn(self, turn: Turn, request: TurnRequest) -> Turn:
        """Admit the update if not done yet, try to take the conversation lock and load the session.

        Afterwards exactly one of these holds: ``turn.duplicate``; ``turn.session`` is set (this worker
        holds the lock); or neither (the lock is busy, or an earlier update of the same user younger than
        ``request.order_wait`` seconds still waits: call again a little later, with ``order_wait=None``
        once waited long enough). Runs batched with the other turns of the moment (storage/turns.py).
        """
        await self.turns.start(turn, request)
        return turn

    async def finish_turn(self, turn: Turn) -> None:
        """Save the session (and its question log), forget the pending row and release the lock."""
        await self.turns.finish(turn)

    async def start_one(self, turn: Turn, req: TurnRequest) -> None:
        """``start_turn`` for this turn alone, in its own transaction (when its batch failed)."""
        async with self.engine.begin() as conn:
            await start_many(self, conn, [(turn, req)])

    async def finish_one(self, turn: Turn) -> None:
        """``finish_turn`` for this turn alone, in its own transaction (when its batch failed)."""
        async with self.engine.begin() as conn:
            await finish_many(self, conn, [turn])
        if turn.session is not None:
            turn.session.questions.clear()
        turn.pending_id, turn.session = None, None

    async def abandon_turn(self, turn: Turn) -> None:
        """Release what a turn holds without saving (it failed): the user's next messages go on."""
        async with self.engine.begin() as conn:
            await self._end(conn, turn)
        turn.pending_id, turn.session = None, None

    async def _end(self, conn: AsyncConnection, turn: Turn) -> None:
        if turn.pending_id is not None:
            await conn.execute(self.sql.drop_pending, {"pending_id": turn.pending_id})
        if turn.session is not None:
            await self._drop_lock(conn, turn.conversation)

    async def _admit(self, conn: AsyncConnection, turn: Turn, channel: str, update_key: str,
                     announce: bool = True) -> None:
        """Record the update id; with ``announce``, also add the pending row other workers look for."""
        now = self.now()
        if update_key:
            res = await conn.execute(self.sql.record_update, {"channel": channel, "update_key": update_key[:128],
                                                              "created_at": now})
            if res.rowcount != 1:
                turn.duplicate = True
                return
        turn.admitted = True
        if update_key:
            turn.update = (channel, update_key[:128])
        if announce:
            await self._announce(conn, turn)

    async def _announce(self, conn: AsyncConnection, turn: Turn) -> None:
        if turn.seq is not None and turn.pending_id is None:
            res = await conn.execute(self.sql.add_pending, {"conversation": turn.conversation, "seq": turn.seq,
                                                            "created_at": self.now()})
            turn.pending_id = res.inserted_primary_key[0]

    async def _take_lock(self, conn: AsyncConnection, key: str, ttl: float) -> bool:
        """Take the lease on ``key`` if it is free or expired (its holder died): one upsert."""
        now = self.now()
        res = await conn.execute(self.sql.take_lock, {"key": key, "owner": self.worker_id, "now": now,
                                                      "expires_at": now + dt.timedelta(seconds=ttl)})
        return res.rowcount == 1

    async def _drop_lock(self, conn: AsyncConnection, key: str) -> None:
        await conn.execute(self.sql.drop_lock, {"key": key, "owner": self.worker_id})

    async def prune_update_records(self, keep_ids: dt.timedelta = dt.timedelta(days=3),
                                   keep_pending: dt.timedelta = dt.timedelta(hours=1),
                                   keep_action_keys: dt.timedelta = dt.timedelta(days=7)) -> tuple[int, int]:
        """Forget update ids older than ``keep_ids`` (platforms redeliver for about a day at most),
        pending rows left by a worker that died (older than ``keep_pending``) and action keys older than
        ``keep_action_keys`` (a step is retried within minutes of a crash); returns the first two counts."""
        from storage.models import ActionKey

        now = self.now()
        async with self.engine.begin() as conn:
            ids = await conn.execute(delete(ProcessedUpdate).where(ProcessedUpdate.created_at < now - keep_ids))
            pending = await conn.execute(delete(PendingUpdate).where(PendingUpdate.created_at < now - keep_pending))
            await conn.execute(delete(ActionKey).where(ActionKey.created_at < now - keep_action_keys))
        return ids.rowcount, pending.rowcount

    # --- webhook inbox: saved before acknowledged ------------------------------------

    async def inbox_record(self, channel: str, update_key: str, conversation: str, payload: dict[str, Any]) -> bool:
        """Record a webhook update before answering the platform; False if it was recorded already.

        The records of the webhook calls of the moment are written together, in one transaction
        (``InboxBatcher``), with the deletions queued by ``inbox_forget``.
        """
        now = self.now()
        return await self.inbox.add({
            "channel": channel, "update_key": update_key[:128], "conversation": conversation[:96],
            "payload": payload, "owner": self.worker_id, "created_at": now,
            "lease_until": now + dt.timedelta(seconds=INBOX_LEASE)})

    def inbox_forget(self, channel: str, update_key: str) -> None:
        """Forget a recorded update (a duplicate, refused or failed: nothing to redo), with the next
        batch of records, without waiting. (A finished turn deleted its record with the session save.)"""
        self.inbox.drop({"channel": channel, "update_key": update_key[:128]})

    async def inbox_done(self, channel: str, update_key: str) -> None:
        """Forget a recorded update now."""
        async with self.engine.begin() as conn:
            await conn.execute(self.sql.drop_inbox, {"channel": channel, "update_key": update_key[:128]})

    async def inbox_expire(self, channel: str, update_key: str) -> None:
        """Give a recorded update back (this worker cannot take it now): any worker's next round does."""
        async with self.sessions.begin() as db:
            await db.execute(update(InboxUpdate).where(
                InboxUpdate.channel == channel, InboxUpdate.update_key == update_key[:128],
                InboxUpdate.owner == self.worker_id).values(lease_until=self.now() - dt.timedelta(seconds=1)))

    async def inbox_renew(self) -> int:
        """Extend the lease of every update this worker holds (it is alive)."""
        now = self.now()
        async with self.sessions.begin() as db:
            res = await db.execute(update(InboxUpdate).where(InboxUpdate.owner == self.worker_id).values(
                lease_until=now + dt.timedelta(seconds=INBOX_LEASE)))
        return res.rowcount

    async def inbox_take_over(self, limit: int = 100) -> list[InboxUpdate]:
        """Take the recorded updates whose worker died (lease expired), oldest first, to handle them again.

        The turn of such an update never finished (finishing deletes the row with the session save), so
        its update id is forgotten (the dispatcher would skip it as a duplicate) and the dead worker's
        lease on the conversation is released, in the same transaction as taking the row.
        """
        now = self.now()
        async with self.sessions.begin() as db:
            rows = list((await db.execute(select(InboxUpdate).where(InboxUpdate.lease_until < now)
                                          .order_by(InboxUpdate.created_at).limit(limit))).scalars())
            taken = []
            for row in rows:
                res = await db.execute(update(InboxUpdate).where(
                    InboxUpdate.channel == row.channel, InboxUpdate.update_key == row.update_key,
                    InboxUpdate.owner == row.owner, InboxUpdate.lease_until < now).values(
                    owner=self.worker_id, lease_until=now + dt.timedelta(seconds=INBOX_LEASE)))
                if res.rowcount != 1:
                    continue  # another worker took it
                await db.execute(delete(ProcessedUpdate).where(ProcessedUpdate.channel == row.channel,
                                                              ProcessedUpdate.update_key == row.update_key))
                await db.execute(delete(ConversationLock).where(ConversationLock.key == row.conversation,
                                                               ConversationLock.owner == row.owner))
                taken.append(row)
            return taken

    def owner_is_dead(self, owner: str) -> bool:
        """True if ``owner`` (a worker id "host:pid:nonce") is a process of this host that no longer runs.

        Owners on other hosts, or in another format, are never judged dead here (their leases expire).
        """
        host, _, rest = owner.partition(":")
        pid_text, _, _ = rest.partition(":")
        if host != HOST or not pid_text.isdigit() or owner == self.worker_id:
            return False
        pid = int(pid_text)
        if pid == os.getpid():
            return True  # our own pid, another nonce: an earlier process that had our pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # alive, owned by another user
            return False
        return False

    async def release_dead_local(self) -> dict[str, int]:
        """At start-up: release what processes of this host that died (kill -9, crash) still hold.

        Their conversation leases are dropped, their recorded webhook updates become due for another
        worker at once, and their outbox claims expire (a row they were sending comes back "in doubt").
        """
        now = self.now()
        past = now - dt.timedelta(seconds=1)
        async with self.sessions.begin() as db:
            owners = set((await db.execute(select(ConversationLock.owner).distinct())).scalars())
            owners |= set((await db.execute(select(InboxUpdate.owner).distinct())).scalars())
            owners |= set((await db.execute(select(Outbox.claimed_by).where(Outbox.claimed_by.is_not(None))
                                            .distinct())).scalars())
            dead = sorted(o for o in owners if o and self.owner_is_dead(o))
            if not dead:
                return {"locks": 0, "inbox": 0, "outbox": 0}
            locks = await db.execute(delete(ConversationLock).where(ConversationLock.owner.in_(dead)))
            inbox = await db.execute(update(InboxUpdate).where(InboxUpdate.owner.in_(dead)).values(lease_until=past))
            outbox = await db.execute(update(Outbox).where(Outbox.claimed_by.in_(dead), Outbox.status != "sent")
                                      .values(claimed_until=past))
            return {"locks": locks.rowcount, "inbox": inbox.rowcount, "outbox": outbox.rowcount}

    # --- per-conversation lock, for work outside a turn ----------------------------

    @contextlib.asynccontextmanager
    async def conversation_lock(self, key: str, ttl: float = 30.0, wait: float = 20.0) -> AsyncIterator[None]:
        """Hold the database lease on ``key``; an expired lease (dead worker) is taken over."""
        async with self.local_lock(key):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            delay = 0.005
            while True:
                async with self.engine.begin() as conn:
                    if await self._take_lock(conn, key, ttl):
                        break
                if loop.time() > deadline:
                    raise LockTimeout(key)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
            try:
                yield
            finally:
                async with self.engine.begin() as conn:
                    await self._drop_lock(conn, key)

    @contextlib.asynccontextmanager
    async def local_lock(self, key: str) -> AsyncIterator[None]:
        """Serialize work on ``key`` inside this process (FIFO), before contending in the database."""
        entry = self._local_locks.get(key)
        if entry is None:
            entry = self._local_locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1  # users of this lock, waiting or holding: it is forgotten when none is left
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0 and self._local_locks.get(key) is entry:
                del self._local_locks[key]

    def busy_here(self, key: str) -> bool:
        """True if this process is already working on ``key``."""
        return key in self._local_locks

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
                text: str, buttons: list[list[dict[str, str]]] | None = None, hold: float = 0.0,
                media: list[dict[str, str]] | None = None) -> None:
        """Add a message to the outbox inside the caller's transaction (ignored if already queued).

        ``hold``: seconds before the outbox worker may send it; meanwhile the channel that answers
        the citizen sends it directly (``claim_direct``), and the outbox only delivers it if that
        did not happen (the process died, the platform failed).
        ``media``: photos/documents (``Attachment.to_dict()``) sent before the text, each a part of
        the row (an album counts as one part on Telegram), so a retry sends only what is missing.
        """
        now = self.now()
        payload: dict[str, Any] = {"text": text, "buttons": buttons or []}
        if media:
            payload["media"] = list(media)
        db.add(Outbox(dedup_key=dedup_key[:160], channel=channel, chat_id=chat_id,
                      payload=payload, kind=outbox_kind(media or []), status="pending",
                      next_attempt_at=now + dt.timedelta(seconds=hold), created_at=now))

    async def claim_direct(self, dedup_key: str, lease: float = 60.0) -> int | None:
        """Claim a held outbox message for sending it directly now (status ``sending``, committed).

        Returns its id, or None if the outbox already took it (sent, or in flight elsewhere): then
        the direct send must not happen. Afterwards ``mark_sent`` or ``mark_retry`` as for the outbox.
        """
        now = self.now()
        until = now + dt.timedelta(seconds=lease)
        async with self.sessions.begin() as db:
            item_id = (await db.execute(select(Outbox.id).where(Outbox.dedup_key == dedup_key[:160]))).scalar()
            if item_id is None:
                return None
            res = await db.execute(
                update(Outbox).where(Outbox.id == item_id, Outbox.status == "pending",
                                     or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now))
                .values(status="sending", claimed_by=self.worker_id, claimed_until=until))
            return item_id if res.rowcount == 1 else None

    async def enqueue_once(self, *, dedup_key: str, channel: str, chat_id: str, text: str,
                           buttons: list[list[dict[str, str]]] | None = None,
                           media: list[dict[str, str]] | None = None) -> bool:
        """Queue a message in its own transaction; False if that dedup key was queued before."""
        try:
            async with self.sessions.begin() as db:
                self.enqueue(db, dedup_key=dedup_key, channel=channel, chat_id=chat_id, text=text, buttons=buttons,
                             media=media)
            return True
        except IntegrityError:
            return False

    async def claim_outbox(self, limit: int = 20, lease: float = 60.0,
                           exclude_chats: list[str] | tuple[str, ...] = (),
                           only: tuple[str, str] | None = None,
                           skip_channels: tuple[str, ...] = ()) -> list[OutboxItem]:
        """Claim due messages for this worker; a claim that outlives its lease is taken over.

        A row left in ``sending`` by a worker that died mid-send comes back with ``in_doubt=True``.
        ``exclude_chats``: chats whose lane in this worker already has enough in hand.
        ``only``: (channel, chat id) of the one chat to claim for (the terminal delivers its own user's rows).
        ``skip_channels``: channels whose rows this worker leaves alone (the terminal's, shown by the terminal).
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
        if exclude_chats:
            due = due.where(Outbox.chat_id.not_in(list(exclude_chats)))
        if only is not None:
            due = due.where(Outbox.channel == only[0], Outbox.chat_id == only[1])
        if skip_channels:
            due = due.where(Outbox.channel.not_in(list(skip_channels)))
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
                                                          Outbox.claimed_until == until)
                                     .order_by(Outbox.id))).scalars()  # each chat's lane sends in order
            return [OutboxItem(r.id, r.channel, r.chat_id, dict(r.payload), r.attempts, r.status == "sending")
                    for r in rows]

    async def renew_claims(self, ids: list[int], lease: float = 60.0) -> int:
        """Extend this worker's claims on rows it still has in hand (waiting in a lane, or being sent)."""
        if not ids:
            return 0
        async with self.sessions.begin() as db:
            res = await db.execute(update(Outbox).where(
                Outbox.id.in_(ids), Outbox.claimed_by == self.worker_id, Outbox.status.in_(("pending", "sending")))
                .values(claimed_until=self.now() + dt.timedelta(seconds=lease)))
            return res.rowcount

    async def mark_parts(self, item_id: int, payload: dict[str, Any]) -> None:
        """Record progress of a message sent in parts (``payload["parts_sent"]``)."""
        async with self.sessions.begin() as db:
            await db.execute(update(Outbox).where(Outbox.id == item_id, Outbox.claimed_by == self.worker_id,
                                                  Outbox.status == "sending").values(payload=payload))

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

    async def mark_in_doubt(self, item_id: int, error: str, delay: float) -> None:
        """The platform did not answer in time and may have accepted it: release the claim but stay
        ``sending``, so that the next attempt is made "in doubt" (confirmed, or resent with the note)."""
        async with self.sessions.begin() as db:
            await db.execute(update(Outbox).where(Outbox.id == item_id, Outbox.status != "sent").values(
                status="sending", last_error=error[:500], next_attempt_at=self.now() + dt.timedelta(seconds=delay),
                claimed_by=None, claimed_until=None, attempts=Outbox.attempts + 1))

    async def requeue_failed(self, ids: list[int] | None = None) -> int:
        """Send ``failed`` outbox rows again (all, or those ids) with a fresh count of attempts."""
        q = update(Outbox).where(Outbox.status == "failed")
        if ids:
            q = q.where(Outbox.id.in_(ids))
        async with self.sessions.begin() as db:
            res = await db.execute(q.values(status="pending", attempts=0, next_attempt_at=self.now(),
                                            claimed_by=None, claimed_until=None))
            return res.rowcount

    async def outbox_delivered(self, channel: str, chat_id: str, after: int, limit: int = 50,
                               skip_message_id: str = "") -> list[tuple[int, dict[str, Any]]]:
        """(id, payload) of the messages sent to one chat after outbox row ``after``, oldest first; for
        channels whose messages are read back from the outbox (the web chat shows them when the page
        reconnects). Rows whose platform message id is ``skip_message_id`` (delivered another way) are left out."""
        q = (select(Outbox.id, Outbox.payload).where(Outbox.channel == channel, Outbox.chat_id == chat_id,
                                                     Outbox.id > after, Outbox.status == "sent")
             .order_by(Outbox.id).limit(limit))
        if skip_message_id:
            q = q.where(or_(Outbox.platform_message_id.is_(None), Outbox.platform_message_id != skip_message_id))
        async with self.sessions() as db:
            return [(row.id, dict(row.payload)) for row in await db.execute(q)]

    async def outbox_last_id(self) -> int:
        """The newest outbox row's id (0 when empty)."""
        async with self.sessions() as db:
            return int((await db.execute(select(func.max(Outbox.id)))).scalar() or 0)

    async def outbox_rows(self) -> list[Outbox]:
        async with self.sessions() as db:
            return list((await db.execute(select(Outbox).order_by(Outbox.id))).scalars())
