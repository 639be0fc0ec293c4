"""The official catalogue tier: one row per procedure of the national database (CSDL TTHC), answered with a short card.

Curated entries (``entries/*.yaml``) are complete and checked; the catalogue knows only what an official list
says about a procedure: its code, name, field, the level that handles it, whether it can be done online, the
agency, and where the list came from. Files are ``<kb>/catalogue/*.csv`` (one header, columns below), read in
name order: a later file's row replaces an earlier one with the same code, so a province's own list
(``kb import``) goes on top of the bundled national one.

The index (folded syllables and syllable pairs, idf-weighted) is built once and pickled under the cache folder,
keyed by a hash of the files and of this module's index version, so a worker starting on the same data loads
it instead of building it.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import os
import pickle
import re
import tempfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from knowledge.loader import Problem
from knowledge.normalize import Abbreviations, fold_token, load_abbreviations, normalize_tokens

log = logging.getLogger(__name__)

FOLDER = "catalogue"
WORDS_FILE = "words.yaml"  # everyday words -> the catalogue's official wording (abbreviations format)
ID_PREFIX = "tthc:"  # entry ids of catalogue rows (the focus and the question log use them)
PORTAL_LINK = "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc-hanh-chinh.html?ma_thu_tuc={code}"
CODE_RE = re.compile(r"^\d\.\d{6}$")
LEVELS = ("commune", "province", "central", "other", "unknown")  # unknown: the source names no level
ONLINE = ("full", "partial", "online", "in_person", "unknown")
LEVEL_BASIS = ("stated", "agency", "none")  # level as the source states it / read from the agency named
COLUMNS = ("code", "name", "field", "level", "level_basis", "online", "agency", "page", "source", "source_date")
REQUIRED = ("code", "name", "field", "level", "online", "source", "source_date")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INDEX_VERSION = 5  # bump when the index layout or the analysis changes

# Scoring
ANSWER_SCORE = 0.62
ASK_SCORE = 0.45
ANSWER_MARGIN = 0.04
CLEAR_SCORE = 0.45  # below ANSWER_SCORE, a best row this far ahead of the next is still the answer
CLEAR_MARGIN = 0.1
OVERRIDE_MARGIN = 0.15  # a catalogue answer this much above a weak curated one (of another procedure) wins
OVERRIDE_BELOW = 0.6  # ... only when the curated answer scores below this
SAME_NAME = 0.75  # a catalogue name sharing this share of its words with the curated candidate's is that procedure
FIELD_WEIGHT = 0.3
UNKNOWN_SHARE = 0.8  # a query syllable the catalogue never uses weighs this share of the mean idf
CANDIDATE_DF = 0.06  # terms in more rows than this share only score candidates found by rarer terms
MAX_CANDIDATES = 60
MODIFIER_PENALTY = 0.85  # per action word of a name the question does not say ("cấp lại" when asked "cấp")
MODIFIERS = frozenset("lai doi han hoi chinh dut xoa sung huy dung ngung thay".split())  # folded: lại, đổi, gia hạn, thu hồi...
ACCENT = "~"  # index key prefix of a name's syllables as written with their diacritics
ACCENT_WEIGHT = 0.35  # a syllable typed with diacritics that the name writes otherwise (mấy / máy) counts this much
NO_PAIR_PENALTY = 0.75
MIN_MATCHED = 1.6  # matched idf mass (in mean idfs) below which an answer needs two named words

# Words that ask rather than name (folded); the catalogue ignores them in questions. Phrases go first
# ("thu tuc", "ho so"): alone, "thu" and "ho" name things (thu hồi, hộ kinh doanh).
QUERY_STOP_PHRASES = tuple(tuple(p.split()) for p in """
thu tuc|ho so|giay to|le phi|bao nhieu|bao lau|o dau|the nao|nhu the nao|lam sao|lam the nao|tu van|huong dan|cho hoi
|hom nay|bay gio|lam sao|the sao|ra sao|o dau|di dau|khi nao|luc nao|can lam gi|can gi|mat bao lau|mat may ngay|can nhung gi|nop o dau|lam o dau|phai lam gi|di dau|duoc khong
|co duoc khong|la gi|the nao a|ra sao|cho em hoi|cho toi hoi|cho minh hoi|xin hoi|muon hoi|nguoi ta|ai lam|o nha
""".replace("\n", "").split("|") if p.strip())
QUERY_STOP = frozenset("""
a ah oi alo bn biet cach hoi_ khong duoc em gi giup gium hay la lam muon nao nay ne nhe nhi ra roi toi tui voi vs
xin xong nhung cac anh nhieu uh uk ok dc ko k j vui long""".split())


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One official procedure as an official list states it."""

    code: str
    name: str
    field: str
    levels: tuple[str, ...]
    online: str  # one of ONLINE
    agency: str
    page: str  # the procedure's page on the portal, when the list gives one
    source: str
    source_date: str
    level_basis: str = "stated"
    origin: str = ""  # the catalogue file the row came from

    @property
    def id(self) -> str:
        return ID_PREFIX + self.code

    @property
    def link(self) -> str:
        """The national portal's page for the code."""
        return PORTAL_LINK.format(code=self.code)


