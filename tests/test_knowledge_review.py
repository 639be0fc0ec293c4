"""Agency review round-trip through the CLI: export one row per fact, import corrections with
who checked what and when, and list entries not checked for a while."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from knowledge.loader import BUNDLED_DIR, load_knowledge

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "", "ZALO_BOT_TOKEN": ""}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def copy_kb(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    (kb / "entries").mkdir(parents=True)
    for i in ("ho-chieu", "khai-sinh", "cap-can-cuoc"):
        shutil.copy(BUNDLED_DIR / "entries" / f"{i}.yaml", kb / "entries" / f"{i}.yaml")
    return kb


def test_review_round_trip(tmp_path: Path) -> None:
    kb = copy_kb(tmp_path)
    sheet = tmp_path / "review.csv"
    r = cli("kb", "review", "--kb", str(kb), "--out", str(sheet))
    assert r.returncode == 0, r.stderr
    with sheet.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    period = next(x for x in rows if x["entry"] == "ho-chieu" and x["field"] == "fees.periods.0")
    assert period["valid_until"] == "2026-12-31" and "28/2026/TT-BTC" in period["source"]
    assert {x["entry"] for x in rows} == {"ho-chieu", "khai-sinh", "cap-can-cuoc"}
    for x in rows:
        if x["entry"] == "ho-chieu" and x["field"] in ("processing_time", "fees.summary", "legal_basis.0"):
            x["checked_by"], x["checked_on"] = "Nguyễn Văn A, Phòng QLXNC Công an tỉnh", "15/12/2026"
        if x["entry"] == "ho-chieu" and x["field"] == "processing_time":
            x["new_value"] = "Không quá 8 ngày làm việc (đã đối chiếu với Cổng Dịch vụ công)."
        if x["entry"] == "khai-sinh" and x["field"] == "handled_by":
            x["new_value"] = "Sửa mà không ghi người kiểm tra"  # refused: no checked_by
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = cli("kb", "import-review", str(sheet), "--kb", str(kb))
    assert r.returncode == 1  # one row has no checker
    assert "changed: ho-chieu processing_time" in r.stdout and "thiếu người kiểm tra" in r.stdout
    entries = {e.id: e for e in load_knowledge(kb).entries}
    hc = entries["ho-chieu"]
    assert hc.processing_time == "Không quá 8 ngày làm việc (đã đối chiếu với Cổng Dịch vụ công)."
    assert hc.checks and hc.checks[-1].by.startswith("Nguyễn Văn A") and str(hc.checks[-1].date) == "2026-12-15"
    assert set(hc.checks[-1].fields) == {"processing_time", "fees.summary", "legal_basis.0"}
    assert hc.checks[-1].changed == ["processing_time"]
    assert entries["khai-sinh"].handled_by != "Sửa mà không ghi người kiểm tra"
    assert "# " in (kb / "entries" / "ho-chieu.yaml").read_text(encoding="utf-8").splitlines()[0]  # comments kept

    r = cli("kb", "check", "--kb", str(kb), "--stale", "30", "--today", "2027-01-10")
    assert "stale: khai-sinh.yaml" in r.stdout and "stale: ho-chieu.yaml" not in r.stdout


def test_import_review_refuses_a_value_changed_since_export(tmp_path: Path) -> None:
    kb = copy_kb(tmp_path)
    sheet = tmp_path / "review.csv"
    sheet.write_text("entry,field,value,checked_by,checked_on,new_value\n"
                     "ho-chieu,processing_time,Giá trị cũ khác,Cán bộ B,2026-12-20,Giá trị mới\n", encoding="utf-8")
    r = cli("kb", "import-review", str(sheet), "--kb", str(kb))
    assert r.returncode == 1 and "không ghi đè" in r.stdout
    assert load_knowledge(kb).entries[1].processing_time != "Giá trị mới"
