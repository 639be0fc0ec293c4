"""An SQLite database that cannot be written is reported at start-up with one clear log line (issue 20, C4c).

SQLite maps its ``-shm`` file into memory; with that file immutable the research run saw the server
die with SIGBUS and no log line. ``python -m bot serve`` now checks the folder and the database's
files before it starts and exits with status 2 and a line naming the file; a fatal signal later
still leaves a traceback (faulthandler).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_telegram import FakeTelegram, free_port
from tests.fake_zalo import FakeZalo
from tests.test_server import BotProcess, bot_env

pytestmark = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0 or shutil.which("chattr") is None,
                                reason="needs chattr (root) to make a file immutable")


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Paths made immutable with chattr +i, made mutable again afterwards."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def make_immutable(paths: list[Path], path: Path) -> None:
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not supported here: {done.stderr.decode(errors='replace').strip()}")
    paths.append(path)


def leave_wal_files(db: Path) -> None:
    """A database in WAL mode whose process died: the file, its -wal and its -shm are left."""
    code = ("import os, signal, sqlite3\n"
            f"c = sqlite3.connect({str(db)!r}); c.execute('PRAGMA journal_mode=WAL')\n"
            "c.execute('create table t(x)'); c.execute('insert into t values (1)'); c.commit()\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", code], check=False)
    assert Path(f"{db}-shm").exists()


async def serve_until_exit(tmp_path: Path, db: Path) -> tuple[int, str]:
    async with FakeTelegram() as tg, FakeZalo() as zalo:
        env = bot_env(tmp_path, tg, zalo, DATABASE_URL=f"sqlite+aiosqlite:///{db}")
        async with BotProcess(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(free_port())) as bot:
            rc = await bot.wait(timeout=20)
            return rc, bot.output()


@pytest.mark.slow
async def test_an_immutable_shm_file_is_reported_at_start_up(tmp_path: Path, immutable: list[Path]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "bot.sqlite3"
    leave_wal_files(db)
    make_immutable(immutable, Path(f"{db}-shm"))
    rc, out = await serve_until_exit(tmp_path, db)
    assert rc == 2, out  # not -7 (SIGBUS), not a server that runs without storing anything
    lines = [line for line in out.splitlines() if "bot.sqlite3-shm is not writable" in line]
    assert len(lines) == 1 and "ERROR" in lines[0] and "chattr -i" in lines[0] and "immutable flag" in lines[0], out
    assert "Traceback" not in out


@pytest.mark.slow
async def test_an_unwritable_folder_is_reported_at_start_up(tmp_path: Path, immutable: list[Path]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    make_immutable(immutable, data)
    rc, out = await serve_until_exit(tmp_path, data / "bot.sqlite3")
    assert rc == 2, out
    assert f"the folder {data} is not writable" in out and "Traceback" not in out


@pytest.mark.slow
async def test_healthz_reports_an_shm_file_made_immutable_under_the_running_server(
        tmp_path: Path, immutable: list[Path]) -> None:
    import httpx

    from tests.test_server import wait_healthy

    data = tmp_path / "data"
    data.mkdir()
    db = data / "bot.sqlite3"
    async with FakeTelegram() as tg, FakeZalo() as zalo:
        env = bot_env(tmp_path, tg, zalo, DATABASE_URL=f"sqlite+aiosqlite:///{db}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        async with BotProcess(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", str(port)) as bot:
            await wait_healthy(base, bot)
            make_immutable(immutable, Path(f"{db}-shm"))
            async with httpx.AsyncClient(timeout=5) as http:
                resp = await http.get(f"{base}/healthz")
            assert resp.status_code == 503 and resp.json()["store"] == "files-not-writable"
            assert bot.proc is not None and bot.proc.returncode is None  # the probe did not write: no SIGBUS
            out = bot.output()
            assert "database files not writable: the file" in out and "bot.sqlite3-shm" in out
