"""The SQL of one conversation turn, built once per engine and reused.

Every update runs these statements, so they are built once with bound parameters: SQLAlchemy
then reuses their compiled form instead of rebuilding and re-hashing a new statement each time
(building ``INSERT … ON CONFLICT`` alone cost more than running it).
Both dialects used here (SQLite ≥ 3.24 and PostgreSQL) support ``ON CONFLICT``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.models import ConversationLock, ConversationSession, PendingUpdate, ProcessedUpdate, QuestionLog, User

_users = User.__table__
_sessions = ConversationSession.__table__
_locks = ConversationLock.__table__
_pending = PendingUpdate.__table__
_processed = ProcessedUpdate.__table__


class TurnStatements:
    """Prepared statements for ``Store``'s turn, users and sessions."""

    def __init__(self, is_postgres: bool) -> None:
        dialect_insert: Any = postgresql.insert if is_postgres else sqlite.insert
        self.is_postgres = is_postgres
        self._dialect_insert = dialect_insert
        self._many: dict[tuple[str, int], Any] = {}  # batch statements by (kind, rows)

        # update ids: parameters channel, update_key, created_at
        self.record_update = dialect_insert(_processed).on_conflict_do_nothing()

        # pending rows: parameters conversation, seq, created_at
        self.add_pending = insert(_pending)
        self.earlier_pending = (
            select(_pending.c.id)
            .where(_pending.c.conversation == bindparam("conversation"), _pending.c.id != bindparam("pending_id"),
                   _pending.c.seq < bindparam("seq"), _pending.c.created_at >= bindparam("oldest"))
            .limit(1)
        )
        self.drop_pending = delete(_pending).where(_pending.c.id == bindparam("pending_id"))

        # the lease: taken if free or expired; parameters key, owner, expires_at, now
        take = dialect_insert(_locks)
        self.take_lock = take.on_conflict_do_update(
            index_elements=[_locks.c.key],
            set_={"owner": take.excluded.owner, "expires_at": take.excluded.expires_at},
            where=_locks.c.expires_at < bindparam("now", type_=_locks.c.expires_at.type),
        )
        self.drop_lock = delete(_locks).where(_locks.c.key == bindparam("key"), _locks.c.owner == bindparam("owner"))
        self.drop_locks = delete(_locks).where(_locks.c.key.in_(bindparam("keys", expanding=True)),
                                               _locks.c.owner == bindparam("owner"))
        self.drop_pendings = delete(_pending).where(_pending.c.id.in_(bindparam("ids", expanding=True)))
        self.pending_of = (
            select(_pending.c.id, _pending.c.conversation, _pending.c.seq, _pending.c.created_at)
            .where(_pending.c.conversation.in_(bindparam("conversations", expanding=True)),
                   _pending.c.created_at >= bindparam("oldest"))
        )

        # users and sessions
        self.find_user = (
            select(_users.c.id, _users.c.chat_id, _users.c.display_name, _users.c.last_seen_at,
                   _sessions.c.state, _sessions.c.data)
            .select_from(_users.outerjoin(_sessions, _sessions.c.user_id == _users.c.id))
            .where(_users.c.channel == bindparam("channel"), _users.c.external_id == bindparam("external_id"))
        )
        self.find_users = (
            select(_users.c.external_id, _users.c.id, _users.c.chat_id, _users.c.display_name, _users.c.last_seen_at,
                   _sessions.c.state, _sessions.c.data)
            .select_from(_users.outerjoin(_sessions, _sessions.c.user_id == _users.c.id))
            .where(_users.c.channel == bindparam("channel"),
                   _users.c.external_id.in_(bindparam("external_ids", expanding=True)))
        )
        self.add_user = dialect_insert(_users).on_conflict_do_nothing()
        self.update_user = update(_users).where(_users.c.id == bindparam("user_id"))
        save = dialect_insert(_sessions)
        self.save_session = save.on_conflict_do_update(
            index_elements=[_sessions.c.user_id],
            set_={"state": save.excluded.state, "data": save.excluded.data, "updated_at": save.excluded.updated_at,
                  "version": _sessions.c.version + 1},
        )
        self.log_questions = insert(QuestionLog.__table__)

    # --- the same for a batch of turns (storage/turns.py): one statement for n rows ---------------

    def record_updates(self, n: int) -> Any:
        """Record n update ids (c0/k0 … channel/key, ``now``); RETURNING those that were new."""
        return self._cached(("record", n), lambda: self._insert_rows(
            _processed, n, lambda i: {"channel": bindparam(f"c{i}"), "update_key": bindparam(f"k{i}"),
                                      "created_at": bindparam("now", type_=_processed.c.created_at.type)},
        ).on_conflict_do_nothing().returning(_processed.c.channel, _processed.c.update_key))

    def take_locks(self, n: int) -> Any:
        """Take n leases (k0 … keys; ``owner``, ``expires_at``, ``now``); RETURNING the keys taken."""
        def build() -> Any:
            stmt = self._insert_rows(_locks, n, lambda i: {
                "key": bindparam(f"k{i}"), "owner": bindparam("owner"),
                "expires_at": bindparam("expires_at", type_=_locks.c.expires_at.type)})
            return stmt.on_conflict_do_update(
                index_elements=[_locks.c.key],
                set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
                where=_locks.c.expires_at < bindparam("now", type_=_locks.c.expires_at.type),
            ).returning(_locks.c.key)
        return self._cached(("locks", n), build)

    def add_pendings(self, n: int) -> Any:
        """Add n pending rows (v0/s0 … conversation/seq, ``now``); RETURNING id and conversation."""
        return self._cached(("pending", n), lambda: self._insert_rows(
            _pending, n, lambda i: {"conversation": bindparam(f"v{i}"), "seq": bindparam(f"s{i}"),
                                    "created_at": bindparam("now", type_=_pending.c.created_at.type)},
        ).returning(_pending.c.id, _pending.c.conversation))

    def _insert_rows(self, table: Any, n: int, row: Any) -> Any:
        return self._dialect_insert(table).values([row(i) for i in range(n)])

    def _cached(self, key: tuple[str, int], build: Any) -> Any:
        stmt = self._many.get(key)
        if stmt is None:
            stmt = self._many[key] = build()
        return stmt
