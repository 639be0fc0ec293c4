"""Dossier push API under races and with code prefixes (issue 20, B3.18).

Two agencies pushing a create for the same new code at the same moment: exactly one owns it,
the other gets 403, and the dossier keeps the owner's phone digits. An agency may create only
codes under the prefixes the keys file gives it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.config import ConfigError, Settings
from bot.dossier_api import dossier_routes, load_api_keys
from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from knowledge.base import KnowledgeBase
from tests.web_helpers import serve_routes

PATH = "/api/dossiers/changes"
KEY_A = "ubnd-p1-key-0123456789abcdef"
KEY_B = "ca-p1-key-0123456789abcdef"
KEY_C = "other-key-0123456789abcdefgh"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dossier-api-keys.example.yaml"


def create_body(code: str, change_id: str, phone: str, name: str) -> dict[str, object]:
    return {"code": code, "change_id": change_id, "status": "received", "at": "2025-07-01T09:00:00+07:00",
            "dossier": {"phone": phone, "received_date": "2025-07-01", "due_date": "2025-07-10",
                        "applicant_name": name, "procedure_name": "Đăng ký khai sinh"}}


@pytest.fixture
async def bot(settings: Settings, kb: KnowledgeBase) -> AsyncIterator[Dispatcher]:
    dispatcher = await build_dispatcher(settings, kb=kb)
    yield dispatcher
    await dispatcher.services.store.close()


async def _client(bot: Dispatcher, **update: object) -> AsyncIterator[httpx.AsyncClient]:
    services = bot.services
    services.settings = services.settings.model_copy(update=update)
    async with serve_routes(dossier_routes(services)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            yield client


@pytest.fixture
async def open_api(bot: Dispatcher) -> AsyncIterator[httpx.AsyncClient]:
    """Two agencies without prefixes (an old keys setting): both may create any new code."""
    async for client in _client(bot, dossier_api_keys=f"ubnd-p1:{KEY_A},ca-p1:{KEY_B}"):
        yield client


async def test_concurrent_creates_of_one_new_code_have_exactly_one_owner(open_api: httpx.AsyncClient,
                                                                        bot: Dispatcher) -> None:
    dossiers = bot.services.extras["dossiers"]
    trials = 20
    for n in range(trials):
        code = f"H21.22-250701-80{n:02d}"
        a = open_api.post(PATH, json=create_body(code, f"A-{n}", "0911111111", "Chủ hồ sơ A"),
                          headers={"X-Api-Key": KEY_A})
        b = open_api.post(PATH, json=create_body(code, f"B-{n}", "0922222222", "Chủ hồ sơ B"),
                          headers={"X-Api-Key": KEY_B})
        ra, rb = await asyncio.gather(a, b) if n % 2 else reversed(await asyncio.gather(b, a))
        codes = sorted([ra.status_code, rb.status_code])
        assert codes == [201, 403], (n, ra.text, rb.text)
        winner, phone = ("ubnd-p1", "0911111111") if ra.status_code == 201 else ("ca-p1", "0922222222")
        d = await dossiers.get(code)
        assert d is not None and d.agency_key == winner and d.phone_digits == phone, n
        assert len(await dossiers.history(code)) == 1
        # The loser's retry is refused too; the owner's retry is a duplicate.
        loser_key, owner_key = (KEY_B, KEY_A) if winner == "ubnd-p1" else (KEY_A, KEY_B)
        r = await open_api.post(PATH, json=create_body(code, f"X-{n}", "0933333333", "X"),
                                headers={"X-Api-Key": loser_key})
        assert r.status_code == 403
        r = await open_api.post(PATH, json=create_body(code, f"{'A' if winner == 'ubnd-p1' else 'B'}-{n}",
                                                       phone, "again"), headers={"X-Api-Key": owner_key})
        assert r.status_code == 200 and r.json()["duplicate"] is True
        assert (await dossiers.get(code)).phone_digits == phone  # type: ignore[union-attr]


@pytest.fixture
def prefixed_keys(tmp_path: Path) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "ubnd-p1:\n  name: UBND phường Một\n  api_key: " + KEY_A + "\n  prefixes: [H21.22]\n"
        "ca-p1:\n  name: Công an phường Một\n  api_key: " + KEY_B + "\n  prefixes:\n    - 000.00.18.h21\n"
        "old-style:\n  name: Một cơ quan khác\n  api_key: " + KEY_C + "\n",
        encoding="utf-8")
    return path


async def test_an_agency_creates_only_codes_under_its_prefixes(bot: Dispatcher, prefixed_keys: Path) -> None:
    dossiers = bot.services.extras["dossiers"]
    async for api in _client(bot, dossier_api_keys_file=prefixed_keys):
        # The police station cannot squat the people's committee's future code, nor can an agency without prefixes.
        for key in (KEY_B, KEY_C):
            r = await api.post(PATH, json=create_body("H21.22-250702-0001", "sq-1", "0933333333", "X"),
                               headers={"X-Api-Key": key})
            assert r.status_code == 403 and "prefix" in r.json()["error"], r.text
        assert await dossiers.get("H21.22-250702-0001") is None
        # A prefix is a whole unit code: H21.22 does not cover H21.221.
        r = await api.post(PATH, json=create_body("H21.221-250702-0001", "p-1", "0911111111", "A"),
                           headers={"X-Api-Key": KEY_A})
        assert r.status_code == 403
        # Each agency creates under its own prefix (compared in canonical upper case).
        r = await api.post(PATH, json=create_body("H21.22-250702-0001", "a-1", "0911111111", "A"),
                           headers={"X-Api-Key": KEY_A})
        assert r.status_code == 201
        r = await api.post(PATH, json=create_body("000.00.18.H21-250702-0002", "b-1", "0922222222", "B"),
                           headers={"X-Api-Key": KEY_B})
        assert r.status_code == 201
        # An agency without prefixes still creates codes nobody has claimed (old keys files keep working).
        r = await api.post(PATH, json=create_body("G01.123-250702-0003", "c-1", "0944444444", "C"),
                           headers={"X-Api-Key": KEY_C})
        assert r.status_code == 201
        assert (await dossiers.get("G01.123-250702-0003")).agency_key == "old-style"  # type: ignore[union-attr]


def test_prefixes_in_the_keys_file(tmp_path: Path, settings: Settings, prefixed_keys: Path) -> None:
    keys = load_api_keys(settings.model_copy(update={"dossier_api_keys_file": prefixed_keys}))
    assert keys["ubnd-p1"].prefixes == ("H21.22",) and keys["ca-p1"].prefixes == ("000.00.18.H21",)
    assert keys["old-style"].prefixes == ()
    # The example file (with and without prefixes) stays valid.
    assert set(load_api_keys(settings.model_copy(update={"dossier_api_keys_file": EXAMPLE}))) == \
        {"ubnd-phuong-1", "ca-phuong-1"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"a:\n  api_key: {KEY_A}\n  prefixes: [H21.22]\nb:\n  api_key: {KEY_B}\n  prefixes: [h21.22]\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="prefix"):
        load_api_keys(settings.model_copy(update={"dossier_api_keys_file": bad}))
    bad.write_text(f"a:\n  api_key: {KEY_A}\n  prefixes: [\"H21 22!\"]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="prefix"):
        load_api_keys(settings.model_copy(update={"dossier_api_keys_file": bad}))
