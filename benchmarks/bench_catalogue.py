"""Benchmark the two tiers together: curated entries plus the official catalogue.

    python benchmarks/bench_catalogue.py [--size 10000]

For the 62 curated entries with (a) the bundled catalogue and (b) a synthetic catalogue of ``--size`` rows
(names recombined from the bundled ones, codes 9.xxxxxx), each in a fresh subprocess so memory figures are clean:

* cold start: reading the CSV files and building the index (no cache), and the index's memory (tracemalloc)
* cached start: loading the same index from the disk cache (what every worker after the first does)
* p50/p99 per question of the conversation's reading (curated ``understand``) plus the catalogue
  (``consult``), and of the catalogue search alone, over the citizens' catalogue questions and the dev set
* the curated-only p50/p99 on the same questions, for a same-run comparison
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.catalogue import COLUMNS, FOLDER, consult, load_catalogue  # noqa: E402
from knowledge.intent import looks_out_of_scope  # noqa: E402
from knowledge.loader import BUNDLED_DIR, load_knowledge  # noqa: E402
from knowledge.matcher import Matcher  # noqa: E402
from knowledge.understanding import understand  # noqa: E402

QUESTIONS = ROOT / "tests" / "data" / "catalogue_questions.jsonl"
DEV = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


def _questions() -> list[str]:
    out = []
    for path in (QUESTIONS, DEV):
        if path.is_file():
            out += [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def synthetic(kb_dir: Path, size: int) -> None:
    """A knowledge folder whose catalogue has ``size`` rows made from the bundled names."""
    shutil.copytree(BUNDLED_DIR, kb_dir, ignore=shutil.ignore_patterns(FOLDER))
    with (BUNDLED_DIR / FOLDER / "national.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = random.Random(21)
    words = [r["name"].split() for r in rows]
    (kb_dir / FOLDER).mkdir()
    with (kb_dir / FOLDER / "national.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
        w.writeheader()
        for i in range(size):
            base = dict(rows[i % len(rows)])
            if i >= len(rows):  # a new name: the start of one real name and the end of another
                a, b = rng.choice(words), rng.choice(words)
                base["name"] = " ".join(a[: max(2, len(a) // 2)] + b[len(b) // 2:])
                base["code"] = f"9.{i:06d}"
            w.writerow({k: base.get(k, "") for k in COLUMNS})
    (kb_dir / FOLDER / "words.yaml").write_bytes((BUNDLED_DIR / FOLDER / "words.yaml").read_bytes())


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def measure(kb_dir: Path) -> dict:
    entries = load_knowledge(kb_dir).entries
    matcher = Matcher.build(entries)
    codes = {getattr(e, "procedure_code", "") for e in entries} - {""}
    cache = Path(tempfile.mkdtemp(prefix="bench-catalogue-"))
    tracemalloc.start()
    t = time.perf_counter()
    cat = load_catalogue(kb_dir, codes, cache_dir=cache)
    cold = time.perf_counter() - t
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    t = time.perf_counter()
    cached = load_catalogue(kb_dir, codes, cache_dir=cache)
    warm = time.perf_counter() - t
    assert cat is not None and cached is not None and cached.cached
    questions = _questions()
    both, alone, curated = [], [], []
    for q in questions:  # once to warm caches of the curated matcher's memo-free paths
        understand(matcher, q + " ")
    for q in questions:
        t0 = time.perf_counter()
        r = understand(matcher, q)
        t1 = time.perf_counter()
        best = r.matches[0].score if r.matches and r.decision != "none" else 0.0
        consult(cached, q, r.decision if r.intent == "procedure" else "none", best, r.limit,
                looks_out_of_scope(r.normalized))
        t2 = time.perf_counter()
        cached.search(q, 3)
        t3 = time.perf_counter()
        curated.append(t1 - t0)
        both.append(t2 - t0)
        alone.append(t3 - t2)
    shutil.rmtree(cache, ignore_errors=True)
    return {"rows": len(cat.entries), "cold_s": cold, "cached_s": warm, "index_mb": memory / 2**20,
            "questions": len(questions),
            "both_p50": _pct(both, 50), "both_p99": _pct(both, 99),
            "catalogue_p50": _pct(alone, 50), "catalogue_p99": _pct(alone, 99),
            "curated_p50": _pct(curated, 50), "curated_p99": _pct(curated, 99)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # measure one folder (subprocess)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-catalogue-kb-"))
    try:
        synthetic(tmp / "kb", args.size)
        results = {}
        for label, folder in (("62 curated + bundled catalogue", BUNDLED_DIR),
                              (f"62 curated + {args.size:,}-row synthetic catalogue", tmp / "kb")):
            out = subprocess.run([sys.executable, __file__, "--one", str(folder)], capture_output=True, text=True,
                                 check=True)
            results[label] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'':44} {'rows':>6} {'cold s':>7} {'cached s':>8} {'index MB':>8} "
          f"{'both p50/p99 ms':>16} {'catalogue p50/p99':>18} {'curated only p50/p99':>21}")
    for label, r in results.items():
        print(f"{label:44} {r['rows']:>6} {r['cold_s']:>7.2f} {r['cached_s']:>8.3f} {r['index_mb']:>8.1f} "
              f"{r['both_p50']:>7.2f}/{r['both_p99']:<8.2f} {r['catalogue_p50']:>8.2f}/{r['catalogue_p99']:<9.2f} "
              f"{r['curated_p50']:>10.2f}/{r['curated_p99']:<10.2f}")
    print(f"({next(iter(results.values()))['questions']} questions: citizens' catalogue questions and the dev set)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
