"""``python -m bot serve`` and ``python -m bot run`` as real processes, against fake Telegram and Zalo APIs."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.cli import main as cli_main
from bot.config import Settings
from bot.server import create_app, register_webhooks
from tests.fake_telegram import TOKEN as TG_TOKEN, FakeTelegram, free_port
from tests.fake_zalo import TOKEN as ZALO_TOKEN, FakeZalo

ROOT = Path(__file__).resolve().parent.parent
TG_SECRET = "tg_secret-ABC123"
ZALO_SECRET = "zalo-secret-456789"


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeZalo]]:
    async with FakeTelegram() as tg, FakeZalo() as zalo:
        yield tg, zalo


def bot_env(tmp_path: Path, tg: FakeTelegram, zalo: FakeZalo, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL"))}
    env.update({
        "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        "TELEGRAM_BOT_TOKEN": TG_TOKEN, "TELEGRAM_BASE_URL": tg.base_url, "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "ZALO_BOT_TOKEN": ZALO_TOKEN, "ZALO_BASE_URL": zalo.base_url, "ZALO_WEBHOOK_SECRET": ZALO_SECRET,
    })
    env.update(extra)
    return env


class BotProcess:
    """``python -m bot <args>`` in a subprocess; its output goes to a log file."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *args: str) -> None:
        self.args, self.env = args, env
        self.log = tmp_path / f"bot-{args[0]}-{time.monotonic_ns()}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> "BotProcess":
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *self.args, env=self.env, cwd=self.log.parent,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def wait(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return await self.wait()


async def wait_healthy(base: str, bot: BotProcess, timeout: float = 25.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            assert bot.proc is not None
            if bot.proc.returncode is not None:
                raise AssertionError(f"server exited {bot.proc.returncode}:\n{bot.output()}")
            try:
                resp = await http.get(f"{base}/healthz")
                if resp.status_code == 200:
                    return resp.json()
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not healthy:\n{bot.output()}")
            await asyncio.sleep(0.1)


def telegram_text(tg: FakeTelegram, chat_id: int, text: str) -> dict[str, Any]:
    tg.text(chat_id, text)
    return dict(tg.updates.pop())  # not served by getUpdates: it goes to the webhook instead


def telegram_press(tg: FakeTelegram, chat_id: int, data: str) -> dict[str, Any]:
    tg.press(chat_id, data)
    return dict(tg.updates.pop())


async def test_serve_answers_both_webhooks_and_healthz(tmp_path: Path, fakes: tuple[FakeTelegram, FakeZalo]) -> None:
    tg, zalo = fakes
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with BotProcess(tmp_path, bot_env(tmp_path, tg, zalo), "serve", "--host", "127.0.0.1",
                          "--port", str(port)) as bot:
        health = await wait_healthy(base, bot)
        assert health["status"] == "ok" and health["store"] == "ok"
        assert health["knowledge"]["entries"] > 10
        assert health["channels"] == {"telegram": True, "zalo": True}
        assert "getUpdates" not in [m for m, _ in tg.calls]  # webhook mode: no polling
        async with httpx.AsyncClient(timeout=5) as http:
            tg_url, zalo_url = f"{base}/telegram/webhook", f"{base}/zalo/webhook"
            update = telegram_text(tg, 4242, "đăng ký khai sinh")
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "nope"}):
                assert (await http.post(tg_url, json=update, headers=headers)).status_code == 403
            ok_secret = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
            assert (await http.post(tg_url, json=["<b>"], headers=ok_secret)).status_code == 400
            ignored = await http.post(tg_url, json={"update_id": 1, "edited_message": {}}, headers=ok_secret)
            assert ignored.status_code == 200 and ignored.json() == {"ok": True}
            started = time.monotonic()
            resp = await http.post(tg_url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
            assert resp.status_code == 200 and time.monotonic() - started < 2.0
            assert resp.json() == {"ok": True}
            card = await tg.wait_for(4242, 1)
            assert "Đăng ký khai sinh".upper() in card[0].text.upper()
            press = telegram_press(tg, 4242, card[-1].action("Giấy tờ"))
            resp = await http.post(tg_url, json=press, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
            # the press is acknowledged in the webhook's answer (Telegram runs that method), not by a request
            assert resp.status_code == 200
            assert resp.json() == {"method": "answerCallbackQuery", "callback_query_id": press["callback_query"]["id"]}
            docs = await tg.wait_for(4242, len(card) + 1)
            assert "Giấy tờ cho thủ tục" in docs[-1].text
            assert "answerCallbackQuery" not in [m for m, _ in tg.calls]

            z_update = FakeZalo.make("message.text.received", "z-77", text="/start")
            assert (await FakeZalo.post_webhook(zalo_url, z_update, "wrong-secret")).status_code == 403
            assert (await FakeZalo.post_webhook(zalo_url, z_update, ZALO_SECRET, wrapped=True)).status_code == 200
            greeting = await zalo.wait_for("z-77", 1)
            assert "Dạ, em chào anh/chị" in greeting[0].text and "Gõ 1, 2" in greeting[0].text
            pick = FakeZalo.make("message.text.received", "z-77", text="5")  # 5. Gặp người hỗ trợ
            assert (await FakeZalo.post_webhook(zalo_url, pick, ZALO_SECRET)).status_code == 200
            human = await zalo.wait_for("z-77", 2)
            assert "18001096" in human[1].text
        assert await bot.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after shutting down
    out = bot.output()
    assert "Application shutdown complete" in out, out
    assert "Traceback" not in out
    assert TG_TOKEN not in out and ZALO_TOKEN not in out


async def test_set_webhooks_registers_both_and_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     fakes: tuple[FakeTelegram, FakeZalo]) -> None:
    tg, zalo = fakes
    for key, value in bot_env(tmp_path, tg, zalo).items():
        monkeypatch.setenv(key, value)
    # The real command line, in a thread (it runs its own event loop) while the fakes serve here.
    status = await asyncio.to_thread(cli_main, ["serve", "--set-webhooks", "https://dvc.example.gov.vn/bot/"])
    assert status == 0
    params = next(p for m, p in tg.calls if m == "setWebhook")
    assert params["url"] == "https://dvc.example.gov.vn/bot/telegram/webhook"
    assert params["secret_token"] == TG_SECRET
    assert set(params["allowed_updates"]) == {"message", "callback_query"}
    assert zalo.webhook == {"url": "https://dvc.example.gov.vn/bot/zalo/webhook", "secret_token": ZALO_SECRET}


async def test_set_webhooks_refuses_http_and_missing_secrets(settings: Settings, capsys: pytest.CaptureFixture[str],
                                                              fakes: tuple[FakeTelegram, FakeZalo]) -> None:
    tg, zalo = fakes
    cfg = settings.model_copy(update={"telegram_bot_token": TG_TOKEN, "telegram_base_url": tg.base_url,
                                      "telegram_webhook_secret": TG_SECRET, "zalo_bot_token": ZALO_TOKEN,
                                      "zalo_base_url": zalo.base_url, "zalo_webhook_secret": "short"})
    assert await register_webhooks(cfg, "http://insecure.example") == 2
    assert "https://" in capsys.readouterr().out
    assert await register_webhooks(cfg, "https://dvc.example.gov.vn") == 2
    assert "ZALO_WEBHOOK_SECRET" in capsys.readouterr().out
    no_tg_secret = cfg.model_copy(update={"telegram_webhook_secret": "", "zalo_webhook_secret": ZALO_SECRET})
    assert await register_webhooks(no_tg_secret, "https://dvc.example.gov.vn") == 2
    assert "TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().out
    assert await register_webhooks(settings, "https://dvc.example.gov.vn") == 2  # no token at all
    assert not [m for m, _ in tg.calls if m == "setWebhook"] and zalo.webhook == {}
    only_zalo = cfg.model_copy(update={"telegram_bot_token": "", "zalo_webhook_secret": ZALO_SECRET})
    assert await register_webhooks(only_zalo, "https://dvc.example.gov.vn") == 0
    assert zalo.webhook["url"] == "https://dvc.example.gov.vn/zalo/webhook"


async def test_run_polls_zalo_and_telegram_at_once(tmp_path: Path, fakes: tuple[FakeTelegram, FakeZalo]) -> None:
    tg, zalo = fakes
    async with BotProcess(tmp_path, bot_env(tmp_path, tg, zalo), "run") as bot:
        zalo.text("z-1", "/start")
        tg.text(3131, "/start")
        z_sent = await zalo.wait_for("z-1", 1, timeout=25)
        tg_sent = await tg.wait_for(3131, 1, timeout=25)
        assert "Dạ, em chào anh/chị" in z_sent[0].text and "1. Hỏi thủ tục" in z_sent[0].text
        assert "Dạ, em chào anh/chị" in tg_sent[0].text and tg_sent[0].labels[0] == "Hỏi thủ tục"
        await bot.stop(signal.SIGINT)
    assert "Traceback" not in bot.output()


async def test_serve_with_two_workers(tmp_path: Path, empty_database_url: str,
                                      fakes: tuple[FakeTelegram, FakeZalo]) -> None:
    database_url = empty_database_url  # both workers start on an empty database: they migrate it one after the other
    if os.environ.get("TEST_DATABASE_URL_PG") and database_url.startswith("sqlite"):
        pytest.skip("several workers run on PostgreSQL in production; tested there")
    tg, zalo = fakes
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = bot_env(tmp_path, tg, zalo, DATABASE_URL=database_url)
    async with BotProcess(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2") as bot:
        await wait_healthy(base, bot, timeout=40)
        for i in range(4):  # connections land on either worker; each answers its own update
            update = FakeZalo.make("message.text.received", f"zw-{i}", text="đăng ký khai sinh")
            resp = await FakeZalo.post_webhook(f"{base}/zalo/webhook", update, ZALO_SECRET)
            assert resp.status_code == 200
        for i in range(4):
            sent = await zalo.wait_for(f"zw-{i}", 1, timeout=20)
            assert "KHAI SINH" in sent[0].text.upper()
        assert await bot.stop() in (0, -signal.SIGTERM)
    assert "Traceback" not in bot.output()


async def test_healthz_reports_an_unreachable_database(tmp_path: Path, settings: Settings) -> None:
    db = tmp_path / "gone" / "db.sqlite3"
    db.parent.mkdir()
    cfg = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{db}"})
    app = create_app(cfg)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(timeout=5) as http:
            ok = await http.get(f"http://127.0.0.1:{port}/healthz")
            assert ok.status_code == 200 and ok.json()["channels"] == {"telegram": False, "zalo": False}
            await app.state.runtime.dispatcher.services.store.engine.dispose()
            shutil.rmtree(db.parent)
            db.parent.parent.joinpath("gone").write_text("not a folder")  # the database cannot be opened
            bad = await http.get(f"http://127.0.0.1:{port}/healthz")
            assert bad.status_code == 503
            assert bad.json()["store"] == "unreachable" and bad.json()["status"] == "unhealthy"
            assert (await http.post(f"http://127.0.0.1:{port}/zalo/webhook", json={})).status_code == 404
    finally:
        server.should_exit = True
        await task
