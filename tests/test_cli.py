"""The command line as an operator uses it: real subprocesses of ``python -m bot``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], stdin: str = "", env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_", "DATABASE_URL"))}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=120)


def test_help_lists_the_commands() -> None:
    out = run(["--help"])
    assert out.returncode == 0
    for command in ("run", "chat", "match", "kb", "serve", "dossiers", "outbox", "db"):
        assert command in out.stdout


def test_wrong_setting_fails_with_one_clear_line(tmp_path: Path) -> None:
    for env, name in (({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
                      ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
                      ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
                      ({"KNOWLEDGE_DIR": str(tmp_path / "missing")}, "KNOWLEDGE_DIR")):
        out = run(["chat"], env=env, cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and name in lines[0] and "Traceback" not in out.stderr


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=nonsense\n", encoding="utf-8")
    out = run(["chat"], cwd=tmp_path)
    assert out.returncode == 2 and "LOG_LEVEL" in out.stderr


def test_piped_chat_answers_each_line_and_stores_the_exchange(tmp_path: Path) -> None:
    db = tmp_path / "chat.sqlite3"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    out = run(["chat"], stdin="/start\nlam giay khai sinh\nthời tiết hôm nay thế nào\n", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    blocks = [b for b in out.stdout.split("---\n") if b.strip()]
    assert len(blocks) == 3
    assert "Dạ, em chào" in blocks[0]
    assert "ĐĂNG KÝ KHAI SINH" in blocks[1]
    assert "chưa có thông tin về việc này" in blocks[2]  # out of scope, said honestly
    import sqlite3

    with sqlite3.connect(db) as conn:
        logged = conn.execute("select intent, decision, best_id from question_log order by id").fetchall()
    assert len(logged) == 2  # /start is a command, not a question
    assert logged[0] == ("procedure", "answer", "khai-sinh")
    assert logged[1][0] == "unknown" or logged[1][1] == "none"


def test_default_run_without_token_opens_the_terminal_chat(tmp_path: Path) -> None:
    out = run([], stdin="khai sinh\n", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "ĐĂNG KÝ KHAI SINH" in out.stdout
    assert (tmp_path / "data" / "tro-ly-dvc.sqlite3").exists()


def test_match_contract(tmp_path: Path) -> None:
    questions = ["làm giấy khai sinh", "", "H21.22-250312-0005 tới đâu rồi", "tôi muốn phản ánh cán bộ",
                 "xin chào", "giá vàng hôm nay", "😀"]
    out = run(["match"], stdin="\n".join(questions) + "\n", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["query"] for r in rows] == questions
    assert rows[0]["intent"] == "procedure" and rows[0]["matches"][0]["id"] == "khai-sinh"
    assert all(0 <= m["score"] <= 1 for r in rows for m in r["matches"])
    assert all(len(r["matches"]) <= 3 for r in rows)
    assert rows[2]["intent"] == "status" and rows[2]["matches"] == []
    assert rows[3]["intent"] == "complaint"
    assert rows[4]["intent"] == "help"
    assert rows[5]["matches"] == []


def test_kb_check_passes_on_bundled_data() -> None:
    out = run(["kb", "check"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("OK:")


def test_kb_check_reports_file_and_field(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "entries").mkdir(parents=True)
    src = (ROOT / "knowledge" / "data" / "entries" / "khai-sinh.yaml").read_text(encoding="utf-8")
    (kb / "entries" / "khai-sinh.yaml").write_text(src.replace("processing_time:", "processing_tme:"), encoding="utf-8")
    (kb / "entries" / "other.yaml").write_text("id: other\nkind: faq\n", encoding="utf-8")
    out = run(["kb", "check", "--kb", str(kb)])
    assert out.returncode == 1
    assert "khai-sinh.yaml: processing_tme:" in out.stdout  # unknown field
    assert "khai-sinh.yaml: processing_time:" in out.stdout  # missing required field
    assert "other.yaml: question:" in out.stdout


def test_outbox_failed_and_retry(tmp_path: Path) -> None:
    import asyncio

    from storage.store import Store

    url = f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"

    async def fail_one() -> int:
        store = Store.from_url(url)
        await store.create_schema()
        await store.enqueue_once(dedup_key="card:1", channel="telegram", chat_id="-100", text="📮 PHẢN ÁNH MỚI")
        row = (await store.outbox_rows())[0]
        await store.mark_retry(row.id, "Forbidden: bot was kicked", 0, give_up=True)
        await store.close()
        return row.id

    row_id = asyncio.run(fail_one())
    env = {"DATABASE_URL": url}
    listed = run(["outbox", "failed"], env=env, cwd=tmp_path)
    assert listed.returncode == 0 and f"{row_id}\ttelegram:-100" in listed.stdout and "kicked" in listed.stdout
    assert "1 failed message(s)" in listed.stdout
    retried = run(["outbox", "retry"], env=env, cwd=tmp_path)
    assert retried.returncode == 0 and "1 message(s) queued again" in retried.stdout
    assert "0 failed message(s)" in run(["outbox", "failed"], env=env, cwd=tmp_path).stdout