def is_catalogue_id(entry_id: str) -> bool:
    return entry_id.startswith(ID_PREFIX)


def catalogue_files(kb_dir: Path) -> list[Path]:
    folder = kb_dir / FOLDER
    return sorted(p for p in folder.glob("*.csv") if p.is_file()) if folder.is_dir() else []


def _row_problems(row: dict[str, str], where: str) -> list[Problem]:
    out: list[Problem] = []
    for col in REQUIRED:
        if not (row.get(col) or "").strip():
            out.append(Problem(where, col, "thiếu giá trị"))
    code = (row.get("code") or "").strip()
    if code and not CODE_RE.match(code):
        out.append(Problem(where, "code", f"mã '{code}' không đúng dạng 1.004222"))
    levels = [x for x in (row.get("level") or "").split("|") if x]
    bad = [x for x in levels if x not in LEVELS]
    if bad:
        out.append(Problem(where, "level", f"cấp '{'|'.join(bad)}' không rõ (dùng {', '.join(LEVELS)})"))
    online = (row.get("online") or "").strip()
    if online and online not in ONLINE:
        out.append(Problem(where, "online", f"'{online}' không rõ (dùng {', '.join(ONLINE)})"))
    basis = (row.get("level_basis") or "stated").strip()
    if basis not in LEVEL_BASIS:
        out.append(Problem(where, "level_basis", f"'{basis}' không rõ (dùng {', '.join(LEVEL_BASIS)})"))
    page = (row.get("page") or "").strip()
    if page:
        url = urlparse(page)
        if url.scheme != "https" or not url.netloc.endswith("dichvucong.gov.vn") or not url.path.strip("/"):
            out.append(Problem(where, "page", f"'{page}' không phải một trang của dichvucong.gov.vn"))
    date = (row.get("source_date") or "").strip()
    if date and not DATE_RE.match(date):
        out.append(Problem(where, "source_date", f"ngày '{date}' không đúng dạng YYYY-MM-DD"))
    return out


def read_rows(path: Path) -> tuple[list[CatalogueEntry], list[Problem]]:
    """The valid rows of one catalogue file and the problems of the others (with line numbers)."""
    entries: list[CatalogueEntry] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            return [], [Problem(path.name, "-", f"thiếu cột {', '.join(missing)}")]
        for row in reader:
            where = f"{path.name}:{reader.line_num}"
            found = _row_problems(row, where)
            code = (row.get("code") or "").strip()
            if code in seen:
                found.append(Problem(where, "code", f"mã {code} trùng dòng {seen[code]}"))
            if found:
                problems.extend(found)
                continue
            seen[code] = reader.line_num
            entries.append(CatalogueEntry(
                code=code, name=" ".join(row["name"].split()), field=row["field"].strip(),
                levels=tuple(dict.fromkeys(x for x in row["level"].split("|") if x)), online=row["online"].strip(),
                agency=row["agency"].strip(), page=(row.get("page") or "").strip(), source=row["source"].strip(),
                source_date=row["source_date"].strip(), level_basis=(row.get("level_basis") or "stated").strip(),
                origin=path.name))
    return entries, problems


def load_entries(kb_dir: Path) -> tuple[list[CatalogueEntry], list[Problem]]:
    """Every catalogue row of the folder, later files replacing earlier rows with the same code."""
    by_code: dict[str, CatalogueEntry] = {}
    problems: list[Problem] = []
    for path in catalogue_files(kb_dir):
        entries, found = read_rows(path)
        problems.extend(found)
        for e in entries:
            by_code[e.code] = e
    return list(by_code.values()), problems


