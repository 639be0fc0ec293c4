"""The bundled knowledge base covers the catalogue, completely; the knowledge tools work."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from knowledge.checks import catalogue_ids, check
from knowledge.importer import import_csv
from knowledge.loader import BUNDLED_DIR, load_knowledge
from knowledge.schema import REQUIRED_FAQ_FIELDS, REQUIRED_PROCEDURE_FIELDS, Faq, Procedure
from storage.store import Store
from tests.test_cli import run

SHARED_CATALOGUE = Path(__file__).resolve().parents[2] / "shared" / "catalogue.tsv"


def test_bundled_catalogue_matches_the_shared_one() -> None:
    if not SHARED_CATALOGUE.is_file():
        pytest.skip("../shared not beside the repo")
    with SHARED_CATALOGUE.open(encoding="utf-8") as fh:
        shared = {row["id"]: row["kind"] for row in csv.DictReader(fh, delimiter="\t")}
    assert catalogue_ids(BUNDLED_DIR) == shared


def test_every_catalogue_entry_is_present_and_complete() -> None:
    result = check(BUNDLED_DIR)
    assert result.problems == []
    entries = {e.id: e for e in result.entries}
    wanted = catalogue_ids(BUNDLED_DIR)
    assert len(wanted) == 62
    assert set(wanted) <= set(entries)
    for entry_id, kind in wanted.items():
        entry = entries[entry_id]
        required = REQUIRED_PROCEDURE_FIELDS if kind == "procedure" else REQUIRED_FAQ_FIELDS
        dumped = entry.model_dump(mode="json")
        for name in required:
            assert dumped.get(name) not in (None, "", [], {}), f"{entry_id}: {name} is empty"
        if isinstance(entry, Procedure):
            assert len(entry.documents) >= 2 and len(entry.steps) >= 2, entry_id
            assert entry.fees.summary and entry.online.how_to_find, entry_id
        else:
            assert isinstance(entry, Faq)
            assert 1 <= len([ln for ln in entry.answer.splitlines() if ln.strip()]) <= 8


def test_check_fails_when_an_id_is_missing_or_a_field_empty(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "entries").mkdir(parents=True)
    (kb / "catalogue.tsv").write_text(
        "id\tkind\tfield\tname\thandled_by\nkhai-sinh\tprocedure\t\t\t\nket-hon\tprocedure\t\t\t\n", encoding="utf-8")
    src = (BUNDLED_DIR / "entries" / "khai-sinh.yaml").read_text(encoding="utf-8")
    (kb / "entries" / "khai-sinh.yaml").write_text(
        src.replace("processing_time: Ngay", "processing_time: ''\nx_old: Ngay"), encoding="utf-8")
    problems = [str(p) for p in check(kb).problems]
    assert any(p.startswith("ket-hon.yaml: id:") for p in problems)
    assert any(p.startswith("khai-sinh.yaml: processing_time:") for p in problems)
    assert any(p.startswith("khai-sinh.yaml: x_old:") for p in problems)


def test_shared_alias_and_broken_reference_are_reported(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    (kb / "entries").mkdir(parents=True)
    src = (BUNDLED_DIR / "entries" / "khai-sinh.yaml").read_text(encoding="utf-8")
    (kb / "entries" / "khai-sinh.yaml").write_text(src, encoding="utf-8")
    (kb / "entries" / "khai-sinh-2.yaml").write_text(src.replace("id: khai-sinh", "id: khai-sinh-2"), encoding="utf-8")
    problems = [str(p) for p in load_knowledge(kb).problems]
    assert any(": aliases:" in p and "cũng trỏ tới 'khai-sinh" in p for p in problems)
    assert any("related: không có mục 'trich-luc-ho-tich'" in p for p in problems)


def test_kb_dump_lists_every_entry_with_its_fields() -> None:
    out = run(["kb", "dump"])
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    ids = {d["id"] for d in data}
    assert set(catalogue_ids(BUNDLED_DIR)) <= ids
    card = next(d for d in data if d["id"] == "khai-sinh")
    assert card["online_level"] == "toàn trình" and card["documents"] and card["sources"] and card["updated"]


def test_kb_import_creates_then_updates_drafts(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    csv_path = tmp_path / "tinh.csv"
    csv_path.write_text(
        "Mã thủ tục,Tên thủ tục,Lĩnh vực,Cơ quan thực hiện,Mức độ\n"
        "1.001193,Đăng ký khai sinh,Hộ tịch,UBND cấp xã,Toàn trình\n"
        "2.000986,Cấp phiếu lý lịch tư pháp,Lý lịch tư pháp,Sở Tư pháp,4\n"
        ",Thiếu mã,Hộ tịch,UBND cấp xã,3\n"
        "1.000894,Đăng ký kết hôn,Hộ tịch,UBND cấp xã,mức độ lạ\n", encoding="utf-8")
    created, updated, problems = import_csv(csv_path, kb)
    assert (created, updated) == (2, 0)
    assert [p.split(":")[1] for p in problems] == ["4", "5"]
    csv_path.write_text("Mã thủ tục,Tên thủ tục,Lĩnh vực,Cơ quan thực hiện,Mức độ\n"
                        "1.001193,Đăng ký khai sinh,Hộ tịch,UBND xã/phường,Một phần\n", encoding="utf-8")
    created, updated, problems = import_csv(csv_path, kb)
    assert (created, updated, problems) == (0, 1, [])
    drafts = sorted((kb / "drafts").glob("*.yaml"))
    assert len(drafts) == 2
    text = (kb / "drafts" / "1-001193.yaml").read_text(encoding="utf-8")
    assert "UBND xã/phường" in text and "một phần" in text


async def test_gaps_lists_frequent_unanswered_questions(settings) -> None:  # type: ignore[no-untyped-def]
    store = Store.from_url(settings.database_url)
    await store.create_schema()
    try:
        for text, intent, decision in [("giá vàng", "unknown", "none")] * 3 + [("khai sinh", "procedure", "answer"),
                                                                               ("cấp phép karaoke", "procedure", "ask")]:
            await store.log_question(user_id=None, channel="terminal", text=text, normalized=text, intent=intent,
                                     decision=decision, best_id=None, score=0.2)
        gaps = await store.question_gaps()
        assert [(g["question"], g["count"]) for g in gaps] == [("giá vàng", 3), ("cấp phép karaoke", 1)]
    finally:
        await store.close()
