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

from storage.models import (ConversationLock, ConversationSession, InboxUpdate, PendingUpdate, ProcessedUpdate,
                            QuestionLog, User)

_users = User.__table__
_sessions = ConversationSession.__table__
_locks = ConversationLock.__table__
_pending = PendingUpdate.__table__
_processed = ProcessedUpdate.__table__
_inbox = InboxUpdate.__table__


class TurnStatements:
    """Prepared statements for ``Store``'s turn, users and sessions."""

    def __init__(self, is_postgres: bool) -> None:
        dialect_insert: Any = postgresql.insert if is_postgres else sqlite.insert
        self.is_postgres = is_postgres

        # update ids: parameters channel, update_key, created_at
        self.record_update = dialect_insert(_processed).on_conflict_do_nothing()

        # webhook updates recorded before the 200 (bot/server.py): parameters channel, update_key
        self.drop_inbox = delete(_inbox).where(_inbox.c.channel == bindparam("channel"),
                                               _inbox.c.update_key == bindparam("update_key"))
        self.record_inbox = dialect_insert(_inbox).on_conflict_do_nothing()
        self.record_inboxes = self.record_inbox.returning(_inbox.c.channel, _inbox.c.update_key)

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
                   _sessions.c.state, _sessions.c.data, _sessions.c.version)
            .select_from(_users.outerjoin(_sessions, _sessions.c.user_id == _users.c.id))
            .where(_users.c.channel == bindparam("channel"), _users.c.external_id == bindparam("external_id"))
        )
        self.find_users = (
            select(_users.c.external_id, _users.c.id, _users.c.chat_id, _users.c.display_name, _users.c.last_seen_at,
                   _sessions.c.state, _sessions.c.data, _sessions.c.version)
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

        # The same for a batch of turns (storage/turns.py), executed with one parameter set per row:
        # SQLAlchemy sends such an "executemany" with RETURNING as multi-row statements.
        self.record_updates = self.record_update.returning(_processed.c.channel, _processed.c.update_key)
        self.take_locks = self.take_lock.returning(_locks.c.key)
        self.add_pendings = self.add_pending.returning(_pending.c.id, _pending.c.conversation, _pending.c.seq)
