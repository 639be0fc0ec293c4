"""The official catalogue tier: bundled data valid, matching citizens' words, short cards and honest follow-ups."""

from __future__ import annotations

import io
import json
import re
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from knowledge import catalogue
from knowledge.base import KnowledgeBase
from knowledge.catalogue import consult, core_name, load_catalogue, load_entries
from knowledge.intent import looks_out_of_scope
from knowledge.loader import BUNDLED_DIR
from knowledge.understanding import understand
from bot.cli import main as cli_main
from tests.drivers import TerminalDriver

QUESTIONS = Path(__file__).parent / "data" / "catalogue_questions.jsonl"
HELDOUT = Path(__file__).parent / "data" / "catalogue_questions_heldout.jsonl"
DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_questions.jsonl"
HEADER = "code,name,field,level,level_basis,online,agency,page,source,source_date\n"
SOURCE = "github:example/list@abc:list.csv"


def test_bundled_catalogue_is_valid_and_broad() -> None:
    problems, rows = catalogue.check(BUNDLED_DIR)
    assert problems == []
    entries, _ = catalogue.load_entries(BUNDLED_DIR)
    assert rows == len(entries) >= 500
    assert len({e.code for e in entries}) == len(entries)
    assert all(re.fullmatch(r"\d\.\d{6}", e.code) and e.source and e.source_date for e in entries)
    assert all(e.link.endswith("ma_thu_tuc=" + e.code) for e in entries)
    fields = {e.field for e in entries}
    for wanted in ("Hộ tịch", "Đất đai", "Việc làm", "Thủy sản", "Thể dục thể thao", "Du lịch", "Thú y",
                   "Hoạt động xây dựng", "Tài nguyên nước", "Người có công", "Quản lý xuất nhập cảnh"):
        assert wanted in fields, wanted
    assert len(fields) >= 60


def test_kb_check_reports_bad_catalogue_rows(tmp_path: Path) -> None:
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "a.csv").write_text(
        HEADER
        + f"1.004222,Đăng ký thường trú,Cư trú,commune,stated,online,Công an xã,,{SOURCE},2026-07-18\n"
        + f"1.004222,Trùng mã,Cư trú,commune,stated,online,Công an xã,,{SOURCE},2026-07-18\n"
        + f"1.42,Mã sai,Cư trú,commune,stated,online,Công an xã,,{SOURCE},2026-07-18\n"
        + f"2.000001,Cấp lạ,Cư trú,district,stated,online,UBND,,{SOURCE},2026-07-18\n"
        + "2.000002,Không nguồn,Cư trú,province,stated,online,Sở,,,\n"
        + f"2.000003,Trang lạ,Cư trú,province,stated,maybe,Sở,https://example.com/x,{SOURCE},18/07/2026\n",
        encoding="utf-8")
    problems, rows = catalogue.check(tmp_path)
    text = "\n".join(map(str, problems))
    assert rows == 1
    assert "a.csv:3: code: mã 1.004222 trùng dòng 2" in text
    assert "a.csv:4: code:" in text and "a.csv:5: level:" in text
    assert "a.csv:6: source:" in text and "a.csv:6: source_date:" in text
    assert "a.csv:7: online:" in text and "a.csv:7: page:" in text and "a.csv:7: source_date:" in text


def test_kb_check_command_counts_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    from knowledge.checks import check_command
    import sys

    assert check_command(BUNDLED_DIR, sys.stdout) == 0
    assert re.search(r"OK: \d+ entries and \d{4} catalogue procedures", capsys.readouterr().out)


