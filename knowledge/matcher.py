"""Match a citizen's question to a knowledge entry.

Pipeline: intent rules (``knowledge.intent``) -> for knowledge questions, a BM25 index
over folded syllables and syllable pairs of every entry's names, aliases, keywords and
key content -> typo repair of unknown query syllables (edit distance 1 against the
index vocabulary) -> re-ranking of the best candidates with an alias table and
rapidfuzz -> a score in 0..1 that one threshold pair turns into answer / ask / none.
"""

from __future__ import annotations

import math
import re
from array import array
from bisect import bisect_left
from collections import OrderedDict, defaultdict
from heapq import nlargest
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from knowledge.intent import classify, load_rules, looks_out_of_scope
from knowledge.limits import find_limit
from knowledge.normalize import Abbreviations, fold_token, has_marks, load_abbreviations, normalize_tokens
from knowledge.schema import Faq, Procedure

MAX_QUERY_CHARS = 1000  # longer messages are cut: the question is at the start
MAX_QUERY_WORDS = 60

# Words that say nothing about which procedure is meant (normalized, with diacritics).
STOPWORDS = frozenset(normalize_tokens(
    "tôi tui tao em anh chị mình bạn bot admin ạ à ơi ừ cho hỏi xin vui lòng giúp với của là thì mà "
    "và hay hoặc có không được chưa rồi gì nào thế như những các nhé nha nhá vậy ở đâu đã đang sẽ "
    "muốn cần phải bị này kia đó nếu khi để cũng nên vẫn còn thôi luôn cùng tại từ trong "
    "theo về nhau ai làm đi ra vào bây giờ hiện nay hôm thưa dạ vâng nhỉ hả hở chứ "
    "mấy nhiều ít rất quá lắm biết cách nhờ ok cái thằng chiếc sớm giùm dùm kính"
))
# Typed without diacritics, only these are surely stopwords ("con" may be còn or con, "tu" từ or tử).
_STOP_FOLDED = frozenset((
    "toi tui tao em anh minh ad admin a oi u cho xin vui giup voi la thi va hay hoac co khong duoc "
    "chua roi gi nao nhe nha vay o da se muon phai bi nay kia neu khi cung nen thoi luon trong theo "
    "ve nhau ai lam di ra vao hien hom thua vang nhi ha may nhieu it rat qua lam biet cach nho ok"
).split())
STOP_PHRASES = tuple(tuple(normalize_tokens(p)) for p in (
    "bao nhiêu", "bao lâu", "bao giờ", "như thế nào", "thế nào", "ra sao", "làm sao", "vì sao",
    "tại sao", "thủ tục", "hôm nay", "cho tôi hỏi", "xin hỏi", "gồm những", "ở đâu", "có thể",
    "một số", "được không", "mất bao lâu", "mất bao nhiêu", "mất mấy", "mất phí", "mất tiền",
))
# Aspects a citizen asks about any procedure (fees, papers, time): they say little about *which*.
ASPECT_WORDS = frozenset(fold_token(t) for t in normalize_tokens(
    "điều kiện giấy tờ hồ sơ lệ phí phí chi tiền thời gian ngày nộp trực tuyến chuẩn bị mang gồm "
    "mẫu tờ khai quy trình bước kết quả nhận đăng kí cấp thủ tục nơi cơ quan hạn lâu nhanh"
))
# Family words say who the paper is for ("cho cháu nội", "bố đẻ"), rarely which procedure it is.
PEOPLE_WORDS = frozenset(fold_token(t) for t in normalize_tokens(
    "cháu nội ngoại ông bà bố mẹ cha má ba đẻ ruột vợ chồng bé cụ bác chú cô dì cậu mợ thím"
))
# Spans of time ("sinh được 3 tháng", "quá hạn 2 năm") say when, rarely which procedure.
TIME_WORDS = frozenset(fold_token(t) for t in normalize_tokens("tháng tuần năm hôm"))  # (not "chiều": hộ chiếu)
ASPECT_WORDS = ASPECT_WORDS | PEOPLE_WORDS | TIME_WORDS
OPTIONAL_WORDS = PEOPLE_WORDS | TIME_WORDS
ASPECT_WEIGHT = 0.35

