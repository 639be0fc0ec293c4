"""Schema of a knowledge entry: one YAML file per procedure (TTHC) or general topic (FAQ).

Agencies edit the YAML files; this module is the contract those files must meet.
Every model forbids unknown fields so that a typo in a field name is reported by
``python -m bot kb check`` instead of being silently ignored.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NonEmpty = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class OnlineLevel(str, Enum):
    """How much of a procedure can be done online (Decree 42/2022, Decree 118/2025)."""

    FULL = "toàn trình"  # submit, pay and receive the result online (formerly "mức độ 4")
    PARTIAL = "một phần"  # some step must be done in person (formerly "mức độ 3")
    IN_PERSON = "trực tiếp"  # no online submission


class Source(_Strict):
    """Where a fact comes from: a legal document or an official page.

    A reader must be able to open it: either ``url`` points at a page (not a site's home page),
    or the document is identified by its ``number``, ``issued`` date and ``issuer``
    (``kb check`` enforces this).
    """

    title: NonEmpty
    url: str = ""
    number: str = ""  # document number, e.g. "117/2026/TT-BTC"
    issued: dt.date | None = None  # date the document was signed (ngày ban hành)
    issuer: str = ""  # e.g. "Bộ Tài chính", "Chính phủ", "Quốc hội"


class Period(_Strict):
    """A figure that holds only between two dates (a temporary cut, an exemption window).

    ``applies: instead`` replaces the general statement while in force (e.g. a 50% cut);
    ``applies: also`` is shown beside it (e.g. an exemption for citizens who meet a condition).
    """

    value: NonEmpty
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # last day the figure holds (inclusive)
    basis: NonEmpty  # the text that sets it, with its article
    applies: Literal["instead", "also"] = "instead"

    @model_validator(mode="after")
    def _dates_in_order(self) -> "Period":
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self

    def in_force(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until)


class Problem(_Strict):
    """A common problem at one guide step and how to get past it."""

    problem: NonEmpty
    fix: NonEmpty


class Step(_Strict):
    """One online submission step, short enough for a phone screen."""

    text: NonEmpty
    problems: list[Problem] = []


class Document(_Strict):
    """One paper in the dossier (thành phần hồ sơ)."""

    name: NonEmpty
    form: NonEmpty = "bản chính"  # bản chính | bản sao | bản sao có chứng thực | bản chụp | xuất trình | điện tử
    count: int = Field(default=1, ge=0)
    note: str = ""
    where: str = ""  # where the citizen gets it, for the guide's checklist
    replaced_by_vneid: bool = False  # no longer needed: the data is read from VNeID / national databases
    optional: bool = False  # only in some cases (say which in ``note``)


class Fees(_Strict):
    """Fees and charges (phí, lệ phí)."""

    summary: NonEmpty  # one line for the card: the general statement, e.g. "Miễn lệ phí"
    details: list[str] = []  # exemptions, online-payment discounts, provincial variation
    periods: list[Period] = []  # figures that hold only between dates (see knowledge/validity.py)
    summary_valid_until: dt.date | None = None  # set when the general statement itself ends
    province: str = ""  # set by a province override: whose figure this is


class OnlineSubmission(_Strict):
    """Where and how to find the procedure online."""

    portal: NonEmpty  # e.g. "Cổng Dịch vụ công quốc gia" or "Cổng dịch vụ công của tỉnh"
    url: NonEmpty
    how_to_find: NonEmpty  # exact menu path or search term on the portal


class EligibilityQuestion(_Strict):
    """A yes/no question asked before a guide; the wrong answer ends in another route."""

    question: NonEmpty
    expect: Literal["yes", "no"] = "yes"  # the answer that keeps the citizen on this guide
    otherwise: NonEmpty  # what to tell the citizen when the answer differs (why, where to go)
    redirect: str = ""  # optional id of the entry that fits this case instead


class Check(_Strict):
    """One agency review of an entry's facts (``kb import-review``)."""

    date: dt.date  # the day the facts were checked
    by: NonEmpty  # person and agency, as written in the review file
    fields: list[str] = []  # the facts checked, e.g. ["fees.summary", "processing_time"]
    changed: list[str] = []  # the facts corrected
    note: str = ""


class _EntryBase(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    name: NonEmpty
    field: NonEmpty
    aliases: list[NonEmpty] = Field(min_length=1)
    keywords: list[str] = []  # extra words that point to this entry (not shown to citizens)
    related: list[str] = []  # ids of related entries
    sources: list[Source] = Field(min_length=1)
    updated: dt.date
    checks: list[Check] = []  # agency reviews, newest last

    @field_validator("aliases")
    @classmethod
    def _no_duplicate_alias(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for alias in v:
            key = alias.casefold()
            if key in seen:
                raise ValueError(f"alias repeated: {alias!r}")
            seen.add(key)
        return v


class Procedure(_EntryBase):
    """An administrative procedure (thủ tục hành chính)."""

    kind: Literal["procedure"]
    procedure_code: Annotated[str, Field(pattern=r"^$|^[0-9]\.[0-9]{6}$")] = ""  # mã thủ tục on dichvucong.gov.vn
    # other official codes this entry answers (the same procedure at other levels, or its cases); their
    # catalogue rows are never offered beside the entry (knowledge/catalogue.py)
    codes: list[Annotated[str, Field(pattern=r"^[0-9]\.[0-9]{6}$")]] = []
    handled_by: NonEmpty
    online_level: OnlineLevel
    online: OnlineSubmission
    in_person: NonEmpty  # where to go in person (one-stop desk ...)
    postal: str = ""  # how the postal route (bưu chính công ích) applies; empty = not offered
    who: NonEmpty
    documents: list[Document] = Field(min_length=2)
    steps: list[Step] = Field(min_length=2)
    fees: Fees
    processing_time: NonEmpty
    # times that hold only between dates, like fees.periods ("instead" replaces processing_time while in force)
    processing_time_periods: list[Period] = []
    result: NonEmpty
    legal_basis: list[NonEmpty] = Field(min_length=1)
    common_mistakes: list[NonEmpty] = Field(min_length=1)
    eligibility: list[EligibilityQuestion] = []

    @field_validator("steps", mode="before")
    @classmethod
    def _steps_from_strings(cls, v: object) -> object:
        if isinstance(v, list):
            return [{"text": s} if isinstance(s, str) else s for s in v]
        return v

    @field_validator("procedure_code", mode="before")
    @classmethod
    def _code_from_number(cls, v: object) -> object:
        # YAML reads an unquoted 1.004222 as a number; codes always have six decimals
        return f"{v:.6f}" if isinstance(v, float) else v

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_from_numbers(cls, v: object) -> object:
        return [f"{x:.6f}" if isinstance(x, float) else x for x in v] if isinstance(v, list) else v


class Faq(_EntryBase):
    """A general topic: a question and a short answer."""

    kind: Literal["faq"]
    question: NonEmpty
    answer: NonEmpty
    steps: list[Step] = []
    handled_by: str = ""

    @field_validator("steps", mode="before")
    @classmethod
    def _steps_from_strings(cls, v: object) -> object:
        if isinstance(v, list):
            return [{"text": s} if isinstance(s, str) else s for s in v]
        return v

    @model_validator(mode="after")
    def _answer_length(self) -> "Faq":
        lines = [ln for ln in self.answer.splitlines() if ln.strip()]
        if not 1 <= len(lines) <= 8:
            raise ValueError("answer: keep it to 3–6 short lines")
        return self


Entry = Annotated[Union[Procedure, Faq], Field(discriminator="kind")]

REQUIRED_PROCEDURE_FIELDS = (
    "id", "kind", "name", "field", "handled_by", "online_level", "online", "in_person", "who",
    "documents", "steps", "fees", "processing_time", "result", "legal_basis", "common_mistakes",
    "aliases", "sources", "updated",
)
REQUIRED_FAQ_FIELDS = ("id", "kind", "name", "field", "question", "answer", "aliases", "sources", "updated")
