"""Topics the assistant does not cover, and where to ask instead (``knowledge/data/limits.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Container

import yaml

from knowledge.dialogue import Phrases, Text

LIMITS_FILE = Path(__file__).parent / "data" / "limits.yaml"


@dataclass(frozen=True)
class Limit:
    id: str
    phrases: Phrases
    where: str
    always: bool = False  # the phrase alone settles it, whatever else the text names
    words: frozenset[str] = frozenset()  # the folded words of its phrases ("ngan", "hang", "tiet", "kiem", …)
    pairs: frozenset[str] = frozenset()  # their adjacent word pairs ("ngan hang")

    def strip(self, rest: str, known_pairs: Container[str] = ()) -> str:
        """A text (folded) without the words of this topic's phrases: what it names besides the topic. A word that
        makes a known pair with a neighbour outside the topic's own pairs stays ("sổ" of "sổ đỏ")."""
        words = rest.split()
        kept = []
        for i, w in enumerate(words):
            if w in self.words:
                near = [f"{words[i - 1]} {w}"] if i else []
                near += [f"{w} {words[i + 1]}"] if i + 1 < len(words) else []
                if not any(p in known_pairs and p not in self.pairs for p in near):
                    continue
            kept.append(w)
        return " ".join(kept)


@lru_cache(maxsize=4)
def load_limits(path: Path | None = None) -> tuple[Limit, ...]:
    data = yaml.safe_load((path or LIMITS_FILE).read_text(encoding="utf-8")) or []
    out = []
    for item in data:
        if not isinstance(item, dict) or not item.get("id") or not item.get("phrases") or not item.get("where"):
            raise ValueError(f"{path or LIMITS_FILE}: each limit needs id, phrases and where")
        phrases = [str(p) for p in item["phrases"]]
        folded = [Text.of(p).plain().split() for p in phrases]
        words = frozenset(w for f in folded for w in f)
        pairs = frozenset(f"{a} {b}" for f in folded for a, b in zip(f, f[1:]))
        out.append(Limit(str(item["id"]), Phrases.of(phrases), str(item["where"]).strip(), bool(item.get("always")),
                         words, pairs))
    return tuple(out)


def find_limit(text: str, limits: tuple[Limit, ...] | None = None) -> tuple[Limit, str] | None:
    """The first limit whose phrase the text contains, and the text without that phrase."""
    t = Text.of(text)
    for limit in limits if limits is not None else load_limits():
        if limit.phrases.search(t):
            return limit, limit.phrases.sub(t).plain()
    return None


def get_limit(limit_id: str) -> Limit | None:
    return next((x for x in load_limits() if x.id == limit_id), None)