# Field weights (term frequency multipliers, BM25F style).
W_NAME, W_ALIAS, W_KEYWORD, W_QUESTION, W_FIELD, W_CONTENT = 3.0, 3.0, 2.0, 2.0, 1.0, 0.4
K1, B = 1.2, 0.35
BIGRAM_BOOST = 1.3        # a matched syllable pair says more than two single syllables
TYPO_WEIGHT = 0.7          # a repaired syllable counts less than a typed one
UNKNOWN_WEIGHT = 0.6      # share of the mean idf an unknown query syllable adds to the total
MIN_EVIDENCE = 1.2        # matched idf mass (in mean idfs) below which scores shrink
ACCENT_PENALTY = 0.08     # accented query words that the entry spells differently (thuế/thuê)
W_COVERAGE, W_PHRASE, W_ALIAS_SCORE, W_FUZZY = 0.45, 0.15, 0.30, 0.10
NUMBER_WEIGHT = 0.3       # "10 tuổi", "lớp 7": numbers rarely name a procedure
ALIAS_MIN_IDF = 2.5
ALIAS_EXACT_SHARE = 0.85  # an alias that makes up this share of the question is an exact hit       # an alias needs this idf mass (in mean idfs) to count fully
OUT_OF_SCOPE_FACTOR = 0.6  # score multiplier when the text looks like prices, weather, sport...
ACCENT_PREFIX = "~"  # index key prefix of the accented words of an entry (for tie-breaks)
RERANK_DEPTH = 6
POOL_DEPTH = 15  # a message's best entries (by BM25) among which its parts are searched again
WITHIN_DEPTH = 3  # candidates re-ranked for a part of a message (the whole was re-ranked at RERANK_DEPTH)
PHASE2_DEPTH = 15
MEMO_SIZE = 256  # recent match/search results kept (results are immutable; the index never changes)
COMMON_DF_SHARE = 0.04     # terms in more docs than this only score existing candidates
DENSE_POSTINGS = 1024      # rare-term postings longer than this (in all) are summed with numpy, not a dict


@dataclass(frozen=True)
class Candidate:
    id: str
    score: float  # 0..1


@dataclass(frozen=True)
class MatchResult:
    query: str
    normalized: str  # folded + expanded text
    intent: str  # "procedure" | "status" | "complaint" | "help" | "unknown"
    matches: list[Candidate]  # at most 3, best first; empty for any intent but "procedure"
    decision: str  # "answer" | "ask" | "none"
    help_kind: str = ""
    dossier_code: str | None = None
    wants_guide: bool = False
    limit: str = ""  # a topic this assistant does not cover (knowledge/data/limits.yaml), if the text is one


@dataclass
class _Query:
    """A query reduced to weighted index terms."""

    terms: dict[str, float]  # term -> query weight (typo repairs weigh less)
    unknown: int  # content syllables found nowhere in the index
    folded: list[str]  # content syllables, folded, repaired
    accented: list[str]  # content syllables as typed (normalized)
    text: str  # folded content text, for fuzzy comparison


@dataclass(slots=True)
class _Doc:
    id: str
    aliases: list[str]  # folded content syllables of name and aliases, joined by spaces


_STOP_PHRASE_BY_FIRST: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = defaultdict(list)
for _phrase in STOP_PHRASES:
    _STOP_PHRASE_BY_FIRST[fold_token(_phrase[0])].append((_phrase, tuple(fold_token(t) for t in _phrase)))
_stop_cache: dict[str, bool] = {}


def _is_stop(tok: str) -> bool:
    flag = _stop_cache.get(tok)
    if flag is None:
        flag = tok in STOPWORDS or (not has_marks(tok) and tok in _STOP_FOLDED)
        _stop_cache[tok] = flag
    return flag


def _stop_phrase_len(tokens: list[str], i: int, phrases: list) -> int:
    """Length of the stop phrase starting at ``tokens[i]`` (0 if none)."""
    for phrase, folded in phrases:
        size = len(phrase)
        span = tuple(tokens[i : i + size])
        if span == phrase or (span == folded and not any(has_marks(t) for t in span)):
            return size
    return 0


def _content(tokens: list[str]) -> list[str]:
    """Drop stop phrases and stopwords from normalized tokens."""
    return _analyze_tokens(tokens)[0]


