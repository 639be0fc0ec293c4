"""Reading a complaint from one message: topic, commune, dossier code, spot, time; questions stay questions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.base import KnowledgeBase
from knowledge.complaint_reading import find_commune, load_topics, read_complaint
from knowledge.loader import BUNDLED_DIR
from tests.complaint_accuracy import DEFAULT_FILE, evaluate

HELD_OUT = DEFAULT_FILE.with_name("complaint_messages_heldout.jsonl")


def test_the_message_set_is_read_accurately(kb: KnowledgeBase) -> None:
    f = evaluate(kb=kb)
    assert f.total >= 80
    assert f.topic >= 0.90, f.misses
    assert f.commune >= 0.95, f.misses
    assert f.unnamed_ok == f.unnamed, f.misses  # no commune made up from other words
    assert f.recognised / f.total >= 0.90, f.misses


def test_the_held_out_set_stays_where_it_was_measured(kb: KnowledgeBase) -> None:
    """tests/data/complaint_messages_heldout.jsonl was written after the words were chosen and is never used
    to choose them: its figures say how the reading does on messages it has not seen (measured once:
    topic 76%, commune 100%, recognised 72%). This guards against a drop; do not tune on it."""
    f = evaluate(HELD_OUT, kb=kb)
    assert f.total >= 25
    assert f.commune >= 0.95 and f.unnamed_ok == f.unnamed, f.misses
    assert f.topic >= 0.72 and f.recognised / f.total >= 0.68, f.misses


def test_the_two_examples(kb: KnowledgeBase) -> None:
    r = read_complaint("đường ở phường Rạch Giá bị hư nặng, ổ gà nhiều, đề nghị sửa", province="An Giang", kb=kb)
    assert (r.topic, r.commune.label if r.commune else "", r.complaint) == ("road", "Phường Rạch Giá, An Giang", True)
    r = read_complaint("đèn đường hư cả tháng không ai sửa", province="An Giang", kb=kb)
    assert (r.topic, r.commune, r.complaint, r.when) == ("lighting", None, True, "cả tháng")


@pytest.mark.parametrize("text", [
    "đăng ký kết hôn cần gì", "lam giay phep dao duong o dau", "thủ tục khiếu nại thế nào",
    "xin giấy phép kinh doanh karaoke cần giấy tờ gì", "hồ sơ trễ hạn thì làm sao",
    "lệ phí cấp giấy phép xây dựng bao nhiêu tiền", "mẫu đơn đề nghị cấp lại căn cước",
])
def test_questions_are_not_complaints(kb: KnowledgeBase, text: str) -> None:
    assert not read_complaint(text, province="An Giang", kb=kb).complaint


def test_a_ward_of_another_province_is_found_as_such() -> None:
    said, found = find_commune("phường Quy Nhơn có ổ gà", "An Giang")
    assert said and [c.label for c in found] == ["Phường Quy Nhơn, Gia Lai"]


def test_details_are_taken_from_the_text(kb: KnowledgeBase) -> None:
    r = read_complaint("ho so H21.22-250312-0005 cua toi qua han 10 ngay roi, khong ai tra loi", province="An Giang", kb=kb)
    assert (r.topic, r.dossier_code, r.complaint) == ("dossier", "H21.22-250312-0005", True)
    r = read_complaint("Đèn đường hẻm 12 Trần Hưng Đạo phường Long Xuyên tắt 2 tuần nay", province="An Giang", kb=kb)
    assert r.spot == "hẻm 12 Trần Hưng Đạo" and r.when == "2 tuần nay"
    assert r.commune is not None and r.commune.name == "Phường Long Xuyên"
    r = read_complaint("nhà tôi ở xa lắm, đèn đường hư hoài", province="An Giang", kb=kb)
    assert r.commune is None and not r.communes  # "xa" (far) typed without its mark is not "xã"


def test_topics_are_data() -> None:
    t = load_topics()
    assert {"road", "lighting", "drainage", "waste", "noise", "encroachment", "security", "procedure", "dossier",
            "official", "portal", "other"} <= set(t.keys)
    assert all(len(k) <= 16 for k in t.keys)  # stored in complaints.topic


def test_kb_check_reports_a_broken_topics_file(tmp_path: Path) -> None:
    from knowledge.checks import check

    kb_dir = tmp_path / "kb"
    shutil.copytree(BUNDLED_DIR, kb_dir, ignore=shutil.ignore_patterns("catalogue"))
    assert not [p for p in check(kb_dir).problems if p.file == "complaint_topics.yaml"]
    text = (kb_dir / "complaint_topics.yaml").read_text(encoding="utf-8")
    (kb_dir / "complaint_topics.yaml").write_text(text.replace("key: noise", "key: Noise!"), encoding="utf-8")
    problems = [p for p in check(kb_dir).problems if p.file == "complaint_topics.yaml"]
    assert problems and "topics" in problems[0].message


@pytest.mark.parametrize(("text", "want"), [
    ("tệ nạn xã hội ở khu này nhiều quá", ""), ("an ninh trật tự xã hội an ninh kém", ""),
    ("đường ở xã Hội An hư nặng", "Xã Hội An, An Giang"), ("duong o xa hoi an bi hu", "Xã Hội An, An Giang"),
    ("đợi 30 p mới tới lượt", ""), ("phường Diên Hồng có ổ gà", "Phường Diên Hồng, Gia Lai|Phường Diên Hồng, Hồ Chí Minh"),
])
def test_communes_are_not_made_up_from_common_words(text: str, want: str) -> None:
    found = find_commune(text, "An Giang")
    got = "|".join(sorted(c.label for c in found[1])) if found else ""
    assert got == want
