"""The official catalogue tier: one row per procedure of the national database (CSDL TTHC), answered with a short card.

Curated entries (``entries/*.yaml``) are complete and checked; the catalogue knows only what an official list
says about a procedure: its code, name, field, the level that handles it, whether it can be done online, the
agency, and where the list came from. Files are ``<kb>/catalogue/*.csv`` (one header, columns below), read in
name order with provinces' files (``province-*.csv``, written by ``kb import``) last: a later file's row
replaces an earlier one with the same code, so a province's own list goes on top of the bundled national one.

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
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from knowledge.loader import Problem
from knowledge.normalize import Abbreviations, fold_token, load_abbreviations, normalize_tokens

log = logging.getLogger(__name__)

FOLDER = "catalogue"
WORDS_FILE = "words.yaml"  # everyday words -> the catalogue's official wording (abbreviations format)
ID_PREFIX = "tthc:"
CURATED = "@"  # index codes of the rows that stand for curated entries' names and aliases  # entry ids of catalogue rows (the focus and the question log use them)
PORTAL_LINK = "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc-hanh-chinh.html?ma_thu_tuc={code}"
CODE_RE = re.compile(r"^\d\.\d{6}$")
LEVELS = ("commune", "province", "central", "other", "unknown")  # unknown: the source names no level
ONLINE = ("full", "partial", "online", "in_person", "unknown")
LEVEL_BASIS = ("stated", "agency", "none")  # level as the source states it / read from the agency named
COLUMNS = ("code", "name", "field", "level", "level_basis", "online", "agency", "page", "source", "source_date")
REQUIRED = ("code", "name", "field", "level", "online", "source", "source_date")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INDEX_VERSION = 12  # bump when the index layout or the analysis changes

# Scoring
ANSWER_SCORE = 0.62
ASK_SCORE = 0.45
ANSWER_MARGIN = 0.04
CLEAR_SCORE = 0.45  # below ANSWER_SCORE, a best row this far ahead of the next is still the answer
CLEAR_MARGIN = 0.1
OVERRIDE_MARGIN = 0.1  # a catalogue row this far above every curated name (same scale) overrides a curated answer
OVERRIDE_BELOW = 0.7  # ... when the curated matcher's own score is below this
DECISIVE_IDF = 2.0  # a word this far above the mean idf is rare enough to name a procedure by itself
DECISIVE_SLACK = 0.05
SUB_CASE_SCORE = 0.45  # a curated name this close, wholly inside the catalogue row's name, keeps the curated answer
ASK_OVER_MARGIN = 0.1  # ... and replaces the curated "did you mean" choices
OUT_OF_SCOPE_SCORE = 0.75  # text that reads as travel, health, prices...: only a clear catalogue answer this strong
FIELD_WEIGHT = 0.3
UNKNOWN_SHARE = 0.8  # a query syllable the catalogue never uses weighs this share of the mean idf
CANDIDATE_DF = 0.06  # terms in more rows than this share only score candidates found by rarer terms
MAX_CANDIDATES = 60
MODIFIER_PENALTY = 0.85  # per action word of a name the question does not say ("cấp lại" when asked "cấp")
# action words of a name (folded; a phrase counts when its syllables stand together): cấp lại, đổi, gia hạn...
MODIFIERS = tuple(tuple(p.split()) for p in (
    "lai", "doi", "gia han", "thu hoi", "dieu chinh", "cham dut", "xoa", "bo sung", "huy", "dung", "tam ngung",
    "thong bao", "giai the", "sap nhap", "dinh chi", "mien nhiem", "kiem tra", "tham dinh", "phe duyet", "chap thuan"))
ACCENT = "~"  # index key prefix of a name's syllables as written with their diacritics
ACCENT_WEIGHT = 0.35  # a syllable typed with diacritics that the name writes otherwise (mấy / máy) counts this much
NO_PAIR_PENALTY = 0.6
UNMATCHED_SHARE = 0.8  # an unmatched question word weighs this share of min(its idf, the mean idf)
PAIR_COVER = 0.0  # share of a syllable pair's idf counted in the coverage (pairs say more than their syllables)
MIN_MATCHED = 1.6  # matched idf mass (in mean idfs) below which an answer needs two named words

# Words that ask rather than name (folded); the catalogue ignores them in questions. Phrases go first
# ("thu tuc", "ho so"): alone, "thu" and "ho" name things (thu hồi, hộ kinh doanh).
QUERY_STOP_PHRASES = tuple(tuple(p.split()) for p in """
thu tuc|ho so|giay to|le phi|bao nhieu|bao lau|o dau|the nao|nhu the nao|lam sao|lam the nao|cho hoi
|hom nay|bay gio|lam sao|the sao|ra sao|o dau|di dau|khi nao|luc nao|can lam gi|can gi|mat bao lau|mat may ngay|can nhung gi|nop o dau|lam o dau|phai lam gi|di dau|duoc khong
|co duoc khong|la gi|the nao a|ra sao|cho em hoi|cho toi hoi|cho minh hoi|xin hoi|muon hoi|nguoi ta|ai lam|o nha
""".replace("\n", "").split("|") if p.strip())
# Words about who asks and when (folded): a question says them, a procedure's name rarely names the thing by them;
# unmatched, they weigh LIGHT_SHARE of a word.
LIGHT_WORDS = frozenset("""
con bo me ong ba chong vo chau anh chi em toi minh nha gia dinh ban be hang xom thon xom lang xa phuong
nam thang ngay tuan hom nay mai qua truoc sau roi gio moi cu lau bi da dang se muon can xin mo
""".split())
LIGHT_SHARE = 0.3
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


_QUALIFIER = re.compile(
    r"\([^)]*\)|\bthủ tục\b|\b(?:thuộc thẩm quyền|thực hiện tại|tại cấp|do|của)\b.*$|\bcấp (?:xã|tỉnh|huyện|trung ương)\b", re.I)


@lru_cache(maxsize=20_000)
def core_name(name: str) -> str:
    """A name without its level and authority qualifiers: the same procedure at two levels has one core name."""
    return " ".join(fold_token(t) for t in normalize_tokens(_QUALIFIER.sub(" ", name)))


def curated_texts(entry: object) -> list[str]:
    """What a curated entry is called: its name, each alias, and its name with its keywords."""
    name = str(getattr(entry, "name", ""))
    keywords = " ".join(getattr(entry, "keywords", []) or [])
    return [name, *getattr(entry, "aliases", []), *([f"{name} {keywords}"] if keywords else [])]


def is_catalogue_id(entry_id: str) -> bool:
    return entry_id.startswith(ID_PREFIX)


PROVINCE_PREFIX = "province-"  # files ``kb import`` writes; read after the others, so their rows win


def catalogue_files(kb_dir: Path) -> list[Path]:
    """The catalogue files in reading order: national lists first, then provinces' (``province-*.csv``)."""
    folder = kb_dir / FOLDER
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob("*.csv") if p.is_file()),
                  key=lambda p: (p.name.startswith(PROVINCE_PREFIX), p.name))


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