# --- index ------------------------------------------------------------------------------------


def _analyze(text: str, table: Abbreviations, words: Abbreviations | None, query: bool) -> list[str]:
    return [f for f, _ in _analyze_marked(text, table, words, query)]


def _analyze_marked(text: str, table: Abbreviations, words: Abbreviations | None,
                    query: bool) -> list[tuple[str, str]]:
    """(folded, as typed) syllables; in a question, without the words that only ask."""
    tokens = normalize_tokens(text)
    if words is not None:
        tokens = words.apply(tokens)
    tokens = table.apply(tokens)
    pairs = [(fold_token(t), t) for t in tokens]
    folded = [f for f, _ in pairs]
    if query:
        kept: list[tuple[str, str]] = []
        i = 0
        while i < len(folded):
            for phrase in QUERY_STOP_PHRASES:
                if tuple(folded[i:i + len(phrase)]) == phrase:
                    i += len(phrase)
                    break
            else:
                if folded[i] not in QUERY_STOP and not folded[i].isdigit():
                    kept.append(pairs[i])
                i += 1
        pairs = kept
    return pairs


def _terms(folded: list[str]) -> list[str]:
    return folded + [f"{a} {b}" for a, b in zip(folded, folded[1:])]


@dataclass
class CatalogueIndex:
    """Idf-weighted syllables and syllable pairs of the names (and, weakly, fields) of the rows."""

    codes: list[str]
    postings: dict[str, tuple[array, array]]  # term -> (row indexes, weight in that row)
    idf: dict[str, float]
    name_sizes: array  # distinct name syllables per row
    modifiers: list[tuple[str, ...]]  # per row: its name's action words (MODIFIERS)
    mean_idf: float
    candidate_df: int

    @classmethod
    def build(cls, entries: list[CatalogueEntry], table: Abbreviations, words: Abbreviations | None) -> "CatalogueIndex":
        post: dict[str, dict[int, float]] = {}
        sizes = array("H")
        mods: list[tuple[str, ...]] = []
        for n, e in enumerate(entries):
            weights: dict[str, float] = {}
            marked = _analyze_marked(e.name, table, words, query=False)
            name = [f for f, _ in marked]
            for term in _terms(name):
                weights[term] = 1.0
            for f, typed in marked:
                if typed != f:
                    weights[ACCENT + typed] = 1.0
            for term in _analyze(e.field, table, words, query=False):
                weights.setdefault(term, FIELD_WEIGHT)
            for term, w in weights.items():
                post.setdefault(term, {})[n] = w
            sizes.append(min(len(set(name)), 65535))
            mods.append(tuple(sorted(set(name) & MODIFIERS)))
        total = max(len(entries), 1)
        idf = {t: math.log(1 + (total - len(p) + 0.5) / (len(p) + 0.5)) for t, p in post.items()}
        postings = {t: (array("i", p.keys()), array("f", p.values())) for t, p in post.items()}
        unigrams = [v for t, v in idf.items() if " " not in t and not t.startswith(ACCENT)]
        mean = sum(unigrams) / max(len(unigrams), 1)
        return cls([e.code for e in entries], postings, idf, sizes, mods, mean, max(8, int(total * CANDIDATE_DF)))

    def search(self, marked: list[tuple[str, str]], limit: int = 3) -> list[tuple[int, float]]:
        """Rows by score (0..1): the share of the question's idf mass the row's name covers."""
        if not marked:
            return []
        folded = [f for f, _ in marked]
        typed = {f: t for f, t in marked if t != f}  # syllables typed with diacritics
        qterms: dict[str, float] = {}  # unigrams
        pairs: dict[str, float] = {}
        unknown = 0.0
        for t in dict.fromkeys(folded):
            if t in self.idf:
                qterms[t] = self.idf[t]
            elif len(t) > 1:
                unknown += self.mean_idf * UNKNOWN_SHARE
        for a, b in zip(folded, folded[1:]):
            t = f"{a} {b}"
            if t in self.idf:
                pairs[t] = self.idf[t]
        if not qterms:
            return []
        mass = sum(qterms.values()) + unknown
        pair_mass = sum(pairs.values()) or 1.0
        # candidates from the rarer terms first; common ones only add to rows already found
        ordered = sorted([*qterms, *pairs], key=lambda t: len(self.postings[t][0]))
        acc: dict[int, float] = {}
        for t in ordered:
            rows, _ = self.postings[t]
            if acc and len(rows) > self.candidate_df:
                break
            w = qterms.get(t) or pairs[t]
            for r in rows[: self.candidate_df * 4]:
                acc[r] = acc.get(r, 0.0) + w
        best = sorted(acc, key=acc.__getitem__, reverse=True)[:MAX_CANDIDATES]
        scored: list[tuple[int, float]] = []
        for r in best:
            matched = 0.0
            names = 0
            for t, w in qterms.items():
                rows, ws = self.postings[t]
                i = _find(rows, r)
                if i >= 0:
                    accent = typed.get(t)
                    if accent is not None:
                        p = self.postings.get(ACCENT + accent)
                        if p is None or _find(p[0], r) < 0:
                            w *= ACCENT_WEIGHT
                    matched += w * ws[i]
                    names += ws[i] == 1.0
            paired = 0.0
            for t, w in pairs.items():
                rows, ws = self.postings[t]
                if _find(rows, r) >= 0:
                    paired += w
            cover = matched / mass
            share = min(names / max(self.name_sizes[r], 1), 1.0)
            score = cover * (0.72 + 0.2 * share + 0.08 * paired / pair_mass)
            for word in self.modifiers[r]:
                if word not in qterms:
                    score *= MODIFIER_PENALTY
            if not paired and len(qterms) >= 2:
                score *= NO_PAIR_PENALTY  # no two words of the question stand together in the name
            if matched < MIN_MATCHED * self.mean_idf and names < 2:
                score *= 0.7  # one common word in common is no evidence
            scored.append((r, score))
        scored.sort(key=lambda x: (-x[1], self.name_sizes[x[0]]))
        return scored[:limit]


