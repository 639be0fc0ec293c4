"""Intent rules: dossier codes, complaints, help, and knowledge questions."""

import pytest

from knowledge.intent import classify, find_dossier_code
from knowledge.normalize import expand, fold


def intent_of(text: str):
    return classify(text, fold(expand(text)))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("hồ sơ H21.22-250312-0005 xong chưa", "H21.22-250312-0005"),
        ("000.00.18.H21-250412-0001", "000.00.18.H21-250412-0001"),
        ("ma G01.123-240101-0001 a", "G01.123-240101-0001"),
        ("h21.22 - 250312 - 0005 sao rồi", "H21.22-250312-0005"),
        ("mã: 000.00.18.h21-250412-0001.", "000.00.18.H21-250412-0001"),
        ("H21.22 250312 0005", "H21.22-250312-0005"),
        ("gọi 0912345678 giúp tôi", None),
        ("luật 60/2014/QH13", None),
        ("", None),
    ],
)
def test_find_dossier_code(text: str, code: str | None) -> None:
    assert find_dossier_code(text) == code


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hồ sơ H31.40-250221-0075 xong chưa ạ", "status"),
        ("hồ sơ của tôi đến đâu rồi", "status"),
        ("hồ sơ cấp đổi căn cước của tôi đã xong chưa", "status"),
        ("tra cứu hồ sơ", "status"),
        ("ho so minh nop da duoc tiep nhan chua", "status"),
        ("hồ sơ khai sinh gồm những gì", "procedure"),
        ("đăng ký khai sinh mất bao lâu", "procedure"),
        ("giấy xác nhận tình trạng hôn nhân xin ở đâu", "procedure"),
        ("tôi muốn phản ánh cán bộ xã làm chậm hồ sơ", "complaint"),
        ("khieu nai can bo mot cua thai do khong tot", "complaint"),
        ("góp ý cổng dịch vụ công khó dùng", "complaint"),
        ("kiến nghị bỏ bớt giấy tờ", "complaint"),
        ("cán bộ phường nhũng nhiễu, đòi tiền mới làm", "complaint"),
        ("thủ tục khiếu nại quyết định hành chính", "procedure"),
        ("tôi muốn khiếu nại, thủ tục thế nào", "complaint"),
        ("xin chào", "help"),
        ("hello bot", "help"),
        ("cảm ơn nhiều nhé", "help"),
        ("tks ad", "help"),
        ("ok", "help"),
        ("menu", "help"),
        ("tôi muốn gặp người hỗ trợ", "help"),
        ("bạn là ai", "help"),
        ("tạm biệt", "help"),
        ("xin chào, cho hỏi làm hộ chiếu cần gì", "procedure"),
        ("", "unknown"),
        ("😀😀", "unknown"),
    ],
)
def test_intent(text: str, intent: str) -> None:
    assert intent_of(text).name == intent


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("chào bạn", "greeting"),
        ("cám ơn bot", "thanks"),
        ("danh mục trợ giúp", "menu"),
        ("kết nối với nhân viên", "human"),
        ("bye", "bye"),
        ("bạn là người hay máy", "about"),
    ],
)
def test_help_kind(text: str, kind: str) -> None:
    result = intent_of(text)
    assert (result.name, result.help_kind) == ("help", kind)


def test_status_code_is_returned() -> None:
    assert intent_of("hs h21.22-250312-0005 sao roi ad").dossier_code == "H21.22-250312-0005"


@pytest.mark.parametrize(
    ("text", "guide"),
    [
        ("hướng dẫn nộp khai sinh online", True),
        ("chỉ tôi cách nộp hồ sơ khai tử trực tuyến", True),
        ("các bước đăng ký tạm trú trên vneid", False),  # the steps aspect (handlers/conversation.py), not the guide
        ("chỉ tôi từng bước đăng ký tạm trú trên vneid", True),
        ("khai sinh cần giấy tờ gì", False),
    ],
)
def test_wants_guide(text: str, guide: bool) -> None:
    result = intent_of(text)
    assert result.name == "procedure"
    assert result.wants_guide is guide


def test_a_complaint_tracking_code_is_a_complaint_lookup() -> None:
    from knowledge.intent import classify
    from knowledge.normalize import fold

    for text in ("PAKN-2026-000123", "pakn - 2026 - 12", "cho hỏi PAKN-2026-000123 tới đâu rồi"):
        assert classify(text, fold(text)).name == "complaint", text
    assert classify("đăng ký khai sinh", fold("đăng ký khai sinh")).name == "procedure"
