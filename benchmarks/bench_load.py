"""Load benchmark: simulated citizens drive `python -m bot serve` through the real webhook path.

For each configuration (1 worker on SQLite, 1 and 2 workers on PostgreSQL) it starts a fake
Telegram Bot API on 127.0.0.1, starts the bot's web server as a subprocess pointed at it, and
has N citizens send interleaved messages and button presses (some updates delivered twice, as
Telegram does on retries). It prints updates per second, p50/p99 latency (webhook POST → reply
received by the fake Bot API) and server memory, then checks that every conversation ended in the
right state, every update was answered exactly once, and no update was handled twice.

    python benchmarks/bench_load.py                       # SQLite only
    TEST_DATABASE_URL_PG=postgresql+asyncpg://postgres@127.0.0.1:55432/postgres \
        python benchmarks/bench_load.py --citizens 300    # SQLite and PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import TOKEN, FakeTelegram, free_port  # noqa: E402

SECRET = "bench-secret-token"

# One citizen's conversation: (kind, payload, text expected in the reply).
SCRIPT = [
    ("text", "/start", "Dạ, em chào anh/chị"),
    ("text", "đăng ký khai sinh", "Cơ quan giải quyết"),
    ("press", "kb:docs:khai-sinh", "Giấy tờ cho thủ tục"),
    ("text", "làm hộ chiếu", "Cơ quan giải quyết"),
    ("press", "kb:fees:ho-chieu", "Phí, lệ phí và thời hạn"),
    ("text", "giá vàng hôm nay", "chưa tìm thấy"),
    ("text", "cảm ơn", "không có gì"),
]


@dataclass
class Result:
    name: str
    updates: int = 0
    duplicates_sent: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    rss_mb: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server used during the load
    client_cpu: float = 0.0  # CPU seconds this process (citizens + fake Bot API) used
    problems: list[str] = field(default_factory=list)


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
    """Resident memory of a process and its children (uvicorn workers), in MB."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        total += sum(int(x) for x in out.split())
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


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


def update_body(fake: FakeTelegram, chat_id: int, kind: str, payload: str) -> dict:
    """Build an update the way the fake would queue it, without queueing it."""
    before = len(fake.updates)
    (fake.text if kind == "text" else fake.press)(chat_id, payload)
    body = fake.updates.pop(before)
    return body


async def citizen(client: httpx.AsyncClient, fake: FakeTelegram, url: str, chat_id: int, res: Result,
                  dup_rate: float, rng: random.Random) -> None:
    for kind, payload, _ in SCRIPT:
        body = update_body(fake, chat_id, kind, payload)
        before = len(fake.to(chat_id))
        start = time.perf_counter()
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        r = await client.post(url, json=body, headers=headers)
        if r.status_code != 200:
            res.problems.append(f"chat {chat_id}: webhook answered {r.status_code}")
            return
        res.updates += 1
        if rng.random() < dup_rate:  # Telegram redelivers when it did not see our 200 in time
            await client.post(url, json=body, headers=headers)
            res.duplicates_sent += 1
        if not await fake.wait_count(chat_id, before + 1, timeout=30):
            res.problems.append(f"chat {chat_id}: no reply to {payload!r}")
            return
        res.latencies.append(time.perf_counter() - start)
        await asyncio.sleep(rng.uniform(0, 0.02))  # a person reads before typing again


def check(fake: FakeTelegram, chats: list[int], res: Result) -> None:
    for chat_id in chats:
        msgs = fake.to(chat_id)
        if len(msgs) != len(SCRIPT):
            res.problems.append(f"chat {chat_id}: {len(msgs)} replies for {len(SCRIPT)} updates")
            continue
        for msg, (_, payload, expected) in zip(msgs, SCRIPT):
            if expected not in msg.text:
                res.problems.append(f"chat {chat_id}: reply to {payload!r} lacks {expected!r}")
                break


async def run_config(name: str, database_url: str, workers: int, citizens: int, dup_rate: float) -> Result:
    res = Result(name)
    port = free_port()
    async with FakeTelegram() as fake:
        env = {**os.environ, "DATABASE_URL": database_url, "TELEGRAM_BOT_TOKEN": TOKEN,
               "TELEGRAM_BASE_URL": fake.base_url, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "RATE_LIMIT_PER_MINUTE": "10000", "TELEGRAM_RATE_LIMIT": "0", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", str(workers)], env=env, cwd=tempfile.mkdtemp())
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:
                for _ in range(300):
                    try:
                        if (await client.get(f"{base}/healthz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    res.problems.append("server did not become healthy")
                    return res
                chats = [100_000 + i for i in range(citizens)]
                rng = random.Random(7)
                cpu0, own0 = cpu_seconds(proc.pid), time.process_time()
                start = time.perf_counter()
                await asyncio.gather(*(citizen(client, fake, f"{base}/telegram/webhook", c, res, dup_rate,
                                               random.Random(rng.random())) for c in chats))
                res.seconds = time.perf_counter() - start
                res.server_cpu, res.client_cpu = cpu_seconds(proc.pid) - cpu0, time.process_time() - own0
                await asyncio.sleep(0.5)  # anything late or doubled shows up now
                res.rss_mb = rss_mb(proc.pid)
                check(fake, chats, res)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.split("///", 1)[1]) as conn:
            handled = conn.execute("select count(*) from processed_updates").fetchone()[0]
        if handled != res.updates:
            res.problems.append(f"{handled} update ids recorded for {res.updates} distinct updates")
    return res


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--citizens", type=int, default=200)
    ap.add_argument("--dup-rate", type=float, default=0.05, help="share of updates delivered twice")
    args = ap.parse_args()
    configs: list[tuple[str, str, int]] = [
        ("SQLite, 1 worker", f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3", 1)]
    pg = os.environ.get("TEST_DATABASE_URL_PG", "")
    if pg:
        configs.append(("PostgreSQL, 1 worker", await pg_database(pg), 1))
        configs.append(("PostgreSQL, 2 workers", await pg_database(pg), 2))
    else:
        print("(set TEST_DATABASE_URL_PG to include PostgreSQL configurations)")
    results = [await run_config(name, url, workers, args.citizens, args.dup_rate) for name, url, workers in configs]
    print(f"\n{args.citizens} citizens × {len(SCRIPT)} updates, {args.dup_rate:.0%} redelivered\n")
    print(f"| configuration | updates | updates/s | p50 ms | p99 ms | server CPU ms/update | load generator CPU ms/update "
          f"| server RSS MB | checks |")
    print(f"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        ups = r.updates / r.seconds if r.seconds else 0.0
        ok = "all passed" if not r.problems else f"{len(r.problems)} FAILED"
        per = 1000 / r.updates if r.updates else 0.0
        print(f"| {r.name} | {r.updates} | {ups:.0f} | {pct(r.latencies, 0.5):.1f} | {pct(r.latencies, 0.99):.1f} "
              f"| {r.server_cpu * per:.1f} | {r.client_cpu * per:.1f} | {r.rss_mb:.0f} | {ok} |")
    for r in results:
        for p in r.problems[:10]:
            print(f"  {r.name}: {p}")
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
