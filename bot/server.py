"""The production web server (``python -m bot serve``): Starlette on uvicorn.

Routes:
- ``POST /telegram/webhook``: Telegram updates, checked against TELEGRAM_WEBHOOK_SECRET
  (header ``X-Telegram-Bot-Api-Secret-Token``);
- ``POST /zalo/webhook``: Zalo Bot Platform updates, checked against ZALO_WEBHOOK_SECRET
  (header ``X-Bot-Api-Secret-Token``);
- the dossier push endpoint (bot/dossier_api.py);
- ``GET /healthz``: database reachable and knowledge loaded (200, else 503);
- ``/console``: the web console for agencies and operators (bot/console/, docs/console.md).

Webhooks are answered at once; the update is handled in the background (bounded, ordered
per user, drained on shutdown). Every worker process builds its own dispatcher, Telegram
application and Zalo client; all state is in the database, so workers share nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.config import Settings, load_settings
from bot.render import clean_payload
from bot.task_pool import PoolFull, TaskPool

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # webhook bodies are small JSON documents
DRAIN_SECONDS = 20.0
TELEGRAM_SECRET_HEADER = "x-telegram-bot-api-secret-token"
ZALO_SECRET_HEADER = "x-bot-api-secret-token"
TELEGRAM_PATH = "/telegram/webhook"
ZALO_PATH = "/zalo/webhook"
TELEGRAM_ALLOWED_UPDATES = ["message", "callback_query"]
_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass
class Runtime:
    """What the lifespan builds once per worker process."""

    settings: Settings
    dispatcher: Any = None
    telegram: Any = None  # python-telegram-bot Application without an updater
    zalo: Any = None  # ZaloClient
    pool: TaskPool = field(default_factory=TaskPool)
    channels: list[Any] = field(default_factory=list)  # channels mounted through bot.channel (the web chat...)
    health_probe: Any = None  # the running /healthz database probe (asyncio.Future)


def secret_ok(given: str | None, expected: str) -> bool:
    """Constant-time comparison; an unset secret refuses everything."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


