"""Province overrides: a deployment's own figures for fees, times, places and hotlines.

One YAML file per province in ``knowledge/provinces/<slug>.yaml`` (slug = the province name
without diacritics, words joined by "-", e.g. ``an-giang``), chosen by ``DEFAULT_PROVINCE``.
Each file names the entries it overrides and, per entry, only the fields it changes::

    province: An Giang
    updated: 2026-11-30
    sources: [...]            # where the province's figures come from (required)
    entries:
      ho-kinh-doanh:
        fees: {summary: ..., details: [...], periods: [...]}
        processing_time: ...
        in_person: ...
        hotline: ...

An unknown entry or field is a problem reported by ``kb check``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from knowledge.loader import Problem
from knowledge.normalize import fold
from knowledge.schema import Faq, Fees, NonEmpty, Procedure, Source, _Strict

PROVINCES_DIR = Path(__file__).parent / "provinces"


class Override(_Strict):
    """The fields of one entry that a province sets itself."""

    fees: Fees | None = None
    processing_time: NonEmpty | None = None
    in_person: NonEmpty | None = None
    hotline: NonEmpty | None = None
    sources: list[Source] = []  # sources for this entry's figures, beside the file's own


class ProvinceFile(_Strict):
    province: NonEmpty
    updated: dt.date
    sources: list[Source] = Field(min_length=1)
    entries: dict[str, Override] = Field(min_length=1)


def provinces_dir_for(kb_dir: Path) -> Path | None:
    """Province files for a knowledge folder: its own ``provinces/`` folder, else the bundled one
    when the folder is the bundled knowledge, else none."""
    from knowledge.loader import BUNDLED_DIR

    if (kb_dir / "provinces").is_dir():
        return kb_dir / "provinces"
    return PROVINCES_DIR if kb_dir.resolve() == BUNDLED_DIR.resolve() else None


def province_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")


def province_path(name: str, base: Path = PROVINCES_DIR) -> Path:
    return base / f"{province_slug(name)}.yaml"


def load_province(path: Path) -> tuple[ProvinceFile | None, list[Problem]]:
    rel = f"provinces/{path.name}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [Problem(rel, "-", f"không đọc được YAML: {exc}".splitlines()[0])]
    try:
        return ProvinceFile.model_validate(raw), []
    except ValidationError as exc:
        return None, [Problem(rel, ".".join(str(x) for x in err["loc"]) or "-", err["msg"]) for err in exc.errors()]


def check_province(pf: ProvinceFile, entries: dict[str, Procedure | Faq], rel: str) -> list[Problem]:
    problems = []
    for entry_id in pf.entries:
        entry = entries.get(entry_id)
        if entry is None:
            problems.append(Problem(rel, f"entries.{entry_id}", f"không có mục '{entry_id}'"))
        elif not isinstance(entry, Procedure):
            problems.append(Problem(rel, f"entries.{entry_id}", "chỉ ghi đè được thủ tục (procedure)"))
    return problems


def apply_province(entries: list[Procedure | Faq], pf: ProvinceFile) -> list[Procedure | Faq]:
    """The entries with the province's figures in place, each marked with the province's name."""
    out: list[Procedure | Faq] = []
    for e in entries:
        o = pf.entries.get(e.id)
        if o is None or not isinstance(e, Procedure):
            out.append(e)
            continue
        update: dict[str, object] = {"sources": [*e.sources, *o.sources, *pf.sources]}
        if o.fees is not None:
            update["fees"] = o.fees.model_copy(update={"province": pf.province})
        if o.processing_time is not None:
            update["processing_time"] = f"{o.processing_time} ({pf.province})"
        if o.in_person is not None or o.hotline is not None:
            place = o.in_person or e.in_person
            update["in_person"] = f"{place} ({pf.province}" + (f"; đường dây nóng {o.hotline})" if o.hotline else ")")
        out.append(e.model_copy(update=update))
    return out


def with_province(entries: list[Procedure | Faq], name: str,
                  base: Path | None = PROVINCES_DIR) -> tuple[list[Procedure | Faq], list[Problem]]:
    """Apply the province file for ``name`` if one exists (no file: the national entries)."""
    path = province_path(name, base) if name and base is not None else None
    if path is None or not path.is_file():
        return entries, []
    pf, problems = load_province(path)
    if pf is None:
        return entries, problems
    problems = check_province(pf, {e.id: e for e in entries}, f"provinces/{path.name}")
    if problems:
        return entries, problems
    return apply_province(entries, pf), []
