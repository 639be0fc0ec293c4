"""Dated fee facts: cards show the figure in force on the clock's day; kb check guards sources,
expired figures and province files."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path

import pytest

from handlers.cards import detail, procedure_card
from knowledge.base import KnowledgeBase
from knowledge.checks import check, check_command
from knowledge.loader import BUNDLED_DIR
from knowledge.provinces import PROVINCES_DIR

D1, D2, D3 = dt.date(2026, 12, 1), dt.date(2027, 1, 1), dt.date(2027, 3, 1)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.from_dir(BUNDLED_DIR)


def fee_lines(kb: KnowledgeBase, entry_id: str, day: dt.date) -> str:
    text = procedure_card(kb.procedure(entry_id), today=day).text
    start = text.index("💰")
    return text[start:text.index("⏱")]


def test_can_cuoc_card_follows_the_50_percent_cut_and_the_cong_dan_so_window(kb: KnowledgeBase) -> None:
    dec = fee_lines(kb, "cap-can-cuoc", D1)
    assert "cấp đổi 25.000 đ, cấp lại 35.000 đ" in dec and "đến hết 31/12/2026" in dec
    assert "Từ 01/01/2027" in dec and "cấp đổi 50.000 đ, cấp lại 70.000 đ" in dec
    assert "Công dân số" in dec and "28/02/2027" in dec
    jan = fee_lines(kb, "cap-can-cuoc", D2)
    assert "cấp đổi 50.000 đ, cấp lại 70.000 đ" in jan and "25.000 đ" not in jan
    assert "Công dân số" in jan and "đến hết 28/02/2027" in jan
    mar = fee_lines(kb, "cap-can-cuoc", D3)
    assert "cấp đổi 50.000 đ" in mar and "Công dân số" not in mar and "Từ " not in mar


def test_passport_card_on_three_dates(kb: KnowledgeBase) -> None:
    dec = fee_lines(kb, "ho-chieu", D1)
    assert dec.startswith("💰 Phí, lệ phí: 100.000 đ cấp mới; 200.000 đ cấp lại")
    assert "Từ 01/01/2027: 200.000 đ cấp mới; 400.000 đ" in dec
    assert "miễn lệ phí hộ chiếu phổ thông (đến hết 28/02/2027)" in dec
    jan = fee_lines(kb, "ho-chieu", D2)
    assert "200.000 đ cấp mới; 400.000 đ" in jan and "100.000 đ" not in jan and "miễn lệ phí hộ chiếu" in jan
    mar = fee_lines(kb, "ho-chieu", D3)
    assert "200.000 đ cấp mới" in mar and "miễn" not in mar
    # the official link is the procedure's own page on the national portal
    assert "ma_thu_tuc=1.001456" in procedure_card(kb.procedure("ho-chieu"), today=D1).text


def test_vehicle_registration_card_on_three_dates(kb: KnowledgeBase) -> None:
    for day in (D1, D2, D3):
        fees = fee_lines(kb, "dang-ky-xe", day)
        assert "14.000.000 đ ở Hà Nội, TP. Hồ Chí Minh; 140.000 đ" in fees
        assert "20.000.000" not in fees and "20 triệu" not in fees
        assert ("Công dân số" in fees) == (day < D3)


def test_fees_detail_uses_the_same_clock(kb: KnowledgeBase) -> None:
    reply = detail(kb.procedure("ho-chieu"), "fees", today=D3)
    assert reply is not None and "100.000 đ" not in reply.text.split("\n")[1]


def _copy_kb(tmp_path: Path, ids: tuple[str, ...] = ("ho-chieu", "khai-sinh")) -> Path:
    kb = tmp_path / "kb"
    (kb / "entries").mkdir(parents=True)
    for i in ids:
        shutil.copy(BUNDLED_DIR / "entries" / f"{i}.yaml", kb / "entries" / f"{i}.yaml")
    return kb


def _problems(kb: Path, today: dt.date = D1, provinces: Path | None = None) -> list[str]:
    problems = check(kb, today, provinces_dir=provinces or kb / "no-provinces").problems
    # a two-entry copy has dangling cross-references; those are tested in test_knowledge.py
    return [str(p) for p in problems if p.field != "related" and not p.field.endswith(".redirect")]


def test_bundled_knowledge_passes_and_warns_before_a_figure_ends() -> None:
    result = check(BUNDLED_DIR, dt.date(2026, 12, 15))
    assert result.problems == []
    warned = {str(w).split(":")[0] for w in result.warnings}
    assert {"cap-can-cuoc.yaml", "ho-chieu.yaml"} <= warned
    assert check(BUNDLED_DIR, dt.date(2026, 11, 1)).warnings == []


def test_check_fails_on_a_bare_domain_source(tmp_path: Path) -> None:
    kb = _copy_kb(tmp_path)
    assert _problems(kb) == []
    path = kb / "entries" / "khai-sinh.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "sources:\n", "sources:\n  - title: Luật Hộ tịch\n    url: https://vbpl.vn\n", 1), encoding="utf-8")
    problems = _problems(kb)
    assert problems and all(p.startswith("khai-sinh.yaml: sources.0:") for p in problems)
    # a document number alone is not enough either: it needs the date and the issuer
    path.write_text(path.read_text(encoding="utf-8").replace(
        "    url: https://vbpl.vn\n", "    number: 60/2014/QH13\n", 1), encoding="utf-8")
    assert any(p.startswith("khai-sinh.yaml: sources.0:") for p in _problems(kb))
    path.write_text(path.read_text(encoding="utf-8").replace(
        "    number: 60/2014/QH13\n", "    number: 60/2014/QH13\n    issued: 2014-11-20\n    issuer: Quốc hội\n", 1),
        encoding="utf-8")
    assert _problems(kb) == []


def test_check_fails_when_the_only_figure_has_ended(tmp_path: Path) -> None:
    kb = _copy_kb(tmp_path)
    path = kb / "entries" / "khai-sinh.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("fees:\n  summary:", "fees:\n  summary_valid_until: 2026-06-30\n  summary:", 1),
                    encoding="utf-8")
    assert any(p.startswith("khai-sinh.yaml: fees:") for p in _problems(kb))
    # the same entry is fine while its figure still holds, with a warning near the end
    assert _problems(kb, dt.date(2026, 6, 1)) == []
    assert any("khai-sinh.yaml: fees.summary" in str(w) for w in check(kb, dt.date(2026, 6, 20), kb / "x").warnings)
    out = io.StringIO()
    assert check_command(kb, out, today=D1) == 1 and "khai-sinh.yaml: fees:" in out.getvalue()


def _province(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "provinces"
    d.mkdir(exist_ok=True)
    (d / "ha-noi.yaml").write_text(
        "province: Hà Nội\nupdated: 2026-11-30\nsources:\n"
        "  - title: Nghị quyết 06/2020/NQ-HĐND\n    url: https://example.gov.vn/nq-06-2020\n" + body, encoding="utf-8")
    return d


def test_province_file_with_unknown_entry_or_field_fails(tmp_path: Path) -> None:
    kb = _copy_kb(tmp_path)
    good = _province(tmp_path, "entries:\n  khai-sinh:\n    fees:\n      summary: Quá hạn 5.000 đ\n")
    assert _problems(kb, provinces=good) == []
    bad_entry = _province(tmp_path, "entries:\n  khai-sinh-x:\n    fees:\n      summary: 5.000 đ\n")
    assert any("provinces/ha-noi.yaml: entries.khai-sinh-x" in p for p in _problems(kb, provinces=bad_entry))
    bad_field = _province(tmp_path, "entries:\n  khai-sinh:\n    lệ_phí: 5.000 đ\n")
    assert any("provinces/ha-noi.yaml: entries.khai-sinh" in p for p in _problems(kb, provinces=bad_field))


def test_bundled_province_file_is_valid_and_the_card_names_the_province() -> None:
    assert (PROVINCES_DIR / "ha-noi.yaml").is_file()
    kb = KnowledgeBase.from_dir(BUNDLED_DIR, province="Hà Nội")
    assert kb.problems == []
    fees = fee_lines(kb, "khai-sinh", D1)
    assert "5.000 đ" in fees and "(mức của Hà Nội)" in fees
    national = KnowledgeBase.from_dir(BUNDLED_DIR, province="Cần Thơ")  # no file: national figures
    assert "Hà Nội" not in fee_lines(national, "khai-sinh", D1)


def test_cli_check_reads_the_folders_own_province_files(tmp_path: Path) -> None:
    from tests.test_knowledge_review import cli

    kb = tmp_path / "kb"
    shutil.copytree(BUNDLED_DIR / "entries", kb / "entries")
    r = cli("kb", "check", "--kb", str(kb), "--today", "2026-12-01")
    assert r.returncode == 0, r.stdout
    (kb / "provinces").mkdir()
    (kb / "provinces" / "an-giang.yaml").write_text(
        "province: An Giang\nupdated: 2026-11-30\nsources:\n  - title: Nghị quyết HĐND tỉnh\n    url: https://vbpl.vn\n"
        "entries:\n  dang-ky-xe-may:\n    hotline: '0296 000 000'\n", encoding="utf-8")
    r = cli("kb", "check", "--kb", str(kb), "--today", "2026-12-01")
    assert r.returncode == 1
    assert "provinces/an-giang.yaml: entries.dang-ky-xe-may" in r.stdout
    assert "provinces/an-giang.yaml: sources.0" in r.stdout  # a home page is not a source either


def test_vietnam_date_turns_at_midnight_in_vietnam() -> None:
    from knowledge.validity import vietnam_today

    assert vietnam_today(dt.datetime(2026, 12, 31, 16, 59, tzinfo=dt.timezone.utc)) == dt.date(2026, 12, 31)
    assert vietnam_today(dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.timezone.utc)) == dt.date(2027, 1, 1)


def test_a_figure_starting_soon_is_announced_with_its_date(kb: KnowledgeBase) -> None:
    from knowledge.schema import Period

    p = kb.procedure("khai-sinh")
    later = Period(value="Quá hạn 8.000 đ", valid_from=dt.date(2027, 1, 15), basis="Nghị quyết giả định, Điều 1")
    q = p.model_copy(update={"fees": p.fees.model_copy(update={"periods": [later]})})
    assert "Từ 15/01/2027: Quá hạn 8.000 đ" in fee_lines_of(q, dt.date(2026, 12, 1))
    assert "Từ 15/01/2027" not in fee_lines_of(q, dt.date(2026, 11, 1))  # more than 60 days ahead
    assert fee_lines_of(q, dt.date(2027, 1, 15)).startswith("💰 Phí, lệ phí: Quá hạn 8.000 đ")


def fee_lines_of(p, day: dt.date) -> str:  # type: ignore[no-untyped-def]
    text = procedure_card(p, today=day).text
    return text[text.index("💰"):text.index("⏱")]


def test_province_times_places_and_hotlines_say_whose_they_are(tmp_path: Path) -> None:
    from knowledge.provinces import load_province, apply_province

    d = _province(tmp_path, "entries:\n  khai-sinh:\n    processing_time: Trong ngày làm việc\n"
                            "    in_person: Trung tâm Phục vụ hành chính công\n    hotline: '1022'\n")
    pf, problems = load_province(d / "ha-noi.yaml")
    assert pf is not None and problems == []
    kb = KnowledgeBase.from_dir(BUNDLED_DIR)
    (ks,) = [e for e in apply_province([kb.get("khai-sinh")], pf)]
    assert ks.processing_time == "Trong ngày làm việc (Hà Nội)"
    assert ks.in_person == "Trung tâm Phục vụ hành chính công (Hà Nội; đường dây nóng 1022)"
    assert ks.fees == kb.procedure("khai-sinh").fees  # fees not overridden stay national
    assert ks.sources[-1].url == "https://example.gov.vn/nq-06-2020"


def test_processing_time_can_be_dated_like_fees(kb: KnowledgeBase) -> None:
    """A time that holds only for a while (e.g. a faster online route during a campaign): the card says the one
    in force and announces the change; kb check warns before it ends."""
    from knowledge.schema import Period
    from knowledge.validity import ending_soon

    base = kb.procedure("doi-gplx")
    p = base.model_copy(update={"processing_time_periods": [Period(
        value="Không quá 3 ngày làm việc khi nộp trực tuyến toàn trình", valid_from=dt.date(2026, 12, 15),
        valid_until=dt.date(2027, 2, 28), basis="Văn bản thử nghiệm, Điều 1")]})

    def time_lines(day: dt.date) -> str:
        text = procedure_card(p, today=day).text
        return text[text.index("⏱"):text.index("📄")]

    before = time_lines(D1)
    assert base.processing_time[:40] in before and "Từ 15/12/2026: Không quá 3 ngày làm việc" in before
    during = time_lines(D2)
    assert "Không quá 3 ngày làm việc" in during and "đến hết 28/02/2027" in during
    assert base.processing_time[:40] not in during.split("Từ ")[0]
    after = time_lines(D3)
    assert base.processing_time[:40] in after and "3 ngày" not in after
    assert "Thời hạn giải quyết: Không quá 3 ngày" in detail(p, "fees", today=D2).text
    assert "processing_time_periods.0" in [f.field for f in ending_soon(p, dt.date(2027, 2, 10))]
    assert "processing_time_periods.0" not in [f.field for f in ending_soon(p, D1)]
