"""The pure guide model: screens built from knowledge entries, checklist, eligibility, summary."""

from __future__ import annotations

import pytest

from handlers import guide_flow as flow
from handlers.guide import render
from knowledge.base import KnowledgeBase
from knowledge.schema import OnlineLevel, Procedure, Step
from storage.guides import Progress


def khai_sinh(kb: KnowledgeBase) -> Procedure:
    p = kb.procedure("khai-sinh")
    assert p is not None
    return p


def test_birth_registration_guide_follows_the_entry(kb: KnowledgeBase) -> None:
    p = khai_sinh(kb)
    g = flow.build_guide(p)
    assert [s.kind for s in g.screens[:4]] == ["question", "question", "question", "checklist"]
    assert [s.text for s in g.screens[:3]] == [q.question for q in p.eligibility]
    steps = [s for s in g.screens if s.kind == "step"]
    # The entry's 7 steps in their order, plus a generic payment screen before the receipt choice.
    assert [s.topic for s in steps] == ["account", "find", "form", "upload", "payment", "receipt", "submit", "after"]
    assert g.n_steps == 9 and g.where(g.first_step() + 3) == "bước 4/9" and g.where(1) == "câu hỏi 2/3"
    by_topic = {s.topic: s for s in steps}
    assert p.steps[0].text in by_topic["account"].text and "mức 2" in by_topic["account"].text
    assert p.online.how_to_find in by_topic["find"].text
    assert "5 MB" in by_topic["upload"].text and "PDF" in by_topic["upload"].text
    assert p.fees.summary in by_topic["payment"].text
    assert p.postal in by_topic["receipt"].text and "Cước bưu chính" in by_topic["receipt"].text
    assert "mã hồ sơ" in by_topic["submit"].text and "H21.22-250312-0005" in by_topic["submit"].text
    # The entry's own problems come first; generic ones of the same kind are added where not covered.
    account_problems = [pr.problem for pr in by_topic["account"].problems]
    assert account_problems[:2] == [pr.problem for pr in p.steps[0].problems]
    assert sum("mức 1" in pr for pr in account_problems) == 1
    assert by_topic["payment"].problems, "a generic screen still has common problems"


def test_entry_without_eligibility_or_problems_gets_a_generic_guide(kb: KnowledgeBase) -> None:
    base = khai_sinh(kb)
    bare = base.model_copy(update={
        "id": "thu-tuc-tong-quat", "eligibility": [],
        "steps": [Step(text="Chuẩn bị giấy tờ theo danh sách."), Step(text="Chờ cán bộ liên hệ.")],
    })
    g = flow.build_guide(bare)
    assert g.n_questions == 0 and g.screens[0].kind == "checklist"
    topics = [s.topic for s in g.screens if s.kind == "step"]
    for topic in flow.CANONICAL:
        assert topic in topics
    assert topics.index("account") < topics.index("find") < topics.index("form") < topics.index("upload") \
        < topics.index("payment") < topics.index("receipt") < topics.index("submit")
    assert topics[0] == "other"  # the entry's preparation step stays before the account step
    for s in g.screens:
        if s.kind == "step" and s.topic in flow.CANONICAL:
            assert s.problems, s.topic


def test_step_topics_from_wording() -> None:
    assert flow.topic_of("Đăng nhập dichvucong.gov.vn bằng VNeID mức 2") == "account"
    assert flow.topic_of("Tìm \"đổi giấy phép lái xe\", chọn tỉnh") == "find"
    assert flow.topic_of("Kê khai tờ khai: họ tên, ngày sinh") == "form"
    assert flow.topic_of("Tải lên ảnh chụp giấy tờ") == "upload"
    assert flow.topic_of("Nhận thẻ tại nhà qua bưu điện") == "after"
    assert flow.topics_of("Nộp hồ sơ, thanh toán lệ phí trực tuyến và ghi lại mã hồ sơ") == ["submit", "payment"]
    assert flow.topic_of("Đoàn kiểm tra đến cơ sở") == "other"


