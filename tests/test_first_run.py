"""What a newcomer sees first: ``python -m bot`` with no token, on a terminal, in a fresh folder."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_first_lines_are_the_greeting_not_log_lines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL",
                                                                     "AGENCIES_FILE", "HELPERS_FILE"))}
    env["PYTHONPATH"] = str(ROOT)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot"], stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path,
                            env=env, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while b"Ctrl+D" not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    text = out.decode("utf-8", errors="replace").replace("\r\n", "\n")
    first = text.strip().splitlines()[0]
    assert first.startswith("Dạ, em chào anh/chị"), text[:500]
    for noise in ("INFO", "WARNING", "alembic", "AGENCIES_FILE", "Traceback"):
        assert noise not in text, text[:800]
