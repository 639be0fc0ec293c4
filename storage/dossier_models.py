"""Tables of the dossier (hồ sơ) status feature.

A dossier is a citizen's submitted application as the one-stop information system
(Hệ thống thông tin giải quyết TTHC) knows it. Its current status lives on the row;
every status change is a ``DossierEvent`` (unique per dossier and change id, which makes
pushes and re-imports idempotent). Citizens who looked a dossier up may subscribe to
its changes; every lookup attempt is kept to slow down people who guess.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class Dossier(Base):
    """One dossier with its current status."""

    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # canonical, see normalize_dossier_code
    procedure_id: Mapped[str] = mapped_column(String(64), default="")
    procedure_name: Mapped[str] = mapped_column(String(255), default="")
    agency_key: Mapped[str] = mapped_column(String(64), index=True)
    agency_name: Mapped[str] = mapped_column(String(255), default="")
    applicant_name: Mapped[str] = mapped_column(String(128), default="")
    phone_digits: Mapped[str] = mapped_column(String(20), default="")  # digits only, possibly just the tail
    status: Mapped[str] = mapped_column(String(16))  # received|processing|supplement|result_ready|delivered|rejected
    status_note: Mapped[str] = mapped_column(Text, default="")  # what to supplement, why rejected...
    status_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    received_at: Mapped[dt.datetime] = mapped_column()
    due_at: Mapped[dt.datetime] = mapped_column(index=True)
    result_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    delivery_method: Mapped[str] = mapped_column(String(64), default="")
    citizen_alert: Mapped[str] = mapped_column(String(48), default="")  # "<stage>@<due iso>" last late notice
    agency_alert: Mapped[str] = mapped_column(String(48), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DossierEvent(Base):
    """One status change in a dossier's history."""

    __tablename__ = "dossier_events"
    __table_args__ = (UniqueConstraint("dossier_id", "change_id", name="uq_dossier_events_change"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    change_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column()  # when the change happened (as the source says)
    source: Mapped[str] = mapped_column(String(16), default="")  # import | api
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DossierSubscription(Base):
    """A citizen who wants to hear about every change of a dossier, on the channel they used."""

    __tablename__ = "dossier_subscriptions"
    __table_args__ = (UniqueConstraint("dossier_id", "user_id", name="uq_dossier_subscriptions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DossierAttempt(Base):
    """One lookup attempt (code + phone digits), right or wrong, for throttling."""

    __tablename__ = "dossier_attempts"
    __table_args__ = (Index("ix_dossier_attempts_user_at", "user_id", "at"),
                      Index("ix_dossier_attempts_code_at", "code", "at"))  # wrong tries across accounts

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[dt.datetime] = mapped_column()


__all__ = ["Dossier", "DossierAttempt", "DossierEvent", "DossierSubscription"]
