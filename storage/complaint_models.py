"""Tables of the complaints feature (phản ánh, kiến nghị): complaints, their history, agency staff."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

OPEN_STATUSES = ("new", "received", "transferred", "reopened")
STATUSES = ("new", "received", "answered", "transferred", "closed", "reopened")


class Complaint(Base):
    """One complaint; ``code`` (PAKN-<year>-<id>) is derived from the autoincrement id."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_agency_status", "agency_key", "status"),
                      # the web console's filters and figures (migration 0006)
                      Index("ix_complaints_status_due", "status", "due_at"),
                      Index("ix_complaints_topic_created", "topic", "created_at"),
                      Index("ix_complaints_commune_created", "commune_code", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str | None] = mapped_column(String(24), unique=True, nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))  # the citizen's private chat, for notifications
    topic: Mapped[str] = mapped_column(String(16))  # procedure | dossier | official | portal | other
    procedure_id: Mapped[str] = mapped_column(String(64), default="")
    field: Mapped[str] = mapped_column(String(64), default="")
    dossier_code: Mapped[str] = mapped_column(String(64), default="")
    commune_code: Mapped[str] = mapped_column(String(8), default="")
    place: Mapped[str] = mapped_column(String(160), default="")  # "Phường Long Xuyên, An Giang"
    description: Mapped[str] = mapped_column(Text)
    photo_ref: Mapped[str] = mapped_column(String(256), default="")
    contact_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str] = mapped_column(String(16), default="")
    agency_key: Mapped[str] = mapped_column(String(24), default="")
    route_rule: Mapped[str] = mapped_column(String(160), default="")
    status: Mapped[str] = mapped_column(String(12), default="new")
    due_at: Mapped[dt.datetime] = mapped_column()
    reminded_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    overdue_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)  # compare-and-set guard for concurrent staff
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # "<user id>:<draft key>": the draft that was filed. A second "Gửi" of the same draft (after a crash
    # between filing and saving the session) finds this complaint instead of filing it again.
    idem_key: Mapped[str | None] = mapped_column(String(48), unique=True, nullable=True)


class ComplaintEvent(Base):
    """Everything that happened to a complaint, in order (also refused staff attempts)."""

    __tablename__ = "complaint_events"
    __table_args__ = (Index("ix_complaint_events_kind_complaint", "kind", "complaint_id"),)  # console figures

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # created|received|answered|transferred|closed|reopened|rated|refused|reminded|overdue
    actor: Mapped[str] = mapped_column(String(80), default="")  # "citizen", "system" or "telegram:123"
    agency_key: Mapped[str] = mapped_column(String(24), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # answer text, transfer reason, routing rule
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AgencyMember(Base):
    """A staff member registered for an agency with an invite code (besides the config's members)."""

    __tablename__ = "agency_members"
    __table_args__ = (UniqueConstraint("agency_key", "actor", name="uq_agency_members"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_key: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(80), index=True)  # "telegram:12345"
    invited_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AgencyInvite(Base):
    """A one-time code that registers whoever uses it as staff of an agency."""

    __tablename__ = "agency_invites"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    agency_key: Mapped[str] = mapped_column(String(24))
    created_by: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
