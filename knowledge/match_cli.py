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


def run(stdin: TextIO, stdout: TextIO, kb_dir: Path) -> int:
    """Match every line of ``stdin``; returns the exit code."""
    loaded = load_knowledge(kb_dir)
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    matcher = Matcher.build(loaded.entries)
    for line in stdin:
        query = line.rstrip("\r\n")
        try:
            out = result_json(understand(matcher, query))
        except Exception as exc:  # one bad line must not stop the batch
            print(f"error on {query[:80]!r}: {exc!r}", file=sys.stderr)
            out = {"query": query, "intent": "unknown", "matches": []}
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m knowledge.match_cli", description=__doc__.splitlines()[0])
    ap.add_argument("--kb", type=Path, default=BUNDLED_DIR, help="knowledge folder (default: bundled)")
    args = ap.parse_args(argv)
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")
    sys.stdout.reconfigure(encoding="utf-8")
    return run(sys.stdin, sys.stdout, args.kb)


if __name__ == "__main__":
    sys.exit(main())