def test_eligibility_answers(kb: KnowledgeBase) -> None:
    p = khai_sinh(kb)
    assert flow.answer_fits(p, 0, "y") and not flow.answer_fits(p, 0, "n")
    flipped = p.model_copy(update={"eligibility": [p.eligibility[0].model_copy(update={"expect": "no"})]})
    assert flow.answer_fits(flipped, 0, "n") and not flow.answer_fits(flipped, 0, "y")
    assert flow.first_blocking(p, {"0": "y", "1": "n", "2": "n"}) == 1
    assert flow.first_blocking(p, {"0": "y"}) is None


def test_checklist_lists_missing_with_where_and_vneid_papers(kb: KnowledgeBase) -> None:
    p = khai_sinh(kb)
    g = flow.build_guide(p)
    names = [d.name for d in g.to_tick]
    assert "Giấy chứng sinh" in names and "Tờ khai đăng ký khai sinh" not in names
    birth = next(d for d in g.to_tick if d.name == "Giấy chứng sinh")
    text = flow.checklist_text(g, [])
    assert "Còn thiếu:" in text and "Bệnh viện, trạm y tế" in text
    assert "Không cần nộp nữa (đã có dữ liệu trên VNeID):" in text
    assert "Giấy tờ chứng minh nơi cư trú của cha, mẹ" in text
    assert [d.name for d in flow.missing(g, [])] == ["Giấy chứng sinh"]  # optional papers are never "missing"
    done = flow.checklist_text(g, [birth.index])
    assert "Còn thiếu:" not in done and "đã có đủ giấy tờ" in done
    keep = flow.checklist_text(g, [birth.index], keep=True)
    assert "✅ Giấy chứng sinh" in keep and "https://dichvucong.gov.vn" in keep


def test_summary_for_a_person_taking_over(kb: KnowledgeBase) -> None:
    p = khai_sinh(kb)
    g = flow.build_guide(p)
    pos = g.first_step() + 4
    text = flow.summary(g, pos, {"0": "y", "1": "y", "2": "y"}, [], "Tệp quá lớn")
    assert "Thủ tục: Đăng ký khai sinh" in text and "bước 5/9 — Tải giấy tờ lên" in text
    assert f"{p.eligibility[0].question} → Có" in text
    assert "Giấy tờ còn thiếu: Giấy chứng sinh" in text and "Đang vướng: Tệp quá lớn" in text


def test_in_person_procedure_is_not_guided_online(kb: KnowledgeBase) -> None:
    p = khai_sinh(kb).model_copy(update={"online_level": OnlineLevel.IN_PERSON})
    assert not flow.online_possible(p)
    assert flow.online_possible(khai_sinh(kb))


def test_every_bundled_procedure_renders_valid_phone_screens(kb: KnowledgeBase) -> None:
    """Each screen of each guide: buttons within 64 bytes (Button checks), short text, a way forward."""
    procedures = [e for e in kb.entries.values() if isinstance(e, Procedure)]
    assert len(procedures) >= 5
    for p in procedures:
        long_id = p.model_copy(update={"id": ("x" * 30)})  # the longest id allowed
        g = flow.build_guide(long_id)
        assert g.screens[-1].kind == "step"
        for pos in range(len(g.screens)):
            reply = render(g, Progress(long_id.id, pos=pos, ticked=[d.index for d in g.to_tick]))
            assert reply.all_buttons()
            if g.screens[pos].kind == "step":
                assert len(reply.text) < 1200, (p.id, pos)


@pytest.mark.parametrize("entry_id", ["khai-sinh", "dang-ky-tam-tru", "ho-ngheo"])
def test_positions_cover_every_screen(kb: KnowledgeBase, entry_id: str) -> None:
    p = kb.procedure(entry_id)
    if p is None:
        pytest.skip(f"{entry_id} not in the knowledge base")
    g = flow.build_guide(p)
    labels = [g.where(i) for i in range(len(g.screens))]
    assert labels[g.first_step()] == f"bước 1/{g.n_steps}"
    assert labels[-1] == f"bước {g.n_steps}/{g.n_steps}"
    assert len(set(labels)) == len(labels)
