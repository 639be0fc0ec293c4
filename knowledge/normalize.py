"""Vietnamese text normalization used everywhere (questions, aliases, commune names).

Three forms of a text:

* ``normalize(text)``: canonical form *with* diacritics: NFC, lower case, đ for Ð/ð,
  one tone-mark placement (hoà == hòa, thuỷ == thủy, qúy == quý), ý/í unified after a
  consonant (ký == kí, lý == lí), repeated letters squeezed ("alooo" -> "alo"),
  punctuation and emoji removed, single spaces.
* ``fold(text)``: the same without diacritics ("dang ki khai sinh").
* ``expand(text)``: ``normalize`` plus whole-token expansion of abbreviations and
  teencode from ``knowledge/data/abbreviations.yaml`` ("ko dc" -> "không được").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

ABBREVIATIONS_FILE = Path(__file__).parent / "data" / "abbreviations.yaml"

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1+", re.UNICODE)

# Combining tone marks (NFD) and the vowels that can carry them.
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_VOWELS = set("aăâeêioôơuưy")
_QUALITY_VOWELS = set("ăâêôơư")
_SECOND_VOWEL_OPEN = {"oa", "oe", "uy"}  # new-style placement: hoà, hoè, thuỷ
_Y_ONSETS = {
    "b", "c", "ch", "d", "đ", "g", "h", "k", "kh", "l", "m", "n", "ng", "nh",
    "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x",
}


def strip_marks(text: str) -> str:
    """Remove Vietnamese diacritics, mapping đ/Đ/Ð to d."""
    text = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return text.replace("đ", "d").replace("Đ", "D").replace("Ð", "D").replace("ð", "d")


def _tone_position(base: str) -> int | None:
    """Index of the vowel that carries the tone in a toneless syllable, or None."""
    start = 0
    if base.startswith("qu") and len(base) > 2 and base[2] in _VOWELS:
        start = 2
    elif base.startswith("gi") and len(base) > 2 and base[2] in _VOWELS:
        start = 2
    while start < len(base) and base[start] not in _VOWELS:
        start += 1
    if start == len(base):
        return None
    end = start
    while end < len(base) and base[end] in _VOWELS:
        end += 1
    cluster = base[start:end]
    marked = [i for i, ch in enumerate(cluster) if ch in _QUALITY_VOWELS]
    if marked:
        return start + marked[-1]
    if len(cluster) == 1:
        return start
    if end < len(base):  # closed syllable: toàn, hoàng
        return end - 1
    if len(cluster) == 2:
        return start + (1 if cluster in _SECOND_VOWEL_OPEN else 0)
    return start + 1  # oai, oay, uya, uyu


def _fix_syllable(token: str) -> str:
    """Put the tone mark of one lower-case syllable in the canonical place; unify y/i."""
    decomposed = unicodedata.normalize("NFD", token)
    tones = [ch for ch in decomposed if ch in _TONES]
    base = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in _TONES))
    if len(tones) > 1 or not base.isalpha():
        return token
    if base.endswith("y") and base[:-1] in _Y_ONSETS:
        base = base[:-1] + "i"  # ký -> kí, lý -> lí, quý -> quí
    if not tones:
        return base
    pos = _tone_position(base)
    if pos is None:
        return token
    return unicodedata.normalize("NFC", base[: pos + 1] + tones[0] + base[pos + 1 :])


def _squeeze(match: re.Match[str]) -> str:
    """One letter for a run ("alooo", "đcccc"), but keep the uu of "luu"/"huu" and the oo of "xoong"."""
    run = match.group(0)
    return run if len(run) == 2 and run[0] in "uo" else run[0]


@lru_cache(maxsize=200_000)
def _normalize_token(token: str) -> str:
    token = _REPEATED_LETTER.sub(_squeeze, token)
    if token.isdigit():
        return token
    return _fix_syllable(token)


@lru_cache(maxsize=200_000)
def _fold_token(token: str) -> str:
    return strip_marks(token)


def _raw_tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).replace("Ð", "đ").replace("ð", "đ").lower()
    return _NON_WORD.sub(" ", text).replace("_", " ").split()


def normalize_tokens(text: str) -> list[str]:
    """Canonical lower-case syllables with diacritics (see module docstring)."""
    return [_normalize_token(t) for t in _raw_tokens(text)]


def normalize(text: str) -> str:
    """Canonical lower-case form with diacritics, punctuation and emoji removed."""
    return " ".join(normalize_tokens(text))


def fold_token(token: str) -> str:
    """Diacritics-free form of one already normalized token."""
    return _fold_token(token)


def fold(text: str) -> str:
    """Lower-case, diacritics-free, punctuation-free form with single spaces."""
    return " ".join(_fold_token(t) for t in normalize_tokens(text))


def has_marks(token: str) -> bool:
    """True when a normalized token carries any diacritic (or is đ)."""
    return _fold_token(token) != token


# --- abbreviations -------------------------------------------------------------------


@dataclass
class Abbreviations:
    """Whole-token expansion table: variant token sequence -> expansion tokens."""

    exact: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    folded: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    max_len: int = 1
    starts: set[str] = field(default_factory=set)  # first tokens of all variants

    @classmethod
    def load(cls, path: Path | None = None) -> "Abbreviations":
        """Read a YAML mapping ``expansion: [variant, ...]``."""
        raw = yaml.safe_load((path or ABBREVIATIONS_FILE).read_text(encoding="utf-8")) or {}
        table = cls()
        for expansion, variants in raw.items():
            target = tuple(normalize_tokens(str(expansion)))
            for variant in variants or []:
                table.add(str(variant), target)
        return table

    def add(self, variant: str, target: tuple[str, ...]) -> None:
        """Register one variant; marked variants also match when typed without marks."""
        key = tuple(normalize_tokens(variant))
        if not key or key == target:
            return
        self.exact.setdefault(key, target)
        self.starts.add(key[0])
        folded = tuple(_fold_token(t) for t in key)
        if folded != key:
            self.folded.setdefault(folded, target)
            self.starts.add(folded[0])
        self.max_len = max(self.max_len, len(key))

    def apply(self, tokens: list[str]) -> list[str]:
        """Greedy longest-match expansion of whole tokens."""
        starts = self.starts
        if not any(t in starts for t in tokens):
            return list(tokens)
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            if tokens[i] not in starts:
                out.append(tokens[i])
                i += 1
                continue
            for size in range(min(self.max_len, n - i), 0, -1):
                span = tuple(tokens[i : i + size])
                target = self.exact.get(span)
                if target is None:  # (a folded variant applies only to a span typed without marks)
                    target = self.folded.get(span)
                    if target is not None and any(has_marks(t) for t in span):
                        target = None
                if target is not None:
                    out.extend(target)
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out


@lru_cache(maxsize=4)
def load_abbreviations(path: Path | None = None) -> Abbreviations:
    """The abbreviation table (bundled file by default), cached."""
    return Abbreviations.load(path)


def expand_tokens(text: str, table: Abbreviations | None = None) -> list[str]:
    """Normalized tokens with abbreviations and teencode expanded."""
    return (table or load_abbreviations()).apply(normalize_tokens(text))


def expand(text: str, table: Abbreviations | None = None) -> str:
    """Normalized text with abbreviations and teencode expanded (whole tokens only)."""
    return " ".join(expand_tokens(text, table))
