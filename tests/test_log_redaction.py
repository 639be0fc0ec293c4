"""Clean logs: a full scenario through ``python -m bot serve`` at LOG_LEVEL=DEBUG (a citizen files a
complaint with a name, a CCCD and a phone number; staff take and answer it in the agency group; an
agency pushes a new dossier with its applicant's name and phone; the citizen looks a dossier up;
another citizen asks for a person, a community-team helper takes the request and they chat both ways),
then the whole log is searched for every secret and every piece of personal data."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.log_redaction import RedactingFilter, hash_user, redact
from tests.fake_telegram import TOKEN as TG_TOKEN, FakeTelegram, free_port
from tests.fake_zalo import TOKEN as ZALO_TOKEN, FakeZalo
from tests.test_server import TG_SECRET, ZALO_SECRET, BotProcess, bot_env, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
CITIZEN, DESK_CHAT, DESK_STAFF = 940001, -1001000000001, 111111111
UBND_KEY = "replace-with-a-long-random-key-for-ubnd"  # examples/dossier-api-keys.example.yaml
NAME, CCCD, PHONE = "Nguyễn Văn Bình", "079201234567", "0912345678"
DESCRIPTION = f"Tôi là {NAME}, CCCD {CCCD}, Cổng dịch vụ công không hiển thị hồ sơ đã nộp của tôi"
ANSWER = "Trung tâm đã kiểm tra hồ sơ của ông Bình và đồng bộ lại trạng thái"
PUSHED_NAME, PUSHED_PHONE = "Chủ Hồ Sơ Trần Thị Lụa", "0911111111"
ASKER, TEAM_CHAT, HELPER = 940002, -1002000000009, 100000009
ASKER_LINE = "Tôi tên Lê Thị Hồng, số 0933444555, không đăng nhập được VNeID"
HELPER_LINE = "Chào cô Hồng, cô bấm Quên mật khẩu trên VNeID giúp con"
HELPERS = f"""
teams:
  - name: Tổ công nghệ số cộng đồng phường Long Xuyên
    commune: Phường Long Xuyên
    province: An Giang
    members: [telegram:{HELPER}]
    chats: [{{channel: telegram, chat_id: "{TEAM_CHAT}"}}]
