"""Intent rules: status (dossier lookup), complaint, help, or a knowledge question.

Rules run on the folded, abbreviation-expanded text (``fold(expand(text))``), so they
work the same for "khiếu nại", "khieu nai" and "KHIẾU NẠI!!!". Word lists can be
extended from ``knowledge/data/intents.yaml`` without touching code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.dialogue import Phrases, Text
from knowledge.normalize import fold

INTENTS_FILE = Path(__file__).parent / "data" / "intents.yaml"

# --- dossier codes -------------------------------------------------------------------

_SEP = r"\s*[-–—_/]\s*|\s+"
_CODE = re.compile(
    r"(?<![A-Z0-9])"
    r"(?:(?P<min>\d{3})\s*\.\s*(?P<a>\d{2})\s*\.\s*(?P<b>\d{2})\s*\.\s*)?"
    r"(?P<agency>[A-Z]\d{2})(?:\s*\.\s*(?P<unit>\d{1,3}))?"
    rf"(?:{_SEP})(?P<date>\d{{6}})(?:{_SEP})(?P<seq>\d{{4,6}})"
    r"(?![0-9])"
)


def find_dossier_code(text: str) -> str | None:
    """The first dossier code in ``text`` in canonical upper-case form, or None.

    Accepts ``H21.22-250312-0005``, ``000.00.18.H21-250412-0001``, ``G01.123-240101-0001``
    with stray spaces, other dashes or lower case.
    """
    if not text:
        return None
    match = _CODE.search(text[:5000].upper())
    if match is None:
        return None
    date = match["date"]
    if not 1 <= int(date[2:4]) <= 12 or not 1 <= int(date[4:6]) <= 31:
        return None
    head = match["agency"]
    if match["unit"]:
        head += "." + match["unit"]
    if match["min"]:
        head = f"{match['min']}.{match['a']}.{match['b']}.{head}"
    return f"{head}-{date}-{match['seq']}"


# --- phrase rules --------------------------------------------------------------------


@dataclass(frozen=True)
class IntentRules:
    """Folded regular expressions for each intent (compiled once)."""

    status: re.Pattern[str]
    status_subject: re.Pattern[str]
    status_question: re.Pattern[str]
    status_owner: re.Pattern[str]
    status_question_owned: re.Pattern[str]
    complaint_word: re.Pattern[str]
    complaint_framing: re.Pattern[str]
    complaint_wish: re.Pattern[str]
    problem_subject: Phrases
    problem_state: Phrases
    misconduct: re.Pattern[str]
    misconduct_marked: Phrases  # the same with diacritics: "đổi tiền" is not "đòi tiền"
    official: re.Pattern[str]
    bad_conduct: re.Pattern[str]
    bad_conduct_marked: Phrases
    help_strong: dict[str, re.Pattern[str]]
    help_weak: dict[str, re.Pattern[str]]
    filler: frozenset[str]
    guide: re.Pattern[str]
    guide_teach: re.Pattern[str]
    guide_online: re.Pattern[str]
    out_of_scope: re.Pattern[str]


def _alt(phrases: list[str]) -> str:
    """A regex alternation of folded phrases matched on whole words."""
    folded = sorted({fold(p) for p in phrases} - {""}, key=len, reverse=True)
    return r"\b(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in folded) + r")\b"


def _compile(phrases: list[str]) -> re.Pattern[str]:
    return re.compile(_alt(phrases))


@lru_cache(maxsize=4)
def load_rules(path: Path | None = None) -> IntentRules:
    """Compile the phrase lists of ``intents.yaml``."""
    data = yaml.safe_load((path or INTENTS_FILE).read_text(encoding="utf-8"))
    st = data["status"]
    co = data["complaint"]
    he = data["help"]
    return IntentRules(
        status=_compile(st["lookup"]),
        status_subject=_compile(st["subject"]),
        status_question=_compile(st["question"]),
        status_owner=_compile(st["owner"]),
        status_question_owned=_compile(st["question_owned"]),
        complaint_word=_compile(co["words"]),
        complaint_framing=re.compile(_alt(co["framing"]) + r"\s+(?:\w+\s+){0,2}?" + _alt(co["words"])),
        complaint_wish=re.compile(_alt(co["wish"]) + r"\s+(?:\w+\s+){0,3}?" + _alt(co["words"])),
        problem_subject=Phrases.of(co.get("problem_subject") or []),
        problem_state=Phrases.of(co.get("problem_state") or []),
        misconduct=_compile(co["misconduct"]),
        misconduct_marked=Phrases.of(co["misconduct"]),
        official=_compile(co["official"]),
        bad_conduct=_compile(co["bad_conduct"]),
        bad_conduct_marked=Phrases.of(co["bad_conduct"]),
        help_strong={k: _compile(v) for k, v in he["strong"].items()},
        help_weak={k: _compile(v) for k, v in he["weak"].items()},
        filler=frozenset(w for p in he["filler"] for w in fold(p).split()),
        guide=_compile(data["guide"]),
        guide_teach=_compile(data.get("guide_teach") or ["\x00"]),
        guide_online=_compile(data.get("guide_online") or ["\x00"]),
        out_of_scope=_compile(data.get("out_of_scope") or ["\x00"]),
    )


_STRONG_HELP_REST = 3  # words besides a menu/human/about phrase that still make a help message


@dataclass(frozen=True)
class Intent:
    """Result of the intent rules (``procedure`` means: ask the knowledge base)."""

    name: str
    help_kind: str = ""
    dossier_code: str | None = None
    wants_guide: bool = False


def is_complaint(folded: str, rules: IntentRules, text: str = "") -> bool:
    """Complaints, feedback and reports about officials; not questions *about* complaint procedures."""
    if rules.misconduct.search(folded) and (not text or rules.misconduct_marked.search(Text.of(text))):
        return True
    if text and _public_problem(text, rules):
        return True
    if rules.official.search(folded) and rules.bad_conduct.search(folded) and (
            not text or rules.bad_conduct_marked.search(Text.of(text))):
        return True
    if not rules.complaint_word.search(folded):
        return False
    if rules.complaint_wish.search(folded):
        return True
    return not rules.complaint_framing.search(folded)


def _public_problem(text: str, rules: IntentRules) -> bool:
    """Something public broken or a nuisance ("đèn đường hư cả tuần rồi"), told rather than asked about."""
    t = Text.of(text)
    return bool(rules.problem_subject.search(t) and rules.problem_state.search(t))


def is_status(folded: str, rules: IntentRules) -> bool:
    """Questions about the state of a dossier the citizen already submitted."""
    folded = folded.replace("tinh trang hon nhan", " ")  # marital status is a procedure
    if rules.status.search(folded):
        return True
    owned = rules.status_owner.search(folded)
    if owned and rules.status_question_owned.search(folded):
        return True
    if not rules.status_question.search(folded):
        return False
    return bool(owned or rules.status_subject.search(folded))


def help_kind(folded: str, rules: IntentRules) -> str:
    """The kind of help message, or "" when the text asks something else."""
    for kind, pattern in rules.help_strong.items():
        rest = pattern.sub(" ", folded)
        if rest != folded and sum(w not in rules.filler for w in rest.split()) <= _STRONG_HELP_REST:
            return kind
    for kind, pattern in rules.help_weak.items():
        rest = pattern.sub(" ", folded)
        if rest != folded and all(w in rules.filler for w in rest.split()):
            return kind
    return ""


def looks_out_of_scope(folded: str, rules: IntentRules | None = None) -> bool:
    """Whether the text has a sign of a non-administrative topic (prices, weather, sport...)."""
    return bool((rules or load_rules()).out_of_scope.search(folded))


COMPLAINT_CODE = re.compile(r"\bPAKN\s*-\s*\d{4}\s*-\s*\d{1,8}\b", re.IGNORECASE)  # as handlers/complaint.py


def classify(text: str, folded: str, rules: IntentRules | None = None) -> Intent:
    """Intent of a message; ``folded`` is ``fold(expand(text))``."""
    rules = rules or load_rules()
    if COMPLAINT_CODE.search(text):  # a tracking code given back to us: look the complaint up
        return Intent("complaint")
    code = find_dossier_code(text)
    if code:
        return Intent("status", dossier_code=code)
    if not folded.strip():
        return Intent("unknown")
    if is_complaint(folded, rules, text):
        return Intent("complaint")
    if is_status(folded, rules):
        return Intent("status")
    kind = help_kind(folded, rules)
    if kind:
        return Intent("help", help_kind=kind)
    teach_online = bool(rules.guide_teach.search(folded) and rules.guide_online.search(folded))
    return Intent("procedure", wants_guide=bool(rules.guide.search(folded)) or teach_online)
