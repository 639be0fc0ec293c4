"""The loaded knowledge base: entries by id, and the matcher built over them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from knowledge.catalogue import Catalogue, curated_texts, load_catalogue
from knowledge.loader import Problem, load_knowledge
from knowledge.matcher import Matcher
from knowledge.schema import Faq, Procedure

log = logging.getLogger(__name__)


class KnowledgeError(Exception):
    """The knowledge folder has no usable entry."""


class KnowledgeBase:
    """In-memory index of the knowledge entries, built once at start."""

    def __init__(self, entries: Iterable[Procedure | Faq], problems: list[Problem] | None = None,
                 abbreviations: Path | None = None, catalogue: Catalogue | None = None) -> None:
        self.entries: dict[str, Procedure | Faq] = {e.id: e for e in entries}
        self.problems = problems or []
        self.matcher = Matcher.build(list(self.entries.values()), abbreviations)
        self.catalogue = catalogue  # the official catalogue tier (short cards), if the folder has one

    @classmethod
    def from_dir(cls, kb_dir: Path, province: str = "") -> "KnowledgeBase":
        """Load the folder; with ``province`` (DEFAULT_PROVINCE), apply its override file if there is one."""
        from knowledge.provinces import provinces_dir_for, with_province

        result = load_knowledge(kb_dir)
        for p in result.problems:
            log.warning("knowledge problem: %s", p)
        if not result.entries:
            raise KnowledgeError(f"no valid knowledge entry in {kb_dir}")
        entries, problems = with_province(result.entries, province, provinces_dir_for(kb_dir))
        for p in problems:
            log.warning("province file problem (national figures used): %s", p)
        abbreviations = kb_dir / "abbreviations.yaml"
        abbr = abbreviations if abbreviations.is_file() else None
        codes = {c for e in entries if isinstance(e, Procedure) for c in (e.procedure_code, *e.codes) if c}
        names = {e.id: curated_texts(e) for e in entries}
        catalogue = load_catalogue(kb_dir, codes, abbr, curated=names)  # curated codes' rows: the curated entry answers
        return cls(entries, result.problems + problems, abbr, catalogue)

    def get(self, entry_id: str) -> Procedure | Faq | None:
        return self.entries.get(entry_id)

    def procedure(self, entry_id: str) -> Procedure | None:
        e = self.entries.get(entry_id)
        return e if isinstance(e, Procedure) else None

    def __len__(self) -> int:
        return len(self.entries)