def _contains(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(words[i:i + n]) == phrase for i in range(len(words) - n + 1))


def _terms(folded: list[str]) -> list[str]:
    return folded + [f"{a} {b}" for a, b in zip(folded, folded[1:])]


@dataclass
class CatalogueIndex:
    """Idf-weighted syllables and syllable pairs of the names (and, weakly, fields) of the rows.

    ``postings`` find candidate rows by their rarer terms; each candidate is then scored against its own
    term table (``rows``), a handful of dictionary look-ups per question word.
    """

    codes: list[str]
    postings: dict[str, array]  # term -> row indexes
    rows: list[dict[str, float]]  # per row: term -> weight (1 for its name, FIELD_WEIGHT for its field)
    idf: dict[str, float]
    name_sizes: array  # distinct name syllables per row
    modifiers: list[tuple[str, ...]]  # per row: its name's action words (MODIFIERS)
    mean_idf: float
    candidate_df: int

    @classmethod
    def build(cls, entries: list[CatalogueEntry], table: Abbreviations, words: Abbreviations | None,
              curated: dict[str, list[str]] | None = None) -> "CatalogueIndex":
        """Rows for the catalogue entries, then one row per name and alias of each curated entry
        (code ``CURATED + id``), so that both tiers are scored alike when they compete."""
        post: dict[str, array] = {}
        canon: dict[str, str] = {}  # one string object per term, shared by the rows' tables
        rows: list[dict[str, float]] = []
        sizes = array("H")
        mods: list[tuple[str, ...]] = []
        texts = [(e.code, e.name, e.field) for e in entries]
        texts += [(CURATED + entry_id, name, "") for entry_id, names in (curated or {}).items() for name in names]
        for n, (_, name_text, field_text) in enumerate(texts):
            weights: dict[str, float] = {}
            marked = _analyze_marked(name_text, table, words, query=False)
            name = [f for f, _ in marked]
            for term in _terms(name):
                weights[canon.setdefault(term, term)] = 1.0
            for f, typed in marked:
                if typed != f:
                    key = ACCENT + typed
                    weights[canon.setdefault(key, key)] = 1.0
            for term in _analyze(field_text, table, words, query=False):
                weights.setdefault(canon.setdefault(term, term), FIELD_WEIGHT)
            for term in weights:
                p = post.get(term)
                if p is None:
                    post[term] = p = array("i")
                p.append(n)
            rows.append(weights)
            sizes.append(min(len(set(name)), 65535))
            mods.append(tuple(" ".join(m) for m in MODIFIERS if _contains(name, m)))
        total = max(len(texts), 1)
        idf = {t: math.log(1 + (total - len(p) + 0.5) / (len(p) + 0.5)) for t, p in post.items()}
        unigrams = [v for t, v in idf.items() if " " not in t and not t.startswith(ACCENT)]
        mean = sum(unigrams) / max(len(unigrams), 1)
        return cls([code for code, _, _ in texts], post, rows, idf, sizes, mods, mean,
                   max(8, int(total * CANDIDATE_DF)))

    def search(self, marked: list[tuple[str, str]], limit: int = 3) -> list[tuple[int, float]]:
        """Rows by score (0..1): the share of the question's idf mass the row's name covers."""
        if not marked:
            return []
        folded = [f for f, _ in marked]
        typed = {f: ACCENT + t for f, t in marked if t != f}  # syllables typed with diacritics
        qterms: dict[str, float] = {}  # unigrams
        pairs: dict[str, float] = {}
        unknown = 0.0
        idf = self.idf
        for t in dict.fromkeys(folded):
            if t in idf:
                qterms[t] = idf[t]
            elif len(t) > 1:
                unknown += self.mean_idf * UNKNOWN_SHARE
        for a, b in zip(folded, folded[1:]):
            t = f"{a} {b}"
            if t in idf:
                pairs[t] = idf[t]
        if not qterms:
            return []
        pair_total = sum(pairs.values())
        pair_mass = pair_total or 1.0
        # candidates from the rarer terms first; common ones only add to rows already found
        ordered = sorted([*qterms, *pairs], key=lambda t: len(self.postings[t]))
        acc: dict[int, float] = {}
        cap = self.candidate_df
        for t in ordered:
            found = self.postings[t]
            if acc and len(found) > cap:
                break
            w = qterms.get(t) or pairs[t]
            get = acc.get
            for r in found[: cap * 4]:
                acc[r] = get(r, 0.0) + w
        best = sorted(acc, key=acc.__getitem__, reverse=True)[:MAX_CANDIDATES]
        scored: list[tuple[int, float]] = []
        min_mass = MIN_MATCHED * self.mean_idf
        for r in best:
            table = self.rows[r]
            matched = 0.0
            missed = 0.0
            names = 0
            for t, w in qterms.items():
                ws = table.get(t)
                if ws is None:  # a rare word said but not named weighs less; a word about who asks, little
                    missed += min(w, self.mean_idf) * (LIGHT_SHARE if t in LIGHT_WORDS else UNMATCHED_SHARE)
                    continue
                accent = typed.get(t)
                if accent is not None and accent not in table:  # chưa is not chữa: mostly a word not named
                    missed += w * (1 - ACCENT_WEIGHT)
                    w *= ACCENT_WEIGHT
                matched += w * ws
                names += ws == 1.0
            paired = sum(w for t, w in pairs.items() if t in table)
            cover = (matched + PAIR_COVER * paired) / (matched + missed + unknown + PAIR_COVER * pair_total or 1.0)
            share = min(names / max(self.name_sizes[r], 1), 1.0)
            score = cover * (0.72 + 0.2 * share + 0.08 * paired / pair_mass)
            for word in self.modifiers[r]:
                if word not in qterms and word not in pairs:
                    score *= MODIFIER_PENALTY
            if not paired and len(qterms) >= 2:
                score *= NO_PAIR_PENALTY  # no two words of the question stand together in the name
            if matched < min_mass and names < 2:
                score *= 0.7  # one common word in common is no evidence
            scored.append((r, score))
        scored.sort(key=lambda x: (-x[1], self.name_sizes[x[0]]))
        return scored[:limit]


