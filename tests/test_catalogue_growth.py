"""Growth of the catalogue tier: which catalogue procedures citizens ask about (``kb gaps`` and the console),
so agencies know which to curate next."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import redirect_stdout

import pytest
import pytest_asyncio

import re

from bot.cli import _gaps
from tests.console_support import CITIZEN, OPERATOR, ConsoleServer, console_server
from tests.fake_telegram import FakeTelegram

pytestmark = pytest.mark.asyncio(loop_scope="module")

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def srv(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ConsoleServer]:
    tmp = tmp_path_factory.mktemp("catalogue-console")
    async with FakeTelegram() as fake:
        async with console_server(tmp, f"sqlite+aiosqlite:///{tmp / 'c.sqlite3'}", fake) as server:
            yield server


async def test_gaps_and_console_rank_catalogue_procedures_by_demand(srv: ConsoleServer) -> None:
    for text in ("xin giay phep karaoke", "cấp giấy phép karaoke", "giay phep karaoke",
                 "cấp giấy chứng nhận an toàn kỹ thuật tàu cá", "đăng ký khai sinh"):
        replies = await srv.say(CITIZEN, text)
        assert replies
    demand = await srv.services.store.catalogue_demand()
    assert [(d["code"], d["count"]) for d in demand][:2] == [("1.001029", 3), ("1.003563", 1)]
    client = await srv.signed_in_client(OPERATOR)
    try:
        page = await client.get("/console/knowledge")
        assert page.status_code == 200 and 'id="catalogue-demand"' in page.text
        assert page.text.index("1.001029") < page.text.index("1.003563") and "karaoke" in page.text
    finally:
        await client.aclose()
    out = io.StringIO()
    with redirect_stdout(out):
        assert await _gaps(srv.services.settings, 20, 0) == 0  # python -m bot kb gaps
    text = out.getvalue()
    assert "Catalogue procedures asked about" in text
    assert re.search(r"\n\s+3\s+1\.001029\s+.*karaoke", text) and text.index("1.001029") < text.index("1.003563")
