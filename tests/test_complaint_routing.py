"""Routing of complaints to agencies, the agencies file, and working-day deadlines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.agencies import AgencyConfigError, AgencyDirectory
from handlers.complaint_ops import add_working_days, due_after
from knowledge.communes import match_commune

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "agencies.example.yaml"


def code(name: str) -> str:
    found = match_commune(name, "An Giang")
    assert len(found) == 1, found
    return found[0].code


@pytest.fixture(scope="module")
def directory() -> AgencyDirectory:
    return AgencyDirectory.load(EXAMPLE)


# (topic, procedure id, field, commune) -> (agency key, rule)
CASES = [
    # procedure in a field a provincial department handles, no commune
    ("procedure", "khai-sinh", "Hộ tịch", "", "sotuphap", "field=Hộ tịch; area=province"),
    # same, in a ward whose People's Committee lists that field: the commune is more specific
    ("procedure", "khai-sinh", "Hộ tịch", "Phường Long Xuyên", "ubnd-longxuyen", "field=Hộ tịch; commune="),
    ("procedure", "khai-sinh", "Hộ tịch", "Phường Bình Đức", "ubnd-longxuyen", "field=Hộ tịch; commune="),
    # a ward outside every list: the department
    ("procedure", "khai-sinh", "Hộ tịch", "Phường Rạch Giá", "sotuphap", "field=Hộ tịch; area=province"),
    # a field only the police handle, even in Long Xuyên (the ward does not list it)
    ("procedure", "dang-ky-tam-tru", "Cư trú", "Phường Long Xuyên", "congan", "field=Cư trú; area=province"),
    # procedure id beats field
    ("procedure", "giay-phep-xay-dung", "Xây dựng", "", "soxaydung", "procedure_id=giay-phep-xay-dung"),
    # a field nobody lists: the desk
    ("procedure", "cap-so-do-lan-dau", "Đất đai", "Phường Rạch Giá", "ttphvhcc", "default_desk"),
    # ... but a commune committee that lists no subject takes everything from its communes
    ("procedure", "cap-so-do-lan-dau", "Đất đai", "Phường Châu Đốc", "ubnd-chaudoc", "all_subjects; commune="),
    ("procedure", "khai-sinh", "Hộ tịch", "Phường Vĩnh Tế", "sotuphap", "field=Hộ tịch"),  # 2 > 0+1
    # officials' conduct: the ward if it lists the topic, else the Home Affairs department
    ("official", "", "", "Phường Long Xuyên", "ubnd-longxuyen", "topic=official; commune="),
    ("official", "", "", "Phường Rạch Giá", "sonoivu", "topic=official; area=province"),
    ("official", "", "", "", "sonoivu", "topic=official; area=province"),
    # the portal itself: the desk, chosen by its topic (not as a fallback)
    ("portal", "", "", "Phường Long Xuyên", "ttphvhcc", "topic=portal; area=province"),
    # dossiers: the ward lists them; elsewhere nobody does
    ("dossier", "", "", "Phường Mỹ Thới", "ubnd-longxuyen", "topic=dossier; commune="),
    ("dossier", "", "", "Phường Rạch Giá", "ttphvhcc", "default_desk"),
    # other
    ("other", "", "", "", "ttphvhcc", "default_desk"),
    ("other", "", "", "Phường Long Xuyên", "ttphvhcc", "default_desk"),
    ("other", "", "", "Phường Vĩnh Tế", "ubnd-chaudoc", "all_subjects; commune="),
]


@pytest.mark.parametrize(("topic", "procedure_id", "field", "commune", "agency", "rule"), CASES)
def test_routing_table(directory: AgencyDirectory, topic: str, procedure_id: str, field: str, commune: str,
                       agency: str, rule: str) -> None:
    route = directory.route(topic, field=field, procedure_id=procedure_id,
                            commune_code=code(commune) if commune else "")
    assert route.agency.key == agency
    assert route.rule.startswith(rule)
    if commune and "commune=" in rule:
        assert route.rule.endswith(code(commune))


def test_chats_and_lookup(directory: AgencyDirectory) -> None:
    assert directory.chats("sotuphap") == [("telegram", "-1001000000002")]
    # an agency without chats sends to the desk's chats; names work without diacritics
    assert directory.chats("UBND phuong Chau Doc") == directory.chats("ttphvhcc")
    assert directory.chats("Sở Tư pháp tỉnh An Giang") == directory.chats("sotuphap")
    assert directory.chats("no such agency") == []
    assert directory.agency_of_chat("telegram", "-1001000000003").key == "congan"
    assert directory.configured_member("congan", "telegram:444444444")
    assert not directory.configured_member("congan", "telegram:333333333")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agencies.yaml"
    path.write_text(text, encoding="utf-8")
    return path


DESK = "  - {key: desk, name: Bộ phận tiếp nhận, is_default_desk: true}\n"


@pytest.mark.parametrize(("body", "message"), [
    ("province: An Giang\nagencies:\n" + DESK + "  - {key: w, name: UBND xã X, area: [Xã Không Có Thật]}\n",
     "Xã Không Có Thật"),
    ("province: An Giang\nagencies:\n" + DESK + DESK.replace("desk,", "desk2,"), "is_default_desk"),
    ("province: An Giang\nagencies:\n" + DESK + DESK, "repeated"),
    ("province: Kiên Giang\nagencies:\n" + DESK, "province"),
    ("province: An Giang\nagencies:\n  - {key: 'Bad Key!', name: Desk, is_default_desk: true}\n", "key"),
    ("province: An Giang\nagencies:\n" + DESK + "  - {key: p, name: Công an, members: [12345]}\n", "members"),
    ("province: An Giang\nagencies:\n" + DESK + "  - {key: p, name: Công an, topics: [weather]}\n", "topics"),
    ("province: An Giang\nagencies: [\n", "cannot read"),
])
def test_bad_agencies_file_names_the_problem(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(AgencyConfigError) as err:
        AgencyDirectory.load(write(tmp_path, body))
    assert message in str(err.value)


def test_working_days_skip_weekends_and_holidays() -> None:
    friday = dt.date(2026, 3, 6)
    assert add_working_days(friday, 1) == dt.date(2026, 3, 9)  # Monday
    assert add_working_days(friday, 5) == dt.date(2026, 3, 13)
    assert add_working_days(friday, 10) == dt.date(2026, 3, 20)
    assert add_working_days(friday, 1, [dt.date(2026, 3, 9)]) == dt.date(2026, 3, 10)
    saturday_night = dt.datetime(2026, 3, 7, 15, 0, tzinfo=dt.timezone.utc)  # 22:00 Saturday in Vietnam
    due = due_after(saturday_night, 1)
    assert due == dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.timezone.utc)  # Monday 17:00 Vietnam time
    # 23:30 UTC on Sunday is already Monday in Vietnam: one working day is Tuesday
    assert due_after(dt.datetime(2026, 3, 8, 23, 30, tzinfo=dt.timezone.utc), 1).day == 10
