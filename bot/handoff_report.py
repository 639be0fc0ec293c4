"""``python -m bot handoffs``: figures of the handoff to a person (per team/desk and commune) or a CSV.

Without ``--csv``: one line per team and commune with tickets, claimed, unclaimed, minutes to claim
(median, p90) and the average rating. With ``--csv``: the same figures as CSV, or with ``--tickets``
one row per ticket (no names, phone numbers or chat texts).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from typing import TextIO

from bot.config import Settings
from handlers.handoff import figures, stats_text
from storage.handoffs import HandoffRepo
from storage.store import Store

FIGURE_FIELDS = ["team", "commune", "tickets", "claimed", "unclaimed", "waiting", "claim_median_min",
                 "claim_p90_min", "rating_avg", "ratings"]
TICKET_FIELDS = ["code", "created_at", "channel", "commune", "team", "reason", "status", "minutes_to_claim",
                 "closed_by", "rating"]


async def report(settings: Settings, *, as_csv: bool = False, tickets: bool = False, days: int | None = None,
                 out: TextIO = sys.stdout) -> int:
    store = Store.from_url(settings.database_url)
    try:
        await store.create_schema()
        since = store.now() - dt.timedelta(days=days) if days else None
        rows = await HandoffRepo(store).tickets(since)
    finally:
        await store.close()
    if tickets:
        writer = csv.DictWriter(out, fieldnames=TICKET_FIELDS)
        writer.writeheader()
        for t in rows:
            wait = (t.claimed_at - t.created_at).total_seconds() / 60 if t.claimed_at else None
            writer.writerow({"code": t.code, "created_at": t.created_at.isoformat(timespec="seconds"),
                             "channel": t.channel, "commune": t.commune, "team": t.target_name, "reason": t.reason,
                             "status": t.status, "minutes_to_claim": "" if wait is None else round(wait, 1),
                             "closed_by": t.closed_by.partition(":")[0], "rating": t.rating or ""})
        return 0
    if as_csv:
        writer = csv.DictWriter(out, fieldnames=FIGURE_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(figures(rows))
        return 0
    print(stats_text(rows), file=out)
    return 0
