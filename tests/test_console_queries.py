"""The console's list and figure queries give the same numbers as a plain count in Python, on SQLite and
PostgreSQL (grouping by Vietnam-time week and day, percentiles in the database on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import Counter

from sqlalchemy import insert

from bot.config import Settings
from storage.complaint_models import Complaint, ComplaintEvent
from storage.console_queries import ComplaintFilter, ConsoleQueries, vn_day_start
from storage.dossier_models import Dossier
from storage.models import QuestionLog, User
from storage.store import Store

VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 11, 30, 3, 30, tzinfo=dt.timezone.utc)  # Monday 10:30 in Vietnam


def monday(when: dt.datetime) -> str:
    day = when.astimezone(VN).date()
    return (day - dt.timedelta(days=day.weekday())).isoformat()


async def test_figures_match_a_count_in_python(settings: Settings) -> None:
    store = Store.from_url(settings.database_url, now=lambda: NOW)
    await store.create_schema()
    rnd = random.Random(5)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(insert(User), [dict(id=1, channel="telegram", external_id="1", chat_id="1",
                                                   display_name="", created_at=NOW, last_seen_at=NOW)])
        complaints, events, first_answer, first_done = [], [], {}, {}
        for i in range(1, 301):
            # some right around midnight and Sunday/Monday in Vietnam, where UTC and Vietnam weeks differ
            created = NOW - dt.timedelta(minutes=rnd.choice([rnd.randint(1, 60 * 24 * 7 * 10),
                                                             60 * 24 * 7 + 3 * 60 + 30 + rnd.randint(-30, 30)]))
            status = rnd.choice(["new", "received", "answered", "closed", "transferred"])
            due = created + dt.timedelta(days=rnd.choice([2, 5, 14]))
            complaints.append(dict(id=i, code=f"PAKN-2026-{i:06d}", user_id=1, channel="telegram", chat_id="1",
                                   topic=rnd.choice(["official", "portal", "other"]), procedure_id="", field="",
                                   dossier_code="", commune_code=rnd.choice(["30307", "30280", ""]), place="",
                                   description="x", photo_ref="", contact_ok=False, phone="",
                                   agency_key=rnd.choice(["lx", "tp"]), route_rule="t", status=status, due_at=due,
                                   rating=rnd.choice([None, 1, 3, 5]) if status in ("answered", "closed") else None,
                                   reopen_count=0, version=1, created_at=created, updated_at=created, idem_key=None))
            if status in ("answered", "closed"):
                at = min(NOW, created + dt.timedelta(hours=rnd.randint(1, 24 * 9)))
                events.append(dict(complaint_id=i, kind=status, actor="t", agency_key="", note="", created_at=at))
                first_done[i] = at
                if status == "answered":
                    first_answer[i] = at
                    later = min(NOW, at + dt.timedelta(hours=5))
                    events.append(dict(complaint_id=i, kind="answered", actor="t", agency_key="", note="",
                                       created_at=later))  # a second answer does not count
        questions = [dict(user_id=1, channel="telegram", text="q", normalized="q", intent="procedure",
                          decision=rnd.choice(["answer", "ask", "none"]), best_id=rnd.choice(["a", "b", "c"]),
                          score=0.5, created_at=NOW - dt.timedelta(minutes=rnd.randint(1, 60 * 24 * 40)))
                     for _ in range(400)]
        dossiers = [dict(code=f"D{i}", procedure_id="", procedure_name="", agency_key=rnd.choice(["lx", "tp"]),
                         agency_name="", applicant_name="", phone_digits="",
                         status=rnd.choice(["received", "processing", "delivered", "supplement"]), status_note="",
                         status_at=NOW, received_at=NOW, due_at=NOW + dt.timedelta(hours=rnd.randint(-96, 96)),
                         delivery_method="", citizen_alert="", agency_alert="", created_at=NOW, updated_at=NOW)
                    for i in range(60)]
        async with store.engine.begin() as conn:
            await conn.execute(insert(Complaint), complaints)
            await conn.execute(insert(ComplaintEvent), events)
            await conn.execute(insert(QuestionLog), questions)
            await conn.execute(insert(Dossier), dossiers)
        q = ConsoleQueries(store)
        since = vn_day_start(dt.date(2026, 11, 30) - dt.timedelta(weeks=11))
        scope = ("lx",)
        mine = [c for c in complaints if c["agency_key"] in scope and c["created_at"] >= since]

        weekly = await q.weekly("topic", scope, since)
        assert {(w, t): n for w, counts in weekly.items() for t, n in counts.items()} == \
            dict(Counter((monday(c["created_at"]), c["topic"]) for c in mine))

        timely = await q.timeliness(scope, since, NOW)
        expected: dict[str, list[int]] = {}
        for c in mine:
            done = first_done.get(c["id"])
            if done is None and c["due_at"] >= NOW:
                continue
            expected.setdefault(monday(c["created_at"]), [0, 0])[0 if done and done <= c["due_at"] else 1] += 1
        assert timely["weeks"] == {w: tuple(v) for w, v in expected.items()}
        hours = sorted((first_answer[c["id"]] - c["created_at"]).total_seconds() / 3600
                       for c in mine if c["id"] in first_answer)
        assert timely["answered"] == len(hours)
        assert abs(timely["median"] - statistics.median(hours)) < 1e-6
        assert abs(timely["p90"] - hours[-(-9 * len(hours) // 10) - 1]) < 1e-6
        week_n = Counter(monday(c["created_at"]) for c in mine if c["id"] in first_answer)
        assert {w: v[2] for w, v in timely["week_hours"].items()} == dict(week_n)

        ratings = await q.ratings(None, since)
        assert ratings == {k: sum(1 for c in complaints if c["created_at"] >= since and c["rating"] == k)
                           for k in range(1, 6)}
        q_since = NOW - dt.timedelta(days=30)
        per_day = await q.questions_per_day(q_since)
        assert per_day == dict(Counter(x["created_at"].astimezone(VN).date().isoformat() for x in questions
                                       if x["created_at"] >= q_since))
        top = await q.top_procedures(q_since)
        assert dict(top) == dict(Counter(x["best_id"] for x in questions
                                         if x["created_at"] >= q_since and x["decision"] == "answer"))

        f = ComplaintFilter(agencies=scope, overdue=True, date_from=dt.date(2026, 11, 1))
        rows, total = await q.complaints(f, NOW, page=1, size=10)
        wanted = [c for c in complaints if c["agency_key"] == "lx" and c["due_at"] < NOW
                  and c["status"] in ("new", "received", "transferred")
                  and c["created_at"] >= vn_day_start(dt.date(2026, 11, 1))]
        assert total == len(wanted) and [r.id for r in rows] == sorted((c["id"] for c in wanted), reverse=True)[:10]

        counts = await q.dossier_counts(None, NOW)
        open_ = [d for d in dossiers if d["status"] in ("received", "processing")
                 and d["due_at"] <= NOW + dt.timedelta(days=1)]
        assert {k: (late, soon) for k, _, late, soon in counts} == {
            k: (sum(1 for d in open_ if d["agency_key"] == k and d["due_at"] < NOW),
                sum(1 for d in open_ if d["agency_key"] == k and d["due_at"] >= NOW))
            for k in {d["agency_key"] for d in open_}}
    finally:
        await store.close()
