"""The language of a conversation: everyday words, follow-up aspects, "guide me" requests, sentences.

Everything here works on the folded, abbreviation-expanded text (``fold(expand(text))``), so
"dạ vâng", "da vang" and "DẠ VÂNG!!" are the same. The phrase lists are data
(``knowledge/data/conversation.yaml``); this module only compiles and applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.normalize import expand, fold, has_marks, normalize

CONVERSATION_FILE = Path(__file__).parent / "data" / "conversation.yaml"
FAMILY_MAX_CHARS = 60  # longer messages are questions, not everyday words
ASPECTS = ("fees", "time", "where", "documents", "steps", "online", "who", "result", "forms", "legal")


def _phrases(items: list[str]) -> list[str]:
    return sorted({fold(str(p)) for p in items} - {""}, key=len, reverse=True)


def _accented(items: list[str]) -> list[str]:
    return sorted({normalize(expand(str(p))) for p in items} - {""}, key=len, reverse=True)


def _alternation(items: list[str], accented: bool = False, min_words: int = 1) -> re.Pattern[str]:
    if accented:
        phrases = _accented(items)
    else:  # one marked syllable folds to several words ("đâu" is also "dầu", "đầu"): only longer phrases
        written_plain = {str(p).lower() for p in items if fold(str(p)) == str(p).lower()}  # listed as typed so
        ambiguous = {fold(str(p)) for p in items
                     if len(str(p).split()) == 1 and fold(str(p)) != str(p).lower()} - written_plain
        phrases = [p for p in _phrases(items) if p not in ambiguous or min_words == 0]
    phrases = [p for p in phrases if len(p.split()) >= min_words] or ["\x00"]
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in phrases) + r")(?!\w)")


@dataclass(frozen=True)
class Phrases:
    """One phrase list, matched with diacritics when the text has them, without otherwise.

    Without diacritics "thi" may be "thì" or "thi" (exam), "con" "còn" or "con" (child): a list
    marked ``careful`` then only matches its phrases of two words or more.
    """

    folded: re.Pattern[str]
    accented: re.Pattern[str]

    @classmethod
    def of(cls, items: list[str], careful: bool = False, loose: bool = False) -> "Phrases":
        """``careful``: without diacritics only phrases of two words or more; ``loose``: also marked single
        syllables ("đường" as "duong"), for lists that only count together with another."""
        words = 2 if careful else 0 if loose else 1
        return cls(_alternation(items, min_words=words), _alternation(items, accented=True))

    def pattern(self, text: Text) -> re.Pattern[str]:
        return self.accented if text.marked else self.folded

    def search(self, text: Text) -> re.Match[str] | None:
        return self.pattern(text).search(text.value)

    def sub(self, text: Text) -> Text:
        return Text(self.pattern(text).sub(" ", text.value), text.marked)


@dataclass(frozen=True)
class Text:
    """A message as matched: accented (normalized, teencode expanded) when typed with diacritics."""

    value: str
    marked: bool

    @classmethod
    @lru_cache(maxsize=4096)
    def of(cls, text: str) -> "Text":
        tokens = normalize(expand(text[:2000])).split()
        typed = normalize(text[:2000]).split()
        marked = any(has_marks(t) for t in typed)
        return cls(" ".join(tokens) if marked else " ".join(fold(t) for t in tokens), marked)

    def plain(self) -> str:
        return fold(self.value) if self.marked else self.value


@dataclass(frozen=True)
class Lexicon:
    """Compiled phrase lists of ``conversation.yaml``."""

    families: dict[str, frozenset[str]]  # folded phrases
    accented: dict[str, frozenset[str]]  # the same phrases with their diacritics ("dừng" is not "đúng")
    politeness: frozenset[str]
    polite_accented: frozenset[str]  # the same words with their diacritics
    polite_plain: frozenset[str]  # those whose folded form is not another word's ("can": cần or căn)
    aspects: dict[str, Phrases]
    priority: tuple[str, ...]
    settings: frozenset[str]
    weak: frozenset[str]  # folded phrases that count last when another aspect is asked too
    lead: frozenset[str]  # aspects that come first when present
    followup: Phrases
    markers: Phrases
    guide: Phrases
    general: Phrases

    @classmethod
    def load(cls, path: Path | None = None) -> "Lexicon":
        data = yaml.safe_load((path or CONVERSATION_FILE).read_text(encoding="utf-8")) or {}
        raw_families = data.get("families") or {}
        families = {name: frozenset(_phrases(items)) for name, items in raw_families.items()}
        accented = {name: frozenset(_accented(items)) for name, items in raw_families.items()}
        aspects = {name: Phrases.of(items) for name, items in (data.get("aspects") or {}).items()}
        unknown = set(aspects) - set(ASPECTS)
        if unknown:
            raise ValueError(f"unknown aspects in {path or CONVERSATION_FILE}: {sorted(unknown)}")
        priority = tuple(data.get("aspect_priority") or ASPECTS)
        return cls(
            families=families,
            accented=accented,
            politeness=frozenset(_phrases(data.get("politeness") or [])),
            polite_accented=frozenset(_accented(data.get("politeness") or [])),
            polite_plain=frozenset(fold(str(p)) for p in data.get("politeness") or []
                                   if " " in str(p) or fold(str(p)) == str(p).lower() or str(p) in _SAFE_FOLDED),
            aspects=aspects,
            priority=priority + tuple(a for a in aspects if a not in priority),
            settings=frozenset(data.get("setting_aspects") or []),
            weak=frozenset(fold(str(p)) for p in data.get("weak_phrases") or []),
            lead=frozenset(data.get("lead_aspects") or []),
            followup=Phrases.of(data.get("followup_words") or [], careful=True),
            markers=Phrases.of(data.get("followup_markers") or [], careful=True),
            guide=Phrases.of(data.get("guide_request") or []),
            general=Phrases.of(data.get("general_questions") or []),
        )


@lru_cache(maxsize=4)
def lexicon(path: Path | None = None) -> Lexicon:
    return Lexicon.load(path)


@lru_cache(maxsize=4096)
def folded(text: str) -> str:
    """``fold(expand(text))``: lower case, no diacritics, teencode expanded, single spaces."""
    return fold(expand(text[:2000]))


# Politeness words whose folded form is no other common word: safe to drop from unaccented text.
_SAFE_FOLDED = {"dạ", "ạ", "ơi", "nhé", "nhá", "nhỉ", "hả", "rứa", "giùm", "dùm", "tôi", "giúp"}


def _strip_politeness(words: list[str], polite: frozenset[str]) -> list[str]:
    """Drop politeness words and two-word politeness phrases wherever they are."""
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = " ".join(words[i:i + 2])
        if len(words) > i + 1 and pair in polite:
            i += 2
            continue
        if words[i] in polite:
            i += 1
            continue
        out.append(words[i])
        i += 1
    return out


def families(text: str, lex: Lexicon | None = None) -> frozenset[str]:
    """The everyday-word families a short message belongs to (see ``_families``)."""
    return _default_families(text) if lex is None else _families(text, lex)


@lru_cache(maxsize=1024)
def _default_families(text: str) -> frozenset[str]:
    return _families(text, lexicon())


def _families(text: str, lex: Lexicon | None = None) -> frozenset[str]:
    """The everyday-word families a short message belongs to ("dạ vâng" -> {yes, ack}); empty otherwise.

    Typed with diacritics, the words are compared with their diacritics ("đúng" is yes, "dừng" is
    later); typed without, every family whose words fold the same way is returned ("dung").
    """
    lex = lex or lexicon()
    f = folded(text)
    if not f or len(f) > FAMILY_MAX_CHARS:
        return frozenset()
    polite = lex.politeness
    words = f.split()
    core = " ".join(_strip_politeness(words, polite))
    if not core:
        return frozenset({"ack", "yes"})  # "dạ", "dạ ạ": yes to a question, an acknowledgement otherwise
    accented_words = normalize(expand(text[:FAMILY_MAX_CHARS * 2])).split()
    if len(accented_words) == len(words) and any(has_marks(w) for w in accented_words):
        kept = [a for a, w in zip(accented_words, words) if w in set(core.split())]
        acc_core = " ".join(kept)
        acc_full = " ".join(accented_words)
        found = {n for n, ph in lex.accented.items() if acc_full in ph or acc_core in ph}
        if found:
            return frozenset(found)
    found = {n for n, ph in lex.families.items() if f in ph or core in ph}
    if not found:
        found = _covered(core.split(), lex)  # "ừ đúng rồi" = "ừ" + "đúng rồi": yes
    if not found:
        # "ok cảm ơn em", "vâng cảm ơn nhé": thanks, when the rest is yes/ack words
        for p in sorted(lex.families.get("thanks", ()), key=len, reverse=True):
            if len(p) > 4 and re.search(rf"\b{re.escape(p)}\b", core):
                rest = re.sub(rf"\b{re.escape(p)}\b", " ", core).split()
                if all(any(w in lex.families.get(n, ()) for n in ("yes", "ack")) for w in rest):
                    found = {"thanks"}
                break
    return frozenset(found)


def _covered(words: list[str], lex: Lexicon) -> set[str]:
    """Families shared by every phrase of a message made only of everyday phrases ("ừ đúng rồi" -> yes)."""
    shared: set[str] | None = None
    i = 0
    while i < len(words):
        for size in range(min(4, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + size])
            fams = {n for n, ph in lex.families.items() if phrase in ph}
            if fams:
                shared = fams if shared is None else shared & fams
                i += size
                break
        else:
            return set()
    return shared or set()


def mentions(text: str, family: str, lex: Lexicon | None = None) -> bool:
    """Whether a phrase of two words or more of ``family`` appears anywhere in the text ("tôi không nhớ mã")."""
    lex = lex or lexicon()
    f = f" {folded(text)} "
    return any(f" {p} " in f for p in lex.families.get(family, ()) if " " in p)


def aspects(text: str, lex: Lexicon | None = None) -> list[str]:
    """Aspects asked about, in the order they are written ("nộp ở đâu, mất mấy ngày" -> [where, time])."""
    if lex is None:  # (one message is read several ways: its clauses, its topic, again for the answer)
        return list(_aspects(text))
    return _find_aspects(text, lex)


@lru_cache(maxsize=1024)
def _aspects(text: str) -> tuple[str, ...]:
    return tuple(_find_aspects(text, lexicon()))


def _find_aspects(text: str, lex: Lexicon) -> list[str]:
    t = Text.of(text)
    hits: list[tuple[int, int, str]] = []
    weak: set[str] = set()
    for rank, name in enumerate(lex.priority):
        phrases = lex.aspects.get(name)
        m = phrases.search(t) if phrases is not None else None
        if m:
            hits.append((m.start(), rank, name))
            if fold(m.group(0)) in lex.weak:
                weak.add(name)
    found = [name for _, _, name in sorted(hits)]
    if len(found) > 1:  # "làm online có mất phí không": the fee is asked, online is the setting
        last = lex.settings | weak
        found = [a for a in found if a not in last] + [a for a in found if a in last]
        found = [a for a in found if a in lex.lead] + [a for a in found if a not in lex.lead]
    return found


def is_general(text: str, lex: Lexicon | None = None) -> bool:
    """The only aspect words are a question about the whole procedure ("… thì cần gì", "… làm sao")."""
    lex = lex or lexicon()
    if not aspects(text, lex):
        return False
    rest = lex.general.sub(Text.of(text))
    return not any(p.search(rest) for p in lex.aspects.values())


def is_followup(text: str, lex: Lexicon | None = None) -> bool:
    """"thế còn …", "vậy … thì sao": the message continues the previous question."""
    lex = lex or lexicon()
    return bool(lex.markers.search(Text.of(text)))


def topic_text(text: str, lex: Lexicon | None = None) -> str:
    """What is left when the aspects and follow-up words are removed: the name of a procedure, if any."""
    return _default_topic(text) if lex is None else _topic(text, lex)


@lru_cache(maxsize=1024)
def _default_topic(text: str) -> str:
    return _topic(text, lexicon())


def _topic(text: str, lex: Lexicon) -> str:
    t = Text.of(text)
    for phrases in lex.aspects.values():
        t = phrases.sub(t)
    t = lex.followup.sub(t)
    return _without_politeness(t, lex)


def _without_politeness(t: Text, lex: Lexicon) -> str:
    """The folded text without politeness words, compared with their diacritics when typed with them
    ("cần" is politeness here, "căn" of "căn cước" is not); typed without, only unambiguous ones."""
    if t.marked:
        words = _strip_politeness(t.value.split(), lex.polite_accented)
        return " ".join(fold(w) for w in words)
    return " ".join(_strip_politeness(t.value.split(), lex.polite_plain))


def plain_words(text: str, lex: Lexicon | None = None) -> str:
    """The folded text without politeness words: what ``topic_text`` gives when nothing else is removed."""
    return _without_politeness(Text.of(text), lex or lexicon())


def guide_topic(text: str, lex: Lexicon | None = None) -> str:
    """A "guide me" request without its guide words: the procedure to guide, if named."""
    lex = lex or lexicon()
    t = lex.followup.sub(lex.guide.sub(Text.of(text)))
    return _without_politeness(t, lex)


_SENTENCE = re.compile(r"(?<=[.?!;…\n])\s*|\s*(?:\n)\s*")
_WORDS = re.compile(r"\w", re.UNICODE)


def sentences(text: str, max_chars: int = 400) -> list[str]:
    """The sentences of a message (split on . ? ! ; … and new lines), long ones cut at commas."""
    out: list[str] = []
    for part in _SENTENCE.split(text):
        part = part.strip()
        if not part or not _WORDS.search(part):
            continue
        while len(part) > max_chars:
            cut = part.rfind(",", 0, max_chars)
            cut = cut if cut > max_chars // 3 else part.rfind(" ", 0, max_chars)
            cut = cut if cut > 0 else max_chars
            out.append(part[:cut].strip(" ,"))
            part = part[cut:].strip(" ,")
        if part:
            out.append(part)
    return out


_CLAUSE = re.compile(r"\s*[,;]\s*|\s+(?:với lại|với cả|voi lai|voi ca|xong rồi|xong roi|ngoài ra|ngoai ra)\s+"
                     r"|\s+(?=để (?:còn|làm|xin|nộp|được|đi|lấy|có)\b)", re.IGNORECASE)


def clauses(text: str) -> list[str]:
    """The sentences of a message, each cut at commas and joining words ("…, với lại …") into clauses."""
    out: list[str] = []
    for sentence in sentences(text):
        for part in _CLAUSE.split(sentence):
            part = part.strip()
            if not part or not _WORDS.search(part):
                continue
            if out and len(part.split()) < 2:
                out[-1] = f"{out[-1]} {part}"
            else:
                out.append(part)
    return out


_QUESTION_END = re.compile(r"\b(?:khong|chua|gi|nao|sao|dau|bao nhieu|bao lau|the nao|ra sao|duoc khong|a)\s*$")


def is_purpose(text: str) -> bool:
    """A clause that only says what something is for ("để còn làm thẻ bảo hiểm"): not the question."""
    return text.lower().startswith("để ")


def asks(text: str) -> bool:
    """Whether a sentence asks something (a question mark, an aspect, or a question word at its end)."""
    return text.rstrip().endswith("?") or bool(aspects(text)) or bool(_QUESTION_END.search(folded(text)))


def forget() -> None:
    """Drop the remembered readings of recent texts (benchmarks measure each message from cold)."""
    for cached in (Text.of, folded, _aspects, _default_families, _default_topic):
        cached.cache_clear()


__all__ = ["forget", "asks", "clauses", "is_purpose", "ASPECTS", "Lexicon", "Phrases", "Text", "aspects", "families", "folded", "guide_topic", "is_followup",
           "is_general", "lexicon", "mentions", "sentences",
           "topic_text"]