"""


def test_redact_unit_cases() -> None:
    url = redact(f"Set Bot API URL: http://127.0.0.1:1/bot{TG_TOKEN}/sendMessage")
    assert url.endswith(("/bot<token>/sendMessage", "/bot<secret>/sendMessage"))  # (registered by another test)
    assert "<token>" in redact("http://x/bot987654:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ/getMe")
    assert redact(f"{PHONE} 091 234 5678 +84912345678 84912345678") == "<phone> <phone> <phone> <phone>"
    assert redact(f"so {CCCD}.") == "so <id-number>."
    assert redact("{'text': 'Tôi là A', \"first_name\": \"Bình\", 'chat_id': 5}") == \
        "{'text': '<hidden>', \"first_name\": '<hidden>', 'chat_id': 5}"
    assert redact("x\n[parameters: (27, 'telegram', 'khai sinh')]\n(Background on this error at: y)") == \
        "x\n[parameters: <hidden>]\n(Background on this error at: y)"
    assert redact("conversation busy: telegram:900000001") == f"conversation busy: telegram:{hash_user('900000001')}"
    # ids, chat ids, times and counts are left alone
    for kept in ("chat -1001000000001", "update 19157028 at 2026-11-30 07:32:55,123", "outbox 12 attempt 3"):
        assert redact(kept) == kept


def test_filter_cleans_message_args_and_traceback() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed for %s: %s", ("zalo:abc", PHONE), None)
    try:
        raise ValueError(f"bad value {CCCD}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    assert PHONE not in text and CCCD not in text and "zalo:abc" not in text
    assert "<phone>" in text and "<id-number>" in text


async def _post(http: httpx.AsyncClient, url: str, update: dict[str, Any]) -> None:
    resp = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert resp.status_code == 200, resp.text


@pytest.mark.slow
async def test_debug_log_of_a_full_scenario_has_no_secret_or_personal_data(tmp_path: Path) -> None:
    async with FakeTelegram() as tg, FakeZalo() as zalo:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        helpers = tmp_path / "helpers.yaml"
        helpers.write_text(HELPERS, encoding="utf-8")
        env = bot_env(tmp_path, tg, zalo, LOG_LEVEL="DEBUG", HELPERS_FILE=str(helpers), DEFAULT_PROVINCE="An Giang",
                      AGENCIES_FILE=str(ROOT / "examples" / "agencies.example.yaml"),
                      DOSSIER_API_KEYS_FILE=str(ROOT / "examples" / "dossier-api-keys.example.yaml"))
        async with BotProcess(tmp_path, env, "dossiers", "import",
                              str(ROOT / "examples" / "dossiers.example.csv")) as imp:
            assert await imp.wait(30) == 0, imp.output()
        async with BotProcess(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port)) as bot:
            await wait_healthy(base, bot)
            url = f"{base}/telegram/webhook"
            async with httpx.AsyncClient(timeout=10) as http:

                async def step(make: Any, chat: int = CITIZEN) -> list[Any]:
                    before = len(tg.to(chat))
                    make()
                    await _post(http, url, dict(tg.updates.pop()))
                    return (await tg.wait_for(chat, before + 1))[before:]

                await step(lambda: tg.press(CITIZEN, "complaint:new"))
                await step(lambda: tg.press(CITIZEN, "complaint:topic:portal"))
                await step(lambda: tg.press(CITIZEN, "complaint:commune:skip"))
                await step(lambda: tg.text(CITIZEN, DESCRIPTION))
                await step(lambda: tg.press(CITIZEN, "complaint:photo:skip"))
                await step(lambda: tg.press(CITIZEN, "complaint:contact:yes"))
                await step(lambda: tg.text(CITIZEN, PHONE))
                done = await step(lambda: tg.press(CITIZEN, "complaint:send"))
                found_code = re.search(r"PAKN-\d{4}-\d{6}", "\n".join(s.text for s in done))
                assert found_code, [s.text[:80] for s in tg.to(CITIZEN)]
                code = found_code.group(0)

                card = (await tg.wait_for(DESK_CHAT, 1, timeout=20))[0]
                assert code in card.text and PHONE in card.text  # the agency sees it; the log must not
                await step(lambda: tg.press(DESK_CHAT, card.action("Tiếp nhận"), user_id=DESK_STAFF), DESK_CHAT)
                await step(lambda: tg.text(DESK_CHAT, ANSWER, user_id=DESK_STAFF, reply_to=card.message_id),
                           DESK_CHAT)
                for _ in range(200):  # received + answered notifications come through the outbox
                    if any("đồng bộ lại trạng thái" in s.text for s in tg.to(CITIZEN)):
                        break
                    await asyncio.sleep(0.1)
                assert any("đồng bộ lại trạng thái" in s.text for s in tg.to(CITIZEN))

                push = {"code": "H21.22-250701-8001", "change_id": "A-1", "status": "received", "note": "",
                        "dossier": {"procedure_id": "khai-sinh", "phone": PUSHED_PHONE,
                                    "applicant_name": PUSHED_NAME, "received_date": "2025-07-01",
                                    "due_date": "2025-07-05"}}
                r = await http.post(f"{base}/api/dossiers/changes", json=push, headers={"X-Api-Key": UBND_KEY})
                assert r.status_code == 201, r.text
                await step(lambda: tg.text(CITIZEN, "H21.22-250312-0005"))
                looked = await step(lambda: tg.text(CITIZEN, PHONE[-4:]))
                assert any("Nguyễn Văn A" in s.text for s in looked)  # the applicant's name reached the citizen

                # A citizen asks for a person; the commune's team takes it; they write to each other.
                await step(lambda: tg.text(ASKER, "cho tôi nói chuyện với cán bộ"), ASKER)
                told = await step(lambda: tg.text(ASKER, "phường Long Xuyên"), ASKER)
                assert any("Tổ công nghệ số cộng đồng phường Long Xuyên" in s.text for s in told), \
                    [s.text[:80] for s in told]
                ticket = (await tg.wait_for(TEAM_CHAT, 1, timeout=20))[0]
                await step(lambda: tg.press(TEAM_CHAT, ticket.action("Nhận"), user_id=HELPER), TEAM_CHAT)
                relayed = await step(lambda: tg.text(ASKER, ASKER_LINE), TEAM_CHAT)
                assert any("0933444555" in s.text for s in relayed)  # the helper sees it; the log must not
                answered = await step(lambda: tg.text(TEAM_CHAT, HELPER_LINE, user_id=HELPER,
                                                      reply_to=ticket.message_id), ASKER)
                assert any("Quên mật khẩu" in s.text for s in answered)
                await step(lambda: tg.text(ASKER, "Kết thúc"), ASKER)
        out = bot.output()
    assert "DEBUG bot: logging at DEBUG" in out and "complaint 1 filed" in out  # the log is really at DEBUG and covers the scenario
    leaks = {
        "telegram token": TG_TOKEN, "token secret part": TG_TOKEN.split(":")[1], "zalo token": ZALO_TOKEN,
        "telegram webhook secret": TG_SECRET, "zalo webhook secret": ZALO_SECRET, "dossier api key": UBND_KEY,
        "phone": PHONE, "CCCD": CCCD, "name": NAME, "complaint text": "không hiển thị hồ sơ",
        "staff answer": "đồng bộ lại trạng thái", "pushed applicant": PUSHED_NAME, "pushed phone": PUSHED_PHONE,
        "imported applicant": "Nguyễn Văn A", "display name": f"Dân {CITIZEN}", "citizen id": f"telegram:{CITIZEN}",
        "bot reply text": "Mã theo dõi",
        "asker's line": "Lê Thị Hồng", "asker's phone": "0933444555", "helper's line": "Quên mật khẩu",
        "helper's name": f"Dân {HELPER}", "asker's id": f"telegram:{ASKER}",
    }
    found = {what: out.count(value) for what, value in leaks.items() if value in out}
    assert found == {}, f"personal data or secrets in the DEBUG log: {found}"


async def test_a_failed_write_shows_no_sql_parameters(tmp_path: Path) -> None:
    from sqlalchemy import text

    from storage.db import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.sqlite3'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)"))
            await conn.execute(text("INSERT INTO t (body) VALUES (:b)"), {"b": DESCRIPTION})
        with pytest.raises(Exception) as failed:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (body) VALUES (:b)"), {"b": DESCRIPTION})
        assert "UNIQUE" in str(failed.value) and CCCD not in str(failed.value) and NAME not in str(failed.value)
    finally:
        await engine.dispose()