async def _json_body(request: Request) -> Any:
    """The parsed JSON body, or a JSONResponse explaining why not."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        return JSONResponse({"ok": False, "error": "body too large"}, status_code=413)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            return JSONResponse({"ok": False, "error": "body too large"}, status_code=413)
    try:
        return json.loads(body)
    except ValueError:
        return JSONResponse({"ok": False, "error": "body is not JSON"}, status_code=400)


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


# A user over their share of the queue gets the 503 after this pause: a flooder's connections are slowed
# (40 connections: at most ~400 refusals a second), so refusing them costs little of the event loop that
# serves everyone else (answered at once, a 6,000-update flood over 40 connections was refused at ~1,300
# a second, CPU time the other users' turns then waited for; tests/test_faults_fairness.py).
OVER_SHARE_DELAY = 0.1


async def _busy(rt: Runtime) -> JSONResponse:
    if rt.pool.full():
        log.warning("too many updates waiting; asking the platform to retry")
    else:  # this user's fair share of the queue is used up; others are still accepted
        log.debug("one user's updates over their share of the queue; asking the platform to retry")
        await asyncio.sleep(OVER_SHARE_DELAY)
    return JSONResponse({"ok": False, "error": "busy"}, status_code=503)


async def _accept(rt: Runtime, handle: Callable[[], Coroutine[Any, Any, Any]], incoming: Any,
                  payload: dict[str, Any], answer: dict[str, Any] | None = None) -> JSONResponse:
    """Record the update in the database (``inbox_updates``), then queue its handling after the user's
    earlier updates, then answer ``200``: an update the platform saw acknowledged is never only in
    memory. If the worker dies before the update's turn is finished, another worker (or this one
    after its restart) handles it again (``_inbox_loop``). If an earlier update of the same user is
    still being handled here, the update is also announced at once, so that a later update of the
    same user on another worker waits for it."""
    key = f"{incoming.channel}:{incoming.user_id}"
    if rt.pool.refuses(key):
        return await _busy(rt)
    store = rt.dispatcher.services.store
    recorded = False
    if incoming.update_key:
        try:
            recorded = await store.inbox_record(incoming.channel, incoming.update_key, key,
                                                clean_payload(payload))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - not saved: the platform must deliver it again
            log.warning("could not record an update (%s); asking the platform to retry", type(exc).__name__)
            return JSONResponse({"ok": False, "error": "busy"}, status_code=503)
    try:
        rt.pool.submit(_run_recorded(store, handle, incoming, recorded), key,
                       lambda: rt.dispatcher.announce(incoming))
    except PoolFull:
        if recorded:
            store.inbox_forget(incoming.channel, incoming.update_key)
        return await _busy(rt)
    return JSONResponse(answer or {"ok": True})


async def _run_recorded(store: Any, handle: Callable[[], Coroutine[Any, Any, Any]], incoming: Any,
                        recorded: bool) -> None:
    """Handle an update, then forget its record (a finished turn already deleted it with the session
    save; this covers duplicates, refusals and failures). Cancelled (shutdown): the record stays, and
    the next start handles the update."""
    try:
        await handle()  # (made here: a refused update leaves no coroutine never awaited)
    except asyncio.CancelledError:
        raise
    except BaseException:
        if recorded:
            store.inbox_forget(incoming.channel, incoming.update_key)
        raise
    if recorded:  # queued: written with the next batch of records, not a transaction of its own
        store.inbox_forget(incoming.channel, incoming.update_key)


async def _webhook_body(request: Request, channel: Any, name: str, header: str, secret: str) -> Any:
    """The JSON of a webhook call, or the JSONResponse refusing it (channel off, wrong secret, bad body)."""
    if channel is None:
        return JSONResponse({"ok": False, "error": f"{name} is not configured"}, status_code=404)
    if not secret_ok(request.headers.get(header), secret):
        return JSONResponse({"ok": False, "error": "wrong secret token"}, status_code=403)
    return await _json_body(request)


async def telegram_webhook(request: Request) -> JSONResponse:
    from bot.telegram_channel import handle_incoming, to_incoming

    rt = _runtime(request)
    data = await _webhook_body(request, rt.telegram, "Telegram", TELEGRAM_SECRET_HEADER,
                               rt.settings.telegram_webhook_secret)
    if isinstance(data, JSONResponse):
        return data
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return JSONResponse({"ok": False, "error": "not a Telegram update"}, status_code=400)
    # The JSON goes straight to our translation (no PTB Update objects: they cost more than the rest).
    incoming = to_incoming(data)
    if incoming is None:
        return JSONResponse({"ok": True})  # an update the bot does not handle (an edit, a join...)
    answer = None
    query = data.get("callback_query")
    if isinstance(query, dict) and query.get("id"):
        # Telegram runs one Bot API method given in the webhook's answer: the button's spinner
        # stops at once, without a request of our own.
        answer = {"method": "answerCallbackQuery", "callback_query_id": str(query["id"])}
    return await _accept(rt, lambda: handle_incoming(rt.dispatcher, rt.telegram.bot, incoming), incoming, data,
                         answer)


async def zalo_webhook(request: Request) -> JSONResponse:
    from bot.zalo_channel import handle_incoming, to_incoming, unwrap

    rt = _runtime(request)
    data = await _webhook_body(request, rt.zalo, "Zalo", ZALO_SECRET_HEADER, rt.settings.zalo_webhook_secret)
    if isinstance(data, JSONResponse):
        return data
    update = unwrap(data)
    if update is None:
        return JSONResponse({"ok": False, "error": "not a Zalo update"}, status_code=400)
    incoming = to_incoming(update)
    if incoming is None:
        return JSONResponse({"ok": True})  # an event the bot does not handle
    return await _accept(rt, lambda: handle_incoming(rt.dispatcher, rt.zalo, incoming), incoming, update)


HEALTH_WAIT = 2.0  # seconds /healthz waits for the database before saying it does not answer


async def _store_health(store: Any) -> str:
    """"ok", "unreachable" (no connection), "read-only" (writes fail), "files-not-writable" (SQLite's
    folder or files, checked before any write: a write through an immutable -shm mapping is SIGBUS)
    or "busy" (no answer in time)."""
    from storage.db import engine_write_problem

    problem = engine_write_problem(store.engine)
    if problem:
        log.error("database files not writable: %s; nothing can be stored until this is fixed", problem)
        return "files-not-writable"
    if not await store.ping():
        return "unreachable"
    return "ok" if await store.probe_write() else "read-only"


async def healthz(request: Request) -> JSONResponse:
    rt = _runtime(request)
    services = rt.dispatcher.services
    # One probe at a time, never cancelled (a cancelled SQLite call would leave its connection busy);
    # /healthz answers within HEALTH_WAIT seconds whatever the database does.
    if rt.health_probe is None or rt.health_probe.done():
        rt.health_probe = asyncio.ensure_future(_store_health(services.store))
    done, _ = await asyncio.wait({rt.health_probe}, timeout=HEALTH_WAIT)
    store_state = rt.health_probe.result() if done else "busy"
    store_ok = store_state == "ok"
    entries = len(services.kb)
    healthy = store_ok and entries > 0
    body = {
        "status": "ok" if healthy else "unhealthy",
        "store": store_state,
        "knowledge": {"entries": entries, "problems": len(services.kb.problems)},
        "channels": {"telegram": rt.telegram is not None, "zalo": rt.zalo is not None,
                     **{c.name: True for c in rt.channels}},
        "background": {"pending": len(rt.pool), "failures": rt.pool.failures,
                       "refused_over_user_share": rt.pool.refused_keys, "paced": rt.pool.paced},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


# --- the application ------------------------------------------------------------

def create_app(settings: Settings | None = None, kb: Any = None) -> Starlette:
    """The ASGI app; with no settings they are read from the environment (each worker does).
    ``kb``: an already loaded knowledge base (tests), else loaded from the settings."""
    if settings is None:
        from bot.cli import setup_logging

        settings = load_settings()
        setup_logging(settings)
    rt = Runtime(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from bot.channel import build_channels
        from bot.runtime import background_jobs
        from handlers.app import build_dispatcher

        rt.dispatcher = await build_dispatcher(settings, kb=kb)
        app.router.routes.extend(_feature_routes(rt.dispatcher.services))
        rt.channels = build_channels(settings, rt.dispatcher)
        for channel in rt.channels:  # every channel of bot.channel.CHANNEL_MODULES the settings turn on
            app.router.routes.extend(channel.routes())
            await channel.start()
        inbox: asyncio.Task[None] | None = None
        try:
            released = await rt.dispatcher.services.store.release_dead_local()
            if any(released.values()):
                log.warning("released what dead processes of this host held: %s", released)
            await _start_channels(rt)
            inbox = asyncio.create_task(_inbox_loop(rt))
            async with background_jobs(rt.dispatcher.services):
                yield
                inbox.cancel()
                await rt.pool.drain(DRAIN_SECONDS)  # finish accepted updates while the outbox still runs
                await rt.dispatcher.services.store.inbox.flush()
        finally:
            if inbox is not None:
                inbox.cancel()
                await asyncio.gather(inbox, return_exceptions=True)
            await _stop_channels(rt)
            for channel in rt.channels:
                await channel.stop()
            await rt.dispatcher.services.store.close()

    app = Starlette(routes=[
        Route(TELEGRAM_PATH, telegram_webhook, methods=["POST"]),
        Route(ZALO_PATH, zalo_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ], lifespan=lifespan)
    app.state.runtime = rt
    return app


async def _inbox_loop(rt: Runtime) -> None:
    """Keep this worker's recorded updates leased, and handle again those of workers that died
    (at start-up at once, then every ``INBOX_LEASE / 3`` seconds)."""
    from storage.store import INBOX_LEASE

    store = rt.dispatcher.services.store
    while True:
        try:
            await store.inbox_renew()
            for row in await store.inbox_take_over():
                _redo(rt, row)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep the loop alive
            log.warning("inbox recovery round failed", exc_info=True)
        await asyncio.sleep(INBOX_LEASE / 3)


def _redo(rt: Runtime, row: Any) -> None:
    """Queue a recorded update whose worker died, as if it had just arrived (it stays recorded)."""
    incoming, handle = None, None
    if row.channel == "telegram" and rt.telegram is not None:
        from bot.telegram_channel import handle_incoming, to_incoming

        incoming = to_incoming(row.payload)
        handle = (lambda i: handle_incoming(rt.dispatcher, rt.telegram.bot, i)) if incoming else None
    elif row.channel == "zalo" and rt.zalo is not None:
        from bot.zalo_channel import handle_incoming, to_incoming

        incoming = to_incoming(row.payload)
        handle = (lambda i: handle_incoming(rt.dispatcher, rt.zalo, i)) if incoming else None
    store = rt.dispatcher.services.store
    if incoming is None or handle is None:
        log.warning("a recorded %s update cannot be handled here; dropped", row.channel)
        store.inbox_forget(row.channel, row.update_key)
        return
    log.info("handling again an update whose worker died (%s)", row.channel)
    try:
        rt.pool.submit(_run_recorded(store, lambda: handle(incoming), incoming, True),
                       f"{incoming.channel}:{incoming.user_id}")
    except PoolFull:  # still recorded: given back, the next round (another worker, or this one) takes it
        asyncio.ensure_future(store.inbox_expire(row.channel, row.update_key))


def _feature_routes(services: Any) -> list[Route]:
    from bot.console import console_mount
    from bot.dossier_api import dossier_routes

    return [*dossier_routes(services), console_mount(services)]  # the web console (docs/console.md) under /console


async def _start_channels(rt: Runtime) -> None:
    s = rt.settings
    if s.telegram_bot_token:
        from bot.telegram_channel import build_application, start_application

        if not s.telegram_webhook_secret:
            log.warning("TELEGRAM_WEBHOOK_SECRET is not set: the Telegram webhook refuses every request")
        rt.telegram = build_application(s, rt.dispatcher, updater=False)
        await start_application(rt.telegram, polling=False)
    if s.zalo_bot_token:
        from bot.zalo_channel import attach, make_client

        if not s.zalo_webhook_secret:
            log.warning("ZALO_WEBHOOK_SECRET is not set: the Zalo webhook refuses every request")
        rt.zalo = make_client(s)
        attach(rt.dispatcher, rt.zalo)
    if rt.telegram is None and rt.zalo is None:
        log.warning("neither TELEGRAM_BOT_TOKEN nor ZALO_BOT_TOKEN is set: only the APIs and /healthz are served")


async def _stop_channels(rt: Runtime) -> None:
    if rt.telegram is not None:
        from bot.telegram_channel import stop_application

        try:
            await stop_application(rt.telegram)
        except Exception:  # noqa: BLE001 - keep shutting down
            log.exception("stopping the Telegram application failed")
        rt.telegram = None
    if rt.zalo is not None:
        await rt.zalo.close()
        rt.zalo = None


# --- the command ------------------------------------------------------------------

async def register_webhooks(settings: Settings, base_url: str) -> int:
    """Register both webhooks at ``<base_url>/telegram/webhook`` and ``<base_url>/zalo/webhook``."""
    base = base_url.rstrip("/")
    if not base.startswith("https://"):
        print("--set-webhooks: the public URL must start with https:// (both platforms require it)")
        return 2
    if not settings.telegram_bot_token and not settings.zalo_bot_token:
        print("--set-webhooks: set TELEGRAM_BOT_TOKEN and/or ZALO_BOT_TOKEN first")
        return 2
    problems = []
    if settings.telegram_bot_token and not _TELEGRAM_SECRET.match(settings.telegram_webhook_secret):
        problems.append("TELEGRAM_WEBHOOK_SECRET must be set (1-256 characters: letters, digits, _ and -)")
    if settings.zalo_bot_token and not 8 <= len(settings.zalo_webhook_secret) <= 256:
        problems.append("ZALO_WEBHOOK_SECRET must be set (8-256 characters)")
    if problems:
        for p in problems:
            print(f"--set-webhooks: {p}")
        return 2
    status = 0
    if settings.telegram_bot_token:
        status |= await _set_telegram_webhook(settings, base + TELEGRAM_PATH)
    if settings.zalo_bot_token:
        status |= await _set_zalo_webhook(settings, base + ZALO_PATH)
    return status


async def _set_telegram_webhook(settings: Settings, url: str) -> int:
    from telegram import Bot
    from telegram.error import TelegramError

    bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_base_url)
    try:
        async with bot:
            await bot.set_webhook(url=url, secret_token=settings.telegram_webhook_secret,
                                  allowed_updates=TELEGRAM_ALLOWED_UPDATES)
    except TelegramError as exc:
        print(f"Telegram webhook NOT set: {exc}")
        return 1
    print(f"Telegram webhook set: {url}")
    return 0


async def _set_zalo_webhook(settings: Settings, url: str) -> int:
    from bot.zalo_channel import make_client
    from bot.zalo_client import ZaloError

    client = make_client(settings)
    try:
        await client.set_webhook(url, settings.zalo_webhook_secret)
    except ZaloError as exc:
        print(f"Zalo webhook NOT set: {exc}")
        return 1
    finally:
        await client.close()
    print(f"Zalo webhook set: {url}")
    return 0


async def serve(settings: Settings, host: str | None, port: int | None, workers: int = 1,
                set_webhooks: str | None = None) -> int:
    """``python -m bot serve``: run the web server (or only register the webhooks)."""
    import uvicorn

    if set_webhooks:
        return await register_webhooks(settings, set_webhooks)
    from storage.db import check_writable

    check_writable(settings.database_url)  # an unwritable SQLite file or folder: one clear line, exit 2
    host = host or settings.web_host
    port = port or settings.web_port
    workers = max(1, workers)
    common: dict[str, Any] = dict(host=host, port=port, log_level=settings.log_level.lower(), lifespan="on",
                                  server_header=False, access_log=False,
                                  timeout_graceful_shutdown=int(DRAIN_SECONDS) + 5)
    if workers == 1:
        server = uvicorn.Server(uvicorn.Config(create_app(settings), **common))
        await server.serve()
        return 0 if server.started else 3
    # Several processes: create the tables once here, so workers do not race to create them.
    from storage.store import Store

    store = Store.from_url(settings.database_url)
    try:
        await store.create_schema()
    finally:
        await store.close()
    if settings.database_url.startswith("sqlite"):
        log.warning("several workers on SQLite: fine for testing, use PostgreSQL in production")
    uvicorn.run("bot.server:create_app", factory=True, workers=workers, **common)  # blocks until stopped
    return 0
