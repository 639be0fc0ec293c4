"""Ward/commune matching on the post-July-2025 list from the vietnamadminunits package."""

from __future__ import annotations

import pytest

from knowledge.communes import all_communes, find_province, get_commune, match_commune


def labels(text: str, province: str = "") -> list[str]:
    return [c.label for c in match_commune(text, province)]


def test_the_list_is_the_new_one() -> None:
    communes = all_communes()
    assert 3000 < len(communes) < 3600
    assert len({c.province for c in communes}) == 34
    assert not any(c.province == "Kiên Giang" for c in communes)  # merged into An Giang in 2025
    rach_gia = match_commune("Rạch Giá")
    assert [c.province for c in rach_gia] == ["An Giang"]


@pytest.mark.parametrize("typed", ["phường Long Xuyên", "long xuyen", "LONG XUYÊN", "P. Long Xuyen",
                                   "p long xuyen, tinh an giang", "Long Xuyên An Giang", "long xuyn"])
def test_same_ward_however_typed(typed: str) -> None:
    assert labels(typed, "An Giang") == ["Phường Long Xuyên, An Giang"]


def test_name_in_many_provinces_default_province_decides() -> None:
    everywhere = labels("xa tan an")
    assert len({label.split(", ")[1] for label in everywhere}) > 3
    assert labels("xa tan an", "An Giang") == ["Xã Tân An, An Giang"]
    assert labels("Tân An, Cần Thơ") == ["Phường Tân An, Cần Thơ"]  # a province typed wins over the default
    assert labels("Tân An, Cần Thơ", "An Giang") == ["Phường Tân An, Cần Thơ"]


def test_diacritics_typed_decide_between_folded_twins() -> None:
    assert labels("my tho") == ["Phường Mỹ Tho, Đồng Tháp", "Xã Mỹ Thọ, Đồng Tháp"]
    assert labels("Mỹ Thọ") == ["Xã Mỹ Thọ, Đồng Tháp"]
    assert labels("phường my tho") == ["Phường Mỹ Tho, Đồng Tháp"]  # the unit type decides too


@pytest.mark.parametrize("bad", ["", "abc xyz qwe", "😀", "x" * 500, "'; DROP TABLE x; --", "hà nội"])
def test_nonsense_matches_nothing(bad: str) -> None:
    assert match_commune(bad, "An Giang") == []


def test_lookups() -> None:
    c = match_commune("Phú Quốc")[0]
    assert c.kind == "Đặc khu" and get_commune(c.code) == c
    assert find_province("TP HCM") == "Hồ Chí Minh"
    assert find_province("tinh an giang") == "An Giang"
    assert find_province("Kiên Giang") is None
