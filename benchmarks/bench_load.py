"""Load benchmark: simulated citizens drive `python -m bot serve` through the real webhook path.

For each configuration (1 worker on SQLite, 1 and 2 workers on PostgreSQL) it starts a fake
Telegram Bot API on 127.0.0.1, starts the bot's web server as a subprocess pointed at it, and has
N citizens post Telegram updates to the webhook: questions, button presses and, for a share of them,
a complaint filed step by step, which the server's outbox then delivers to an agency group chat.
Some updates are posted twice, as Telegram does when it does not see the 200 in time.
A baseline runs first in the same run: an "echo bot" that answers every update with one fixed
message and does nothing else, i.e. the most this harness can drive on this machine; the bot's
figures are also given as a share of it, so runs on busier or faster machines compare.

It prints updates per second, p50/p99 latency (webhook POST → the reply reaching the fake Bot API),
the CPU time the server and this load generator spent per update, and the server's memory; then it
checks that every update got exactly its one expected reply (so none was lost or handled twice),
every conversation ended in the right state, every complaint was stored once and its card delivered
to the agency exactly once, and every update id was recorded once.

The load generator (citizens + fake Bot API) is kept lean (aiohttp, uvloop, pre-encoded bodies)
because it shares the machine's cores with the server it measures; its own CPU per update is printed.

    python benchmarks/bench_load.py                       # SQLite only
    TEST_DATABASE_URL_PG=postgresql+asyncpg://postgres@127.0.0.1:55432/postgres \\
        python benchmarks/bench_load.py --citizens 300    # SQLite and PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "123456:BENCHTOKEN-abcdefghijklmnopqrstuvwxyz"
SECRET = "bench-secret-token"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Trợ lý DVC", "username": "tro_ly_dvc_bot"}
AGENCY_CHAT = -1009001
DESK_CHAT = -1009000
AGENCIES = f"""
province: An Giang
agencies:
  - key: desk
    name: Trung tâm Phục vụ hành chính công tỉnh An Giang
    is_default_desk: true
    chats: [{{channel: telegram, chat_id: "{DESK_CHAT}"}}]
  - key: lx
    name: UBND phường Long Xuyên
    topics: [official]
    area: [Phường Long Xuyên]
    chats: [{{channel: telegram, chat_id: "{AGENCY_CHAT}"}}]
