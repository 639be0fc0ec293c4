"""A conversation turn in the database: admit the update, take the user's lock, load, save, release.

Every update needs the same few statements at its start and at its end. ``TurnBatcher`` runs the
starts and ends of all turns that arrive while the previous batch is in the database together, in
one transaction of a few multi-row statements: under load a batch holds many turns, so the cost
per update falls, and with one update at a time it is the plain sequence. If a batch fails, each of
its turns is retried alone, so one bad turn fails alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)

MAX_BATCH = 64


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
    # The stored session's version when this turn loaded it: the step an action belongs to. A turn whose
    # session was never saved (a crash after its action committed) is retried with the same version, so
    # the action's idempotency key (handlers.idempotency.action_key) finds the first effect.
    version: int = 0
    questions: list[dict[str, Any]] = field(default_factory=list, repr=False)  # question-log rows saved with it

    def log_question(self, *, text: str, normalized: str, intent: str, decision: str,
                     best_id: str | None, score: float | None) -> None:
        """Queue a question-log row; it is written in the same transaction as the session."""
        self.questions.append(dict(user_id=self.user_id, channel=self.channel, text=text[:1000],
                                   normalized=normalized[:1000], intent=intent, decision=decision,
                                   best_id=best_id, score=score))

    def note_answer(self, *, best_id: str, decision: str, score: float | None) -> None:
        """What finally answered the question queued last in this turn (the catalogue tier, ``tthc:CODE``)."""
        if self.questions:
            self.questions[-1].update(intent="procedure", best_id=best_id, decision=decision, score=score)


@dataclass
class Turn:
    """One update's hold on a conversation, from ``Store.start_turn`` to ``finish_turn``/``abandon_turn``.

    ``session`` is set once this worker holds the conversation lock and no earlier update of the
    same user is waiting; until then the dispatcher calls ``start_turn`` again.
    """

    conversation: str
    seq: int | None = None
    pending_id: int | None = None
    admitted: bool = False  # the update id is recorded
    duplicate: bool = False
    session: SessionState | None = None
    update: tuple[str, str] | None = None  # (channel, update key) once admitted: its inbox row goes at finish

    def snapshot(self) -> tuple[Any, ...]:
        return (self.pending_id, self.admitted, self.duplicate, self.session, self.update)

    def restore(self, snap: tuple[Any, ...]) -> None:
        self.pending_id, self.admitted, self.duplicate, self.session, self.update = snap


@dataclass(frozen=True)
class TurnRequest:
    """Who the update is from, for ``Store.start_turn``."""

    channel: str
    update_key: str
    external_id: str
    chat_id: str
    display_name: str = ""
    ttl: float = 30.0  # seconds the lease lasts if this worker dies holding it
    order_wait: float | None = 5.0  # let an earlier update of the user younger than this go first; None: don't


@dataclass
class _Job:
    turn: Turn
    request: TurnRequest | None  # None for a finish
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class TurnBatcher:
    """Collects turn starts and finishes and runs them in batches (one at a time per process)."""

    def __init__(self, store: "Store") -> None:
        self.store = store
        self._starts: list[_Job] = []
        self._finishes: list[_Job] = []
        self._runner: asyncio.Task[None] | None = None
        self._cleanups: set[asyncio.Future[None]] = set()
        self.batches = 0  # statistics, for tests and benchmarks
        self.turns = 0

    async def start(self, turn: Turn, request: TurnRequest) -> None:
        await self._submit(self._starts, _Job(turn, request))

    async def finish(self, turn: Turn) -> None:
        await self._submit(self._finishes, _Job(turn, None))

    async def _submit(self, queue: list[_Job], job: _Job) -> None:
        queue.append(job)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        try:
            await asyncio.shield(job.done)  # a cancelled caller must not cancel the batch of others
        except asyncio.CancelledError:
            if job.request is not None:  # the start still happens: give back what it takes
                job.done.add_done_callback(lambda _: self._release_later(job.turn))
            raise

    def _release_later(self, turn: Turn) -> None:
        if turn.session is not None or turn.pending_id is not None:
            task = asyncio.ensure_future(self.store.abandon_turn(turn))
            self._cleanups.add(task)
            task.add_done_callback(self._cleanups.discard)

    async def _run(self) -> None:
        while self._starts or self._finishes:
            finishes, self._finishes = self._finishes[:MAX_BATCH], self._finishes[MAX_BATCH:]
            starts, self._starts = self._starts[:MAX_BATCH], self._starts[MAX_BATCH:]
            jobs = finishes + starts
            snaps = [j.turn.snapshot() for j in jobs]
            try:
                async with self.store.engine.begin() as conn:
                    if finishes:
                        await finish_many(self.store, conn, [j.turn for j in finishes])
                    if starts:
                        await start_many(self.store, conn, [(j.turn, j.request) for j in starts])  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - retry each turn on its own, so only a bad one fails
                log.warning("a batch of %d turns failed; retrying them one by one", len(jobs), exc_info=True)
                for job, snap in zip(jobs, snaps):
                    job.turn.restore(snap)
                await self._one_by_one(finishes, starts)
                continue
            for job in finishes:
                _after_finish(job.turn)
            self.batches += 1
            self.turns += len(jobs)
            for job in jobs:
                if not job.done.done():
                    job.done.set_result(None)

    async def _one_by_one(self, finishes: list[_Job], starts: list[_Job]) -> None:
        for job in finishes + starts:
            try:
                if job.request is None:
                    await self.store.finish_one(job.turn)
                else:
                    await self.store.start_one(job.turn, job.request)
            except Exception as exc:  # noqa: BLE001 - the caller gets its own error
                if not job.done.done():
                    job.done.set_exception(exc)
            else:
                if not job.done.done():
                    job.done.set_result(None)


def _after_finish(turn: Turn) -> None:
    if turn.session is not None:
        turn.session.questions.clear()
    turn.pending_id, turn.session = None, None


async def start_many(store: "Store", conn: AsyncConnection, items: list[tuple[Turn, TurnRequest]]) -> None:
    """Admit, take the lease and load the session of many turns at once (see ``Store.start_turn``
    for what each turn ends up with).

    Rows are written in key order, so that two workers' batches lock them in the same order and
    cannot deadlock each other on PostgreSQL.
    """
    sql, now = store.sql, store.now()
    # 1. record the update ids; a redelivery (also twice in this batch) is a duplicate
    fresh: dict[tuple[str, str], Turn] = {}
    for turn, req in items:
        if req.update_key:
            turn.update = (req.channel, req.update_key[:128])
        if turn.admitted or not req.update_key:
            turn.admitted = True
            continue
        key = (req.channel, req.update_key[:128])
        if key in fresh:
            turn.duplicate = True
        else:
            fresh[key] = turn
    if fresh:
        recorded = {(c, k) for c, k in await conn.execute(sql.record_updates, [
            {"channel": channel, "update_key": key, "created_at": now} for channel, key in sorted(fresh)])}
        for key, turn in fresh.items():
            if key in recorded:
                turn.admitted = True
            else:
                turn.duplicate = True
    live = [(t, r) for t, r in items if not t.duplicate]
    # 2. take the leases (one per conversation in a batch; a second one waits for the next round)
    wanted: dict[str, tuple[Turn, TurnRequest]] = {}
    for turn, req in live:
        wanted.setdefault(turn.conversation, (turn, req))
    taken: set[str] = set()
    if wanted:
        taken = {k for (k,) in await conn.execute(sql.take_locks, [
            {"key": conversation, "owner": store.worker_id, "expires_at": now + dt.timedelta(seconds=req.ttl),
             "now": now} for conversation, (_, req) in sorted(wanted.items(), key=lambda kv: kv[0])])}
    holding = [(t, r) for t, r in live if t.conversation in taken and wanted[t.conversation][0] is t]
    # 3. an earlier update of the same user still waiting (on another worker) goes first
    checks = [(t, r) for t, r in holding if t.seq is not None and r.order_wait is not None]
    if checks:
        oldest = now - dt.timedelta(seconds=max(r.order_wait or 0.0 for _, r in checks))
        rows = (await conn.execute(sql.pending_of, {"conversations": [t.conversation for t, _ in checks],
                                                    "oldest": oldest})).all()
        yielding: set[int] = set()
        for turn, req in checks:
            limit = now - dt.timedelta(seconds=req.order_wait or 0.0)
            if any(conv == turn.conversation and pid != turn.pending_id and seq < (turn.seq or 0) and at >= limit
                   for pid, conv, seq, at in rows):
                yielding.add(id(turn))
        if yielding:
            await conn.execute(sql.drop_locks, {"owner": store.worker_id, "keys": [
                t.conversation for t, _ in holding if id(t) in yielding]})
            holding = [(t, r) for t, r in holding if id(t) not in yielding]
    # 4. those that wait are announced, so that the worker holding the user sees them
    held = {id(t) for t, _ in holding}
    waiting = [t for t, _ in live if id(t) not in held and t.seq is not None and t.pending_id is None]
    if waiting:
        ids: dict[tuple[str, int], list[int]] = {}
        for pid, conversation, seq in await conn.execute(sql.add_pendings, [
                {"conversation": t.conversation, "seq": t.seq, "created_at": now} for t in waiting]):
            ids.setdefault((conversation, seq), []).append(pid)
        for turn in waiting:  # each its own row (the one with its platform order): an earlier update is then
            turn.pending_id = ids[(turn.conversation, turn.seq)].pop()  # never taken for the update's own row
    # 5. load the users (created on first contact) and their sessions
    if holding:
        await load_sessions(store, conn, holding, now)


async def load_sessions(store: "Store", conn: AsyncConnection, holding: list[tuple[Turn, TurnRequest]],
                     now: dt.datetime) -> None:
    sql = store.sql
    by_channel: dict[str, list[tuple[Turn, TurnRequest]]] = {}
    for turn, req in holding:
        by_channel.setdefault(req.channel, []).append((turn, req))
    for channel, group in by_channel.items():
        wanted = [r.external_id for _, r in group]
        rows = {r.external_id: r for r in await conn.execute(sql.find_users, {"channel": channel,
                                                                            "external_ids": wanted})}
        missing = [(t, r) for t, r in group if r.external_id not in rows]
        if missing:
            await conn.execute(sql.add_user, [
                {"channel": channel, "external_id": r.external_id, "chat_id": r.chat_id,
                 "display_name": r.display_name[:128], "created_at": now, "last_seen_at": now}
                for _, r in sorted(missing, key=lambda tr: tr[1].external_id)])
            rows.update({r.external_id: r for r in await conn.execute(sql.find_users, {
                "channel": channel, "external_ids": [r.external_id for _, r in missing]})})
        changes = []
        for turn, req in group:
            _, user_id, chat_id, name, last_seen, state, data, version = rows[req.external_id]
            new_chat = req.chat_id or chat_id
            new_name = req.display_name[:128] or name
            if new_chat != chat_id or new_name != name or last_seen is None or now - last_seen > store.seen_resolution:
                changes.append({"user_id": user_id, "chat_id": new_chat, "display_name": new_name,
                                "last_seen_at": now})
            turn.session = SessionState(user_id, channel, req.external_id, new_chat, new_name, state or "",
                                        dict(data or {}), int(version or 0))
        if changes:
            await conn.execute(sql.update_user, sorted(changes, key=lambda c: c["user_id"]))


async def finish_many(store: "Store", conn: AsyncConnection, turns: list[Turn]) -> None:
    """Save the sessions and question logs of many turns, drop their pending rows and leases."""
    sql = store.sql
    await save_sessions(store, conn, [t.session for t in turns if t.session is not None], store.now())
    pending = [t.pending_id for t in turns if t.pending_id is not None]
    if pending:
        await conn.execute(sql.drop_pendings, {"ids": pending})
    held = [t.conversation for t in turns if t.session is not None]
    if held:
        await conn.execute(sql.drop_locks, {"owner": store.worker_id, "keys": held})
    done = sorted({t.update for t in turns if t.update is not None and t.session is not None})
    if done:  # the webhook's record of the update goes with the session save: finished means handled
        await conn.execute(sql.drop_inbox, [{"channel": c, "update_key": k} for c, k in done])


async def save_sessions(store: "Store", conn: AsyncConnection, sessions: list[SessionState], now: dt.datetime) -> None:
    """Upsert the sessions (in user order, see ``start_many``) and insert their queued question-log rows."""
    if not sessions:
        return
    sessions = sorted(sessions, key=lambda x: x.user_id)
    await conn.execute(store.sql.save_session, [
        {"user_id": s.user_id, "state": s.state, "data": dict(s.data), "version": 1, "updated_at": now}
        for s in sessions])
    logs = [{**q, "created_at": now} for s in sessions for q in s.questions]
    if logs:
        await conn.execute(store.sql.log_questions, logs)
