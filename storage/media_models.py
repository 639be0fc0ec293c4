"""Photos, documents and a location a citizen attached to a complaint, in the order they were sent.

A row keeps what a channel needs to send the file again (``ref`` read by ``source``: a Telegram
file_id or an http(s) URL, never cut) and its caption; a location keeps its coordinates and the
commune estimated from them. The complaint's card lists them and the outbox sends the photos
themselves to the agency's chat right with the card.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class ComplaintMedia(Base):
    __tablename__ = "complaint_media"
    __table_args__ = (UniqueConstraint("complaint_id", "position", name="uq_complaint_media_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in the order the citizen sent them
    kind: Mapped[str] = mapped_column(String(12))  # photo | document | location | address (as typed)
    ref: Mapped[str] = mapped_column(Text, default="")  # Telegram file_id or the full URL
    source: Mapped[str] = mapped_column(String(12), default="")  # telegram | url ("" for a location)
    caption: Mapped[str] = mapped_column(Text, default="")
    name: Mapped[str] = mapped_column(String(160), default="")  # a document's file name
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
