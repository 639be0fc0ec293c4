"""Load and validate the knowledge files (one YAML file per entry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import TypeAdapter, ValidationError

from knowledge.normalize import fold
from knowledge.schema import Entry, Faq, Procedure

BUNDLED_DIR = Path(__file__).parent / "data"
_ENTRY = TypeAdapter(Entry)
# libyaml's parser when PyYAML was built with it: the same documents, ~5x faster (start-up time of every worker)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a knowledge file."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


@dataclass
class LoadResult:
    entries: list[Procedure | Faq] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # e.g. facts ending soon (kb check)


def entry_files(kb_dir: Path) -> list[Path]:
    """The entry files of a knowledge folder (``entries/*.yaml``, or ``*.yaml`` at top level)."""
    base = kb_dir / "entries" if (kb_dir / "entries").is_dir() else kb_dir
    return sorted(p for p in base.glob("*.y*ml") if p.is_file())


def load_knowledge(kb_dir: Path) -> LoadResult:
    """Parse every entry file, validate it, then check the set as a whole."""
    result = LoadResult()
    files: dict[str, str] = {}
    for path in entry_files(kb_dir):
        rel = path.name
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            result.problems.append(Problem(rel, "-", f"không đọc được YAML: {exc}".splitlines()[0]))
            continue
        if not isinstance(raw, dict):
            result.problems.append(Problem(rel, "-", "tệp phải là một bảng khóa: giá trị"))
            continue
        try:
            entry = _ENTRY.validate_python(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(x) for x in err["loc"] if x not in ("procedure", "faq")]
                result.problems.append(Problem(rel, ".".join(loc) or "-", err["msg"]))
            continue
        if entry.id != path.stem:
            result.problems.append(Problem(rel, "id", f"id '{entry.id}' khác tên tệp '{path.stem}'"))
        if entry.id in files:
            result.problems.append(Problem(rel, "id", f"id '{entry.id}' trùng với {files[entry.id]}"))
            continue
        files[entry.id] = rel
        result.entries.append(entry)
    result.problems.extend(_cross_check(result.entries, files))
    return result


def _cross_check(entries: list[Procedure | Faq], files: dict[str, str]) -> list[Problem]:
    """Problems that involve more than one entry: shared aliases, broken references."""
    problems: list[Problem] = []
    ids = {e.id for e in entries}
    alias_owner: dict[str, str] = {}
    for e in entries:
        for alias in [e.name, *e.aliases]:
            key = fold(alias)
            owner = alias_owner.setdefault(key, e.id)
            if owner != e.id and alias in e.aliases:
                problems.append(Problem(files[e.id], "aliases", f"'{alias}' cũng trỏ tới '{owner}'"))
        for ref in e.related:
            if ref not in ids:
                problems.append(Problem(files[e.id], "related", f"không có mục '{ref}'"))
        if isinstance(e, Procedure):
            for i, q in enumerate(e.eligibility):
                if q.redirect and q.redirect not in ids:
                    problems.append(Problem(files[e.id], f"eligibility.{i}.redirect", f"không có mục '{q.redirect}'"))
    return problems
