"""``python -m bot dossiers import FILE.csv``: load or update dossiers exported by the one-stop system.

Columns are documented in docs/dossiers.md. A re-import updates dossiers (matched by code)
instead of duplicating them; a bad row is reported with its line number while the good
rows still load. Problems never echo phone numbers or names.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from storage.dossiers import (
    MAX_CHANGE_ID,
    NOTE_REQUIRED,
    DossierRecord,
    DossierStore,
    normalize_dossier_code,
    parse_status,
    parse_when,
    phone_digits,
)
from storage.store import Store

REQUIRED = ("code", "agency_key", "phone", "status", "received_date", "due_date")
OPTIONAL = ("procedure_id", "procedure_name", "agency_name", "applicant_name", "status_note", "result_date",
            "delivery_method", "updated_at", "change_id")
LIMITS = {"procedure_id": 64, "procedure_name": 255, "agency_key": 64, "agency_name": 255, "applicant_name": 128,
          "status_note": 2000, "delivery_method": 64, "change_id": MAX_CHANGE_ID}
MAX_FILE_BYTES = 50 * 1024 * 1024


class RecordError(ValueError):
    """A dossier record (CSV row or pushed JSON) that cannot be loaded; the message says why."""


def _text(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value).strip()


def record_from_mapping(row: Mapping[str, Any], factor_digits: int = 4) -> DossierRecord:
    """Validate one dossier given as column -> value; raise RecordError listing every problem."""
    problems: list[str] = []
    for name in REQUIRED:
        if not _text(row, name):
            problems.append(f"{name} is empty")
    for name, limit in LIMITS.items():
        if len(_text(row, name)) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    raw_code = _text(row, "code")
    code = normalize_dossier_code(raw_code) if raw_code else None
    if raw_code and code is None:
        problems.append(f"code {raw_code[:40]!r} is not a dossier code (e.g. H21.22-250312-0005)")
    raw_status = _text(row, "status")
    status = parse_status(raw_status) if raw_status else None
    if raw_status and status is None:
        problems.append(f"status {raw_status[:40]!r} is unknown (use received, processing, supplement, "
                        "result_ready, delivered or rejected)")
    note = _text(row, "status_note")
    if status in NOTE_REQUIRED and not note:
        problems.append(f"status_note is required for status {status} (what to supplement / why rejected)")
    digits = phone_digits(_text(row, "phone"))
    if _text(row, "phone") and len(digits) < factor_digits:
        problems.append(f"phone has fewer than {factor_digits} digits (the lookup asks for the last {factor_digits})")
    dates: dict[str, Any] = {}
    for name, end_of_day in (("received_date", False), ("due_date", True), ("result_date", False),
                             ("updated_at", False)):
        value = _text(row, name)
        if not value:
            dates[name] = None
            continue
        try:
            dates[name] = parse_when(value, end_of_day=end_of_day)
        except ValueError:
            problems.append(f"{name} {value[:30]!r} is not a date (use dd/mm/yyyy or yyyy-mm-dd)")
            dates[name] = None
    if dates.get("received_date") and dates.get("due_date") and dates["due_date"] < dates["received_date"]:
        problems.append("due_date is before received_date")
    if problems:
        raise RecordError("; ".join(problems))
    assert code and status and dates["received_date"] and dates["due_date"]
    return DossierRecord(
        code=code, agency_key=_text(row, "agency_key"), phone_digits=digits, status=status,
        received_at=dates["received_date"], due_at=dates["due_date"], procedure_id=_text(row, "procedure_id"),
        procedure_name=_text(row, "procedure_name"), agency_name=_text(row, "agency_name"),
        applicant_name=_text(row, "applicant_name"), status_note=note, result_at=dates["result_date"],
        delivery_method=_text(row, "delivery_method"), status_at=dates["updated_at"],
        change_id=_text(row, "change_id"),
    )


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, message); 0 = whole file
    warnings: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return self.new + self.updated + self.unchanged

    def summary(self) -> str:
        return (f"Dossiers: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
                f"{len([p for p in self.problems if p[0]])} rows with problems (not loaded).")


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


async def import_text(dossiers: DossierStore, text: str, factor_digits: int = 4) -> ImportReport:
    """Load every good row of a CSV text; collect the problems of the bad ones."""
    report = ImportReport()
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    try:
        header = [h.strip().lower().replace(" ", "_") for h in next(reader)]
    except StopIteration:
        report.problems.append((0, "the file is empty"))
        return report
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        report.problems.append((1, f"header lacks the column(s) {', '.join(missing)}; see docs/dossiers.md"))
        return report
    unknown = [h for h in header if h and h not in REQUIRED + OPTIONAL]
    if unknown:
        report.warnings.append(f"ignored unknown column(s): {', '.join(unknown)}")
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.problems.append((start, f"cannot read the row ({exc})"))
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            report.problems.append((start, f"{len(cells)} fields but the header has {len(header)}"))
            continue
        row = dict(zip(header, cells))
        try:
            record = record_from_mapping(row, factor_digits)
        except RecordError as exc:
            report.problems.append((start, str(exc)))
            continue
        outcome = await dossiers.upsert(record, source="import")
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


async def import_file(store: Store, path: Path, factor_digits: int = 4) -> ImportReport:
    """Read and import a CSV file (UTF-8, with or without BOM; comma, semicolon or tab separated)."""
    report = ImportReport()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            report.problems.append((0, f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"))
            return report
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        report.problems.append((0, f"cannot read {path}: {exc.strerror or exc}"))
        return report
    except UnicodeDecodeError:
        report.problems.append((0, "the file is not UTF-8 text (in Excel: Save As → CSV UTF-8)"))
        return report
    return await import_text(DossierStore(store), text, factor_digits)


def print_report(report: ImportReport, out: TextIO) -> None:
    for warning in report.warnings:
        print(f"warning: {warning}", file=out)
    for line, message in report.problems:
        print(f"line {line}: {message}" if line else f"error: {message}", file=out)
    print(report.summary(), file=out)


async def import_csv_command(settings: Any, path: Path) -> int:
    """The CLI command: import, print problems and a summary; exit 0 if any row loaded, else 1."""
    store = Store.from_url(settings.database_url)
    try:
        await store.create_schema()
        report = await import_file(store, Path(path), settings.dossier_factor_digits)
    finally:
        await store.close()
    print_report(report, sys.stdout)
    return 0 if report.loaded else 1