def _find(rows: array, r: int) -> int:
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[mid] < r:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(rows) and rows[lo] == r else -1


@dataclass(frozen=True)
class CatalogueMatch:
    entry: CatalogueEntry
    score: float


@dataclass
class Catalogue:
    """The catalogue rows (minus those a curated entry covers) and their index."""

    entries: dict[str, CatalogueEntry]  # by code
    index: CatalogueIndex
    table: Abbreviations
    words: Abbreviations | None
    problems: list[Problem] = field(default_factory=list)
    hidden: frozenset[str] = frozenset()  # codes a curated entry answers
    cached: bool = False  # the index came from the disk cache

    def get(self, entry_id: str) -> CatalogueEntry | None:
        if not is_catalogue_id(entry_id):
            return None
        return self.entries.get(entry_id[len(ID_PREFIX):])

    def search(self, text: str, limit: int = 3) -> list[CatalogueMatch]:
        marked = _analyze_marked(text[:1000], self.table, self.words, query=True)
        out: list[CatalogueMatch] = []
        for r, score in self.index.search(marked, limit + 2 + (len(self.hidden) > 0) * 3):
            code = self.index.codes[r]
            if code in self.hidden:
                continue
            out.append(CatalogueMatch(self.entries[code], score))
            if len(out) == limit:
                break
        return out

    def decide(self, found: list[CatalogueMatch]) -> str:
        """answer / ask / none. Close runners-up that only add words to the best name (its level or case
        variants: "... (cấp tỉnh)", "... có yếu tố nước ngoài") do not make it a question."""
        if not found or found[0].score < ASK_SCORE:
            return "none"
        clear = len(found) == 1 or found[0].score - found[1].score >= CLEAR_MARGIN
        if found[0].score < ANSWER_SCORE:
            return "answer" if clear and found[0].score >= CLEAR_SCORE else "ask"
        top = set(_analyze(found[0].entry.name, self.table, self.words, query=False))
        for other in found[1:]:
            if found[0].score - other.score >= ANSWER_MARGIN:
                break
            if not top <= set(_analyze(other.entry.name, self.table, self.words, query=False)):
                return "ask"
        return "answer"

    def __len__(self) -> int:
        return len(self.entries) - len(self.hidden)


