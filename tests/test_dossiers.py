"""Dossier status: CSV import, the push endpoint, lookup with a phone factor, subscriptions, late dossiers."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.config import ConfigError, Settings
from bot.dossier_api import dossier_routes, load_api_keys
from bot.dossier_import import import_csv_command
from bot.outbox_worker import deliver_once
from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from handlers.dossier import late_job
from handlers.types import Incoming, Reply
from knowledge.base import KnowledgeBase
from storage.dossiers import DossierStore, StatusChange, late_dossiers_for_agency, normalize_dossier_code
from storage.store import Store
from tests.web_helpers import serve_routes

EXAMPLE_CSV = Path(__file__).resolve().parents[1] / "examples" / "dossiers.example.csv"
UTC = dt.timezone.utc
HEADER = ("code,procedure_id,procedure_name,agency_key,agency_name,applicant_name,phone,status,status_note,"
          "received_date,due_date,result_date,delivery_method,updated_at,change_id\n")
GOOD = [
    "H21.22-250312-0005,khai-sinh,Đăng ký khai sinh,ubnd-p1,UBND phường Một,Nguyễn Văn An,0912345678,processing,,"
    "12/03/2025,14/03/2025,,Trực tuyến,12/03/2025 09:30,",
    "000.00.18.H21-250412-0001,dang-ky-tam-tru,Đăng ký tạm trú,ca-p1,Công an phường Một,Trần Thị Bình,0987654321,"
    "supplement,Bản sao hợp đồng thuê nhà có chứng thực,12/04/2025,19/04/2025,,Bưu chính,14/04/2025 15:00,",
]
KEY_UBND = "ubnd-p1-key-0123456789abcdef"
KEY_CA = "ca-p1-key-0123456789abcdef"


class Clock:
    def __init__(self, when: dt.datetime) -> None:
        self.when = when

    def __call__(self) -> dt.datetime:
        return self.when

    def advance(self, **kw: float) -> None:
        self.when += dt.timedelta(**kw)


class Recorder:
    """An outbox sender that records what it pushes."""

    channel = "terminal"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, chat_id: str, reply: Reply) -> str:
        self.sent.append((chat_id, reply))
        return str(len(self.sent))


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2025, 3, 13, 2, 0, tzinfo=UTC))  # 09:00 on 13/03/2025 in Vietnam


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "dossiers.csv"
    path.write_text(HEADER + "\n".join(GOOD) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def bot(settings: Settings, kb: KnowledgeBase, clock: Clock, csv_file: Path) -> AsyncIterator[Dispatcher]:
    assert await import_csv_command(settings, csv_file) == 0
    dispatcher = await build_dispatcher(settings, kb=kb, clock=clock)
    yield dispatcher
    await dispatcher.services.store.close()


def repo(d: Dispatcher) -> DossierStore:
    return d.services.extras["dossiers"]


async def say(d: Dispatcher, text: str, user: str = "citizen-1") -> list[Reply]:
    return (await d.handle(Incoming("terminal", user, user, "text", text=text))).replies


async def press(d: Dispatcher, action: str, user: str = "citizen-1") -> list[Reply]:
    return (await d.handle(Incoming("terminal", user, user, "action", action=action))).replies


def text_of(replies: list[Reply]) -> str:
    return "\n".join(f"{r.title}\n{r.text}" for r in replies)


def actions(replies: list[Reply]) -> list[str]:
    return [b.action for r in replies for b in r.all_buttons()]


# --- codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, code", [
    ("H21.22-250312-0005", "H21.22-250312-0005"),
    ("  h21.22 - 250312 - 0005 ", "H21.22-250312-0005"),
    ("mã hồ sơ 000.00.18.h21–250412–0001 ạ", "000.00.18.H21-250412-0001"),
    ("G01.123—240101—0001", "G01.123-240101-0001"),
    ("H21.22.10-250312-000123", "H21.22.10-250312-000123"),
    ("H21.22-251312-0005", None),  # month 13
    ("0912345678", None),
    ("khai sinh", None),
])
def test_codes_in_portal_formats(typed: str, code: str | None) -> None:
    assert normalize_dossier_code(typed) == code


# --- import --------------------------------------------------------------------------------


async def test_import_good_bad_and_repeated_rows(settings: Settings, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = [
        "H21.22-250320-0001,khai-sinh,,ubnd-p1,,Lê Văn Cường,0911111111,processing,,31/02/2025,05/03/2025,,,,",
        "H21.22-250320-0002,khai-sinh,,ubnd-p1,,Lê Văn Cường,0911111111,waiting,,20/03/2025,25/03/2025,,,,",
        "H21.22-250320-0003,khai-sinh,,ubnd-p1,,Lê Văn Cường,0911111111,supplement,,20/03/2025,25/03/2025,,,,",
        "not-a-code,khai-sinh,,ubnd-p1,,Lê Văn Cường,0911111111,processing,,20/03/2025,25/03/2025,,,,",
        ",,,,,,,,,,,,,,",  # an empty row is skipped, not a problem
        "H21.22-250320-0004,khai-sinh,,ubnd-p1,,,12,processing,,20/03/2025,25/03/2025,,,,",
    ]
    path = tmp_path / "mixed.csv"
    path.write_text(HEADER + GOOD[0] + "\n" + "\n".join(bad) + "\n" + GOOD[1] + "\n", encoding="utf-8")
    assert await import_csv_command(settings, path) == 0
    out = capsys.readouterr().out
    assert "Dossiers: 2 new, 0 updated, 0 unchanged, 5 rows with problems" in out
    assert "line 3: received_date '31/02/2025' is not a date" in out
    assert "line 4: status 'waiting' is unknown" in out
    assert "line 5: status_note is required for status supplement" in out
    assert "line 6: code 'not-a-code' is not a dossier code" in out
    assert "line 8: phone has fewer than 4 digits" in out
    assert "0911111111" not in out and "Lê Văn Cường" not in out  # no personal data in the report

    # The same file again: nothing duplicated, nothing changed.
    assert await import_csv_command(settings, path) == 0
    assert "Dossiers: 0 new, 0 updated, 2 unchanged" in capsys.readouterr().out
    store = Store.from_url(settings.database_url)
    dossiers = DossierStore(store)
    assert len(await dossiers.history("H21.22-250312-0005")) == 1

    # A later export with a new status updates the dossier and adds one history entry.
    changed = GOOD[0].replace(",processing,,", ",result_ready,,").replace("12/03/2025 09:30", "14/03/2025 10:00")
    path.write_text(HEADER + changed + "\n" + GOOD[1] + "\n", encoding="utf-8")
    assert await import_csv_command(settings, path) == 0
    assert "Dossiers: 0 new, 1 updated, 1 unchanged" in capsys.readouterr().out
    d = await dossiers.get("H21.22-250312-0005")
    assert d is not None and d.status == "result_ready" and d.result_at is not None
    assert [e.status for e in await dossiers.history(d.code)] == ["result_ready", "processing"]
    await store.close()


async def test_import_with_no_good_row_fails(settings: Settings, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "H21.22-250320-0001,,,ubnd-p1,,,0911111111,??,,x,y,,,,\n", encoding="utf-8")
    assert await import_csv_command(settings, path) == 1
    out = capsys.readouterr().out
    assert "line 2:" in out and "status '??' is unknown" in out and "received_date 'x' is not a date" in out

    path.write_text("code;status\nH21.22-250320-0001;processing\n", encoding="utf-8")
    assert await import_csv_command(settings, path) == 1
    assert "header lacks the column(s) agency_key, phone, received_date, due_date" in capsys.readouterr().out

    assert await import_csv_command(settings, tmp_path / "missing.csv") == 1
    assert "cannot read" in capsys.readouterr().out

    path.write_bytes("code,status\n".encode("utf-16"))
    assert await import_csv_command(settings, path) == 1
    assert "not UTF-8" in capsys.readouterr().out


async def test_example_csv_loads_with_semicolons_too(settings: Settings, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert await import_csv_command(settings, EXAMPLE_CSV) == 0
    assert "Dossiers: 4 new, 0 updated, 0 unchanged, 0 rows with problems" in capsys.readouterr().out
    semi = tmp_path / "excel.csv"
    semi.write_text("\ufeff" + (HEADER + GOOD[0] + "\n").replace(",", ";"), encoding="utf-8")
    assert await import_csv_command(settings, semi) == 0
    assert "1 unchanged" not in capsys.readouterr().out  # a new dossier (other agency key format is fine)


# --- push endpoint -------------------------------------------------------------------------


@pytest.fixture
async def api(bot: Dispatcher) -> AsyncIterator[httpx.AsyncClient]:
    services = bot.services
    services.settings = services.settings.model_copy(update={
        "dossier_api_keys": f"ubnd-p1:{KEY_UBND},ca-p1:{KEY_CA}"})
    async with serve_routes(dossier_routes(services)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
            yield client


def change(code: str = "H21.22-250312-0005", change_id: str = "c-1", status: str = "supplement",
           **extra: str) -> dict[str, str]:
    body = {"code": code, "change_id": change_id, "status": status, "note": "Bản sao giấy chứng sinh",
            "at": "2025-03-13T10:00:00+07:00"}
    body.update(extra)
    return body


async def test_push_endpoint(api: httpx.AsyncClient, bot: Dispatcher) -> None:
    path = "/api/dossiers/changes"
    r = await api.post(path, json=change(), headers={"X-Api-Key": "wrong-key-0123456789"})
    assert r.status_code == 401 and r.json()["ok"] is False
    assert (await api.post(path, json=change())).status_code == 401  # no key at all
    r = await api.post(path, json=change(), headers={"X-Api-Key": KEY_CA})
    assert r.status_code == 403  # the police station cannot change the people's committee's dossier

    r = await api.post(path, content=b"{not json", headers={"X-Api-Key": KEY_UBND})
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]
    r = await api.post(path, json=["a"], headers={"X-Api-Key": KEY_UBND})
    assert r.status_code == 422 and "JSON object" in r.json()["error"]
    r = await api.post(path, json=change(status="waiting"), headers={"X-Api-Key": KEY_UBND})
    assert r.status_code == 422 and "'status'" in r.json()["error"]
    r = await api.post(path, json=change(note=""), headers={"X-Api-Key": KEY_UBND})
    assert r.status_code == 422 and "'note' is required" in r.json()["error"]
    r = await api.post(path, json=change(code="H21.22-250101-9999"), headers={"X-Api-Key": KEY_UBND})
    assert r.status_code == 404 and "unknown dossier" in r.json()["error"]

    r = await api.post(path, json=change(code=" h21.22 – 250312 – 0005 "), headers={"X-Api-Key": KEY_UBND})
    assert r.status_code == 200 and r.json() == {"ok": True, "duplicate": False, "stale": False,
                                                 "code": "H21.22-250312-0005"}
    d = await repo(bot).get("H21.22-250312-0005")
    assert d is not None and d.status == "supplement" and d.status_note == "Bản sao giấy chứng sinh"

    r = await api.post(path, json=change(status="processing"), headers={"X-Api-Key": KEY_UBND})  # replayed id
    assert r.status_code == 200 and r.json()["duplicate"] is True
    d = await repo(bot).get("H21.22-250312-0005")
    assert d is not None and d.status == "supplement"
    assert len(await repo(bot).history(d.code)) == 2

    # An older change arriving late goes to the history without overwriting the current status.
    r = await api.post(path, json=change(change_id="c-0", status="received", at="2025-03-12T09:00:00+07:00"),
                       headers={"X-Api-Key": KEY_UBND})
    assert r.json()["stale"] is True
    assert (await repo(bot).get(d.code)).status == "supplement"  # type: ignore[union-attr]

    # A change for a dossier the bot does not know, carrying the whole record, creates it.
    new = change(code="H21.22-250313-0007", change_id="n-1", status="received", note="",
                 dossier={"procedure_id": "khai-sinh", "phone": "0900000077", "received_date": "2025-03-13",
                          "due_date": "2025-03-17"})
    r = await api.post(path, json=new, headers={"X-Api-Key": KEY_UBND})
    assert r.status_code == 201 and r.json()["created"] is True
    r = await api.post(path, json=new, headers={"X-Api-Key": KEY_UBND})
    assert r.status_code == 200 and r.json()["duplicate"] is True
    created = await repo(bot).get("H21.22-250313-0007")
    assert created is not None and created.agency_key == "ubnd-p1" and created.phone_digits == "0900000077"


def test_api_keys_from_file_and_env(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(f"ubnd-p1:\n  name: UBND phường Một\n  api_key: {KEY_UBND}\n", encoding="utf-8")
    s = settings.model_copy(update={"dossier_api_keys_file": path, "dossier_api_keys": f"ca-p1:{KEY_CA}"})
    keys = load_api_keys(s)
    assert keys["ubnd-p1"].name == "UBND phường Một" and keys["ca-p1"].api_key == KEY_CA
    example = EXAMPLE_CSV.parent / "dossier-api-keys.example.yaml"
    assert set(load_api_keys(settings.model_copy(update={"dossier_api_keys_file": example}))) == \
        {"ubnd-phuong-1", "ca-phuong-1"}
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_api_keys(settings.model_copy(update={"dossier_api_keys": "ubnd-p1:short"}))
    with pytest.raises(ConfigError, match="share one API key"):
        load_api_keys(settings.model_copy(update={"dossier_api_keys": f"a:{KEY_CA},b:{KEY_CA}"}))


# --- lookup ---------------------------------------------------------------------------------


async def test_lookup_with_right_and_wrong_factor(bot: Dispatcher) -> None:
    replies = await say(bot, "hồ sơ của tôi tới đâu rồi")
    assert "mã hồ sơ" in text_of(replies)
    replies = await say(bot, "  000.00.18.h21 - 250412 - 0001 ")
    asked = text_of(replies)
    assert "4 số cuối" in asked and "Cần bổ sung" not in asked and "Trần" not in asked  # nothing revealed yet

    replies = await say(bot, "1234")
    wrong = text_of(replies)
    assert "chưa tìm thấy hồ sơ" in wrong and "dichvucong.gov.vn" in wrong and "Tra cứu hồ sơ" in wrong
    assert "Cần bổ sung" not in wrong

    replies = await say(bot, "4321")
    card = text_of(replies)
    assert "Hồ sơ 000.00.18.H21-250412-0001" in card
    assert "Tình trạng: Cần bổ sung hồ sơ" in card
    assert "Bản sao hợp đồng thuê nhà có chứng thực" in card  # what to supplement
    assert "Hẹn trả kết quả: 19/04/2025" in card and "Ngày tiếp nhận: 12/04/2025" in card
    assert "dossier:sub:000.00.18.H21-250412-0001" in actions(replies)
    # Later, the lookup offers the dossier already verified (and only to this user).
    assert "dossier:view:000.00.18.H21-250412-0001" in actions(await press(bot, "dossier:start"))
    assert "dossier:view:000.00.18.H21-250412-0001" not in actions(await press(bot, "dossier:start", user="x"))

    # An unknown code gets the very same answer as a wrong factor: codes cannot be probed.
    await say(bot, "H21.22-250101-0099", user="citizen-2")
    unknown = text_of(await say(bot, "1234", user="citizen-2"))
    assert unknown.replace("H21.22-250101-0099", "X") == wrong.replace("000.00.18.H21-250412-0001", "X")

    # A whole phone number works too; a wrong length is explained.
    await say(bot, "H21.22-250312-0005", user="citizen-3")
    assert "đúng 4 chữ số" in text_of(await say(bot, "12", user="citizen-3"))
    assert "Đang xử lý" in text_of(await say(bot, "0912 345 678", user="citizen-3"))


async def test_late_dossier_lookup_says_so(bot: Dispatcher, clock: Clock) -> None:
    clock.advance(days=2)  # 15/03: the 14/03 due date has passed
    await say(bot, "H21.22-250312-0005")
    card = text_of(await say(bot, "5678"))
    assert "Đang xử lý — Trễ hạn" in card and "Phiếu xin lỗi" in card
    assert "complaint:start" in actions(await press(bot, "dossier:view:H21.22-250312-0005"))


async def test_wrong_tries_are_slowed_down(bot: Dispatcher, clock: Clock) -> None:
    await say(bot, "H21.22-250312-0005")
    for _ in range(2):
        assert "thử lại sau" not in text_of(await say(bot, "0000"))
    assert "thử lại sau khoảng 1 phút" in text_of(await say(bot, "0000"))
    blocked = text_of(await say(bot, "5678"))  # even the right digits wait
    assert "thử lại sau" in blocked and "Đang xử lý" not in blocked
    clock.advance(seconds=61)
    assert "Đang xử lý" in text_of(await say(bot, "5678"))
    # Another user is not affected; the waits grow (1, then 5 minutes) and are kept in the database.
    await say(bot, "H21.22-250312-0005", user="guesser")
    for i in range(6):
        clock.advance(seconds=61)
        await say(bot, f"000{i}", user="guesser")
    assert "khoảng 5 phút" in text_of(await say(bot, "5678", user="guesser"))


async def test_guessing_many_codes_is_slowed_down(bot: Dispatcher) -> None:
    last = ""
    for i in range(5):
        await say(bot, f"H21.22-250312-00{i + 10}", user="prober")
        last = text_of(await say(bot, "1111", user="prober"))
    assert "thử lại sau" in last
    await say(bot, "H21.22-250312-0005", user="prober")
    assert "thử lại sau" in text_of(await say(bot, "5678", user="prober"))


async def test_following_a_dossier_needs_the_factor(bot: Dispatcher) -> None:
    replies = await press(bot, "dossier:sub:H21.22-250312-0005", user="stranger")
    assert "4 số cuối" in text_of(replies)
    assert not await repo(bot).is_subscribed("H21.22-250312-0005", 1)
    replies = await press(bot, "dossier:view:H21.22-250312-0005", user="stranger")
    assert "Đang xử lý" not in text_of(replies)


# --- notifications ---------------------------------------------------------------------------


async def test_subscription_gets_one_message_per_change_through_restart(
        settings: Settings, kb: KnowledgeBase, bot: Dispatcher, clock: Clock) -> None:
    code = "H21.22-250312-0005"
    await say(bot, code)
    await say(bot, "5678")
    replies = await say(bot, "1")  # the numbered choice "Báo cho tôi khi có thay đổi"
    assert "đã bật thông báo" in text_of(replies)
    assert f"dossier:unsub:{code}" in actions(await press(bot, f"dossier:view:{code}"))

    sender = Recorder()
    senders = {"terminal": sender}
    at = clock() + dt.timedelta(hours=1)
    first = StatusChange(code, "chg-1", "supplement", at, note="Bản sao giấy chứng sinh")
    assert await repo(bot).apply_change(first, agency_key="ubnd-p1") == "applied"
    assert await deliver_once(bot.services.store, senders) == 1

    # Restart: a new process on the same database receives the same change again.
    await bot.services.store.close()
    bot2 = await build_dispatcher(settings, kb=kb, clock=clock)
    try:
        assert await repo(bot2).apply_change(first, agency_key="ubnd-p1") == "duplicate"
        assert await deliver_once(bot2.services.store, senders) == 0
        second = StatusChange(code, "chg-2", "result_ready", at + dt.timedelta(days=1))
        assert await repo(bot2).apply_change(second, agency_key="ubnd-p1") == "applied"
        assert await deliver_once(bot2.services.store, senders) == 1
        assert await deliver_once(bot2.services.store, senders) == 0
        assert len(sender.sent) == 2
        chat, msg = sender.sent[0]
        assert chat == "citizen-1"
        assert code in msg.text and "Cần bổ sung hồ sơ" in msg.text and "Bản sao giấy chứng sinh" in msg.text
        assert "Đã có kết quả" in sender.sent[1][1].text
        assert f"dossier:unsub:{code}" in [b.action for b in msg.all_buttons()]

        # Unsubscribe at any time: later changes are not pushed.
        assert "đã tắt thông báo" in text_of(await press(bot2, f"dossier:unsub:{code}"))
        third = StatusChange(code, "chg-3", "delivered", at + dt.timedelta(days=2))
        assert await repo(bot2).apply_change(third, agency_key="ubnd-p1") == "applied"
        assert await deliver_once(bot2.services.store, senders) == 0
        assert len(sender.sent) == 2
    finally:
        await bot2.services.store.close()


# --- late dossiers -----------------------------------------------------------------------------


async def test_late_dossier_job(bot: Dispatcher, clock: Clock) -> None:
    services = bot.services
    dossiers = repo(bot)
    # H21.22-250312-0005 is due 14/03 (end of day); 000.00.18.H21-250412-0001 on 19/04.
    user = (await bot.services.store.load("terminal", "citizen-1", "citizen-1")).user_id
    await dossiers.subscribe("H21.22-250312-0005", user, "terminal", "citizen-1")
    await dossiers.subscribe("000.00.18.H21-250412-0001", user, "terminal", "citizen-1")

    async def queued() -> list[str]:
        return [r.dedup_key for r in await services.store.outbox_rows()]

    await late_job(services)
    assert await queued() == []  # 13/03 09:00: nothing due within a day
    clock.advance(hours=16)  # 14/03 01:00: due the same day
    assert [d.code for d in await late_dossiers_for_agency(services.store, "ubnd-p1", clock())] == \
        ["H21.22-250312-0005"]
    assert await late_dossiers_for_agency(services.store, "ca-p1", clock()) == []
    await late_job(services)
    await late_job(services)
    keys = await queued()
    assert len(keys) == 1 and keys[0].startswith("dossier-late:H21.22-250312-0005:soon@")

    clock.advance(days=1)  # 15/03: late
    await late_job(services)
    await late_job(services)
    rows = await services.store.outbox_rows()
    assert len(rows) == 2 and "đã quá hạn" in rows[1].payload["text"] and "Phiếu xin lỗi" in rows[1].payload["text"]

    # Agency chats, once the agency directory (complaints feature) offers a resolver.
    calls: list[str] = []

    def chats(agency: str) -> list[tuple[str, str]]:
        calls.append(agency)
        return [("telegram", "-1001")] if agency == "ubnd-p1" else []

    services.extras["agency_chats"] = chats
    await late_job(services)
    await late_job(services)
    rows = await services.store.outbox_rows()
    agency_rows = [r for r in rows if r.chat_id == "-1001"]
    assert len(agency_rows) == 1 and agency_rows[0].channel == "telegram"
    text = agency_rows[0].payload["text"]
    assert "H21.22-250312-0005" in text and "ĐÃ QUÁ HẠN 1 ngày" in text and "Nguyễn" not in text

    # The agency apologises with a new date: that date gets its own notices when it is near.
    new_due = StatusChange("H21.22-250312-0005", "apology-1", "processing", clock(),
                           due_at=dt.datetime(2025, 3, 20, 16, 59, tzinfo=UTC))
    assert await dossiers.apply_change(new_due, agency_key="ubnd-p1") == "applied"
    before = len(await services.store.outbox_rows())  # includes the change notice to the subscriber
    await late_job(services)
    assert len(await services.store.outbox_rows()) == before
    clock.advance(days=5, hours=12)  # 20/03 afternoon
    await late_job(services)
    await late_job(services)
    assert len(await services.store.outbox_rows()) == before + 2  # the citizen and the agency, once each

    # A dossier with a result is never late.
    done = StatusChange("H21.22-250312-0005", "done-1", "result_ready", clock())
    assert await dossiers.apply_change(done, agency_key="ubnd-p1") == "applied"
    assert await late_dossiers_for_agency(services.store, "ubnd-p1", clock() + dt.timedelta(days=30)) == []


async def test_due_date_moved_back_and_forth_is_alerted_once_per_date(bot: Dispatcher, clock: Clock) -> None:
    dossiers = repo(bot)
    code = "H21.22-250312-0005"
    user = (await bot.services.store.load("terminal", "citizen-1", "citizen-1")).user_id
    await dossiers.subscribe(code, user, "terminal", "citizen-1")
    bot.services.extras["agency_chats"] = lambda agency: [("telegram", "-1001")]
    clock.advance(hours=16)  # due the same day
    original = (await dossiers.get(code)).due_at  # type: ignore[union-attr]
    earlier = original - dt.timedelta(hours=2)
    for i, due in enumerate([earlier, original, earlier]):
        await late_job(bot.services)
        change = StatusChange(code, f"move-{i}", "processing", clock() + dt.timedelta(minutes=i + 1), due_at=due)
        assert await dossiers.apply_change(change) == "applied"
    await late_job(bot.services)  # back on a date already alerted: no crash, nothing twice
    keys = [r.dedup_key for r in await bot.services.store.outbox_rows()]
    assert len(keys) == len(set(keys))
    assert len([k for k in keys if k.startswith("dossier-late:")]) == 2
    assert len([k for k in keys if k.startswith("dossier-late-agency:")]) == 2
    assert len([k for k in keys if k.startswith("dossier:")]) == 3  # the three changes


async def test_personal_data_stays_out_of_logs(bot: Dispatcher, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await say(bot, "000.00.18.H21-250412-0001")
    await say(bot, "4321")
    await say(bot, "1")
    assert "0987654321" not in caplog.text and "Trần Thị Bình" not in caplog.text



async def test_a_dossier_waiting_for_a_supplement_is_not_late(bot: Dispatcher, clock: Clock) -> None:
    clock.advance(days=40)  # long past both due dates (14/03 and 19/04)
    waiting = await repo(bot).get("000.00.18.H21-250412-0001")
    assert waiting is not None and waiting.status == "supplement" and not waiting.is_late(clock())
    assert await late_dossiers_for_agency(bot.services.store, "ca-p1", clock()) == []
    assert [d.code for d in await late_dossiers_for_agency(bot.services.store, "ubnd-p1", clock())] == \
        ["H21.22-250312-0005"]  # the one being processed is late