def test_index_is_cached_by_data_hash(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    (kb_dir / "catalogue").mkdir(parents=True)
    rows = HEADER + f"1.001029,Cấp giấy phép kinh doanh dịch vụ karaoke,Văn hóa,province,stated,online,Sở,,{SOURCE},2026-07-18\n"
    (kb_dir / "catalogue" / "a.csv").write_text(rows, encoding="utf-8")
    cache = tmp_path / "cache"
    first = load_catalogue(kb_dir, cache_dir=cache)
    again = load_catalogue(kb_dir, cache_dir=cache)
    assert first is not None and again is not None and not first.cached and again.cached
    assert [m.entry.code for m in again.search("giay phep karaoke")] == ["1.001029"]
    (kb_dir / "catalogue" / "b.csv").write_text(  # a province's list on top: new data, new key, rebuilt
        HEADER + f"1.001029,Cấp giấy phép karaoke (tỉnh),Văn hóa,province,stated,full,Sở VH,,{SOURCE},2026-11-30\n",
        encoding="utf-8")
    third = load_catalogue(kb_dir, cache_dir=cache)
    assert third is not None and not third.cached and third.entries["1.001029"].online == "full"
    assert len(list(cache.glob("catalogue-*.pickle"))) == 2


def test_curated_entries_win_over_their_catalogue_rows(kb: KnowledgeBase) -> None:
    assert kb.catalogue is not None
    assert "1.004222" in kb.catalogue.hidden  # Đăng ký thường trú is curated
    assert all(m.entry.code != "1.004222" for m in kb.catalogue.search("dang ky thuong tru", 5))


def _reading(kb: KnowledgeBase, text: str):  # type: ignore[no-untyped-def]
    r = understand(kb.matcher, text)
    if r.intent not in ("procedure", "unknown"):
        return None
    best = r.matches[0].score if r.matches and r.decision != "none" else 0.0
    return consult(kb.catalogue, text, r.decision if r.intent == "procedure" else "none", best, r.limit,
                   looks_out_of_scope(r.normalized))


def test_a_rare_word_only_the_row_names_decides_over_a_good_curated_score(kb: KnowledgeBase) -> None:
    """"karaoke": the household-business entry scores well on "giấy phép kinh doanh", but only the karaoke licence
    names the word that matters; a question the curated entry fully explains keeps it."""
    reading = _reading(kb, "xin giấy phép kinh doanh karaoke")
    assert reading is not None and reading.decision == "answer" and reading.matches[0].entry.code == "1.001029"
    assert _reading(kb, "đăng ký hộ kinh doanh cần giấy tờ gì") is None


def _answered(kb: KnowledgeBase, path: Path) -> tuple[int, int, int]:
    """(answered with the right code, the right code on the card or among the choices, questions)."""
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    answered = offered = 0
    for c in cases:
        reading = _reading(kb, c["q"])
        if reading is None:
            continue
        # the same procedure at another level ("... (cấp xã)" / "... (cấp tỉnh)") is the right one too
        wanted = core_name(kb.catalogue.entries[c["code"]].name)
        right = [m.entry.code == c["code"] or core_name(m.entry.name) == wanted for m in reading.matches]
        answered += reading.decision == "answer" and right[0]
        offered += any(right)
    return answered, offered, len(cases)


@pytest.mark.parametrize("path, floor", [
    (QUESTIONS, 0.65),  # 114 questions, used while tuning: 68.4% on 30/11/2026
    (HELDOUT, 0.5),  # 44 questions written before the last changes, misses not looked at: 56.8%
])
def test_citizen_questions_about_catalogue_procedures(kb: KnowledgeBase, path: Path, floor: float) -> None:
    answered, offered, total = _answered(kb, path)
    assert total >= (100 if path == QUESTIONS else 40)
    share = answered / total
    print(f"\n{path.name}: {answered}/{total} answered with the right code ({share:.1%}), "
          f"right code on the card or among the choices {offered}/{total}")
    assert share >= floor  # the target is 90%, not reached (see docs/catalogue.md)


def test_out_of_scope_questions_get_no_catalogue_card(kb: KnowledgeBase) -> None:
    cases = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()] \
        if DEV.is_file() else []
    questions = [c["q"] for c in cases if c.get("expect") == "none"] + [
        "hôm nay là thứ mấy", "giá vàng hôm nay", "cách làm bánh xèo giòn lâu", "tỷ số trận MU tối qua"]
    assert [q for q in questions if _reading(kb, q) is not None] == []


