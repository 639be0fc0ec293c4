"""``kb check``: validate the knowledge folder and report every problem with file and field."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import TextIO
from urllib.parse import urlparse

from knowledge.loader import LoadResult, Problem, load_knowledge
from knowledge.schema import Faq, Procedure, Source
from knowledge.validity import ending_soon, has_figure, vietnam_today, vn_date

CATALOGUE = "catalogue.tsv"


def catalogue_ids(kb_dir: Path) -> dict[str, str]:
    """Ids the knowledge base must cover (id → kind), from ``catalogue.tsv`` if the folder has one."""
    path = kb_dir / CATALOGUE
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["id"]: row["kind"] for row in csv.DictReader(fh, delimiter="\t") if row.get("id")}


def source_problem(s: Source) -> str | None:
    """Why a reader could not open this source, or None when they can."""
    url = urlparse(s.url) if s.url else None
    if url is not None and not (url.scheme in ("http", "https") and url.netloc):
        return f"URL không hợp lệ: '{s.url}'"
    if url is not None and (url.path.strip("/") or url.query):
        return None
    if s.number and s.issued and s.issuer:
        return None
    if url is not None:
        return f"'{s.url}' chỉ là trang chủ; ghi địa chỉ trang cụ thể, hoặc số hiệu, ngày ban hành và cơ quan ban hành"
    return "thiếu địa chỉ trang cụ thể, hoặc số hiệu, ngày ban hành và cơ quan ban hành"


def entry_problems(e: Procedure | Faq, file: str, today: dt.date) -> tuple[list[Problem], list[Problem]]:
    """Problems (sources nobody can open, no figure in force) and warnings (facts ending soon)."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for i, s in enumerate(e.sources):
        why = source_problem(s)
        if why:
            problems.append(Problem(file, f"sources.{i}", why))
    if isinstance(e, Procedure):
        if not has_figure(e, today):
            problems.append(Problem(file, "fees", f"không còn mức phí nào có hiệu lực ngày {vn_date(today)}"))
        for fact in ending_soon(e, today):
            warnings.append(Problem(file, fact.field, f"hết hiệu lực sau ngày {vn_date(fact.valid_until)}"))
    return problems, warnings


def last_checked(e: Procedure | Faq) -> dt.date:
    return max([e.updated, *(c.date for c in e.checks)])


def check(kb_dir: Path, today: dt.date | None = None, provinces_dir: Path | None = None) -> LoadResult:
    """Load the folder and add catalogue coverage, source, validity and province problems."""
    from knowledge.provinces import apply_province, check_province, load_province, provinces_dir_for

    today = today or vietnam_today()
    result = load_knowledge(kb_dir)
    for e in result.entries:
        problems, warnings = entry_problems(e, f"{e.id}.yaml", today)
        result.problems.extend(problems)
        result.warnings.extend(warnings)
    by_id = {e.id: e for e in result.entries}
    base = provinces_dir if provinces_dir is not None else provinces_dir_for(kb_dir)
    for path in sorted(base.glob("*.yaml")) if base is not None and base.is_dir() else []:
        rel = f"provinces/{path.name}"
        pf, problems = load_province(path)
        result.problems.extend(problems)
        if pf is None:
            continue
        problems = check_province(pf, by_id, rel)
        result.problems.extend(problems)
        for i, s in enumerate(pf.sources):
            if why := source_problem(s):
                result.problems.append(Problem(rel, f"sources.{i}", why))
        if problems:
            continue
        for e in apply_province([by_id[i] for i in pf.entries], pf):
            entry_p, entry_w = entry_problems(e, rel, today)
            result.problems.extend(p for p in entry_p if not p.field.startswith("sources."))
            result.warnings.extend(entry_w)
    topics_file = kb_dir / "complaint_topics.yaml"  # the complaint topics and their words
    if topics_file.is_file():
        from knowledge.complaint_reading import TopicsError, read_topics

        try:
            read_topics(topics_file)
        except TopicsError as exc:
            result.problems.append(Problem("complaint_topics.yaml", "topics", str(exc)))
    have = {e.id: e.kind for e in result.entries}
    for entry_id, kind in catalogue_ids(kb_dir).items():
        if entry_id not in have:
            result.problems.append(Problem(f"{entry_id}.yaml", "id", "mục trong danh mục chưa có tệp"))
        elif have[entry_id] != kind:
            result.problems.append(Problem(f"{entry_id}.yaml", "kind", f"danh mục ghi '{kind}'"))
    return result


def stale_entries(entries: list[Procedure | Faq], today: dt.date, days: int) -> list[tuple[Procedure | Faq, dt.date]]:
    """Entries whose last check (``updated`` or an agency review) is more than ``days`` days old."""
    cutoff = today - dt.timedelta(days=days)
    rows = [(e, last_checked(e)) for e in entries]
    return sorted(((e, d) for e, d in rows if d < cutoff), key=lambda r: (r[1], r[0].id))


def check_command(kb_dir: Path, out: TextIO, today: dt.date | None = None, stale_days: int | None = None) -> int:
    from knowledge import catalogue

    today = today or vietnam_today()
    result = check(kb_dir, today)
    tier_problems, tier_rows = catalogue.check(kb_dir)
    result.problems.extend(tier_problems)
    for problem in result.problems:
        out.write(f"{problem}\n")
    for warning in result.warnings:
        out.write(f"warning: {warning}\n")
    if stale_days is not None:
        stale = stale_entries(result.entries, today, stale_days)
        for e, d in stale:
            out.write(f"stale: {e.id}.yaml: kiểm tra lần cuối {vn_date(d)} ({(today - d).days} ngày)\n")
        out.write(f"{len(stale)} entr{'y' if len(stale) == 1 else 'ies'} not checked for more than {stale_days} days\n")
    if result.problems:
        out.write(f"{len(result.problems)} problem(s) in {kb_dir}\n")
        return 1
    tier = f" and {tier_rows} catalogue procedures" if tier_rows else ""
    out.write(f"OK: {len(result.entries)} entries{tier} in {kb_dir}, no problems\n")
    return 0