@dataclass(frozen=True)
class CatalogueMatch:
    entry: CatalogueEntry
    score: float
    row: int = -1  # the index row (its name's words: ``Catalogue.name_words``)


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
        return self.compare(text, limit)[0]

    def compare(self, text: str, limit: int = 3) -> tuple[list[CatalogueMatch], tuple | None]:
        """The best catalogue rows, and the best curated entry on the same scale: (id, score, the words of
        its best-fitting name or alias, the words of its other names that fit well)."""
        marked = _analyze_marked(text[:1000], self.table, self.words, query=True)
        out: list[CatalogueMatch] = []
        curated: tuple | None = None
        others: list[frozenset[str]] = []
        for r, score in self.index.search(marked, limit + 12):
            code = self.index.codes[r]
            if code.startswith(CURATED):
                words = frozenset(t for t, w in self.index.rows[r].items()
                                  if w == 1.0 and " " not in t and not t.startswith(ACCENT))
                if curated is None:
                    curated = (code[len(CURATED):], score, words)
                elif code[len(CURATED):] == curated[0] and score >= SUB_CASE_SCORE:
                    others.append(words)  # the same entry's other names that fit well
            elif code not in self.hidden and len(out) < limit:
                out.append(CatalogueMatch(self.entries[code], score, r))
        if curated is not None:
            curated = (curated[0], curated[1], curated[2], tuple(others))
        return out, curated

    def name_words(self, match: CatalogueMatch) -> frozenset[str]:
        """The folded syllables of a match's name, from its index row (no re-analysis)."""
        if match.row < 0:
            return frozenset(_analyze(match.entry.name, self.table, self.words, query=False))
        return frozenset(t for t, w in self.index.rows[match.row].items()
                         if w == 1.0 and " " not in t and not t.startswith(ACCENT))

    def decide(self, found: list[CatalogueMatch]) -> str:
        """answer / ask / none. Close runners-up that only add words to the best name (its level or case
        variants: "... (cấp tỉnh)", "... có yếu tố nước ngoài") do not make it a question."""
        if not found or found[0].score < ASK_SCORE:
            return "none"
        core = core_name(found[0].entry.name)
        rivals = [m for m in found[1:] if core_name(m.entry.name) != core]  # other levels are not rivals
        clear = not rivals or found[0].score - rivals[0].score >= CLEAR_MARGIN
        if found[0].score < ANSWER_SCORE:
            return "answer" if clear and found[0].score >= CLEAR_SCORE else "ask"
        top = self.name_words(found[0])
        for other in found[1:]:
            if found[0].score - other.score >= ANSWER_MARGIN:
                break
            if core_name(other.entry.name) == core:
                continue  # the same procedure at another level ("... (cấp xã)", "... thuộc thẩm quyền cấp tỉnh")
            if not top <= self.name_words(other):
                return "ask"
        return "answer"

    def __len__(self) -> int:
        return len(self.entries) - len(self.hidden)


