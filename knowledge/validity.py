"""Facts that hold between dates: which fee is in force on a given day, and what changes soon.

A procedure's ``fees.summary`` is the general statement; ``fees.periods`` carry figures that
hold only between ``valid_from`` and ``valid_until`` (both inclusive). A period with
``applies: instead`` replaces the summary while in force (a temporary cut); one with
``applies: also`` is shown beside it (an exemption for those who meet a condition).

Everything here is pure: the day is always passed in. Callers that have no clock of their own
use :func:`vietnam_today`. The sentence pieces are passed in too (``FeePhrases``), so that the
user-facing Vietnamese stays in ``handlers/texts``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from knowledge.schema import Fees, Period, Procedure

VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")  # no daylight saving in Vietnam
SOON_DAYS = 60  # the card announces changes this many days ahead
WARN_DAYS = 30  # ``kb check`` warns of facts ending this many days ahead


def vietnam_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in Vietnam (for an aware ``now``, its date there)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    return now.astimezone(VIETNAM).date()


def vn_date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


@dataclass(frozen=True)
class Figure:
    """What holds on one day: the main figure (None if nothing is in force) and the extras."""

    main: str | None
    main_until: dt.date | None  # last day of the main figure, when it is dated
    extras: tuple[Period, ...]


def figure_on(fees: Fees, day: dt.date) -> Figure:
    instead = [p for p in fees.periods if p.applies == "instead" and p.in_force(day)]
    extras = tuple(p for p in fees.periods if p.applies == "also" and p.in_force(day))
    if instead:
        return Figure(instead[0].value, instead[0].valid_until, extras)
    if fees.summary_valid_until is not None and day > fees.summary_valid_until:
        return Figure(None, None, extras)
    return Figure(fees.summary, fees.summary_valid_until, extras)


@dataclass(frozen=True)
class Change:
    """The main figure changes on ``on`` (its first day) to ``main``; ``started`` extras begin then."""

    on: dt.date
    main: str | None
    main_changed: bool
    started: tuple[Period, ...]


def changes_between(fees: Fees, today: dt.date, days: int = SOON_DAYS) -> list[Change]:
    """Changes taking effect after ``today`` and at most ``days`` days later, in date order."""
    end = today + dt.timedelta(days=days)
    bounds: set[dt.date] = set()
    for p in fees.periods:
        if p.valid_from is not None:
            bounds.add(p.valid_from)
        if p.valid_until is not None:
            bounds.add(p.valid_until + dt.timedelta(days=1))
    if fees.summary_valid_until is not None:
        bounds.add(fees.summary_valid_until + dt.timedelta(days=1))
    out: list[Change] = []
    for day in sorted(b for b in bounds if today < b <= end):
        before, after = figure_on(fees, day - dt.timedelta(days=1)), figure_on(fees, day)
        started = tuple(p for p in after.extras if p not in before.extras)
        if before.main != after.main or started:
            out.append(Change(day, after.main, before.main != after.main, started))
    return out


@dataclass(frozen=True)
class FeePhrases:
    """Sentence pieces, each a ``str.format`` template (from ``handlers/texts``)."""

    until: str  # "{value} (áp dụng đến hết {date})"
    extra: str  # "• {value}"
    extra_until: str  # "• {value} (đến hết {date})"
    change: str  # "Từ {date}: {value}"
    none: str  # said when no figure is in force
    province: str  # "{value} (mức của {province})"


def fee_text(p: Procedure, today: dt.date, phrases: FeePhrases) -> str:
    """The fee in force ``today``, its conditional extras, and what changes within 60 days."""
    return dated_text(p.fees, today, phrases)


def time_fees(p: Procedure) -> Fees:
    """The processing time seen as a dated figure (the same rules as fees)."""
    return Fees(summary=p.processing_time, periods=p.processing_time_periods)


def time_text(p: Procedure, today: dt.date, phrases: FeePhrases) -> str:
    """The processing time in force ``today`` and what changes within 60 days."""
    if not p.processing_time_periods:
        return p.processing_time
    return dated_text(time_fees(p), today, phrases)


def dated_text(fees: Fees, today: dt.date, phrases: FeePhrases) -> str:
    """A dated figure in force ``today``, its conditional extras, and what changes within 60 days."""
    now = figure_on(fees, today)
    soon = today + dt.timedelta(days=SOON_DAYS)
    if now.main is None:
        main = phrases.none
    elif now.main_until is not None and now.main_until < soon:
        main = phrases.until.format(value=now.main, date=vn_date(now.main_until))
    else:
        main = now.main
    if fees.province and now.main is not None:
        main = phrases.province.format(value=main, province=fees.province)
    lines = [main]
    for extra in now.extras:
        if extra.valid_until is not None:
            lines.append(phrases.extra_until.format(value=extra.value, date=vn_date(extra.valid_until)))
        else:
            lines.append(phrases.extra.format(value=extra.value))
    for change in changes_between(fees, today):
        if change.main_changed:
            lines.append(phrases.change.format(date=vn_date(change.on), value=change.main or phrases.none))
        for started in change.started:
            lines.append(phrases.change.format(date=vn_date(change.on), value=started.value))
    return "\n".join(lines)


@dataclass(frozen=True)
class DatedFact:
    """One dated fact of an entry, for checks and the review sheet."""

    field: str  # e.g. "fees.periods.0"
    value: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    basis: str


def dated_facts(p: Procedure) -> list[DatedFact]:
    out = [DatedFact(f"fees.periods.{i}", x.value, x.valid_from, x.valid_until, x.basis)
           for i, x in enumerate(p.fees.periods)]
    if p.fees.summary_valid_until is not None:
        out.append(DatedFact("fees.summary", p.fees.summary, None, p.fees.summary_valid_until, ""))
    out.extend(DatedFact(f"processing_time_periods.{i}", x.value, x.valid_from, x.valid_until, x.basis)
               for i, x in enumerate(p.processing_time_periods))
    return out


def ending_soon(p: Procedure, today: dt.date, days: int = WARN_DAYS) -> list[DatedFact]:
    """Dated facts whose last day is between today and ``days`` days later."""
    end = today + dt.timedelta(days=days)
    return [f for f in dated_facts(p) if f.valid_until is not None and today <= f.valid_until <= end]


def has_figure(p: Procedure, today: dt.date) -> bool:
    """False when the entry's only fee figure has ended (nothing in force today)."""
    return figure_on(p.fees, today).main is not None
