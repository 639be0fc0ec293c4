"""``kb check``: validate the knowledge folder and report every problem with file and field."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from knowledge.loader import LoadResult, Problem, load_knowledge

CATALOGUE = "catalogue.tsv"


def catalogue_ids(kb_dir: Path) -> dict[str, str]:
    """Ids the knowledge base must cover (id → kind), from ``catalogue.tsv`` if the folder has one."""
    path = kb_dir / CATALOGUE
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["id"]: row["kind"] for row in csv.DictReader(fh, delimiter="\t") if row.get("id")}


def check(kb_dir: Path) -> LoadResult:
    """Load the folder and add catalogue coverage problems."""
    result = load_knowledge(kb_dir)
    have = {e.id: e.kind for e in result.entries}
    for entry_id, kind in catalogue_ids(kb_dir).items():
        if entry_id not in have:
            result.problems.append(Problem(f"{entry_id}.yaml", "id", "mục trong danh mục chưa có tệp"))
        elif have[entry_id] != kind:
            result.problems.append(Problem(f"{entry_id}.yaml", "kind", f"danh mục ghi '{kind}'"))
    return result


def check_command(kb_dir: Path, out: TextIO) -> int:
    result = check(kb_dir)
    for problem in result.problems:
        out.write(f"{problem}\n")
    if result.problems:
        out.write(f"{len(result.problems)} problem(s) in {kb_dir}\n")
        return 1
    out.write(f"OK: {len(result.entries)} entries in {kb_dir}, no problems\n")
    return 0
