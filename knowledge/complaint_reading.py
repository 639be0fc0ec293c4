"""Reading a complaint from the citizen's own message: is it one, and what does it already say?

From one message ("đường ở phường Rạch Giá bị hư nặng, ổ gà nhiều, đề nghị sửa") this finds the
topic (``knowledge/data/complaint_topics.yaml``), the commune or ward (post-2025 units, the
deployment's province first), a dossier code, a procedure (by the knowledge base's matcher), the
spot ("gần chợ", "hẻm 12") and the time ("cả tháng nay", "12h đêm"). The intake then asks only for
what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.communes import Commune, _index, find_province, match_commune
from knowledge.intent import find_dossier_code
from knowledge.normalize import expand, fold, fold_token, has_marks, normalize_tokens

if TYPE_CHECKING:
    from knowledge.base import KnowledgeBase

TOPICS_FILE = Path(__file__).parent / "data" / "complaint_topics.yaml"
PROCEDURE_SCORE = 0.62  # a procedure named in a complaint about a procedure, by the matcher's score


class Topic(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z_]{2,16}$")
    group: Literal["local", "service", "other"]
    label: str = Field(min_length=3, max_length=60)
    short: str = Field(min_length=3, max_length=60)
    words: list[str] = []


class Signals(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strong: list[str]
    persist: list[str] = []
    not_strong: list[str] = []
    misconduct: list[str]
    problem: list[str]
    grievance: list[str] = []
    question: list[str]


class TopicsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: list[Topic] = Field(min_length=2)
    signals: Signals


class TopicsError(Exception):
    """The topics file is wrong; the message says where."""


@dataclass(frozen=True)
class Topics:
    """The loaded topics and signal phrases, compiled for folded text."""

    topics: tuple[Topic, ...]
    phrases: tuple[tuple[str, str], ...]  # (folded phrase, topic key), longest first
    strong: re.Pattern[str]
    persist: re.Pattern[str]
    not_strong: re.Pattern[str]
    misconduct: re.Pattern[str]
    problem: re.Pattern[str]
    question: re.Pattern[str]
    grievance: re.Pattern[str] = re.compile(r"(?!x)x")
    actor: re.Pattern[str] = re.compile(r"(?!x)x")  # the official topic's words naming a person, not a conduct

    def get(self, key: str) -> Topic | None:
        return next((t for t in self.topics if t.key == key), None)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.topics)

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.group for t in self.topics))

    def group_of(self, key: str) -> str:
        t = self.get(key)
        return t.group if t else ""


def _key(phrase: str) -> str:
    """A phrase as messages are compared: teencode expanded ("thui" is "thôi"), then folded."""
    return fold(expand(phrase))


def _pattern(phrases: list[str]) -> re.Pattern[str]:
    folded = sorted({_key(p) for p in phrases if _key(p)}, key=len, reverse=True)
    if not folded:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in folded) + r")(?!\w)")


@lru_cache(maxsize=4)
def load_topics(path: Path | None = None) -> Topics:
    """The topics file, read once (``read_topics`` reads it again)."""
    return read_topics(path or TOPICS_FILE)


def read_topics(path: Path) -> Topics:
    """Read and validate a topics file; ``TopicsError`` says what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = TopicsFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise TopicsError(f"{path}: cannot read: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise TopicsError(f"{path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    keys = [t.key for t in data.topics]
    if len(set(keys)) != len(keys) or "other" not in keys:
        raise TopicsError(f"{path}: topic keys must be unique and include 'other'")
    phrases: dict[str, str] = {}
    for t in data.topics:
        for w in t.words:
            phrases.setdefault(_key(w), t.key)
    ordered = tuple(sorted(((p, k) for p, k in phrases.items() if p), key=lambda pk: len(pk[0]), reverse=True))
    s = data.signals
    return Topics(tuple(data.topics), ordered, _pattern(s.strong), _pattern(s.persist), _pattern(s.not_strong), _pattern(s.misconduct),
                  _pattern(s.problem),
                  _pattern(s.question), _pattern(s.grievance),
                  _pattern([w for t in data.topics if t.key == "official" for w in t.words
                            if not _pattern(s.misconduct).fullmatch(_key(w))]))


# --- what a message says ---------------------------------------------------------------------

@dataclass
class Reading:
    """What one message says about a complaint ("" where it says nothing)."""

    topic: str = ""
    commune: Commune | None = None
    communes: list[Commune] = field(default_factory=list)  # several candidates when the name is ambiguous
    commune_text: str = ""  # the words naming it, as typed ("phường Rạch Giá")
    procedure_id: str = ""
    dossier_code: str = ""
    spot: str = ""
    when: str = ""
    complaint: bool = False  # told as a problem or grievance, not asked as a question
    strong: bool = False  # asks for action or says nobody acts ("đề nghị sửa", "không ai trả lời")
    question: bool = False


def topic_scores(text: str, topics: Topics | None = None) -> dict[str, float]:
    """Points per topic: each phrase found (longest first; a phrase inside a longer one found counts once)
    gives its number of words; a hundredth of a point per letter of the longest phrase breaks ties."""
    topics = topics or load_topics()
    rest = f" {fold(expand(text))} "
    scores: dict[str, float] = {}
    longest: dict[str, int] = {}
    for phrase, key in topics.phrases:
        needle = f" {phrase} "
        while needle in rest:
            scores[key] = scores.get(key, 0) + len(phrase.split())
            longest[key] = max(longest.get(key, 0), len(phrase))
            rest = rest.replace(needle, " | ", 1)
    return {k: v + min(longest[k], 40) / 100 for k, v in scores.items()}


def pick_topic(text: str, scores: dict[str, int], dossier_code: str, topics: Topics) -> str:
    """The topic the message is most about; "" when it names none."""
    folded = f" {fold(expand(text))} "
    if scores.get("official") and topics.misconduct.search(folded) and topics.actor.search(folded):
        return "official"  # a complaint about an official's conduct, whatever else it names
    if dossier_code:
        return "dossier"
    local = {k: v for k, v in scores.items() if topics.group_of(k) == "local"}
    service = {k: v for k, v in scores.items() if topics.group_of(k) == "service"}
    other = scores.get("other", 0)
    if other and other > max([*local.values(), *service.values(), 0]):
        return "other"  # a public thing no other topic names (clean water, a leaning tree, stray dogs)
    if local and (not service or max(local.values()) >= max(service.values())):
        order = [t.key for t in topics.topics]
        return max(local, key=lambda k: (local[k], -order.index(k)))
    if service:
        order = [t.key for t in topics.topics]
        return max(service, key=lambda k: (service[k], -order.index(k)))
    return ""


def read_complaint(text: str, *, province: str = "", kb: KnowledgeBase | None = None,
                   topics: Topics | None = None) -> Reading:
    """Everything ``text`` says about a complaint; ``province`` is the deployment's (its units first)."""
    topics = topics or load_topics()
    text = (text or "")[:3000]
    r = Reading()
    folded = f" {fold(expand(text))} "
    r.dossier_code = find_dossier_code(text) or ""
    scores = topic_scores(text, topics)
    r.topic = pick_topic(text, scores, r.dossier_code, topics)
    unforced = topics.not_strong.sub(" ", folded)
    r.strong = bool(topics.strong.search(unforced))
    # grievances ("vô lý", "bắt phải", "bực quá") are told, not asked: with two, or one and several problems
    # ("lỗi hoài không vào được … khổ quá"), a question word is rhetorical ("quy định ở đâu vậy")
    grievances = len(topics.grievance.findall(folded))
    problems = len(topics.problem.findall(folded)) + len(topics.persist.findall(folded)) + len(_CANNOT.findall(folded))
    r.question = (grievances < 2 and not (grievances and problems >= 2)) and (
        "?" in text or bool(topics.question.search(folded)) or bool(_YES_NO.search(folded)))
    problem = bool(topics.problem.search(folded) or topics.persist.search(folded) or _CANNOT.search(folded)
                   or _ELAPSED.search(folded))
    group = topics.group_of(r.topic)
    if group == "local":
        r.complaint = r.strong or (problem and not r.question) or (not r.question and scores.get(r.topic, 0) >= 2)
    elif group == "service":
        conduct = r.topic == "official" and bool(topics.misconduct.search(folded))
        fault = not r.question and (problem or grievances) and (
            scores.get(r.topic, 0) >= 2 or grievances)
        r.complaint = r.strong or conduct or fault
    elif group == "other":
        r.complaint = r.strong or (problem and not r.question)
    found = find_commune(text, province)
    if found:
        r.commune_text, r.communes = found
        r.commune = r.communes[0] if len(r.communes) == 1 else None
    if kb is not None and r.topic in ("procedure", "dossier", "official", ""):
        r.procedure_id = _procedure(text, kb)
        if r.procedure_id and not r.topic:
            r.topic = "procedure"
            r.complaint = r.strong or (not r.question and (grievances >= 1 and problem or grievances >= 2))
    if not r.topic and (r.strong or (problem and not r.question and grievances)):
        # a problem clearly told, about something no topic names: "other", routed like any report
        r.topic, r.complaint = "other", True
    r.spot = find_spot(text)
    r.when = find_when(text)
    return r


# "không gửi được", "ko vô nổi": something cannot be done
_CANNOT = re.compile(r"(?<!\w)(?:khong|ko|k|chang|cha)(?: \w+){1,3} (?:duoc|noi)(?!\w)(?! khong)")
# "gần 3 tháng", "2 tuần nay", "cả năm": a wait or a nuisance that has lasted
_ELAPSED = re.compile(r"(?<!\w)(?:\d+|hai|ba|bon|nam|muoi|may|ca) (?:ngay|tuan|thang|nam)(?: nay| roi| troi| chua| van)")
_YES_NO = re.compile(r"(?<!\w)(?:co|duoc)(?!\w).*(?<!\w)(?:khong|ko|k|chua)(?: a| vay| ha| nhi)?\s*$")


def _procedure(text: str, kb: KnowledgeBase) -> str:
    found = [c for c in kb.matcher.search(text, 3) if kb.procedure(c.id) is not None]
    return found[0].id if found and found[0].score >= PROCEDURE_SCORE else ""


# --- commune or ward in free text --------------------------------------------------------------

_TYPES = {"phuong": "phường", "p": "phường", "xa": "xã", "x": "xã", "dac khu": "đặc khu", "thi tran": "xã",
          "tt": "xã", "tx": "", "thi xa": "", "tp": "", "thanh pho": "", "quan": "", "huyen": ""}
_PLACE_PREP = ("o", "tai", "thuoc", "khu vuc", "dia ban", "ve", "cua", "cho")  # "cho": chợ Châu Đốc
_STOP = {"bi", "co", "da", "dang", "rat", "qua", "lam", "nhieu", "toi", "em", "minh", "nha", "va", "ma", "thi", "la",
         "khong", "chua", "duoc", "nay", "do", "kia", "roi", "tu", "den", "voi", "cua", "o", "tai", "hu",
         "de", "nghi", "sua", "gan", "truoc", "sau", "ngay", "dem", "sang", "chieu", "trua", "hom", "thang"}
_MAX_NAME_WORDS = 4


def _tokens(text: str) -> tuple[list[str], list[str]]:
    """Normalized words (diacritics kept) and the same words folded, aligned one to one."""
    words = normalize_tokens(text)
    return words, [fold_token(w) for w in words]


def find_commune(text: str, province: str = "") -> tuple[str, list[Commune]] | None:
    """(the words naming it, its candidates) for the first commune/ward the text names, else None.

    "phường X", "xã X", "P. X", "đặc khu X": any province (the deployment's first); a bare name
    after "ở", "tại" (…): only an exact name of the deployment's province ("ở Long Xuyên").
    """
    words, folded = _tokens(text)
    marked = any(has_marks(w) for w in words)
    home = find_province(province) if province else None
    named_province = _province_named(folded)
    for i, w in enumerate(folded):
        two = " ".join(folded[i:i + 2])
        kind_len = 2 if two in _TYPES else (1 if w in _TYPES else 0)
        if kind_len:
            if w == "xa" and marked and not has_marks(words[i]) and words[i] != "x":
                continue  # "xa" typed without its mark in a message with marks: "far", not "xã"
            after = folded[i + 1:i + 4]
            if w == "xa" and after[:1] == ["hoi"] and not (after[1:2] == ["an"] and after[2:3] not in (
                    ["ninh"], ["sinh"], ["toan"])):
                continue  # "xã hội" (society), not a commune; "xã Hội An" is one
            kind = _TYPES[two if kind_len == 2 else w]
            found = _name_after(words, folded, i + kind_len, kind, named_province or home,
                                fuzzy=kind_len == 2 or w in ("phuong", "xa"))  # not after "p", "x", "tt"
            if found:
                return found
        elif w in _PLACE_PREP or two in _PLACE_PREP:
            start = i + (2 if two in _PLACE_PREP else 1)
            if home:
                found = _name_after(words, folded, start, "", home, exact_home=True)
                if found:
                    return found
    return None


def _province_named(folded: list[str]) -> str | None:
    """A province named in the message ("tỉnh Gia Lai", "…, An Giang")."""
    idx = _index()
    for n in (3, 2, 1):
        for i in range(len(folded) - n + 1):
            key = " ".join(folded[i:i + n])
            if key in idx.provinces and (n > 1 or key in ("hcm", "tphcm", "hn", "sg")):
                return idx.provinces[key]
    return None


def _name_after(words: list[str], folded: list[str], start: int, kind: str, province: str | None,
                exact_home: bool = False, fuzzy: bool = False) -> tuple[str, list[Commune]] | None:
    idx = _index()
    end = min(len(folded), start + _MAX_NAME_WORDS)
    for n in range(end - start, 0, -1):
        key = " ".join(folded[start:start + n])
        if not key or folded[start] in _STOP or folded[start].isdigit() and not kind:
            return None
        units = list(idx.by_folded.get(key, ()))
        if kind:
            units = [c for c in units if fold(c.kind) == fold(kind)] or units
        if not units:
            continue
        typed = " ".join(words[start:start + n])
        if any(has_marks(w) for w in words[start:start + n]):  # diacritics typed decide ("Mỹ Tho" / "Mỹ Thọ")
            units = [c for c in units if fold(c.short) == key and normalize_tokens(c.short) == typed.split()] or units
        if province:
            home = [c for c in units if c.province == province]
            if exact_home or home:  # a bare name: this province's only; a typed "phường X": this province's first
                units = home
        elif exact_home:
            return None
        if units:
            said = " ".join(words[start - (1 if kind else 0):start + n]) if kind else typed
            return said, units
    if kind and fuzzy and end - start >= 2:  # a small typo after "phường"/"xã": the matching list decides
        for n in (3, 2):
            if start + n > len(words):
                continue
            found = match_commune(f"{kind} {' '.join(words[start:start + n])}", province or "")
            if found and len({c.province for c in found}) == 1 and len(found) <= 3:
                return " ".join(words[start - 1:start + n]), found
    return None


# --- spot and time ---------------------------------------------------------------------------

_NEAR = {"gan", "truoc", "canh", "doi dien", "ke ben", "sau lung", "dau", "cuoi", "ngay", "giua", "phia truoc"}
_NAMED = {"hem", "ngo", "kiet", "khu pho", "ap", "to", "khom", "thon", "xom", "so nha", "duong", "nga ba", "nga tu",
          "cho", "truong", "cau", "to dan pho", "khu dan cu", "chung cu", "cong vien", "benh vien", "quoc lo", "tinh lo",
          "kcn", "kdc"}
_SPOT_END = {"bi", "co", "hu", "da", "rat", "ma", "nen", "khong", "thi", "la", "va", "de", "ca", "may", "qua", "roi",
             "dang", "van", "chua", "lai", "cung", "nhung", "nhieu", "luc", "tu", "suot", "hat", "mo", "xa", "do",
             "tat", "rac", "ngap", "on", "trom", "sut", "lun", "nut", "tac", "nghet", "hong", "be", "vo", "gay", "o",
             "lan", "chiem", "den", "toi", "dem", "sang", "chieu", "ngay", "hom", "tuan", "thang", "nam"}
_LANDMARK = re.compile(r"(?:\d|\b(?:cho|truong|cau|uy ban|ubnd|nha van hoa|chua|nha tho|cay xang|ben xe|cong vien|"
                       r"benh vien|tram y te|nga ba|nga tu|hem|so nha|quoc lo|khu pho|ap|to|cong|dinh|mieu|sieu thi)\b)")
_CLAUSE = re.compile(r"[,.;!?\n()]+")


def find_spot(text: str) -> str:
    """A place inside the commune the citizen named ("gần chợ Rạch Giá", "hẻm 12 Trần Phú"), or ""."""
    for clause in _CLAUSE.split(text or ""):
        raw = clause.split()
        folded = [fold_token(w) for w in raw]
        for i in range(len(raw)):
            two = " ".join(folded[i:i + 2])
            n = 2 if (two in _NEAR or two in _NAMED) else 1
            key = two if n == 2 else folded[i]
            if key in _NEAR:
                body = _spot_body(raw, folded, i + n)
                if body and (_LANDMARK.search(" ".join(fold_token(w) for w in body)) or any(w[0].isupper() for w in body)):
                    return _cut(" ".join(raw[i:i + n] + body), 80)
            elif key in _NAMED and i + n < len(raw) and (raw[i + n][0].isdigit() or raw[i + n][0].isupper()):
                body = _spot_body(raw, folded, i + n)
                if body:
                    return _cut(" ".join(raw[i:i + n] + body), 80)
    return ""


def _spot_body(raw: list[str], folded: list[str], start: int) -> list[str]:
    body: list[str] = []
    for w, f in zip(raw[start:start + 6], folded[start:start + 6]):
        if f in _SPOT_END or f in ("phuong", "xa", "p") and body:
            break
        body.append(w)
    return body if body and not all(f in _STOP for f in folded[start:start + len(body)]) else []


_WHEN = re.compile(
    r"(?i)\b((?:cả|mấy|hơn|gần|suốt|ca|may|hon|gan|suot|từ|tu|đã|da)\s+(?:\d+\s+|một\s+|hai\s+|ba\s+)?"
    r"(?:tháng|tuần|ngày|năm|hôm|thang|tuan|ngay|nam|hom)(?:\s+(?:nay|rồi|roi|qua|trước|truoc))?|"
    r"\d+\s*(?:tháng|tuần|ngày|năm|thang|tuan|ngay|nam)(?:\s+(?:nay|rồi|roi|qua|trước|truoc))?|"
    r"\d{1,2}\s*(?:h|giờ|gio)(?:\s*\d{1,2})?\s*(?:đêm|sáng|chiều|tối|trưa|khuya|dem|sang|chieu|toi|trua|khuya)?|"
    r"(?:tối|sáng|chiều|trưa|đêm|khuya)\s+(?:qua|nay|hôm qua)|hôm qua|hôm kia|hôm nay|sáng nay|tối qua|đêm qua|"
    r"tuần trước|tháng trước|hom qua|toi qua|dem qua|sang nay|tuan truoc|thang truoc|"
    r"\d{1,2}/\d{1,2}(?:/\d{2,4})?)\b")


def find_when(text: str) -> str:
    """When it happened or since when ("cả tháng nay", "12h đêm", "hôm qua"), or ""."""
    m = _WHEN.search(text or "")
    return _cut(" ".join(m.group(1).split()), 40) if m else ""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
