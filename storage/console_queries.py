"""Read-only queries of the web console: filtered lists and the figures, computed in the database
where it matters (grouping by week and day), on SQLite and PostgreSQL alike.

``agencies=None`` means every agency (operators); a list limits rows to those agencies' complaints.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.complaint_models import OPEN_STATUSES, Complaint, ComplaintEvent
from storage.handoff_models import OPEN_TICKET_STATUSES, HandoffTicket
from storage.models import Outbox, QuestionLog
from storage.store import Store

VN = dt.timezone(dt.timedelta(hours=7))
PAGE = 50
EXPORT_MAX = 200_000


def vn_day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), VN).astimezone(dt.timezone.utc)


def code_id(code: str) -> int | None:
    parts = code.strip().upper().split("-")
    if len(parts) == 3 and parts[0] == "PAKN" and parts[2].isdigit() and len(parts[2]) <= 9:
        return int(parts[2])
    if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) <= 9:
        return int(parts[0])
    return None


@dataclass(frozen=True)
class ComplaintFilter:
    agencies: tuple[str, ...] | None = None  # what the viewer may see; None = all
    status: str = ""
    agency: str = ""
    commune: str = ""
    topic: str = ""
    overdue: bool = False
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    code: str = ""

    def where(self, now: dt.datetime) -> list[ColumnElement[bool]]:
        c = Complaint
        out: list[ColumnElement[bool]] = []
        if self.agencies is not None:
            out.append(c.agency_key.in_(self.agencies) if self.agencies else c.id < 0)
        if self.code:
            cid = code_id(self.code)
            out.append(c.id == cid if cid is not None else c.id < 0)
        if self.status:
            out.append(c.status == self.status)
        if self.agency:
            out.append(c.agency_key == self.agency)
        if self.commune:
            out.append(c.commune_code == self.commune)
        if self.topic:
            out.append(c.topic == self.topic)
        if self.overdue:
            out.append(and_(c.status.in_(OPEN_STATUSES), c.due_at < now))
        if self.date_from:
            out.append(c.created_at >= vn_day_start(self.date_from))
        if self.date_to:
            out.append(c.created_at < vn_day_start(self.date_to + dt.timedelta(days=1)))
        return out


LIST_COLUMNS = (Complaint.id, Complaint.code, Complaint.status, Complaint.topic, Complaint.agency_key,
                Complaint.commune_code, Complaint.place, Complaint.created_at, Complaint.due_at, Complaint.rating)


class ConsoleQueries:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def pg(self) -> bool:
        return self.store.is_postgres

    # --- complaints -------------------------------------------------------------

    async def complaints(self, f: ComplaintFilter, now: dt.datetime, page: int = 1,
                         size: int = PAGE) -> tuple[list[Any], int]:
        """One page of complaints (newest first) and how many match in all."""
        where = f.where(now)
        q = select(*LIST_COLUMNS).where(*where).order_by(Complaint.id.desc()).limit(size).offset((page - 1) * size)
        async with self.store.sessions() as db:
            rows = list((await db.execute(q)).all())
            total = int((await db.execute(select(func.count()).select_from(Complaint).where(*where))).scalar_one())
        return rows, total

    async def complaints_export(self, f: ComplaintFilter, now: dt.datetime) -> list[Any]:
        q = select(*LIST_COLUMNS).where(*f.where(now)).order_by(Complaint.id.desc()).limit(EXPORT_MAX)
        async with self.store.sessions() as db:
            return list((await db.execute(q)).all())

    async def communes(self, agencies: tuple[str, ...] | None) -> list[tuple[str, str]]:
        """(commune code, place) of the communes complaints came from."""
        q = (select(Complaint.commune_code, func.max(Complaint.place)).where(Complaint.commune_code != "")
             .group_by(Complaint.commune_code))
        if agencies is not None:
            q = q.where(Complaint.agency_key.in_(agencies or ("",)))
        async with self.store.sessions() as db:
            rows = (await db.execute(q)).all()
        return sorted(((code, place or code) for code, place in rows), key=lambda r: r[1])

    # --- handoffs -----------------------------------------------------------------

    async def handoffs(self, targets: tuple[str, ...] | None, queue: bool, page: int = 1,
                       size: int = PAGE) -> tuple[list[HandoffTicket], int]:
        t = HandoffTicket
        where: list[ColumnElement[bool]] = [t.status.in_(OPEN_TICKET_STATUSES) if queue
                                            else t.status.not_in(OPEN_TICKET_STATUSES)]
        if targets is not None:
            where.append(t.target_key.in_(targets) if targets else t.id < 0)
        order = (t.id,) if queue else (t.id.desc(),)
        q = select(t).where(*where).order_by(*order).limit(size).offset((page - 1) * size)
        async with self.store.sessions() as db:
            rows = list((await db.execute(q)).scalars())
            total = int((await db.execute(select(func.count()).select_from(t).where(*where))).scalar_one())
        return rows, total

    # --- outbox ----------------------------------------------------------------------

    async def failed_outbox(self, limit: int = 200) -> list[Outbox]:
        q = select(Outbox).where(Outbox.status == "failed").order_by(Outbox.id.desc()).limit(limit)
        async with self.store.sessions() as db:
            return list((await db.execute(q)).scalars())

    # --- figures ------------------------------------------------------------------------

    def _week(self, column: Any) -> Any:
        """The Monday (Vietnam time) of a timestamp's week, as 'YYYY-MM-DD'."""
        if self.pg:
            return func.to_char(func.date_trunc("week", func.timezone("Asia/Ho_Chi_Minh", column)), "YYYY-MM-DD")
        return func.date(column, "+7 hours", "weekday 0", "-6 days")

    def _day(self, column: Any) -> Any:
        if self.pg:
            return func.to_char(func.timezone("Asia/Ho_Chi_Minh", column), "YYYY-MM-DD")
        return func.date(column, "+7 hours")

    @staticmethod
    def _scope(q: Select[Any], agencies: tuple[str, ...] | None) -> Select[Any]:
        if agencies is None:
            return q
        return q.where(Complaint.agency_key.in_(agencies or ("",)))

    async def weekly(self, column: str, agencies: tuple[str, ...] | None,
                     since: dt.datetime) -> dict[str, Counter[str]]:
        """{week Monday: {value of ``column``: complaints}} for complaints filed since ``since``."""
        col = getattr(Complaint, column)
        week = self._week(Complaint.created_at).label("week")
        q = self._scope(select(week, col, func.count()).where(Complaint.created_at >= since)
                        .group_by(week, col), agencies)
        out: dict[str, Counter[str]] = defaultdict(Counter)
        async with self.store.sessions() as db:
            for w, value, n in (await db.execute(q)).all():
                out[str(w)][value or ""] += int(n)
        return dict(out)

    async def timeliness(self, agencies: tuple[str, ...] | None, since: dt.datetime,
                         now: dt.datetime) -> dict[str, Any]:
        """On-time rate per week (first answer or closing at or before the due time; open and past due
        counts as late; open and not yet due is not counted) and the hours to the first answer."""
        e = ComplaintEvent
        first_answer = (select(func.min(e.created_at)).where(e.complaint_id == Complaint.id, e.kind == "answered")
                        .correlate(Complaint).scalar_subquery())
        first_done = (select(func.min(e.created_at))
                      .where(e.complaint_id == Complaint.id, e.kind.in_(("answered", "closed")))
                      .correlate(Complaint).scalar_subquery())
        week = self._week(Complaint.created_at).label("week")
        q = self._scope(select(week, Complaint.created_at, Complaint.due_at, first_answer.label("fa"),
                               first_done.label("fd")).where(Complaint.created_at >= since), agencies)
        weeks: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [on time, late]
        hours: list[float] = []
        week_hours: dict[str, list[float]] = defaultdict(list)
        async with self.store.sessions() as db:
            rows = (await db.execute(q)).all()
        for w, created, due, fa, fd in rows:
            created, due, fa, fd = (_aware(x) for x in (created, due, fa, fd))
            if fd is not None:
                weeks[str(w)][0 if fd <= due else 1] += 1
            elif due < now:
                weeks[str(w)][1] += 1
            if fa is not None:
                h = max(0.0, (fa - created).total_seconds() / 3600)
                hours.append(h)
                week_hours[str(w)].append(h)
        return {"weeks": {w: tuple(v) for w, v in weeks.items()},
                "median": _pct(hours, 50), "p90": _pct(hours, 90), "answered": len(hours),
                "week_hours": {w: (_pct(v, 50), _pct(v, 90), len(v)) for w, v in week_hours.items()}}

    async def ratings(self, agencies: tuple[str, ...] | None, since: dt.datetime) -> dict[int, int]:
        q = self._scope(select(Complaint.rating, func.count()).where(Complaint.created_at >= since,
                                                                      Complaint.rating.is_not(None))
                        .group_by(Complaint.rating), agencies)
        async with self.store.sessions() as db:
            got = {int(r): int(n) for r, n in (await db.execute(q)).all()}
        return {n: got.get(n, 0) for n in range(1, 6)}

    async def questions_per_day(self, since: dt.datetime) -> dict[str, int]:
        day = self._day(QuestionLog.created_at).label("day")
        q = select(day, func.count()).where(QuestionLog.created_at >= since).group_by(day).order_by(day)
        async with self.store.sessions() as db:
            return {str(d): int(n) for d, n in (await db.execute(q)).all()}

    async def top_procedures(self, since: dt.datetime, limit: int = 10) -> list[tuple[str, int]]:
        """Entries most often given as the answer (decision "answer")."""
        n = func.count().label("n")
        q = (select(QuestionLog.best_id, n)
             .where(QuestionLog.created_at >= since, QuestionLog.decision == "answer",
                    QuestionLog.best_id.is_not(None))
             .group_by(QuestionLog.best_id).order_by(n.desc(), QuestionLog.best_id).limit(limit))
        async with self.store.sessions() as db:
            return [(str(b), int(c)) for b, c in (await db.execute(q)).all()]


def _aware(x: dt.datetime | None) -> dt.datetime | None:
    if x is None:
        return None
    if isinstance(x, str):  # SQLite aggregates (min) come back as text
        x = dt.datetime.fromisoformat(x)
    return x.replace(tzinfo=dt.timezone.utc) if x.tzinfo is None else x


def _pct(values: list[float], p: int) -> float | None:
    """The p-th percentile (nearest rank), or None without values."""
    if not values:
        return None
    if p == 50:
        return statistics.median(values)
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))  # ceil
    return ordered[rank - 1]


__all__ = ["ComplaintFilter", "ConsoleQueries", "PAGE", "code_id", "vn_day_start"]