def data_hash(kb_dir: Path, abbreviations: Path | None = None, curated: dict[str, list[str]] | None = None) -> str:
    digest = hashlib.sha256(f"catalogue-index-{INDEX_VERSION}".encode())
    for entry_id, names in sorted((curated or {}).items()):
        digest.update("\x1f".join([entry_id, *names]).encode())
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
                   abbreviations: Path | None = None, cache_dir: Path | None = None,
                   curated: dict[str, list[str]] | None = None) -> Catalogue | None:
    """The folder's catalogue, or None when it has no catalogue file. The index is cached on disk.

    ``curated_codes``: codes the curated entries answer (their rows are never offered); ``curated``: the curated
    entries' names and aliases by id, indexed alongside so the two tiers can be compared on one scale."""
    files = catalogue_files(kb_dir)
    if not files:
        return None
    table = load_abbreviations(abbreviations)
    words_path = kb_dir / FOLDER / WORDS_FILE
    words = Abbreviations.load(words_path) if words_path.is_file() else None
    key = data_hash(kb_dir, abbreviations, curated)
    cache = (cache_dir or default_cache_dir()) / f"catalogue-{key}.pickle"
    try:
        with cache.open("rb") as fh:
            entries, index, problems = pickle.load(fh)
        cat = Catalogue({e.code: e for e in entries}, index, table, words, problems, cached=True)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        entries, problems = load_entries(kb_dir)
        index = CatalogueIndex.build(entries, table, words, curated)
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


