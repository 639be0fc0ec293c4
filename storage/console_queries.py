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

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, text

from storage.complaint_models import OPEN_STATUSES, Complaint, ComplaintEvent
from storage.dossier_models import Dossier
from storage.dossiers import FINISHED, PAUSED, SOON
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

    async def outbox_by_keys(self, keys: list[str]) -> list[Outbox]:
        """Outbox rows by their exact dedup keys (unique index lookups)."""
        if not keys:
            return []
        async with self.store.sessions() as db:
            return list((await db.execute(select(Outbox).where(Outbox.dedup_key.in_(keys[:200])))).scalars())

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
        counts as late; open and not yet due is not counted) and the hours to the first answer
        (median and 90th percentile, per week and overall). Aggregated in the database."""
        e, c = ComplaintEvent, Complaint
        # Every complaint filed since ``since`` has an id at least this one: a range on the events'
        # (kind, complaint_id) index instead of all answers ever given (the join below filters exactly).
        # ("+ 0": read through the created_at index; PostgreSQL would otherwise walk the primary key from
        # its start looking for a recent row.)
        first_id = select(func.min(c.id + 0)).where(c.created_at >= since).scalar_subquery()
        firsts = (select(e.complaint_id.label("cid"),
                         func.min(case((e.kind == "answered", e.created_at))).label("fa"),
                         func.min(e.created_at).label("fd"))
                  .where(e.kind.in_(("answered", "closed")), e.complaint_id >= first_id)
                  .group_by(e.complaint_id).subquery())
        week = self._week(c.created_at).label("week")
        ok = func.sum(case((and_(firsts.c.fd.is_not(None), firsts.c.fd <= c.due_at), 1), else_=0))
        late = func.sum(case((or_(and_(firsts.c.fd.is_not(None), firsts.c.fd > c.due_at),
                                  and_(firsts.c.fd.is_(None), c.due_at < now)), 1), else_=0))
        base = self._scope(select(week, ok, late).select_from(c).outerjoin(firsts, firsts.c.cid == c.id)
                           .where(c.created_at >= since).group_by(week), agencies)
        if self.pg:
            hours_expr = func.extract("epoch", firsts.c.fa - c.created_at) / 3600.0
        else:
            hours_expr = (func.julianday(firsts.c.fa) - func.julianday(c.created_at)) * 24.0
        answered = (select(c.id).select_from(c).join(firsts, firsts.c.cid == c.id)
                    .where(c.created_at >= since, firsts.c.fa.is_not(None)))
        answered = self._scope(answered, agencies)
        week_hours: dict[str, tuple[float | None, float | None, int]] = {}
        async with self.store.sessions() as db:
            weeks = {str(w): (int(a or 0), int(b or 0)) for w, a, b in (await db.execute(base)).all()}
            if self.pg:  # percentiles in the database
                med = func.percentile_cont(0.5).within_group(hours_expr)
                p90 = func.percentile_disc(0.9).within_group(hours_expr)
                overall = (None, None, 0)
                per_week = (answered.with_only_columns(week, func.grouping(week), med, p90, func.count())
                            .group_by(func.grouping_sets(week, text("()"))))  # each week, and all of them
                for w, total, m, p, n in (await db.execute(per_week)).all():
                    if total:
                        overall = (_hours(m), _hours(p), int(n))
                    else:
                        week_hours[str(w)] = (_hours(m), _hours(p), int(n))
            else:
                rows = (await db.execute(answered.with_only_columns(week, hours_expr))).all()
                by_week: dict[str, list[float]] = defaultdict(list)
                for w, h in rows:
                    by_week[str(w)].append(max(0.0, float(h)))
                week_hours = {w: (_pct(v, 50), _pct(v, 90), len(v)) for w, v in by_week.items()}
                every = [h for v in by_week.values() for h in v]
                overall = (_pct(every, 50), _pct(every, 90), len(every))
        return {"weeks": weeks, "median": overall[0], "p90": overall[1], "answered": overall[2],
                "week_hours": week_hours}

    async def dossier_counts(self, agencies: tuple[str, ...] | None, now: dt.datetime) -> list[tuple[str, str, int, int]]:
        """(agency key, agency name, late, due within a day) of dossiers without a result, per agency."""
        d = Dossier
        late = func.sum(case((d.due_at < now, 1), else_=0))
        q = (select(d.agency_key, func.max(d.agency_name), late, func.count() - late)
             .where(*self._dossier_where(agencies, now)).group_by(d.agency_key).order_by(d.agency_key))
        async with self.store.sessions() as db:
            return [(k, n or "", int(a or 0), int(b or 0)) for k, n, a, b in (await db.execute(q)).all()]

    async def dossiers(self, agencies: tuple[str, ...] | None, now: dt.datetime, agency: str = "", page: int = 1,
                       size: int = PAGE) -> tuple[list[Dossier], int]:
        """Late and soon-late dossiers (earliest due first), one page; ``size=0``: all of them."""
        where = self._dossier_where(agencies, now)
        if agency:
            where.append(Dossier.agency_key == agency)
        q = select(Dossier).where(*where).order_by(Dossier.due_at, Dossier.id)
        if size:
            q = q.limit(size).offset((page - 1) * size)
        async with self.store.sessions() as db:
            rows = list((await db.execute(q)).scalars())
            total = int((await db.execute(select(func.count()).select_from(Dossier).where(*where))).scalar_one())
        return rows, total

    @staticmethod
    def _dossier_where(agencies: tuple[str, ...] | None, now: dt.datetime) -> list[ColumnElement[bool]]:
        where = [Dossier.status.not_in(sorted(FINISHED | PAUSED)), Dossier.due_at <= now + SOON]
        if agencies is not None:
            where.append(Dossier.agency_key.in_(agencies or ("",)))
        return where

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


def _hours(v: Any) -> float | None:
    return None if v is None else max(0.0, float(v))


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
