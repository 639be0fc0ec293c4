"""Dossier status end to end on the real Telegram channel (fake Bot API on 127.0.0.1):
import a CSV, look a dossier up, subscribe, push a change over HTTP, receive the notification once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from bot.dossier_api import dossier_routes
from bot.dossier_import import import_csv_command
from tests.drivers import TelegramDriver
from tests.web_helpers import serve_routes

CSV = (
    "code,procedure_id,agency_key,agency_name,applicant_name,phone,status,received_date,due_date,delivery_method\n"
    "H21.22-250312-0005,khai-sinh,ubnd-p1,UBND phường Một,Nguyễn Văn An,0912345678,processing,"
    "12/03/2025,14/03/2099,Trực tuyến\n"
)
API_KEY = "ubnd-p1-key-0123456789abcdef"
CODE = "H21.22-250312-0005"


async def push(telegram: TelegramDriver, body: dict[str, str]) -> httpx.Response:
    """Serve the push endpoint of the running bot on 127.0.0.1 and post one change to it."""
    services = telegram.dispatcher.services
    services.settings = services.settings.model_copy(update={"dossier_api_keys": f"ubnd-p1:{API_KEY}"})
    async with serve_routes(dossier_routes(services)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
            return await client.post("/api/dossiers/changes", json=body, headers={"X-Api-Key": API_KEY})


async def test_lookup_subscribe_and_get_pushed_change(telegram: TelegramDriver, tmp_path: Path) -> None:
    path = tmp_path / "dossiers.csv"
    path.write_text(CSV, encoding="utf-8")
    assert await import_csv_command(telegram.settings, path) == 0

    seen = await telegram.say("hồ sơ của tôi tới đâu rồi")
    assert "mã hồ sơ" in seen[-1].text
    seen = await telegram.say("h21.22 – 250312 – 0005")
    assert "4 số cuối" in seen[-1].text and "Đang xử lý" not in seen[-1].text
    seen = await telegram.say("5678")
    card = seen[-1]
    assert f"<b>Hồ sơ {CODE}</b>" in card.text and "Tình trạng: Đang xử lý" in card.text
    assert "Hẹn trả kết quả: 14/03/2099" in card.text
    assert "Báo cho tôi khi có thay đổi" in card.labels
    seen = await telegram.press("Báo cho tôi")
    assert "đã bật thông báo" in seen[-1].text

    chat = telegram.chat_id
    before = len(telegram.fake.to(chat))
    change = {"code": CODE, "change_id": "mc-2025-0001", "status": "supplement",
              "note": "Bản sao giấy chứng sinh có chứng thực"}
    r = await push(telegram, change)
    assert r.status_code == 200 and r.json()["duplicate"] is False
    sent = await telegram.fake.wait_for(chat, before + 1)
    notice = sent[-1]
    assert f"Hồ sơ {CODE} có cập nhật" in notice.text
    assert "Cần bổ sung hồ sơ" in notice.text and "Bản sao giấy chứng sinh có chứng thực" in notice.text

    # After a restart the same change is pushed again: nobody hears about it twice.
    await telegram.restart()
    r = await push(telegram, change)
    assert r.status_code == 200 and r.json()["duplicate"] is True
    await asyncio.sleep(0.4)  # several outbox rounds
    assert len(telegram.fake.to(chat)) == before + 1

    # Straight from the notification: view the dossier, then stop the notifications.
    seen = await telegram.press_in(chat, notice.action("Xem chi tiết"))
    assert "Tình trạng: Cần bổ sung hồ sơ" in seen[-1].text
    seen = await telegram.press_in(chat, notice.action("Tắt thông báo"))
    assert "đã tắt thông báo" in seen[-1].text
    count = len(telegram.fake.to(chat))
    r = await push(telegram, {"code": CODE, "change_id": "mc-2025-0002", "status": "processing"})
    assert r.status_code == 200 and r.json()["duplicate"] is False
    await asyncio.sleep(0.4)
    assert len(telegram.fake.to(chat)) == count