def _decisive(catalogue: Catalogue, text: str, top: CatalogueMatch, curated: tuple | None, rival: float) -> bool:
    """The catalogue row names a rare word of the question that the best curated name does not ("karaoke"
    beside the hộ kinh doanh entry's "mở quán ... giấy phép"), and fits about as well otherwise."""
    if top.score < rival - DECISIVE_SLACK:
        return False
    rare = catalogue.index.mean_idf + DECISIVE_IDF
    words = {f for f, _ in _analyze_marked(text[:1000], catalogue.table, catalogue.words, query=True)}
    named = catalogue.name_words(top) - (curated[2] if curated else frozenset())
    return any(catalogue.index.idf.get(w, 0.0) >= rare for w in words & named)


@dataclass(frozen=True)
class CatalogueReading:
    """What the catalogue tier says about a message the curated entries did not answer."""

    decision: str  # "answer" | "ask"
    matches: list[CatalogueMatch]


def consult(catalogue: Catalogue | None, text: str, decision: str, best_score: float, limit: str = "",
            out_of_scope: bool = False) -> CatalogueReading | None:
    """The catalogue's reading of a procedure question, or None when the curated reading stands.

    ``decision``/``best_score``: the curated matcher's reading. The catalogue speaks when the curated entries
    found nothing, were unsure, or answered weakly, and a catalogue row explains the question clearly better
    than any curated name or alias does on the catalogue's own scale (``compare``). Never for a topic the
    assistant does not cover (``limit``); text that reads as prices, weather, travel... gets only a clear answer.
    """
    if catalogue is None or not text.strip():
        return None
    if limit:
        from knowledge.limits import get_limit

        topic = get_limit(limit)
        if topic is None or topic.always:
            return None  # "vé máy bay", "facebook": said to be outside, whatever else is named
    found, curated = catalogue.compare(text, 3)
    verdict = catalogue.decide(found)
    if verdict == "none":
        return None
    if limit and not (verdict == "answer" and found[0].score >= ANSWER_SCORE):
        return None  # a topic the assistant does not cover, unless the catalogue names a procedure clearly
    if out_of_scope and not (verdict == "answer" and found[0].score >= OUT_OF_SCOPE_SCORE):
        return None  # "giá vé tour du lịch": not the tourism procedures
    rival = curated[1] if curated else 0.0
    if curated and rival >= SUB_CASE_SCORE and any(
            words <= catalogue.name_words(found[0]) for words in (curated[2], *curated[3])):
        return None  # the row is a case of a curated topic ("thai sản ... khi vợ sinh con"): the curated entry
    if decision == "answer":
        clearly = found[0].score >= ANSWER_SCORE and found[0].score >= rival + OVERRIDE_MARGIN
        if verdict != "answer":
            return None
        if not (clearly and best_score < OVERRIDE_BELOW) and not _decisive(catalogue, text, found[0], curated, rival):
            return None  # (a rare word of the question that only the row names decides even over a good curated score)
    elif decision == "ask":
        if verdict != "answer" or found[0].score < rival + ASK_OVER_MARGIN:
            return None  # both unsure, or a curated name fits as well: the curated choices stay
    elif found[0].score <= rival:
        return None  # a curated name fits better although the curated matcher found nothing sure
    return CatalogueReading(verdict, found if verdict == "ask" else found[:1])
