"""The agencies that receive complaints: loaded from a YAML file (``AGENCIES_FILE``) and validated.

See ``examples/agencies.example.yaml`` and ``docs/complaints.md`` for the format. Routing picks
the most specific agency for (topic, commune) and falls back to the province receiving desk.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge.communes import find_in_province, find_province
from knowledge.complaint_reading import load_topics
from knowledge.normalize import fold

# Topic keys come from knowledge/data/complaint_topics.yaml; an agency may also list a group
# ("local": every report about the commune's public things, "service").
TOPICS = load_topics().keys


class AgencyConfigError(Exception):
    """The agencies file is wrong; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Chat(_Strict):
    """A chat where the agency receives complaint cards (usually a group)."""

    channel: Literal["telegram", "zalo", "terminal"]
    chat_id: str

    @field_validator("chat_id", mode="before")
    @classmethod
    def _str(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v


class Agency(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,23}$")  # short: it goes into button data
    name: str = Field(min_length=3, max_length=120)
    fields: list[str] = []  # knowledge-base fields ("Hộ tịch", "Cư trú"...); empty = not by field
    procedure_ids: list[str] = []
    topics: list[str] = []  # kinds of complaint handled whatever the field ("official", "road", "local"...)
    area: Literal["province"] | list[str] = "province"  # or a list of communes of the province
    chats: list[Chat] = []
    members: list[str] = []  # "telegram:12345": staff allowed to act on this agency's cards
    is_default_desk: bool = False
    # Live handoff to a person (docs/handoff.md): a one-stop desk of its `area` communes, where it is,
    # its opening hours ("mon-fri 07:30-11:30 13:30-17:00", Vietnam time) and a phone number.
    one_stop: bool = False
    address: str = Field(default="", max_length=200)
    hours: str = Field(default="", max_length=200)
    hotline: str = Field(default="", max_length=40)

    @field_validator("topics")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        known = load_topics()
        for t in v:
            if t not in known.keys and t not in known.groups:
                raise ValueError(f"topic {t!r} is not one of {', '.join(known.keys + known.groups)}")
        return v

    @field_validator("members")
    @classmethod
    def _members(cls, v: list[str]) -> list[str]:
        for m in v:
            channel, _, uid = str(m).partition(":")
            if not channel or not uid:
                raise ValueError(f"member {m!r} must look like telegram:12345")
        return [str(m) for m in v]

    @property
    def handles_everything(self) -> bool:
        return not (self.fields or self.procedure_ids or self.topics)


class AgencyFile(_Strict):
    province: str
    holidays: list[dt.date] = []  # non-working days besides Saturdays and Sundays
    reminder_hours: int = Field(default=24, ge=1, le=240)  # remind the agency this long before the due time
    hotline: str = Field(default="", max_length=40)  # the province's hotline for citizens (handoff fallback)
    agencies: list[Agency] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "AgencyFile":
        if find_province(self.province) is None:
            raise ValueError(f"province {self.province!r} is not one of the 34 provinces (after July 2025)")
        keys = [a.key for a in self.agencies]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ValueError(f"agency keys repeated: {sorted(dupes)}")
        desks = [a.key for a in self.agencies if a.is_default_desk]
        if len(desks) != 1:
            raise ValueError(f"exactly one agency needs is_default_desk: true (found {len(desks)})")
        return self


@dataclass(frozen=True)
class Route:
    """Where a complaint goes and why."""

    agency: Agency
    rule: str  # e.g. "procedure_id=khai-sinh; commune=Phường Long Xuyên" or "default_desk"


class AgencyDirectory:
    """The loaded, validated agencies with routing and membership lookups."""

    def __init__(self, config: AgencyFile) -> None:
        self.config = config
        self.province = find_province(config.province) or config.province
        self.agencies: dict[str, Agency] = {a.key: a for a in config.agencies}
        self.desk = next(a for a in config.agencies if a.is_default_desk)
        self.communes: dict[str, frozenset[str]] = {}  # agency key -> commune codes
        for a in config.agencies:
            if isinstance(a.area, list):
                codes = set()
                for name in a.area:
                    commune = find_in_province(name, self.province)
                    if commune is None:
                        raise AgencyConfigError(f"agency {a.key}: commune {name!r} not found (or ambiguous) "
                                                f"in {self.province}")
                    codes.add(commune.code)
                self.communes[a.key] = frozenset(codes)

    @classmethod
    def load(cls, path: Path) -> "AgencyDirectory":
        try:
            raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise AgencyConfigError(f"{path}: cannot read: {exc}") from None
        try:
            return cls(AgencyFile.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise AgencyConfigError(f"{path}: {where}: {err['msg'].removeprefix('Value error, ')}") from None

    # --- routing --------------------------------------------------------------

    def route(self, topic: str, *, field: str = "", procedure_id: str = "", commune_code: str = "") -> Route:
        """The most specific agency for (topic, commune); the receiving desk when none fits.

        Subject: procedure id (3) > field or topic (2) > handles everything (0).
        Area: the commune is in its list (1) > province-wide (0); a list without it excludes.
        Ties go to the agency listed first. The default desk competes like any other agency.
        """
        best: tuple[int, int, int] | None = None
        chosen: Route | None = None
        for order, a in enumerate(self.config.agencies):
            subject = self._subject(a, topic, field, procedure_id)
            if subject is None:
                continue
            area_codes = self.communes.get(a.key)
            if area_codes is not None:
                if commune_code not in area_codes:
                    continue
                area, area_rule = 1, f"commune={commune_code}"
            else:
                area, area_rule = 0, "area=province"
            if subject[0] == 0 and area == 0:
                continue  # handles everything province-wide: that is what the desk fallback is for
            score = (subject[0] + area, subject[0], -order)
            if best is None or score > best:
                best, chosen = score, Route(a, f"{subject[1]}; {area_rule}")
        return chosen or Route(self.desk, "default_desk")

    @staticmethod
    def _subject(a: Agency, topic: str, field: str, procedure_id: str) -> tuple[int, str] | None:
        if procedure_id and procedure_id in a.procedure_ids:
            return 3, f"procedure_id={procedure_id}"
        if field and fold(field) in {fold(f) for f in a.fields}:
            return 2, f"field={field}"
        if topic in a.topics:
            return 2, f"topic={topic}"
        group = load_topics().group_of(topic)
        if group and group in a.topics:
            return 2, f"topic={group}"
        if a.handles_everything:
            return 0, "all_subjects"
        return None

    # --- lookups --------------------------------------------------------------

    def get(self, key: str) -> Agency | None:
        return self.agencies.get(key)

    def find(self, key_or_name: str) -> Agency | None:
        """By key, or by name with or without diacritics."""
        if key_or_name in self.agencies:
            return self.agencies[key_or_name]
        wanted = fold(key_or_name)
        return next((a for a in self.config.agencies if fold(a.name) == wanted), None)

    def chats(self, key_or_name: str) -> list[tuple[str, str]]:
        """(channel, chat_id) of an agency; the desk's chats if it has none of its own."""
        agency = self.find(key_or_name)
        if agency is None:
            return []
        own = [(c.channel, c.chat_id) for c in agency.chats]
        return own or [(c.channel, c.chat_id) for c in self.desk.chats]

    def agency_of_chat(self, channel: str, chat_id: str) -> Agency | None:
        for a in self.config.agencies:
            if any(c.channel == channel and c.chat_id == chat_id for c in a.chats):
                return a
        return None

    def configured_member(self, key: str, actor: str) -> bool:
        agency = self.agencies.get(key)
        return agency is not None and actor in agency.members

    def agencies_of_member(self, actor: str) -> list[Agency]:
        return [a for a in self.config.agencies if actor in a.members]