async def test_card_and_honest_follow_ups_in_the_terminal(terminal: TerminalDriver) -> None:
    seen = await terminal.say("xin giay phep karaoke")
    text = seen[0].text
    assert "1.001029" in text and "karaoke" in text.lower()
    assert "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc-hanh-chinh.html?ma_thu_tuc=1.001029" in text
    assert "lệ phí" in text and "trang chính thức" in text
    assert "Gặp người hỗ trợ" in seen[0].labels
    for question in ("lệ phí bao nhiêu?", "cần giấy tờ gì"):
        reply = (await terminal.say(question))[0].text
        assert "1.001029" in reply and "ma_thu_tuc=1.001029" in reply and "trang chính thức" in reply
        assert not re.search(r"\d+[.,]?\d*\s*(đồng|nghìn|000)", reply)  # no figure invented
    await terminal.restart()  # the focus lives in the session, not in the process
    reply = (await terminal.say("mất mấy ngày"))[0].text
    assert "ma_thu_tuc=1.001029" in reply
    handoff = await terminal.press("Gặp người hỗ trợ")
    assert handoff and handoff[0].text


async def test_catalogue_buttons_refuse_forged_codes(terminal: TerminalDriver) -> None:
    ok = await terminal.dispatcher.handle(_press(terminal, "tthc:card:1.001008"))
    assert "1.001008" in ok.replies[0].text
    for forged in ("tthc:card:9.999999", "tthc:card:1.004222", "tthc:card:<b>x</b>", "tthc:"):
        out = await terminal.dispatcher.handle(_press(terminal, forged))
        assert out.replies and "9.999999" not in out.replies[0].text and "ma_thu_tuc" not in out.replies[0].text


def _press(terminal: TerminalDriver, data: str):  # type: ignore[no-untyped-def]
    from handlers.types import Incoming

    return Incoming(channel="terminal", user_id=terminal.user, chat_id=terminal.user, kind="action", action=data)


LIST = ("STT;Mã TTHC;Tên thủ tục;Lĩnh vực;Cấp thực hiện;Cơ quan thực hiện;Mức độ\n"
        "1;1.001029;Cấp giấy phép đủ điều kiện kinh doanh dịch vụ karaoke;Văn hóa;Cấp tỉnh;"
        "Sở Văn hóa và Thể thao tỉnh Kiên Giang;Toàn trình\n"
        "2;1.1;Mã sai;Văn hóa;Cấp tỉnh;Sở;Toàn trình\n"
        "3;2.999001;Cấp phép thả đèn trời trên sông;Văn hóa;;UBND cấp xã;Một phần\n"
        "4;2.999002;Thủ tục lạ;Văn hóa;Cấp tỉnh;Sở;mức độ lạ\n")



def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli_main(list(args))
    return code, out.getvalue()


def test_kb_import_fills_the_catalogue_tier(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(BUNDLED_DIR, kb_dir)
    source = tmp_path / "Kiên Giang 2026.csv"
    source.write_text(LIST, encoding="utf-8")
    code, out = _cli("kb", "import", str(source), "--kb", str(kb_dir), "--source", "https://kiengiang.gov.vn/tthc")
    assert code == 0, out
    assert "2 procedure(s) written" in out and ":3: mã '1.1'" in out and ":5: mức độ 'mức độ lạ'" in out
    assert not (kb_dir / "drafts").exists()  # curated drafts are a separate step (--drafts)
    written = kb_dir / "catalogue" / "province-kien-giang-2026.csv"
    entries = {e.code: e for e in load_entries(kb_dir)[0]}
    karaoke, lantern = entries["1.001029"], entries["2.999001"]
    assert karaoke.origin == written.name and karaoke.online == "full" and karaoke.levels == ("province",)
    assert karaoke.source == "https://kiengiang.gov.vn/tthc" and karaoke.source_date
    assert lantern.levels == ("commune",) and lantern.level_basis == "agency" and lantern.online == "partial"
    assert _cli("kb", "check", "--kb", str(kb_dir))[0] == 0
    kb = KnowledgeBase.from_dir(kb_dir)
    assert kb.catalogue is not None and kb.catalogue.search("tha den troi tren song")[0].entry.code == "2.999001"
    code, _ = _cli("kb", "import", str(source), "--kb", str(kb_dir), "--drafts")
    drafts = {p.name for p in (kb_dir / "drafts").glob("*.yaml")}
    assert code == 0 and {"1-001029.yaml", "2-999001.yaml"} <= drafts


