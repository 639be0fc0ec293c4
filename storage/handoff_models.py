"""Tables of the live handoff to a person: tickets and the messages relayed both ways."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow

# waiting: card sent, nobody has taken it; live: a person took it and is talking;
# closed: ended by either side or for silence; expired: nobody took it in time; unreachable: nobody to send it to
OPEN_TICKET_STATUSES = ("waiting", "live")
TICKET_STATUSES = ("waiting", "live", "closed", "expired", "unreachable")


class HandoffTicket(Base):
    """A citizen asking for a person; ``code`` (HT<id>) is what staff type on Zalo."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (Index("ix_handoff_tickets_status_target", "status", "target_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16), default="")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))  # the citizen's private chat
    commune_code: Mapped[str] = mapped_column(String(8), default="")
    commune: Mapped[str] = mapped_column(String(160), default="")
    target_key: Mapped[str] = mapped_column(String(64), default="")  # "team:<slug>" | "desk:<agency key>" | ""
    target_name: Mapped[str] = mapped_column(String(160), default="")
    reason: Mapped[str] = mapped_column(String(64), default="")  # menu | asked | guide:<id> | not_found
    summary: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(16), default="")  # only if the citizen chose to share it
    status: Mapped[str] = mapped_column(String(12), default="waiting", index=True)
    claimed_by: Mapped[str] = mapped_column(String(80), default="")  # "telegram:123"
    claimed_name: Mapped[str] = mapped_column(String(128), default="")
    staff_chat: Mapped[str] = mapped_column(String(64), default="")  # where the claimer acts ("channel:chat_id")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # passed to the fallback desk
    closed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    closed_by: Mapped[str] = mapped_column(String(80), default="")  # "citizen", "staff:...", "idle", "unclaimed"
    last_activity_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the queue position last told to the waiting citizen, and when (updates are spaced, never a flood)
    queue_told: Mapped[int | None] = mapped_column(Integer, nullable=True)
    queue_told_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class HandoffMessage(Base):
    """One message of a live chat (the transcript), in order."""

    __tablename__ = "handoff_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(80))  # "citizen" or the staff actor "telegram:123"
    text: Mapped[str] = mapped_column(Text)
    update_key: Mapped[str | None] = mapped_column(String(140), unique=True, nullable=True)  # no double relay
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
