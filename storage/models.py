"""Database tables of the conversation core (users, sessions, question log, update ids, locks).

Feature modules (dossiers, complaints, guides) declare their tables in their own model
modules on the same ``Base`` so that one metadata describes the whole schema.
Only portable column types are used: the same schema runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, dt.datetime: UTCDateTime}


class User(Base):
    """A person on one channel (a citizen on Zalo and one on Telegram share nothing)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_external"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConversationSession(Base):
    """The stored state of one user's conversation: a restart continues from here."""

    __tablename__ = "sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QuestionLog(Base):
    """Every question asked, with what the matcher made of it (agencies' gap source)."""

    __tablename__ = "question_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(8), default="")
    best_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ProcessedUpdate(Base):
    """Platform update ids already handled: a redelivered update is handled once."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConversationLock(Base):
    """A lease on one conversation, so that only one worker handles a user at a time."""

    __tablename__ = "conversation_locks"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column()


class PendingUpdate(Base):
    """Updates received but not yet handled, per conversation, so workers handle them in order."""

    __tablename__ = "pending_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation: Mapped[str] = mapped_column(String(96), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InboxUpdate(Base):
    """A webhook update recorded before the platform got its ``200``, until its turn is finished.

    ``owner`` (a worker id, see ``Store.worker_id``) renews ``lease_until`` while it holds the update;
    a row whose lease ran out belongs to a worker that died, and another worker handles it again.
    """

    __tablename__ = "inbox_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    conversation: Mapped[str] = mapped_column(String(96))
    payload: Mapped[dict[str, Any]] = mapped_column()
    owner: Mapped[str] = mapped_column(String(64), index=True)
    lease_until: Mapped[dt.datetime] = mapped_column(index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Handoff(Base):
    """A citizen handed to a person (community team or one-stop desk), with a summary."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ActionKey(Base):
    """Idempotency keys of actions done (subscribe, claim, answer, rate), written in the action's transaction.

    The key names the user, the action, its target and the session step (``SessionState.version``), so a
    repeated or redelivered press of the same step finds the first effect instead of making a second.
    """

    __tablename__ = "action_keys"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), default="")  # what the action made (a subscription id...)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Outbox(Base):
    """Messages to push to a chat, written in the same transaction as what caused them.

    A worker sends pending rows and marks them sent only after the platform accepted them;
    ``dedup_key`` makes the same notification impossible to enqueue twice.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    # {"text": ..., "buttons": [[{"label","action"}]], "media": [{"kind","ref","source","caption"}],
    #  "parts_sent": n, "media_failed": [i, ...]}
    payload: Mapped[dict[str, Any]] = mapped_column()
    kind: Mapped[str] = mapped_column(String(12), default="text")  # text | photo | album | document | media
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    platform_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


__all__ = [
    "ActionKey", "Base", "BigInteger", "ConversationLock", "ConversationSession", "Handoff", "InboxUpdate", "Outbox",
    "PendingUpdate", "ProcessedUpdate", "QuestionLog", "User", "utcnow",
]
