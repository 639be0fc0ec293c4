"""Saved before acknowledged: ``python -m bot serve`` is killed with SIGKILL after it answered a webhook
``200`` but before the update's turn finished; the restarted server handles the update (it was
recorded before the 200) and does not make the citizen wait for the dead process's lease.

The window is held open deterministically: before the update arrives, the citizen's conversation
lease is held under a worker id of the server process itself (as if its turn had taken it), so the
turn cannot finish; then the process is killed. At restart, leases and records of dead processes of
this host are released at once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from storage.store import HOST, Store
from tests.fake_telegram import FakeTelegram, free_port
from tests.fake_zalo import FakeZalo
from tests.test_server import TG_SECRET, BotProcess, bot_env, telegram_text, wait_healthy

USER = 6161


@pytest.mark.slow
async def test_update_acknowledged_then_killed_is_handled_after_restart(tmp_path: Path) -> None:
    async with FakeTelegram() as tg, FakeZalo() as zalo:
        env = bot_env(tmp_path, tg, zalo)
        db_url = env["DATABASE_URL"]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        args = ("serve", "--host", "127.0.0.1", "--port", str(port))
        async with BotProcess(tmp_path, env, *args) as first:
            await wait_healthy(base, first)
            assert first.proc is not None
            holder = Store.from_url(db_url)
            holder.worker_id = f"{HOST}:{first.proc.pid}:held0000"  # a lease "of" the first server process
            async with holder.engine.begin() as conn:
                assert await holder._take_lock(conn, f"telegram:{USER}", ttl=120)
            update = telegram_text(tg, USER, "đăng ký khai sinh")
            async with httpx.AsyncClient(timeout=5) as http:
                resp = await http.post(f"{base}/telegram/webhook", json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
            assert resp.status_code == 200
            async with holder.engine.connect() as conn:
                recorded = (await conn.exec_driver_sql("SELECT channel, update_key FROM inbox_updates")).all()
            assert recorded == [("telegram", str(update["update_id"]))]  # saved before the 200
            await asyncio.sleep(0.3)
            assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
            assert tg.to(USER) == []  # the first process never answered
            await holder.close()
        async with BotProcess(tmp_path, env, *args) as second:
            await wait_healthy(base, second)
            started = time.monotonic()
            answer = await tg.wait_for(USER, 1, timeout=15)
            waited = time.monotonic() - started
            assert "KHAI SINH" in answer[0].text.upper()
            assert waited < 5, f"answered {waited:.1f}s after the restart"  # not after a 20-120 s lease
            await asyncio.sleep(0.5)
            assert len(tg.to(USER)) == 1  # handled once
            await second.stop()
        check = Store.from_url(db_url)
        try:
            async with check.engine.connect() as conn:
                left = (await conn.exec_driver_sql("SELECT count(*) FROM inbox_updates")).scalar()
                locks = (await conn.exec_driver_sql("SELECT count(*) FROM conversation_locks")).scalar()
            assert (left, locks) == (0, 0)
        finally:
            await check.close()
    out = second.output()
    assert "released what dead processes of this host held" in out and "handling again an update" in out