"""

# A step: (kind, payload, text expected in the one reply). "press" payloads are callback data.
QUESTIONS = [
    ("text", "/start", "Dạ, em chào anh/chị"),
    ("text", "đăng ký khai sinh", "Cơ quan giải quyết"),
    ("press", "kb:docs:khai-sinh", "Giấy tờ cho thủ tục"),
    ("text", "lam ho chieu o dau", "Cơ quan giải quyết"),
    ("press", "kb:fees:ho-chieu", "Phí, lệ phí và thời hạn"),
    ("text", "giá vàng hôm nay", "chưa tìm thấy"),
    ("text", "cảm ơn", "không có gì"),
]
COMPLAINT = [
    ("text", "/start", "Dạ, em chào anh/chị"),
    ("text", "tôi muốn phản ánh cán bộ phường Long Xuyên gây khó khăn khi nộp hồ sơ", "về việc gì"),
    ("press", "complaint:topic:official", "xã, phường"),
    ("text", "Long Xuyên", "kể ngắn gọn"),
    ("press", "complaint:desc:seed", "ảnh chụp minh chứng"),
    ("press", "complaint:photo:skip", "gọi điện liên hệ"),
    ("press", "complaint:contact:no", "Gửi tới: UBND phường Long Xuyên"),
    ("press", "complaint:send", "Mã theo dõi"),
]
CODE = re.compile(r"PAKN-\d{4}-\d{6}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the fake Bot API ---------------------------------------------------------------------------

class LeanBotApi:
    """Just enough of the Bot API for the server: records every message per chat, wakes waiters."""

    def __init__(self) -> None:
        self.port = free_port()
        self.by_chat: dict[int, list[str]] = {}
        self.calls: dict[str, int] = {}
        self._waiters: dict[int, tuple[int, asyncio.Future[None]]] = {}
        self._message_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> "LeanBotApi":
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._endpoint)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _endpoint(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] = self.calls.get(method, 0) + 1
        if method == "getMe":
            return _ok(BOT_USER)
        if method != "sendMessage":
            return _ok(True)
        body = await request.read()
        if request.content_type == "application/json":
            params = json.loads(body)
        else:
            params = dict(parse_qsl(body.decode("utf-8"))) if body else {}
        chat = int(params["chat_id"])
        text = params.get("text", "")
        msgs = self.by_chat.setdefault(chat, [])
        msgs.append(text)
        waiter = self._waiters.get(chat)
        if waiter is not None and len(msgs) >= waiter[0] and not waiter[1].done():
            waiter[1].set_result(None)
        return _ok({"message_id": next(self._message_ids), "date": int(time.time()), "text": text, "from": BOT_USER,
                    "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"}})

    async def wait_count(self, chat: int, count: int, timeout: float) -> bool:
        """Wait until ``chat`` has received ``count`` messages."""
        if len(self.by_chat.get(chat, ())) >= count:
            return True
        fut = asyncio.get_running_loop().create_future()
        self._waiters[chat] = (count, fut)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            self._waiters.pop(chat, None)


def _ok(result: Any) -> web.Response:
    return web.Response(body=json.dumps({"ok": True, "result": result}).encode(), content_type="application/json")


# --- the baseline: the cheapest bot this harness can drive ---------------------------------------

def run_echo_server(port: int, api_base: str) -> None:
    """Answer each webhook at once and send one fixed reply: the harness's ceiling on this machine."""

    async def main() -> None:
        session = aiohttp.ClientSession()
        tasks: set[asyncio.Task[None]] = set()
        seen: set[int] = set()  # even the echo handles a redelivered update once

        async def reply(chat: int) -> None:
            async with session.post(f"{api_base}{TOKEN}/sendMessage", data={"chat_id": str(chat), "text": "Dạ"}) as r:
                await r.read()

        async def webhook(request: web.Request) -> web.Response:
            update = json.loads(await request.read())
            if update["update_id"] in seen:
                return web.json_response({"ok": True})
            seen.add(update["update_id"])
            source = update.get("message") or update["callback_query"]["message"]
            task = asyncio.create_task(reply(source["chat"]["id"]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return web.json_response({"ok": True})

        async def health(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_post("/telegram/webhook", webhook)
        app.router.add_get("/healthz", health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    try:
        import uvloop
        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


# --- citizens -----------------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    updates: int = 0
    duplicates_sent: int = 0
    complaints: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    rss_mb: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server used during the load
    client_cpu: float = 0.0  # CPU seconds this process (citizens + fake Bot API) used
    problems: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


class Updates:
    """Telegram updates as the platform sends them, with globally increasing update ids."""

    def __init__(self) -> None:
        self._ids = itertools.count(10_000)

    def make(self, chat: int, kind: str, payload: str) -> bytes:
        uid = next(self._ids)
        user = {"id": chat, "is_bot": False, "first_name": "Dân", "language_code": "vi"}
        chat_obj = {"id": chat, "type": "private", "first_name": "Dân"}
        now = int(time.time())
        if kind == "text":
            msg: dict[str, Any] = {"message_id": uid, "date": now, "chat": chat_obj, "from": user, "text": payload}
            if payload.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(payload.split()[0])}]
            update = {"update_id": uid, "message": msg}
        else:
            msg = {"message_id": uid - 1, "date": now, "chat": chat_obj, "from": BOT_USER, "text": "…"}
            update = {"update_id": uid, "callback_query": {"id": str(uid), "from": user, "chat_instance": "ci",
                                                            "data": payload, "message": msg}}
        return json.dumps(update, ensure_ascii=False).encode()


async def citizen(session: aiohttp.ClientSession, api: LeanBotApi, updates: Updates, url: str, chat: int,
                  script: list[tuple[str, str, str]], res: Result, dup_rate: float, rng: random.Random) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    for kind, payload, _ in script:
        body = updates.make(chat, kind, payload)
        before = len(api.by_chat.get(chat, ()))
        start = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as r:
            if r.status != 200:
                res.problems.append(f"chat {chat}: webhook answered {r.status}")
                return
        res.updates += 1
        if rng.random() < dup_rate:  # Telegram redelivers when it did not see our 200 in time
            async with session.post(url, data=body, headers=headers):
                pass
            res.duplicates_sent += 1
        if not await api.wait_count(chat, before + 1, timeout=30):
            res.problems.append(f"chat {chat}: no reply to {payload!r}")
            return
        res.latencies.append(time.perf_counter() - start)
        await asyncio.sleep(rng.uniform(0, 0.02))  # a person reads before typing again


def check_replies(api: LeanBotApi, scripts: dict[int, list[tuple[str, str, str]]], res: Result,
                  content: bool = True) -> None:
    for chat, script in scripts.items():
        msgs = api.by_chat.get(chat, [])
        if len(msgs) != len(script):
            res.problems.append(f"chat {chat}: {len(msgs)} replies for {len(script)} updates")
            continue
        if not content:
            continue
        for msg, (_, payload, expected) in zip(msgs, script):
            if expected not in msg:
                res.problems.append(f"chat {chat}: reply to {payload!r} lacks {expected!r}")
                break
        for msg, (_, payload, _) in zip(msgs, script):
            found = CODE.search(msg) if payload == "complaint:send" else None
            if found:
                res.codes.append(found.group(0))


async def check_complaints(api: LeanBotApi, res: Result) -> None:
    """Every complaint's card reaches the agency group exactly once (the outbox runs every second)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(api.by_chat.get(AGENCY_CHAT, [])) < len(res.codes):
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.5)  # a doubled card would show up now
    cards = [m for m in api.by_chat.get(AGENCY_CHAT, []) if "PHẢN ÁNH MỚI" in m]
    per_code = {c: sum(1 for m in cards if c in m) for c in res.codes}
    if len(res.codes) != res.complaints:
        res.problems.append(f"{len(res.codes)} tracking codes for {res.complaints} complaints")
    for code, n in per_code.items():
        if n != 1:
            res.problems.append(f"complaint {code}: card delivered {n} times")
    if len(cards) != len(res.codes) or api.by_chat.get(DESK_CHAT):
        res.problems.append(f"{len(cards)} cards in the agency group for {len(res.codes)} complaints")


async def check_database(database_url: str, res: Result, citizens: list[int]) -> None:
    """What the server stored: update ids once each, complaints once each, outbox all sent, states."""
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            async def one(sql: str) -> Any:
                return (await conn.execute(text(sql))).scalar_one()

            handled = await one("select count(*) from processed_updates")
            complaints = await one("select count(*) from complaints")
            distinct = await one("select count(distinct code) from complaints")
            unsent = await one("select count(*) from outbox where status <> 'sent'")
            sent = await one("select count(*) from outbox where status = 'sent'")
            states = (await conn.execute(text(
                "select u.external_id, s.state from users u join sessions s on s.user_id = u.id"))).all()
    finally:
        await engine.dispose()
    if handled != res.updates:
        res.problems.append(f"{handled} update ids recorded for {res.updates} distinct updates")
    if complaints != res.complaints or distinct != complaints:
        res.problems.append(f"{complaints} complaints stored ({distinct} distinct codes) for {res.complaints} filed")
    if unsent or sent != res.complaints:
        res.problems.append(f"outbox: {sent} sent, {unsent} not sent, for {res.complaints} cards")
    stored = {int(uid): state for uid, state in states}
    wrong = [c for c in citizens if stored.get(c, "?") != ""]
    if wrong:
        res.problems.append(f"{len(wrong)} conversations did not end back at the menu, e.g. chat {wrong[0]}: "
                            f"{stored.get(wrong[0], 'no session')!r}")


# --- the server process -------------------------------------------------------------------------

def server_pids(pid: int) -> list[int]:
    """The server process and its children (uvicorn workers)."""
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        out = ""
    return [pid, *(int(x) for x in out.split())]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by the server and its workers."""
    total = 0
    for p in server_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its workers, in MB."""
    total = 0
    for p in server_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


async def run_config(name: str, database_url: str, workers: int, args: argparse.Namespace) -> Result:
    """Run the load against one server configuration; ``database_url=""`` runs the echo baseline."""
    res = Result(name)
    baseline = not database_url
    port = free_port()
    workdir = Path(tempfile.mkdtemp())
    (workdir / "agencies.yaml").write_text(AGENCIES, encoding="utf-8")
    async with LeanBotApi() as api:
        env = {**os.environ, "DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": TOKEN,
               "TELEGRAM_BASE_URL": api.base_url, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "AGENCIES_FILE": str(workdir / "agencies.yaml"), "DEFAULT_PROVINCE": "An Giang",
               "RATE_LIMIT_PER_MINUTE": "10000", "TELEGRAM_RATE_LIMIT": "0", "LOG_LEVEL": "WARNING",
               "PYTHONPATH": str(ROOT)}
        command = ([sys.executable, __file__, "--echo-server", str(port), api.base_url] if baseline else
                   [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--workers", str(workers)])
        proc = subprocess.Popen(command, env=env, cwd=workdir)
        base = f"http://127.0.0.1:{port}"
        try:
            connector = aiohttp.TCPConnector(limit=args.citizens + 10)
            async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
                for _ in range(600):
                    try:
                        async with session.get(f"{base}/healthz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    res.problems.append("server did not become healthy")
                    return res
                rng = random.Random(7)
                chats = [100_000 + i for i in range(args.citizens)]
                scripts: dict[int, list[tuple[str, str, str]]] = {}
                for i, chat in enumerate(chats):
                    complains = i < round(args.citizens * args.complaint_share)
                    rounds = [COMPLAINT if complains and r == 0 else QUESTIONS for r in range(args.rounds)]
                    scripts[chat] = [step for steps in rounds for step in steps]
                    res.complaints += complains
                updates = Updates()
                url = f"{base}/telegram/webhook"
                cpu0, own0 = cpu_seconds(proc.pid), time.process_time()
                start = time.perf_counter()
                await asyncio.gather(*(citizen(session, api, updates, url, chat, scripts[chat], res, args.dup_rate,
                                               random.Random(rng.random())) for chat in chats))
                res.seconds = time.perf_counter() - start
                res.server_cpu, res.client_cpu = cpu_seconds(proc.pid) - cpu0, time.process_time() - own0
                res.rss_mb = rss_mb(proc.pid)
                check_replies(api, scripts, res, content=not baseline)
                if not baseline:
                    await check_complaints(api, res)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if not baseline:
        await check_database(database_url, res, chats)
    return res


async def pg_database(base_url: str) -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(user=url.username, password=url.password, host=url.host, port=url.port or 5432,
                                 database=url.database or "postgres")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=200, help="citizens chatting at the same time")
    ap.add_argument("--rounds", type=int, default=2, help="conversations per citizen, one after another")
    ap.add_argument("--complaint-share", type=float, default=0.1,
                    help="share of citizens whose first conversation files a complaint")
    ap.add_argument("--dup-rate", type=float, default=0.05, help="share of updates delivered twice")
    ap.add_argument("--only", choices=["sqlite", "postgresql"], help="run only the configurations of one database")
    ap.add_argument("--echo-server", nargs=2, metavar=("PORT", "API_BASE"), help=argparse.SUPPRESS)
    return ap.parse_args()


async def main(args: argparse.Namespace) -> int:
    configs: list[tuple[str, str, int]] = [("baseline: echo bot (no bot logic, no database)", "", 1)]
    if args.only != "postgresql":
        configs.append(("SQLite, 1 worker", f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3", 1))
    pg = os.environ.get("TEST_DATABASE_URL_PG", "")
    if pg and args.only != "sqlite":
        configs.append(("PostgreSQL, 1 worker", await pg_database(pg), 1))
        configs.append(("PostgreSQL, 2 workers", await pg_database(pg), 2))
    elif not pg:
        print("(set TEST_DATABASE_URL_PG to include the PostgreSQL configurations)")
    results = [await run_config(name, url, workers, args) for name, url, workers in configs]
    print(f"\n{args.citizens} citizens × {args.rounds} conversations ({args.complaint_share:.0%} file a complaint), "
          f"{args.dup_rate:.0%} of updates delivered twice, {os.cpu_count()} CPU cores\n")
    print("| configuration | updates | updates/s | p50 ms | p99 ms | server CPU ms/update "
          "| load generator CPU ms/update | server RSS MB | checks |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    base_ups = results[0].updates / results[0].seconds if results[0].seconds else 0.0
    for r in results:
        ups = r.updates / r.seconds if r.seconds else 0.0
        per = 1000 / r.updates if r.updates else 0.0
        ok = "all passed" if not r.problems else f"{len(r.problems)} FAILED"
        if r is results[0]:
            ok = "replies counted" if not r.problems else ok
        print(f"| {r.name} | {r.updates} | {ups:.0f} | {pct(r.latencies, 0.5):.1f} | {pct(r.latencies, 0.99):.1f} "
              f"| {r.server_cpu * per:.1f} | {r.client_cpu * per:.1f} | {r.rss_mb:.0f} | {ok} |")
    if base_ups:
        print("\n" + ", ".join(f"{r.name}: {100 * r.updates / r.seconds / base_ups:.0f}%"
                               for r in results[1:] if r.seconds) + " of the baseline's updates/s")
    for r in results:
        filed = "" if r is results[0] else f", {r.complaints} complaints"
        print(f"  {r.name}: {r.duplicates_sent} redelivered updates{filed}, "
              f"mean latency {statistics.fmean(r.latencies) * 1000 if r.latencies else float('nan'):.1f} ms")
        for p in r.problems[:10]:
            print(f"  {r.name}: {p}")
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    cli = parse_args()
    if cli.echo_server:
        run_echo_server(int(cli.echo_server[0]), cli.echo_server[1])
        sys.exit(0)
    try:
        import uvloop
    except ImportError:
        sys.exit(asyncio.run(main(cli)))
    sys.exit(uvloop.run(main(cli)))
