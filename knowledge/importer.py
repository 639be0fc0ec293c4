"""``kb import``: turn a province's procedure list (CSV) into draft entries agencies complete.

Drafts live in ``<kb>/drafts/`` (not loaded by the bot until completed and moved to
``entries/``). A draft is keyed by the procedure code, so re-importing updates it in place
and keeps whatever an editor already added.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TextIO

import yaml

from knowledge.normalize import fold

# Accepted column names (folded) for each draft field.
COLUMNS = {
    "code": ("code", "ma", "ma thu tuc", "ma tthc", "ma so"),
    "name": ("name", "ten", "ten thu tuc", "ten tthc"),
    "field": ("field", "linh vuc"),
    "handled_by": ("agency", "co quan", "co quan thuc hien", "co quan giai quyet", "handled by"),
    "online_level": ("level", "muc do", "muc do dvc", "online level"),
}
LEVELS = {
    "toan trinh": "toàn trình", "4": "toàn trình", "muc do 4": "toàn trình", "full": "toàn trình",
    "mot phan": "một phần", "3": "một phần", "muc do 3": "một phần", "partial": "một phần",
    "truc tiep": "trực tiếp", "2": "trực tiếp", "1": "trực tiếp", "muc do 2": "trực tiếp",
    "khong": "trực tiếp", "in person": "trực tiếp",
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")[:80]


def _header_map(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        key = fold(name)
        for target, names in COLUMNS.items():
            if key in names and target not in found:
                found[target] = i
    return found


def import_csv(path: Path, kb_dir: Path) -> tuple[int, int, list[str]]:
    """Create or update drafts; returns (created, updated, problems with line numbers)."""
    drafts = kb_dir / "drafts"
    drafts.mkdir(parents=True, exist_ok=True)
    created = updated = 0
    problems: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
        reader = csv.reader(fh, dialect)
        header = next(reader, None)
        cols = _header_map(header or [])
        if "code" not in cols or "name" not in cols:
            return 0, 0, [f"{path.name}:1: thiếu cột mã (code) hoặc tên (name)"]
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            values = {k: (row[i].strip() if i < len(row) else "") for k, i in cols.items()}
            if not values["code"] or not values["name"]:
                problems.append(f"{path.name}:{line}: thiếu mã hoặc tên thủ tục")
                continue
            level = values.get("online_level", "")
            if level:
                mapped = LEVELS.get(fold(level))
                if mapped is None:
                    problems.append(f"{path.name}:{line}: mức độ '{level}' không rõ")
                    continue
                values["online_level"] = mapped
            target = drafts / f"{_slug(values['code'])}.yaml"
            draft = yaml.safe_load(target.read_text(encoding="utf-8")) if target.exists() else {}
            is_new = not draft
            draft.update({k: v for k, v in values.items() if v})
            draft.setdefault("id", _slug(values["name"])[:60])
            draft.setdefault("kind", "procedure")
            draft["draft"] = True
            target.write_text(yaml.safe_dump(draft, allow_unicode=True, sort_keys=False), encoding="utf-8")
            created += is_new
            updated += not is_new
    return created, updated, problems


def import_command(path: Path, kb_dir: Path, out: TextIO) -> int:
    if not path.is_file():
        out.write(f"No such file: {path}\n")
        return 2
    created, updated, problems = import_csv(path, kb_dir)
    for p in problems:
        out.write(p + "\n")
    out.write(f"{created} draft(s) created, {updated} updated in {kb_dir / 'drafts'}; {len(problems)} row(s) skipped\n")
    return 1 if problems and not (created or updated) else 0
