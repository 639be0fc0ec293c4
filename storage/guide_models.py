"""Tables of the guided online submission: progress per (user, procedure), helpers, invites, outcomes.

Helper sessions keep only what the weekly statistics need (procedure, commune, outcome,
ISO week, team): no name, phone number or any other detail of the resident.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class GuideProgress(Base):
    """Where one user is in the guide of one procedure; several can be open at once."""

    __tablename__ = "guide_progress"
    __table_args__ = (UniqueConstraint("user_id", "entry_id", name="uq_guide_progress_user_entry"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[str] = mapped_column(String(64))
    pos: Mapped[int] = mapped_column(Integer, default=0)  # index of the current screen
    # {"answers": {"0": "y"}, "ticked": [1, 3], "blocked": 0|None}
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|blocked|done|dropped
    helper_session_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Helper(Base):
    """A community digital technology team member registered through an invite code."""

    __tablename__ = "guide_helpers"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_guide_helpers_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    team: Mapped[str] = mapped_column(String(128))
    commune: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InviteCode(Base):
    """A one-time code an administrator issues so that a person can register as a helper."""

    __tablename__ = "guide_invite_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    team: Mapped[str] = mapped_column(String(128))
    commune: Mapped[str] = mapped_column(String(128), default="")
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_by: Mapped[str | None] = mapped_column(String(96), nullable=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class HelperSession(Base):
    """One resident helped by a helper: procedure, commune and outcome only."""

    __tablename__ = "guide_helper_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    helper: Mapped[str] = mapped_column(String(96), index=True)  # "channel:user_id" of the helper
    team: Mapped[str] = mapped_column(String(128), index=True)
    entry_id: Mapped[str] = mapped_column(String(64), default="")
    commune: Mapped[str] = mapped_column(String(128), default="")
    commune_key: Mapped[str] = mapped_column(String(128), default="")  # folded, for grouping
    week: Mapped[str] = mapped_column(String(10), index=True)  # ISO week in Vietnam time, "2026-W05"
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # submitted|followup|inperson
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


__all__ = ["GuideProgress", "Helper", "HelperSession", "InviteCode"]
