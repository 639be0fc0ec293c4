"""Agency review round-trip: ``kb review`` writes one CSV row per fact, ``kb import-review`` takes
the agency's corrections back into the YAML files with a record of who checked what and when.

Columns: entry, field, value, valid_from, valid_until, source, last_checked, checked_by, checked_on,
new_value, note. The agency fills ``checked_by`` and ``checked_on`` (YYYY-MM-DD or DD/MM/YYYY) for
the rows it checked, and ``new_value`` where the value is wrong. Edits are made in place, line by
line, so that the files keep their comments and layout; a file that would no longer validate is
left unchanged and reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml
from pydantic import TypeAdapter, ValidationError

from knowledge.checks import last_checked
from knowledge.loader import entry_files, load_knowledge
from knowledge.schema import Entry, Faq, Procedure

COLUMNS = ["entry", "field", "value", "valid_from", "valid_until", "source", "last_checked",
           "checked_by", "checked_on", "new_value", "note"]
SCALARS = ("handled_by", "in_person", "processing_time")
_ENTRY = TypeAdapter(Entry)


def facts(e: Procedure | Faq) -> list[dict[str, str]]:
    """The reviewable facts of one entry, as CSV rows."""
    sources = "; ".join(s.title + (f" <{s.url}>" if s.url else "") for s in e.sources)
    checked = last_checked(e).isoformat()
    rows: list[dict[str, str]] = []

    def add(name: str, value: str, source: str = sources, start: dt.date | None = None,
            end: dt.date | None = None) -> None:
        rows.append({"entry": e.id, "field": name, "value": value,
                     "valid_from": start.isoformat() if start else "", "valid_until": end.isoformat() if end else "",
                     "source": source, "last_checked": checked, "checked_by": "", "checked_on": "",
                     "new_value": "", "note": ""})

    if isinstance(e, Faq):
        add("answer", e.answer.strip())
        return rows
    add("handled_by", e.handled_by)
    add("fees.summary", e.fees.summary, end=e.fees.summary_valid_until)
    for i, p in enumerate(e.fees.periods):
        add(f"fees.periods.{i}", p.value, p.basis, p.valid_from, p.valid_until)
    add("processing_time", e.processing_time)
    for i, p in enumerate(e.processing_time_periods):
        add(f"processing_time_periods.{i}", p.value, p.basis, p.valid_from, p.valid_until)
    add("in_person", e.in_person)
    for i, b in enumerate(e.legal_basis):
        add(f"legal_basis.{i}", b)
    return rows


def write_review(kb_dir: Path, out: TextIO) -> int:
    result = load_knowledge(kb_dir)
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    n = 0
    for e in sorted(result.entries, key=lambda x: x.id):
        for row in facts(e):
            writer.writerow(row)
            n += 1
    return n


def _date(text: str) -> dt.date:
    text = text.strip()
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        d, m, y = (int(x) for x in text.split("/"))
        return dt.date(y, m, d)
    return dt.date.fromisoformat(text)


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _set_scalar(lines: list[str], key: str, value: str, indent: str = "") -> bool:
    """Replace a one-line ``key: value`` at the given indentation."""
    for i, line in enumerate(lines):
        if line.startswith(f"{indent}{key}:") and not line.rstrip().endswith(":"):
            lines[i] = f"{indent}{key}: {_q(value)}\n"
            return True
    return False


def _block(lines: list[str], key: str, indent: str = "") -> tuple[int, int] | None:
    """Line range of the block under ``key:`` (exclusive of the key line)."""
    for i, line in enumerate(lines):
        if line.rstrip() == f"{indent}{key}:":
            j = i + 1
            while j < len(lines) and (lines[j].startswith(indent + " ") or not lines[j].strip()):
                j += 1
            return i + 1, j
    return None


def _set_item(lines: list[str], start: int, end: int, item_indent: str, n: int, value: str,
              sub: str | None = None) -> bool:
    """Set the n-th list item (``- text``) in a block, or its ``sub`` key when items are mappings."""
    items = [k for k in range(start, end) if lines[k].startswith(item_indent + "- ")]
    if n >= len(items):
        return False
    k = items[n]
    if sub is None:
        lines[k] = f"{item_indent}- {_q(value)}\n"
        return True
    stop = items[n + 1] if n + 1 < len(items) else end
    for m in range(k, stop):
        body = lines[m][len(item_indent) + 2:] if m == k else lines[m].strip() + "\n"
        if body.startswith(f"{sub}:"):
            lines[m] = (f"{item_indent}- " if m == k else f"{item_indent}  ") + f"{sub}: {_q(value)}\n"
            return True
    lines.insert(stop, f"{item_indent}  {sub}: {value}\n")
    return True


def _apply(lines: list[str], name: str, row: dict[str, str]) -> bool:
    value = row["new_value"]
    if name in SCALARS:
        return _set_scalar(lines, name, value)
    if name == "fees.summary":
        rng = _block(lines, "fees")
        if rng is None:
            return False
        part = lines[rng[0]:rng[1]]
        ok = _set_scalar(part, "summary", value, "  ")
        lines[rng[0]:rng[1]] = part
        return ok
    m = re.fullmatch(r"legal_basis\.(\d+)", name)
    if m:
        rng = _block(lines, "legal_basis")
        return rng is not None and _set_item(lines, *rng, "  ", int(m.group(1)), value)
    m = re.fullmatch(r"processing_time_periods\.(\d+)", name)
    if m:
        rng = _block(lines, "processing_time_periods")
        return rng is not None and _set_item(lines, *rng, "  ", int(m.group(1)), value, sub="value")
    m = re.fullmatch(r"fees\.periods\.(\d+)", name)
    if m:
        fees = _block(lines, "fees")
        if fees is None:
            return False
        part = lines[fees[0]:fees[1]]
        rng = _block(part, "periods", "  ")
        ok = rng is not None and _set_item(part, *rng, "    ", int(m.group(1)), value, sub="value")
        lines[fees[0]:fees[1]] = part
        return ok
    return False


def _add_check(lines: list[str], on: dt.date, by: str, checked: list[str], changed: list[str], note: str) -> None:
    record = [f"  - date: {on.isoformat()}\n", f"    by: {_q(by)}\n",
              f"    fields: [{', '.join(checked)}]\n", f"    changed: [{', '.join(changed)}]\n"]
    if note:
        record.append(f"    note: {_q(note)}\n")
    rng = _block(lines, "checks")
    if rng is not None:
        lines[rng[1]:rng[1]] = record
        return
    at = next((i for i, ln in enumerate(lines) if ln.startswith("updated:")), len(lines))
    lines[at:at] = ["checks:\n", *record]


@dataclass
class ImportReport:
    changed: list[str] = field(default_factory=list)  # "entry field"
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def import_review(path: Path, kb_dir: Path) -> ImportReport:
    report = ImportReport()
    files = {p.stem: p for p in entry_files(kb_dir)}
    entries = {e.id: e for e in load_knowledge(kb_dir).entries}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in ("entry", "field", "value", "checked_by", "checked_on", "new_value") if rows and c not in rows[0]]
    if missing:
        report.problems.append(f"{path.name}: thiếu cột {', '.join(missing)}")
        return report
    by_entry: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for n, row in enumerate(rows, start=2):
        if (row.get("checked_by") or "").strip() or (row.get("new_value") or "").strip():
            by_entry.setdefault((row.get("entry") or "").strip(), []).append((n, row))
    for entry_id, items in sorted(by_entry.items()):
        if entry_id not in files or entry_id not in entries:
            report.problems.append(f"{path.name}: dòng {items[0][0]}: không có mục '{entry_id}'")
            continue
        current = {r["field"]: r["value"] for r in facts(entries[entry_id])}
        lines = files[entry_id].read_text(encoding="utf-8").splitlines(keepends=True)
        checks: dict[tuple[dt.date, str, str], tuple[list[str], list[str]]] = {}
        for n, row in items:
            name, by, new = row["field"].strip(), (row.get("checked_by") or "").strip(), (row.get("new_value") or "").strip()
            if not by or not (row.get("checked_on") or "").strip():
                report.problems.append(f"{path.name}: dòng {n}: thiếu người kiểm tra (checked_by) hoặc ngày (checked_on)")
                continue
            try:
                on = _date(row["checked_on"])
            except ValueError:
                report.problems.append(f"{path.name}: dòng {n}: ngày '{row['checked_on']}' không hợp lệ")
                continue
            if name not in current:
                report.problems.append(f"{path.name}: dòng {n}: '{entry_id}' không có trường '{name}'")
                continue
            done, changed = checks.setdefault((on, by, (row.get("note") or "").strip()), ([], []))
            done.append(name)
            if new and new != current[name]:
                if row["value"] != current[name]:
                    report.problems.append(f"{path.name}: dòng {n}: {entry_id} {name} đã đổi sau khi xuất bảng; không ghi đè")
                    done.pop()
                    continue
                if not _apply(lines, name, {**row, "new_value": new}):
                    report.problems.append(f"{path.name}: dòng {n}: không sửa được {entry_id} {name}")
                    done.pop()
                    continue
                changed.append(name)
                report.changed.append(f"{entry_id} {name}")
        for (on, by, note), (done, changed) in checks.items():
            if done:
                _add_check(lines, on, by, done, changed, note)
                report.checked += len(done)
        text = "".join(lines)
        try:
            _ENTRY.validate_python(yaml.safe_load(text))
        except (yaml.YAMLError, ValidationError) as exc:
            report.problems.append(f"{files[entry_id].name}: sau khi sửa không hợp lệ, giữ nguyên tệp: {str(exc).splitlines()[0]}")
            report.changed = [c for c in report.changed if not c.startswith(f"{entry_id} ")]
            continue
        files[entry_id].write_text(text, encoding="utf-8")
    return report


def import_review_command(path: Path, kb_dir: Path, out: TextIO) -> int:
    report = import_review(path, kb_dir)
    for c in report.changed:
        out.write(f"changed: {c}\n")
    for p in report.problems:
        out.write(f"{p}\n")
    out.write(f"{report.checked} fact(s) checked, {len(report.changed)} corrected, {len(report.problems)} problem(s)\n")
    return 1 if report.problems else 0


def review_command(kb_dir: Path, out_path: Path | None, out: TextIO) -> int:
    if out_path is None:
        n = write_review(kb_dir, out)
        return 0
    with out_path.open("w", encoding="utf-8", newline="") as fh:
        n = write_review(kb_dir, fh)
    out.write(f"{n} fact(s) written to {out_path}\n")
    return 0
