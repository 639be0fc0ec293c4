"""Benchmark the two tiers together: curated entries plus the official catalogue.

    python benchmarks/bench_catalogue.py [--size 10000]

For the 62 curated entries with (a) the bundled catalogue and (b) a synthetic catalogue of ``--size`` rows
(names recombined from the bundled ones, codes 9.xxxxxx), each in a fresh subprocess so memory figures are clean:

* cold start: reading the CSV files and building the index (no cache), and the index's memory (tracemalloc)
* cached start: loading the same index from the disk cache (what every worker after the first does)
* p50/p99 per question of the conversation's reading (curated ``understand``) plus the catalogue
  (``consult``), and of the catalogue search alone, over the citizens' catalogue questions and the dev set,
  in CPU time (what the code costs) and wall time (what a busy machine adds)
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

from knowledge.catalogue import COLUMNS, FOLDER, CatalogueIndex, consult, curated_texts, load_catalogue  # noqa: E402
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
    codes = {c for e in entries for c in (getattr(e, "procedure_code", ""), *getattr(e, "codes", [])) if c}
    names = {e.id: curated_texts(e) for e in entries}
    cache = Path(tempfile.mkdtemp(prefix="bench-catalogue-"))
    t = time.perf_counter()
    cat = load_catalogue(kb_dir, codes, cache_dir=cache, curated=names)  # cold: read the CSV, build, write cache
    cold = time.perf_counter() - t
    t = time.perf_counter()
    cached = load_catalogue(kb_dir, codes, cache_dir=cache, curated=names)  # what every later worker does
    warm = time.perf_counter() - t
    tracemalloc.start()  # the index's memory: one more build, traced (tracing slows it, so not timed)
    before = tracemalloc.get_traced_memory()[0]
    traced = CatalogueIndex.build(list(cat.entries.values()), cat.table, cat.words, names)
    memory = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del traced
    assert cat is not None and cached is not None and cached.cached
    questions = _questions()
    for q in questions:  # warm both tiers' caches of syllable forms
        understand(matcher, q + " ")
        cached.search(q + " ", 3)
    wall: dict[str, list[float]] = {"both": [], "catalogue": [], "curated": []}
    cpu: dict[str, list[float]] = {"both": [], "catalogue": [], "curated": []}
    for _ in range(3):
        for q in questions:
            matcher.forget()  # no memo from the previous round: the full cost of reading a new message
            w0, c0 = time.perf_counter(), time.process_time()  # CPU time: what the code costs on a busy machine
            r = understand(matcher, q)
            w1, c1 = time.perf_counter(), time.process_time()
            best = r.matches[0].score if r.matches and r.decision != "none" else 0.0
            consult(cached, q, r.decision if r.intent == "procedure" else "none", best, r.limit,
                    looks_out_of_scope(r.normalized))
            w2, c2 = time.perf_counter(), time.process_time()
            cached.search(q, 3)
            w3, c3 = time.perf_counter(), time.process_time()
            for store, (a, b, c, d) in ((wall, (w0, w1, w2, w3)), (cpu, (c0, c1, c2, c3))):
                store["curated"].append(b - a)
                store["both"].append(c - a)
                store["catalogue"].append(d - c)
    pickled = sum(p.stat().st_size for p in cache.glob("*.pickle"))
    shutil.rmtree(cache, ignore_errors=True)
    out = {"rows": len(cat.entries), "cold_s": cold, "cached_s": warm, "index_mb": memory / 2**20,
           "cache_mb": pickled / 2**20, "questions": len(questions)}
    for name, store in (("wall", wall), ("cpu", cpu)):
        for part, values in store.items():
            out[f"{name}_{part}_p50"], out[f"{name}_{part}_p99"] = _pct(values, 50), _pct(values, 99)
    return out


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
    print(f"{'':44} {'rows':>6} {'cold s':>7} {'cached s':>8} {'index MB':>8} {'file MB':>7}")
    for label, r in results.items():
        print(f"{label:44} {r['rows']:>6} {r['cold_s']:>7.2f} {r['cached_s']:>8.3f} {r['index_mb']:>8.1f} "
              f"{r['cache_mb']:>7.1f}")
    print(f"\nper question, ms p50/p99 ({next(iter(results.values()))['questions']} questions x 3: "
          "citizens' catalogue questions and the dev set)")
    print(f"{'':44} {'both tiers':>14} {'catalogue':>14} {'curated only':>14}")
    for label, r in results.items():
        for clock in ("cpu", "wall"):
            cells = [f"{r[f'{clock}_{p}_p50']:.2f}/{r[f'{clock}_{p}_p99']:.2f}" for p in ("both", "catalogue", "curated")]
            print(f"{label + ' (' + clock + ')':44} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
