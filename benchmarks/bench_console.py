"""Web console benchmark: every page's answer time with 100,000 complaints in PostgreSQL.

It creates a fresh PostgreSQL database, migrates it, fills it with COMPLAINTS complaints over two
years (with their events: created, received, answered or closed, rated), question-log rows, handoff
tickets, late dossiers and failed outbox messages, then signs in through a real one-time link and
times each console page in-process (the real Starlette app over ASGI, no network), as an operator
(who sees everything, the heaviest case) and as one agency's staff. Target: under 300 ms a page.

Same-run comparison: the pages are timed again after dropping the indexes that migration 0006 adds
for the console (and put back after), so their worth is measured, not assumed.

    TEST_DATABASE_URL_PG=postgresql+asyncpg://postgres@127.0.0.1:55432/postgres \\
        python benchmarks/bench_console.py [--complaints 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

AGENCY_KEYS = ["desk", "lx", "cd", "tc", "tp", "ca"]
AGENCIES = """
province: An Giang
agencies:
  - {key: desk, name: Trung tâm Phục vụ hành chính công tỉnh An Giang, is_default_desk: true}
  - {key: lx, name: UBND phường Long Xuyên, topics: [official], area: [Phường Long Xuyên]}
  - {key: cd, name: UBND phường Châu Đốc, topics: [official], area: [Phường Châu Đốc]}
  - {key: tc, name: UBND phường Tân Châu, topics: [official], area: [Phường Tân Châu]}
  - {key: tp, name: Sở Tư pháp tỉnh An Giang, fields: [Hộ tịch]}
  - {key: ca, name: Công an tỉnh An Giang, fields: [Cư trú]}
