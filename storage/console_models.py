"""Tables of the web console (docs/console.md): one-time sign-in links, sessions, the audit log.

Only SHA-256 hashes of link and session tokens are stored: a copy of the database signs nobody in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class ConsoleLink(Base):
    """A sign-in link sent to a staff member's private chat: valid 10 minutes, used once."""

    __tablename__ = "console_links"
    __table_args__ = (Index("ix_console_links_actor_created", "actor", "created_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(80))  # "telegram:12345"
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class ConsoleSession(Base):
    """A signed-in browser (the cookie holds the token; ``csrf`` guards its forms)."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class ConsoleAudit(Base):
    """Who did what in the console (sign-in, sign-out, complaint actions, outbox resends)."""

    __tablename__ = "console_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64), default="")  # "PAKN-2026-000012", "outbox:17"
    result: Mapped[str] = mapped_column(String(64), default="")  # "ok" or the reason it was refused
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
