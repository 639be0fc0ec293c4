"""Batch matcher: one question per input line -> one JSON object per output line.

    python -m knowledge.match_cli [--kb DIR] < questions.txt

Each output line is ``{"query", "intent", "matches": [{"id", "score"}, ...]}``; matches
are empty for every intent but "procedure" and when the matcher would say "I don't know".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from knowledge.catalogue import consult, curated_texts, load_catalogue
from knowledge.intent import looks_out_of_scope
from knowledge.loader import BUNDLED_DIR, load_knowledge
from knowledge.matcher import Matcher, MatchResult
from knowledge.understanding import understand


def result_json(result: MatchResult) -> dict:
    """The public JSON form of a match result."""
    matches = [] if result.decision == "none" else result.matches
    return {
        "query": result.query,
        "intent": result.intent,
        "matches": [{"id": c.id, "score": round(c.score, 4)} for c in matches[:3]],
        "decision": result.decision,
        "help_kind": result.help_kind,
        "dossier_code": result.dossier_code,
        "wants_guide": result.wants_guide,
    }


def with_catalogue(out: dict, result: MatchResult, catalogue) -> dict:  # type: ignore[no-untyped-def]
    """The catalogue tier's answer (ids ``tthc:CODE``) where the curated entries give none or a weak one."""
    if result.intent not in ("procedure", "unknown"):
        return out
    best = result.matches[0].score if result.matches and result.decision != "none" else 0.0
    reading = consult(catalogue, result.query, result.decision if result.intent == "procedure" else "none", best,
                      result.limit, looks_out_of_scope(result.normalized))
    if reading is None:
        return out
    return {**out, "intent": "procedure", "decision": reading.decision,
            "matches": [{"id": m.entry.id, "score": round(m.score, 4)} for m in reading.matches]}


def run(stdin: TextIO, stdout: TextIO, kb_dir: Path, catalogue: bool = True) -> int:
    """Match every line of ``stdin``; returns the exit code."""
    loaded = load_knowledge(kb_dir)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    matcher = Matcher.build(loaded.entries)
    codes = {c for e in loaded.entries for c in (getattr(e, "procedure_code", ""), *getattr(e, "codes", [])) if c}
    names = {e.id: curated_texts(e) for e in loaded.entries}
    tier = load_catalogue(kb_dir, codes, curated=names) if catalogue else None
    for line in stdin:
        query = line.rstrip("\r\n")
        try:
            result = understand(matcher, query)
            out = with_catalogue(result_json(result), result, tier)
        except Exception as exc:  # one bad line must not stop the batch
            print(f"error on {query[:80]!r}: {exc!r}", file=sys.stderr)
            out = {"query": query, "intent": "unknown", "matches": []}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m knowledge.match_cli", description=__doc__.splitlines()[0])
    ap.add_argument("--kb", type=Path, default=BUNDLED_DIR, help="knowledge folder (default: bundled)")
    ap.add_argument("--no-catalogue", action="store_true", help="curated entries only (no official catalogue tier)")
    args = ap.parse_args(argv)
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")
    sys.stdout.reconfigure(encoding="utf-8")
    return run(sys.stdin, sys.stdout, args.kb, catalogue=not args.no_catalogue)


if __name__ == "__main__":
    sys.exit(main())