def data_hash(kb_dir: Path, abbreviations: Path | None = None) -> str:
    digest = hashlib.sha256(f"catalogue-index-{INDEX_VERSION}".encode())
    paths = [*catalogue_files(kb_dir), kb_dir / FOLDER / WORDS_FILE]
    if abbreviations is not None:
        paths.append(abbreviations)
    for path in paths:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def default_cache_dir() -> Path:
    """``CATALOGUE_CACHE_DIR``, else ``data/cache`` under the working folder (the database's folder by default)."""
    return Path(os.environ.get("CATALOGUE_CACHE_DIR") or Path("data") / "cache")


def load_catalogue(kb_dir: Path, curated_codes: set[str] | frozenset[str] = frozenset(),
                   abbreviations: Path | None = None, cache_dir: Path | None = None) -> Catalogue | None:
    """The folder's catalogue, or None when it has no catalogue file. The index is cached on disk."""
    files = catalogue_files(kb_dir)
    if not files:
        return None
    table = load_abbreviations(abbreviations)
    words_path = kb_dir / FOLDER / WORDS_FILE
    words = Abbreviations.load(words_path) if words_path.is_file() else None
    key = data_hash(kb_dir, abbreviations)
    cache = (cache_dir or default_cache_dir()) / f"catalogue-{key}.pickle"
    try:
        with cache.open("rb") as fh:
            entries, index, problems = pickle.load(fh)
        cat = Catalogue({e.code: e for e in entries}, index, table, words, problems, cached=True)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        entries, problems = load_entries(kb_dir)
        index = CatalogueIndex.build(entries, table, words)
        cat = Catalogue({e.code: e for e in entries}, index, table, words, problems)
        _write_cache(cache, (entries, index, problems))
    cat.hidden = frozenset(c for c in curated_codes if c in cat.entries)
    for p in cat.problems:
        log.warning("catalogue problem: %s", p)
    return cat


def _write_cache(path: Path, payload: object) -> None:
    """Write atomically (another worker may be reading or writing the same key); a failure only costs time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".catalogue-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("catalogue index not cached in %s: %s", path.parent, exc)


def check(kb_dir: Path) -> tuple[list[Problem], int]:
    """Problems of the catalogue files (``kb check``) and the number of valid rows."""
    entries, problems = load_entries(kb_dir)
    for e in entries:
        link = urlparse(e.link)
        if not (link.scheme == "https" and link.netloc and e.code in link.query):
            problems.append(Problem(e.origin, e.code, f"không dựng được đường dẫn chính thức: {e.link}"))
    words_path = kb_dir / FOLDER / WORDS_FILE
    if words_path.is_file():
        try:
            Abbreviations.load(words_path)
        except Exception as exc:  # a broken YAML file is a problem to report, not a crash
            problems.append(Problem(f"{FOLDER}/{WORDS_FILE}", "-", f"không đọc được: {exc}".splitlines()[0]))
    return problems, len(entries)


@dataclass(frozen=True)
class CatalogueReading:
    """What the catalogue tier says about a message the curated entries did not answer."""

    decision: str  # "answer" | "ask"
    matches: list[CatalogueMatch]


def consult(catalogue: Catalogue | None, text: str, decision: str, best_score: float, limit: str = "",
            out_of_scope: bool = False, curated_names: tuple[str, ...] = ()) -> CatalogueReading | None:
    """The catalogue's reading of a procedure question, or None when the curated reading stands.

    Consulted when the curated entries found nothing, were unsure (``decision`` "ask"), or answered weakly
    while the catalogue names a procedure far more clearly (``OVERRIDE_MARGIN``); never for a topic the
    assistant does not cover (``limit``) nor for text that reads as prices, weather, sport...
    """
    if catalogue is None or limit or out_of_scope or not text.strip():
        return None
    found = catalogue.search(text, 3)
    verdict = catalogue.decide(found)
    if verdict == "none":
        return None
    if decision == "answer" and not (verdict == "answer" and best_score < OVERRIDE_BELOW
                                     and found[0].score >= best_score + OVERRIDE_MARGIN):
        return None
    if decision != "none" and curated_names:
        top = set(_analyze(found[0].entry.name, catalogue.table, catalogue.words, query=True))
        for name in curated_names:  # the curated candidate is this very procedure (no code links them)
            words = set(_analyze(name, catalogue.table, catalogue.words, query=True))
            if top and len(top & words) / len(top) >= SAME_NAME:
                return None
    if decision == "ask" and verdict != "answer":
        return None  # both unsure: the curated choices stay
    return CatalogueReading(verdict, found if verdict == "ask" else found[:1])