def _analyze_tokens(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Content words of normalized tokens (stop phrases and stopwords dropped), and their folded forms."""
    folded = [fold_token(t) for t in tokens]
    stop = _stop_cache
    if _STOP_PHRASE_BY_FIRST.keys().isdisjoint(folded):
        keep = [i for i, t in enumerate(tokens) if not (stop[t] if t in stop else _is_stop(t))]
        return [tokens[i] for i in keep], [folded[i] for i in keep]
    acc: list[str] = []
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        phrases = _STOP_PHRASE_BY_FIRST.get(folded[i])
        if phrases:
            size = _stop_phrase_len(tokens, i, phrases)
            if size:
                i += size
                continue
        if not _is_stop(tok):
            acc.append(tok)
            out.append(folded[i])
        i += 1
    return acc, out


def _analyze(table: Abbreviations, text: str) -> tuple[list[str], list[str]]:
    """Normalize, expand abbreviations, drop stopwords: (accented, folded) content words."""
    tokens = normalize_tokens(text)
    if not table.starts.isdisjoint(tokens):
        tokens = table.apply(tokens)
    return _analyze_tokens(tokens)


def _terms(folded: list[str]) -> list[str]:
    """Unigrams and adjacent pairs ("khai sinh")."""
    return folded + [a + " " + b for a, b in zip(folded, folded[1:])]


def _entry_fields(entry: Procedure | Faq) -> Iterable[tuple[str, str, float]]:
    """(kind, text, weight) triples that describe an entry; kind "alias" feeds the alias table."""
    yield "alias", entry.name, W_NAME
    for alias in entry.aliases:
        yield "alias", alias, W_ALIAS
    for kw in entry.keywords:
        yield "keyword", kw, W_KEYWORD
    yield "field", entry.field, W_FIELD
    if isinstance(entry, Faq):
        yield "question", entry.question, W_QUESTION
        yield "content", entry.answer, W_CONTENT
        for step in entry.steps:
            yield "content", step.text, W_CONTENT
            for p in step.problems:
                yield "content", p.problem, W_CONTENT
    else:
        for doc in entry.documents:
            yield "content", doc.name, W_CONTENT
        yield "content", entry.who, W_CONTENT
        yield "content", entry.result, W_CONTENT
        for q in entry.eligibility:
            yield "content", q.question, W_CONTENT


@dataclass
class Matcher:
    """Intent rules plus a small BM25 index over the knowledge entries."""

    ANSWER_THRESHOLD = 0.50
    ASK_THRESHOLD = 0.33
    ASK_MARGIN = 0.06  # top two this close: ask which one

    abbreviations: Abbreviations
    docs: list[_Doc]
    postings: dict[str, tuple[array, array]]  # term -> (sorted doc indexes, idf * saturated tf)
    idf: dict[str, float]
    mean_idf: float
    deletes: dict[str, list[str]] = field(default_factory=dict)  # typo index
    common_df: int = 0
    # per doc: for each alias, its (term, weight) pairs and their total; filled on first use
    _alias_terms: dict[int, list[tuple[frozenset[str], list[tuple[str, float]], float]]] = field(
        default_factory=dict, repr=False)
    # recent results (the conversation reads one message several ways: whole, clauses, name apart)
    _memo: OrderedDict = field(default_factory=OrderedDict, repr=False)
    # per common term: its best docs (a query of common words only starts there); filled on first use
    _term_heads: dict[str, list[tuple[int, float]]] = field(default_factory=dict, repr=False)

    # --- build ----------------------------------------------------------------------

    @classmethod
    def build(cls, entries: Sequence[Procedure | Faq], abbreviations: Path | None = None) -> "Matcher":
        """Index the entries (fast: the bot builds the index at start).

        Postings are filled with raw term frequencies in one pass and turned into BM25
        weights in place once document frequencies are known, so no per-entry term table
        is kept (10,000 entries stay well under 200 MB).
        """
        table = load_abbreviations(abbreviations)
        post: dict[str, tuple[array, array]] = {}
        lengths = array("f")
        docs: list[_Doc] = []
        for n, entry in enumerate(entries):
            tf: dict[str, float] = {}
            get = tf.get
            aliases: dict[str, None] = {}
            length = 0.0
            for kind, text, weight in _entry_fields(entry):
                toks, folded = _analyze(table, text)
                if not folded:
                    continue
                if kind == "alias":
                    aliases[" ".join(folded)] = None
                for term in _terms(folded):
                    tf[term] = get(term, 0.0) + weight
                length += weight * (2 * len(folded) - 1)
                if weight >= W_KEYWORD:  # accented forms of names, aliases and keywords
                    for tok, f in zip(toks, folded):
                        if tok != f:
                            tf[ACCENT_PREFIX + tok] = 1.0
            for term, f in tf.items():
                p = post.get(term)
                if p is None:
                    post[term] = p = (array("i"), array("f"))
                p[0].append(n)
                p[1].append(f)
            lengths.append(max(length, 1.0))
            docs.append(_Doc(entry.id, list(aliases)))
        return cls._from_postings(table, docs, post, lengths)

    @classmethod
    def _from_postings(
        cls, table: Abbreviations, docs: list[_Doc], postings: dict[str, tuple[array, array]], lengths: array
    ) -> "Matcher":
        n = max(len(docs), 1)
        avg = (sum(lengths) / n) or 1.0
        norms = [K1 * (1 - B + B * length / avg) for length in lengths]
        idf: dict[str, float] = {}
        for term, (posting, fs) in postings.items():
            d = len(posting)
            w = idf[term] = math.log(1 + (n - d + 0.5) / (d + 0.5))
            for k, doc in enumerate(posting):
                f = fs[k]
                fs[k] = w * f / (f + norms[doc])
        unigrams = [t for t in idf if " " not in t and t[0] != ACCENT_PREFIX]
        mean_idf = sum(idf[t] for t in unigrams) / max(len(unigrams), 1)
        matcher = cls(table, docs, postings, idf, mean_idf, common_df=max(64, int(n * COMMON_DF_SHARE)))
        matcher.deletes = _deletes_index(t for t in unigrams if not t.isdigit())
        return matcher

    # --- query ----------------------------------------------------------------------

    def _tokens(self, text: str) -> list[str]:
        """Normalized, abbreviation-expanded tokens of a text (one message is read several ways: kept)."""
        key = ("tokens", text)
        hit = self._memo.get(key)
        if hit is None:
            hit = tuple(self.abbreviations.apply(normalize_tokens(text[:MAX_QUERY_CHARS])))
            self._remember(key, hit)
        return list(hit)  # type: ignore[arg-type]

    def _query(self, text: str) -> _Query:
        tokens = self._tokens(text)
        accented = _content(tokens)[:MAX_QUERY_WORDS]
        folded = [fold_token(t) for t in accented]
        folded, weights = self._repair(folded)
        terms: dict[str, float] = {}
        unknown = 0
        weights = [
            w * ASPECT_WEIGHT if t in ASPECT_WORDS else w * NUMBER_WEIGHT if t.isdigit() else w
            for t, w in zip(folded, weights)
        ]
        for tok, w in zip(folded, weights):
            if tok in self.idf:
                terms[tok] = max(terms.get(tok, 0.0), w)
            elif not tok.isdigit():
                unknown += 1
        for (a, wa), (b, wb) in zip(zip(folded, weights), zip(folded[1:], weights[1:])):
            pair = f"{a} {b}"
            if pair in self.idf:
                terms[pair] = max(terms.get(pair, 0.0), BIGRAM_BOOST * max(wa, wb))  # "khai sinh": as specific as "sinh"
        return _Query(terms, unknown, folded, accented, " ".join(folded))

    def _repair(self, folded: list[str]) -> tuple[list[str], list[float]]:
        """Map unknown syllables to known ones (edit distance 1, or a split in two)."""
        out: list[str] = []
        weights: list[float] = []
        for i, tok in enumerate(folded):
            if tok in self.idf or tok.isdigit() or len(tok) < 2:
                out.append(tok)
                weights.append(1.0)
                continue
            split = self._split(tok)
            if split:
                out.extend(split)
                weights.extend([TYPO_WEIGHT, TYPO_WEIGHT])
                continue
            prev = out[-1] if out and weights[-1] == 1.0 else ""
            nxt = folded[i + 1] if i + 1 < len(folded) and folded[i + 1] in self.idf else ""
            fixed, paired = self._correct(tok, prev, nxt)
            if fixed and (paired or not is_syllable(tok)):
                out.append(fixed)
                weights.append(TYPO_WEIGHT)
            else:
                out.append(tok)
                weights.append(1.0)
        return out, weights

    def _split(self, tok: str) -> list[str] | None:
        """'khaisinh' -> ['khai', 'sinh'] when the pair is indexed."""
        if len(tok) < 4:
            return None
        for cut in range(1, len(tok)):
            pair = f"{tok[:cut]} {tok[cut:]}"
            if pair in self.idf:
                return [tok[:cut], tok[cut:]]
        return None

    def _correct(self, tok: str, prev: str, nxt: str) -> tuple[str | None, bool]:
        """The best known syllable within edit distance 1, and whether it pairs with a typed neighbour.

        A typo that is itself a valid syllable ("banh") is only repaired when the repair
        forms a known pair with a correctly typed neighbour: otherwise it is a real word
        the knowledge base does not know, which is evidence of an out-of-scope question.
        """
        if len(tok) < 3:
            return None, False
        cands: set[str] = set(self.deletes.get(tok, ()))
        for d in _deletes(tok):
            if d in self.idf:
                cands.add(d)
            cands.update(self.deletes.get(d, ()))
        cands = {c for c in cands if OSA.distance(tok, c, score_cutoff=1) <= 1}
        if not cands:
            return None, False

        def paired(c: str) -> bool:
            return bool(prev and f"{prev} {c}" in self.idf) or bool(nxt and f"{c} {nxt}" in self.idf)

        best = max(sorted(cands), key=lambda c: (paired(c), -self.idf[c]))
        return best, paired(best)

    def _retrieve(self, q: _Query) -> dict[int, float]:
        """BM25 scores of the best candidate docs.

        Rare terms are accumulated over their whole posting list; common terms (low idf)
        are only looked up for the best candidates found so far, which keeps a query on
        10,000 entries well under a millisecond.
        """
        ordered = sorted(q.terms, key=lambda t: len(self.postings[t][0]))
        rare = [t for t in ordered if len(self.postings[t][0]) <= self.common_df]
        common = ordered[len(rare):]
        scores: dict[int, float] = {}
        get = scores.get
        if not rare and common:  # only common words: the best docs of the rarest one are the candidates
            first, common = common[0], common[1:]
            w = q.terms[first]
            scores = {doc: w * s for doc, s in self._heads(first)}
            get = scores.get
        if sum(len(self.postings[t][0]) for t in rare) > DENSE_POSTINGS:
            scores = self._dense_best(q, rare)
            get = scores.get
            rare = []
        for term in rare:
            docs, weights = self.postings[term]
            w = q.terms[term]
            for doc, s in zip(docs, weights):
                scores[doc] = get(doc, 0.0) + w * s
        if common and scores:
            best = nlargest(PHASE2_DEPTH, scores, key=scores.__getitem__)
            scores = {d: scores[d] for d in best}
            for term in common:
                docs, weights = self.postings[term]
                w = q.terms[term]
                size = len(docs)
                for doc in best:
                    k = bisect_left(docs, doc)
                    if k < size and docs[k] == doc:
                        scores[doc] += w * weights[k]
        return scores

    def _dense_best(self, q: _Query, terms: list[str]) -> dict[int, float]:
        """The PHASE2_DEPTH best docs of the terms' summed weights, as the dict loop ranks them (same float64
        sums in the same order; ties in the order docs were first met), for long posting lists.

        Only the best few are ever used (re-ranking, the pool of a message's parts, the leading entry).
        """
        n = len(self.docs)
        acc = np.zeros(n)
        first = np.full(n, n * len(terms) + 1, dtype=np.int64)
        met = 0
        for term in terms:
            docs, weights = self.postings[term]
            d = np.frombuffer(docs, dtype=np.int32)
            acc[d] += np.frombuffer(weights, dtype=np.float32).astype(np.float64) * q.terms[term]
            new = d[first[d] > n * len(terms)]
            first[new] = np.arange(met, met + len(new))
            met += len(new)
        seen = np.flatnonzero(first <= n * len(terms))
        if len(seen) > PHASE2_DEPTH:
            cut = np.partition(acc[seen], len(seen) - PHASE2_DEPTH)[len(seen) - PHASE2_DEPTH]
            seen = seen[acc[seen] >= cut]
        order = seen[np.lexsort((first[seen], -acc[seen]))][:PHASE2_DEPTH]
        return {int(doc): float(acc[doc]) for doc in order}

    def _heads(self, term: str) -> list[tuple[int, float]]:
        """The PHASE2_DEPTH docs where a term weighs most, best first (ties: index order), with their weights:
        all a query made only of common words needs of the term's long posting list."""
        heads = self._term_heads.get(term)
        if heads is None:
            docs, weights = self.postings[term]
            top = nlargest(PHASE2_DEPTH, range(len(docs)), key=weights.__getitem__)
            heads = self._term_heads[term] = [(docs[k], weights[k]) for k in top]
        return heads

    def _alias_weights(self, idx: int) -> list[tuple[frozenset[str], list[tuple[str, float]], float]]:
        """The idf weights of each alias's terms of one doc (they only change with the index)."""
        cached = self._alias_terms.get(idx)
        if cached is None:
            cached = []
            for alias in self.docs[idx].aliases:
                pairs = [(t, self.idf.get(t, 0.0) * (ASPECT_WEIGHT if t in ASPECT_WORDS else 1.0))
                         for t in _terms(alias.split())]
                cached.append((frozenset(t for t, _ in pairs), pairs, sum(w for _, w in pairs)))
            self._alias_terms[idx] = cached
        return cached

    def _alias_score(self, idx: int, qset: set[str], query_mass: float) -> float:
        """How completely one of the entry's names/aliases appears in the query (idf-weighted).

        Short, common aliases ("giấy tờ") count less: their idf mass sets a specificity cap;
        and an alias that explains more of the query beats one that explains less.
        """
        best = 0.0
        floor = ALIAS_MIN_IDF * self.mean_idf
        for terms, pairs, total in self._alias_weights(idx):
            if terms.isdisjoint(qset):
                continue
            # (every term there: the same sum as the total, in the same order)
            hit = total if terms <= qset else sum(w for t, w in pairs if t in qset)
            if total > 0 and hit > 0:
                explained = min(1.0, hit / query_mass) if query_mass > 0 else 0.0
                if hit >= total and explained >= ALIAS_EXACT_SHARE:
                    return 1.0  # the question is this alias (alias table hit)
                best = max(best, hit / total * min(1.0, total / floor) * (0.7 + 0.3 * explained))
        return best

    def _score(self, q: _Query, candidates: dict[int, float], depth: int = RERANK_DEPTH) -> list[Candidate]:
        """Calibrated 0..1 scores for the best BM25 candidates.

        The score blends how much of the query the entry explains (syllables, then
        syllable pairs), how completely one of its names/aliases appears in the query,
        and a fuzzy alias match; it shrinks when the evidence is thin (one common word)
        or when accented words are spelled differently in the entry.
        """
        uni = {t: w * self.idf[t] for t, w in q.terms.items() if " " not in t}
        bi = {t: w * self.idf[t] for t, w in q.terms.items() if " " in t}
        uni_total = sum(uni.values()) + q.unknown * UNKNOWN_WEIGHT * self.mean_idf
        bi_total = sum(bi.values())
        if uni_total <= 0:
            return []
        top = nlargest(depth, candidates.items(), key=lambda kv: kv[1])
        qset = set(q.terms)
        optional = {t: v for t, v in uni.items() if t in OPTIONAL_WORDS}
        # how much of the question an alias explains counts its content words, not "cấp", "làm", "cho bé"
        core_mass = sum(v for t, v in {**uni, **bi}.items() if q.terms[t] >= 1.0) or (uni_total + bi_total)
        marked = [t for t in q.accented if has_marks(t)]
        postings = self.postings
        # (posting docs, posting weights, query weight, is a pair, optional idf mass) of each query term
        looked = [(*postings[t], q.terms[t], " " in t, optional.get(t, 0.0)) for t in qset]
        accents = [postings.get(ACCENT_PREFIX + t) for t in marked]
        out = []
        for idx, raw in top:
            doc = self.docs[idx]
            uni_hit = bi_hit = missing = 0.0
            for docs, weights, w, pair, opt in looked:
                k = bisect_left(docs, idx)
                if k < len(docs) and docs[k] == idx:
                    if pair:
                        bi_hit += w * weights[k]
                    else:
                        uni_hit += w * weights[k]
                elif opt:  # family and time words the entry does not mention are left out, not held against it
                    missing += opt
            coverage = min(1.0, uni_hit / max(uni_total - missing, 1e-9))
            phrase = min(1.0, bi_hit / bi_total) if bi_total else coverage
            alias = self._alias_score(idx, qset, core_mass)
            fuzzy = 0.0
            hit = process.extractOne(q.text, doc.aliases, scorer=fuzz.partial_ratio, processor=None, score_cutoff=70)
            if hit:
                fuzzy = max(0.0, (hit[1] / 100 - 0.7) / 0.3)
            accent = sum(_has(p, idx) for p in accents) / len(marked) if marked else 1.0
            evidence = 1.0 if alias >= 1.0 else min(1.0, raw / (MIN_EVIDENCE * self.mean_idf))
            score = (W_COVERAGE * coverage + W_PHRASE * phrase + W_ALIAS_SCORE * alias + W_FUZZY * fuzzy
                     - ACCENT_PENALTY * (1 - accent)) * evidence
            out.append(Candidate(doc.id, round(min(1.0, max(0.0, score)), 4)))
        out.sort(key=lambda c: -c.score)
        return out

    def _weight(self, term: str, doc: int) -> float:
        """Saturated, idf-weighted weight of ``term`` in ``doc`` (0 if absent)."""
        posting = self.postings.get(term)
        if posting is None:
            return 0.0
        docs, weights = posting
        k = bisect_left(docs, doc)
        return weights[k] if k < len(docs) and docs[k] == doc else 0.0

    def forget(self) -> None:
        """Drop the memo of recent results (benchmarks measure each message from cold)."""
        self._memo.clear()

    def _remember(self, key: tuple, value: object) -> None:
        self._memo[key] = value
        if len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)

    def leading(self, text: str, within: str = "") -> str | None:
        """The entry a text leans to by its words alone (BM25, no re-ranking): a cheap first look."""
        q = self._query(text)
        if not q.terms:
            return None
        scores = self._retrieve_within(q, within) if within else self._retrieve(q)
        return self.docs[max(scores, key=scores.__getitem__)].id if scores else None

    def search(self, text: str, limit: int = 3) -> list[Candidate]:
        """Retrieval only (no intent rules): best entries with scores in 0..1."""
        key = ("search", text, limit)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._search(text, limit)
            self._remember(key, hit)
        return list(hit)  # type: ignore[call-overload]

    def _search(self, text: str, limit: int, within: str = "") -> list[Candidate]:
        q = self._query(text)
        if not q.terms:
            return []
        if within:  # a part of a message already searched: its best entries, re-ranked fewer
            scores = self._retrieve_within(q, within)
            ranked = self._score(q, scores, WITHIN_DEPTH)[:limit]
        else:
            scores = self._retrieve(q)
            self._remember(("pool", text), nlargest(POOL_DEPTH, scores, key=scores.__getitem__))
            ranked = self._score(q, scores)[:limit]
        folded = " ".join(fold_token(t) for t in self._tokens(text))
        if looks_out_of_scope(folded, load_rules()):
            ranked = [Candidate(c.id, round(c.score * OUT_OF_SCOPE_FACTOR, 4)) for c in ranked]
        return ranked

    def search_within(self, text: str, wider: str, limit: int = 5) -> list[Candidate]:
        """``search`` for a part of a message (its words a subset of ``wider``'s), among the best entries
        for the whole message: one retrieval serves both ("lệ phí làm hộ chiếu" and "hộ chiếu")."""
        key = ("within", text, wider, limit)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._search(text, limit, within=wider)
            self._remember(key, hit)
        return list(hit)  # type: ignore[call-overload]

    def _retrieve_within(self, q: _Query, wider: str) -> dict[int, float]:
        """BM25 scores of ``q`` over the wider text's best candidates only."""
        key = ("pool", wider)
        pool = self._memo.get(key)
        if pool is None:
            scores = self._retrieve(self._query(wider))
            pool = nlargest(POOL_DEPTH, scores, key=scores.__getitem__)
            self._remember(key, pool)
        members = set(pool)  # type: ignore[arg-type]
        out: dict[int, float] = {}
        get = out.get
        for t, w in q.terms.items():
            docs, weights = self.postings[t]
            if len(docs) <= 8 * len(members):  # a rare term: walk its postings
                for doc, s in zip(docs, weights):
                    if doc in members:
                        out[doc] = get(doc, 0.0) + w * s
            else:  # a common term: look the few pool docs up in it
                size = len(docs)
                for doc in members:
                    k = bisect_left(docs, doc)
                    if k < size and docs[k] == doc:
                        out[doc] = get(doc, 0.0) + w * weights[k]
        return out

    def unexplained(self, entry_id: str, text: str, rare: float = 0.0) -> float:
        """The weight of a text's words (idf of single words, in mean idfs) that an entry's index does not
        hold: how much the text says that is not about that entry. ``rare``: count only words at least that
        specific (idf in mean idfs), leaving out words many entries share ("giải quyết", "chế độ")."""
        q = self._query(text)
        idx = self._doc_index().get(entry_id)
        floor = rare * self.mean_idf
        uni = {t: w * self.idf[t] for t, w in q.terms.items() if " " not in t and self.idf[t] >= floor}
        missing = sum(v for t, v in uni.items() if idx is None or not _has(self.postings.get(t), idx))
        return missing / self.mean_idf

    def is_alias(self, entry_id: str, text: str) -> bool:
        """Whether ``text`` is, word for word, the name or an alias of the entry (content words, folded)."""
        _, folded = _analyze(self.abbreviations, text)
        key = " ".join(t for t in folded if t not in PEOPLE_WORDS)  # "khai tử cho bố" is "khai tử"
        idx = self._doc_index().get(entry_id)
        return bool(key) and idx is not None and key in self.docs[idx].aliases

    def _doc_index(self) -> dict[str, int]:
        index = self.__dict__.get("_by_id")
        if index is None:
            index = self.__dict__["_by_id"] = {d.id: i for i, d in enumerate(self.docs)}
        return index

    def decide(self, ranked: list[Candidate]) -> str:
        """answer / ask / none from the calibrated scores."""
        if not ranked or ranked[0].score < self.ASK_THRESHOLD:
            return "none"
        if ranked[0].score < self.ANSWER_THRESHOLD:
            return "ask"
        if len(ranked) > 1 and ranked[0].score - ranked[1].score < self.ASK_MARGIN:
            return "ask"
        return "answer"

    def match(self, text: str, limit: int = 3, within: str = "") -> MatchResult:
        """Intent, then (for knowledge questions) the best entries and a decision.

        ``within``: the text is a part of that longer message, whose best entries are searched again
        for it instead of the whole index (the conversation reads long messages clause by clause).
        """
        key = ("match", text or "", limit, within)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._match(text or "", limit, within)
            self._remember(key, hit)
        return hit  # type: ignore[return-value]

    def _ranked(self, text: str, within: str) -> list[Candidate]:
        return self.search_within(text, within, RERANK_DEPTH) if within else self.search(text, RERANK_DEPTH)

    def _match(self, text: str, limit: int, within: str = "") -> MatchResult:
        folded = " ".join(fold_token(t) for t in self._tokens(text))
        intent = classify(text, folded, load_rules())
        if intent.name != "procedure":
            return MatchResult(text, folded, intent.name, [], "none", intent.help_kind, intent.dossier_code)
        found = find_limit(text)
        if found is not None:
            topic, rest = found
            if (topic.always or self.decide(self._ranked(rest, within or text)) != "answer"
                    or self.decide(self._ranked(topic.strip(rest, self.idf), within or text)) != "answer"):
                # nothing else named (its own words left over, "mất … ngân hàng", do not name a procedure)
                return MatchResult(text, folded, "unknown", [], "none", wants_guide=intent.wants_guide, limit=topic.id)
        ranked = self._ranked(text, within)
        decision = self.decide(ranked)
        if decision == "none":
            return MatchResult(text, folded, "unknown", [], "none", wants_guide=intent.wants_guide)
        best = ranked[0].score
        matches = [c for c in ranked[:limit] if c.score >= best * 0.5]
        if decision == "answer":
            matches = matches[:1] + [c for c in matches[1:]]
        return MatchResult(text, folded, "procedure", matches, decision, wants_guide=intent.wants_guide)


def _has(posting: tuple[array, array] | None, doc: int) -> bool:
    """Whether a posting list (or None: a term not indexed) holds the doc with a non-zero weight."""
    if posting is None:
        return False
    docs, weights = posting
    k = bisect_left(docs, doc)
    return k < len(docs) and docs[k] == doc and bool(weights[k])


_SYLLABLE = re.compile(
    r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnpqrstvx])?"
    r"(?:[aeiouy]{1,3})"
    r"(?:ch|ng|nh|[cmnpt])?$"
)


def is_syllable(tok: str) -> bool:
    """Whether a folded token is shaped like a Vietnamese syllable ("banh" yes, "dag" no)."""
    return bool(_SYLLABLE.match(tok))


def _deletes(tok: str) -> list[str]:
    return [tok[:i] + tok[i + 1 :] for i in range(len(tok))]


def _deletes_index(vocab: Iterable[str]) -> dict[str, list[str]]:
    """Symmetric-delete index: every one-letter deletion of a word -> the words."""
    index: dict[str, list[str]] = defaultdict(list)
    for word in vocab:
        if len(word) < 2:
            continue
        for d in set(_deletes(word)):
            index[d].append(word)
    return dict(index)
