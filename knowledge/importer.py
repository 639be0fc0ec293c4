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


def _header_map(header: list[str], columns: dict[str, tuple[str, ...]] = COLUMNS) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, name in enumerate(header):
        key = fold(name)
        for target, names in columns.items():
            # names folded the same way ("mã TTHC" folds to "ma thc": repeated letters are squeezed)
            if key in {fold(n) for n in names} and target not in found:
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


# --- the catalogue tier ----------------------------------------------------------------------------

CATALOGUE_COLUMNS = {
    "level": ("cap", "cap thuc hien", "cap giai quyet", "tier"),
    **COLUMNS,
    "page": ("url", "link", "duong dan", "trang", "page"),
}
ONLINE_CODES = {"toàn trình": "full", "một phần": "partial", "trực tiếp": "in_person"}
LEVEL_WORDS = (("commune", ("xa", "phuong", "thi tran", "commune")), ("province", ("tinh", "thanh pho", "province")),
               ("central", ("bo", "trung uong", "nganh", "central")))


def _levels(text: str) -> str:
    folded = f" {fold(text)} "
    found = [level for level, words in LEVEL_WORDS if any(f" {w} " in folded for w in words)]
    return "|".join(found)


def import_catalogue(path: Path, kb_dir: Path, source: str = "", today: str = "") -> tuple[int, Path, list[str]]:
    """Turn a province's procedure list into a catalogue file (``<kb>/catalogue/province-<name>.csv``).

    Read like ``import_csv`` (the same column names, plus the level ``Cấp thực hiện`` and a page ``URL``); the
    level is read from the agency when the list has no level column. The file is rewritten whole at each
    import and goes on top of the bundled national list (``knowledge/catalogue.py``). Returns (rows written,
    the file, problems with line numbers).
    """
    import datetime as dt

    from knowledge.catalogue import CODE_RE, COLUMNS as CAT_COLUMNS, FOLDER, PROVINCE_PREFIX

    today = today or dt.date.today().isoformat()
    source = source or f"file:{path.name}"
    problems: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
        reader = csv.reader(fh, dialect)
        found = _header_map(next(reader, None) or [], CATALOGUE_COLUMNS)
        if "code" not in found or "name" not in found:
            return 0, Path(), [f"{path.name}:1: thiếu cột mã (code) hoặc tên (name)"]
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            v = {k: (row[i].strip() if i < len(row) else "") for k, i in found.items()}
            if not v["code"] or not v["name"]:
                problems.append(f"{path.name}:{line}: thiếu mã hoặc tên thủ tục")
                continue
            if not CODE_RE.match(v["code"]):
                problems.append(f"{path.name}:{line}: mã '{v['code']}' không đúng dạng 1.004222")
                continue
            online = "unknown"
            if v.get("online_level"):
                mapped = LEVELS.get(fold(v["online_level"]))
                if mapped is None:
                    problems.append(f"{path.name}:{line}: mức độ '{v['online_level']}' không rõ")
                    continue
                online = ONLINE_CODES[mapped]
            level, basis = _levels(v.get("level", "")), "stated"
            if not level:
                level, basis = _levels(v.get("handled_by", "")), "agency"
            if not level:
                level, basis = "unknown", "none"
            page = v.get("page", "")
            if page and (not page.startswith("https://") or "dichvucong.gov.vn" not in page):
                page = ""  # only the national portal's own pages are kept; the card links the code's page anyway
            if v["code"] in rows:
                problems.append(f"{path.name}:{line}: mã {v['code']} lặp lại, dòng sau thay dòng trước")
            rows[v["code"]] = {"code": v["code"], "name": " ".join(v["name"].split()), "field": v.get("field") or "-",
                               "level": level, "level_basis": basis, "online": online,
                               "agency": v.get("handled_by", ""), "page": page, "source": source,
                               "source_date": today}
    folder = kb_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{PROVINCE_PREFIX}{_slug(path.stem) or 'list'}.csv"
    if rows:
        with target.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, CAT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows[c] for c in sorted(rows))
    return len(rows), target, problems


def import_catalogue_command(path: Path, kb_dir: Path, out: TextIO, source: str = "") -> int:
    if not path.is_file():
        out.write(f"No such file: {path}\n")
        return 2
    written, target, problems = import_catalogue(path, kb_dir, source)
    for p in problems:
        out.write(p + "\n")
    if not written:
        out.write(f"no catalogue row written; {len(problems)} problem(s)\n")
        return 1
    out.write(f"{written} procedure(s) written to {target} (catalogue tier; curated drafts: kb import --drafts); "
              f"{len(problems)} problem(s)\n")
    return 0
