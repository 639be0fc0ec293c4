"""The aiohttp network layer under python-telegram-bot: bodies, uploads, timeouts, failures."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram_request import AiohttpRequest
from tests.fake_telegram import free_port


@pytest.fixture
async def server() -> tuple[str, list[tuple[str, bytes]]]:
    seen: list[tuple[str, bytes]] = []

    async def endpoint(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Content-Type", ""), await request.read()))
        if request.match_info["method"] == "slow":
            await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/bot/{method}", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/bot", seen
    await runner.cleanup()


async def test_fields_go_as_json_and_files_as_multipart(server: tuple[str, list[tuple[str, bytes]]]) -> None:
    base, seen = server
    request = AiohttpRequest()
    await request.initialize()
    try:
        data = RequestData([RequestParameter.from_input("chat_id", 5), RequestParameter.from_input("text", "Dạ <b>"),
                            RequestParameter.from_input("reply_markup", {"inline_keyboard": [[{"text": "Về menu",
                                                                                               "callback_data": "menu"}]]})])
        status, body = await request.do_request(f"{base}/sendMessage", "POST", data)
        assert status == 200 and json.loads(body)["ok"]
        ctype, raw = seen[-1]
        sent = json.loads(raw)
        assert ctype == "application/json" and sent["text"] == "Dạ <b>" and sent["chat_id"] == "5"
        assert json.loads(sent["reply_markup"])["inline_keyboard"][0][0]["callback_data"] == "menu"

        upload = RequestData([RequestParameter.from_input("chat_id", 5),
                              RequestParameter.from_input("document", InputFile(b"%PDF-1.4 test", filename="to-khai.pdf"))])
        status, _ = await request.do_request(f"{base}/sendDocument", "POST", upload)
        ctype, raw = seen[-1]
        assert status == 200 and ctype.startswith("multipart/form-data")
        assert b"%PDF-1.4 test" in raw and b'filename="to-khai.pdf"' in raw and b'name="chat_id"' in raw
    finally:
        await request.shutdown()


async def test_timeouts_and_network_failures_become_ptb_errors(server: tuple[str, list[tuple[str, bytes]]]) -> None:
    base, _ = server
    request = AiohttpRequest(read_timeout=0.3)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(f"{base}/slow", "POST", RequestData([]))
        with pytest.raises(NetworkError):
            await request.do_request(f"http://127.0.0.1:{free_port()}/bot/getMe", "POST", RequestData([]))
    finally:
        await request.shutdown()
    with pytest.raises(RuntimeError):  # used after shutdown
        await request.do_request(f"{base}/getMe", "POST", RequestData([]))