"""
TOPICS = ["procedure", "dossier", "official", "portal", "other"]
STATUS_WEIGHTS = {"new": 5, "received": 8, "answered": 50, "closed": 30, "transferred": 4, "reopened": 3}
OPERATOR = "telegram:1"
STAFF = "telegram:2"
ADD_INDEXES = [
    "CREATE INDEX ix_complaints_status_due ON complaints (status, due_at)",
    "CREATE INDEX ix_complaints_topic_created ON complaints (topic, created_at)",
    "CREATE INDEX ix_complaints_commune_created ON complaints (commune_code, created_at)",
    "CREATE INDEX ix_complaint_events_kind_complaint ON complaint_events (kind, complaint_id)",
]
DROP_INDEXES = ["DROP INDEX ix_complaints_status_due", "DROP INDEX ix_complaints_topic_created",
                "DROP INDEX ix_complaints_commune_created", "DROP INDEX ix_complaint_events_kind_complaint"]


async def drop_database(base_url: str, url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    base, name = make_url(base_url), make_url(url).database
    conn = await asyncpg.connect(user=base.username, password=base.password, host=base.host,
                                 port=base.port or 5432, database=base.database or "postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


async def fresh_database(base_url: str) -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    name = f"bench_console_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(user=base.username, password=base.password, host=base.host,
                                 port=base.port or 5432, database=base.database or "postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.set(database=name).render_as_string(hide_password=False)


async def fill(store: Any, n: int, now: dt.datetime) -> None:
    from knowledge.communes import find_in_province, find_province
    from storage.complaint_models import Complaint, ComplaintEvent
    from storage.dossier_models import Dossier
    from storage.handoff_models import HandoffTicket
    from storage.models import Outbox, QuestionLog, User

    rnd = random.Random(17)
    province = find_province("An Giang")
    communes = [c for c in (find_in_province(name, province) for name in (
        "Phường Long Xuyên", "Phường Châu Đốc", "Phường Tân Châu", "Phường Bình Đức", "Phường Mỹ Thới",
        "Xã Mỹ Hòa Hưng", "Phường Rạch Giá", "Xã Châu Thành", "Phường Hà Tiên", "Xã Phú Tân")) if c is not None]
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    async with store.engine.begin() as conn:
        await conn.execute(insert(User), [{"id": 1, "channel": "telegram", "external_id": "5001", "chat_id": "5001",
                                           "display_name": "", "created_at": now, "last_seen_at": now}])
    batch = 10_000
    # ids grow with time, as they do when citizens file them
    moments = sorted(now - dt.timedelta(seconds=rnd.randint(0, 730 * 86400)) for _ in range(n))
    for start in range(0, n, batch):
        rows, events = [], []
        for i in range(start + 1, min(n, start + batch) + 1):
            created = moments[i - 1]
            commune = rnd.choice(communes)
            status = rnd.choices(statuses, weights)[0]
            due = created + dt.timedelta(days=14)
            rows.append(dict(id=i, code=f"PAKN-{created.year}-{i:06d}", user_id=1, channel="telegram",
                             chat_id="5001", topic=rnd.choice(TOPICS), procedure_id="", field="", dossier_code="",
                             commune_code=commune.code, place=f"{commune.name}, An Giang",
                             description="Nội dung phản ánh thử nghiệm " * 4, photo_ref="", contact_ok=False,
                             phone="", agency_key=rnd.choice(AGENCY_KEYS), route_rule="bench", status=status,
                             due_at=due, rating=rnd.randint(1, 5) if status in ("answered", "closed")
                             and rnd.random() < 0.4 else None, reopen_count=0, version=1, created_at=created,
                             updated_at=created, idem_key=None))
            events.append(dict(complaint_id=i, kind="created", actor="citizen", agency_key="", note="",
                               created_at=created))
            if status != "new":
                events.append(dict(complaint_id=i, kind="received", actor=STAFF, agency_key="", note="",
                                   created_at=created + dt.timedelta(hours=rnd.randint(1, 48))))
            if status in ("answered", "closed"):
                events.append(dict(complaint_id=i, kind=status, actor=STAFF, agency_key="", note="Dạ, đã xử lý",
                                   created_at=created + dt.timedelta(hours=rnd.randint(24, 24 * 20))))
        async with store.engine.begin() as conn:
            await conn.execute(insert(Complaint), rows)
            await conn.execute(insert(ComplaintEvent), events)
    questions = []
    for _ in range(50_000):
        decision = rnd.choices(["answer", "ask", "none"], [70, 20, 10])[0]
        q = rnd.choice(["làm giấy khai sinh", "đăng ký tạm trú", "cấp lại căn cước", "xin giấy phép xây dựng",
                        "đổi bằng lái xe", "đăng ký kết hôn", "chứng thực bản sao", "mất sổ đỏ làm sao"])
        questions.append(dict(user_id=1, channel="telegram", text=q, normalized=q, intent="procedure",
                              decision=decision, best_id=rnd.choice(["khai-sinh", "dang-ky-tam-tru", "ket-hon"]),
                              score=rnd.random(), created_at=now - dt.timedelta(seconds=rnd.randint(0, 90 * 86400))))
    tickets = [dict(code=f"HT{i}", user_id=1, channel="telegram", chat_id="5001", commune_code="", commune="",
                    target_key=rnd.choice(["team:lx", "desk:lx", "desk:desk"]), target_name="Tổ hỗ trợ",
                    reason="menu", summary="", phone="", status=rnd.choice(["waiting", "live", "closed", "expired"]),
                    claimed_by="", claimed_name="", staff_chat="",
                    created_at=now - dt.timedelta(minutes=rnd.randint(0, 90 * 1440)), closed_by="",
                    last_activity_at=now) for i in range(1, 10_001)]
    dossiers = [dict(code=f"H21.22-BENCH-{i:05d}", procedure_id="khai-sinh", procedure_name="Đăng ký khai sinh",
                     agency_key=rnd.choice(AGENCY_KEYS), agency_name="", applicant_name="", phone_digits="",
                     status=rnd.choice(["received", "processing", "result_ready", "delivered"]), status_note="",
                     status_at=now, received_at=now - dt.timedelta(days=20),
                     due_at=now + dt.timedelta(hours=rnd.randint(-24 * 30, 24 * 30)), delivery_method="",
                     citizen_alert="", agency_alert="", created_at=now, updated_at=now) for i in range(1, 20_001)]
    outbox = [dict(dedup_key=f"bench:{i}", channel="telegram", chat_id="5001", payload={"text": "Dạ, tin thử"},
                   status="sent" if i % 50 else "failed", attempts=1, next_attempt_at=now, last_error="",
                   created_at=now) for i in range(1, 20_001)]
    async with store.engine.begin() as conn:
        await conn.execute(insert(QuestionLog), questions)
        await conn.execute(insert(HandoffTicket), tickets)
        await conn.execute(insert(Dossier), dossiers)
        await conn.execute(insert(Outbox), outbox)
        await conn.execute(text("SELECT setval('complaints_id_seq', (SELECT max(id) FROM complaints))"))
        await conn.execute(text("ANALYZE"))


async def signed_in(app: Starlette, services: Any, actor: str) -> httpx.AsyncClient:
    from storage.console import ConsoleRepo

    token = await ConsoleRepo(services.store).create_link(actor)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")
    resp = await client.post(f"/console/login/{token}")
    assert resp.status_code == 303, resp.text
    return client


async def time_pages(client: httpx.AsyncClient, pages: list[tuple[str, str]], repeat: int) -> dict[str, float]:
    out = {}
    for label, path in pages:
        times = []
        for _ in range(repeat + 1):
            t = time.perf_counter()
            resp = await client.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, (path, resp.status_code, resp.text[:200])
        out[label] = statistics.median(times[1:])  # the first call warms caches
    return out


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--complaints", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reuse", metavar="URL", default=None, help="time an already filled database (from --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the filled database and print its URL")
    args = ap.parse_args()
    base = os.environ.get("TEST_DATABASE_URL_PG")
    if not base:
        print("set TEST_DATABASE_URL_PG=postgresql+asyncpg://user@host:port/db (a server this may create databases on)")
        return 2
    from bot.config import load_settings
    from bot.console import console_mount
    from handlers.app import build_dispatcher

    url = args.reuse or await fresh_database(base)
    with tempfile.TemporaryDirectory() as tmp:
        agencies = Path(tmp) / "agencies.yaml"
        agencies.write_text(AGENCIES, encoding="utf-8")
        settings = load_settings(database_url=url, agencies_file=agencies, admin_ids=OPERATOR,
                                 default_province="An Giang", telegram_bot_token="", zalo_bot_token="")
        t = time.perf_counter()
        dispatcher = await build_dispatcher(settings)
        services = dispatcher.services
        if not args.reuse:
            await fill(services.store, args.complaints, services.now())
            print(f"filled {args.complaints:,} complaints (+ events, 50,000 questions, 10,000 handoffs, "
                  f"20,000 dossiers, 20,000 outbox rows) in {time.perf_counter() - t:.1f} s")
        # the agency staff member is configured through an invite registration (agency_members)
        if not args.reuse:
            await services.extras["complaint_ops"].repo.use_invite(
                await services.extras["complaint_ops"].repo.create_invite("lx", OPERATOR), STAFF)
        app = Starlette(routes=[console_mount(services)])
        some = args.complaints // 2
        pages = [
            ("complaints: list, page 1", "/console/complaints"),
            ("complaints: page 200", "/console/complaints?page=200"),
            ("complaints: status + overdue", "/console/complaints?status=received&overdue=1"),
            ("complaints: commune + topic + dates", "/console/complaints?commune=30307&topic=official"
                                                    "&from=2026-01-01&to=2026-06-30"),
            ("complaints: search by code", f"/console/complaints?code=PAKN-2026-{some:06d}"),
            ("complaint: detail", f"/console/complaints/{some}"),
            ("figures: 12 weeks", "/console/figures"),
            ("figures: 52 weeks", "/console/figures?weeks=52"),
            ("handoffs: queue", "/console/handoffs"),
            ("handoffs: history", "/console/handoffs?view=history"),
            ("dossiers: late and soon", "/console/dossiers"),
            ("knowledge: 30 days", "/console/knowledge"),
            ("outbox: failed", "/console/outbox"),
            ("audit", "/console/audit"),
        ]
        operator = await signed_in(app, services, OPERATOR)
        staff = await signed_in(app, services, STAFF)
        try:
            with_ix = await time_pages(operator, pages, args.repeat)
            staff_ix = await time_pages(staff, [p for p in pages if not p[1].startswith(
                ("/console/knowledge", "/console/outbox", "/console/audit", "/console/complaints/"))], args.repeat)
            t = time.perf_counter()
            csv = await operator.get("/console/complaints?format=csv")
            csv_ms = (time.perf_counter() - t) * 1000
            async with services.store.engine.begin() as conn:
                for sql in DROP_INDEXES:
                    await conn.execute(text(sql))
                await conn.execute(text("ANALYZE"))
            without_ix = await time_pages(operator, pages, args.repeat)
            async with services.store.engine.begin() as conn:
                for sql in ADD_INDEXES:
                    await conn.execute(text(sql))
        finally:
            await operator.aclose()
            await staff.aclose()
        print(f"\nmedian of {args.repeat} calls, ms (target < 300)")
        print(f"{'page':<38} {'operator':>9} {'one agency':>11} {'no 0006 ix':>11}")
        worst = 0.0
        for label, _ in pages:
            s = staff_ix.get(label)
            worst = max(worst, with_ix[label], s or 0)
            print(f"{label:<38} {with_ix[label]:>9.1f} {(f'{s:.1f}' if s is not None else '-'):>11} "
                  f"{without_ix[label]:>11.1f}")
        print(f"\nslowest page: {worst:.1f} ms ({'under' if worst < 300 else 'OVER'} 300 ms)")
        print(f"CSV export of all {args.complaints:,} complaints (not a page): {csv_ms:.0f} ms, "
              f"{len(csv.content) / 1e6:.1f} MB")
        await services.store.close()
    if args.keep or args.reuse:
        print(f"database kept: {url}")
    else:
        await drop_database(base, url)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
