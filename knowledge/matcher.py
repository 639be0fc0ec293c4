"""Match a citizen's question to a knowledge entry.

Pipeline: intent rules (``knowledge.intent``) -> for knowledge questions, a BM25 index
over folded syllables and syllable pairs of every entry's names, aliases, keywords and
key content -> typo repair of unknown query syllables (edit distance 1 against the
index vocabulary) -> re-ranking of the best candidates with an alias table and
rapidfuzz -> a score in 0..1 that one threshold pair turns into answer / ask / none.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from knowledge.intent import classify, load_rules
from knowledge.normalize import Abbreviations, fold_token, has_marks, load_abbreviations, normalize_tokens
from knowledge.schema import Faq, Procedure

MAX_QUERY_CHARS = 1000  # longer messages are cut: the question is at the start

# Words that say nothing about which procedure is meant (normalized, with diacritics).
STOPWORDS = frozenset(normalize_tokens(
    "tôi tui tao em anh chị mình bạn bot admin ạ à ơi ừ cho hỏi xin vui lòng giúp với của là thì mà "
    "và hay hoặc có không được chưa rồi gì nào sao thế như những các nhé nha nhá vậy ở đâu đã đang sẽ "
    "muốn cần phải bị này kia đó nếu khi để cũng lại nên vẫn còn thôi luôn cùng tại từ trong "
    "bằng theo về nhau ai làm đi ra vào bây giờ hiện nay hôm thì là thưa dạ vâng nhỉ hả hở chứ "
    "mấy một số nhiều ít rất quá lắm biết thế nào có thể cách nhờ ad ok"
))
STOP_PHRASES = tuple(tuple(normalize_tokens(p)) for p in (
    "bao nhiêu", "bao lâu", "bao giờ", "như thế nào", "thế nào", "ra sao", "làm sao",
    "thủ tục", "hôm nay", "cho tôi hỏi", "xin hỏi", "hồ sơ gồm", "gồm những", "ở đâu",
))
# Folded forms: a word typed without diacritics is a stopword if its folded form is one.
_STOP_FOLDED = frozenset(fold_token(w) for w in STOPWORDS) - {"cu", "chi", "ban"}

# Field weights (term frequency multipliers, BM25F style).
W_NAME, W_ALIAS, W_KEYWORD, W_QUESTION, W_FIELD, W_CONTENT = 3.0, 3.0, 2.0, 2.0, 1.0, 0.4
K1, B = 1.2, 0.35
BIGRAM_BOOST = 1.3        # a matched syllable pair says more than two single syllables
TYPO_WEIGHT = 0.7          # a repaired syllable counts less than a typed one
UNKNOWN_WEIGHT = 0.6      # share of the mean idf an unknown query syllable adds to the total
MIN_EVIDENCE = 1.2        # matched idf mass (in mean idfs) below which scores shrink
ACCENT_PENALTY = 0.08     # accented query words that the entry spells differently (thuế/thuê)
RERANK_DEPTH = 12
COMMON_DF_SHARE = 0.08     # terms in more docs than this only score existing candidates


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


@dataclass
class _Query:
    """A query reduced to weighted index terms."""

    terms: dict[str, float]  # term -> query weight (typo repairs weigh less)
    unknown: int  # content syllables found nowhere in the index
    folded: list[str]  # content syllables, folded, repaired
    accented: list[str]  # content syllables as typed (normalized)
    text: str  # folded content text, for fuzzy comparison


@dataclass
class _Doc:
    id: str
    aliases: list[tuple[str, ...]]  # folded content syllables of name and aliases
    alias_text: list[str]  # the same, joined, for rapidfuzz
    accented: frozenset[str]


def _content(tokens: list[str]) -> list[str]:
    """Drop stop phrases and stopwords from normalized tokens."""
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        for phrase in STOP_PHRASES:
            size = len(phrase)
            if tuple(tokens[i : i + size]) == phrase or (
                tuple(fold_token(t) for t in tokens[i : i + size]) == tuple(fold_token(t) for t in phrase)
                and not any(has_marks(t) for t in tokens[i : i + size])
            ):
                i += size
                break
        else:
            tok = tokens[i]
            if tok not in STOPWORDS and not (not has_marks(tok) and tok in _STOP_FOLDED):
                out.append(tok)
            i += 1
    return out


def _terms(folded: list[str]) -> list[str]:
    """Unigrams and adjacent pairs ("khai sinh")."""
    return folded + [f"{a} {b}" for a, b in zip(folded, folded[1:])]


def _entry_fields(entry: Procedure | Faq) -> Iterable[tuple[str, float]]:
    """(text, weight) pairs that describe an entry."""
    yield entry.name, W_NAME
    for alias in entry.aliases:
        yield alias, W_ALIAS
    for kw in entry.keywords:
        yield kw, W_KEYWORD
    yield entry.field, W_FIELD
    if isinstance(entry, Faq):
        yield entry.question, W_QUESTION
        yield entry.answer, W_CONTENT
        for step in entry.steps:
            yield step.text, W_CONTENT
            for p in step.problems:
                yield p.problem, W_CONTENT
    else:
        for doc in entry.documents:
            yield doc.name, W_CONTENT
        yield entry.who, W_CONTENT
        yield entry.result, W_CONTENT
        for q in entry.eligibility:
            yield q.question, W_CONTENT


@dataclass
class Matcher:
    """Intent rules plus a small BM25 index over the knowledge entries."""

    ANSWER_THRESHOLD = 0.62
    ASK_THRESHOLD = 0.40
    ASK_MARGIN = 0.06  # top two this close: ask which one

    abbreviations: Abbreviations
    docs: list[_Doc]
    postings: dict[str, dict[int, float]]  # term -> doc -> idf * saturated tf
    idf: dict[str, float]
    mean_idf: float
    deletes: dict[str, list[str]] = field(default_factory=dict)  # typo index
    common_df: int = 0

    # --- build ----------------------------------------------------------------------

    @classmethod
    def build(cls, entries: Sequence[Procedure | Faq], abbreviations: Path | None = None) -> "Matcher":
        """Index the entries (fast: the bot builds the index at start)."""
        table = load_abbreviations(abbreviations)
        tfs: list[Counter[str]] = []
        docs: list[_Doc] = []
        for entry in entries:
            tf: Counter[str] = Counter()
            accented: set[str] = set()
            for text, weight in _entry_fields(entry):
                toks = _content(table.apply(normalize_tokens(text)))
                accented.update(toks)
                for term in _terms([fold_token(t) for t in toks]):
                    tf[term] += weight
            aliases = []
            for text in dict.fromkeys([entry.name, *entry.aliases]):
                folded = tuple(fold_token(t) for t in _content(table.apply(normalize_tokens(text))))
                if folded:
                    aliases.append(folded)
            tfs.append(tf)
            docs.append(_Doc(entry.id, aliases, [" ".join(a) for a in aliases], frozenset(accented)))
        return cls._from_tfs(table, docs, tfs)

    @classmethod
    def _from_tfs(cls, table: Abbreviations, docs: list[_Doc], tfs: list[Counter[str]]) -> "Matcher":
        n = max(len(docs), 1)
        lengths = [sum(tf.values()) for tf in tfs]
        avg = sum(lengths) / n if lengths else 1.0
        df: Counter[str] = Counter()
        for tf in tfs:
            df.update(tf.keys())
        idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        postings: dict[str, dict[int, float]] = defaultdict(dict)
        for i, tf in enumerate(tfs):
            norm = K1 * (1 - B + B * lengths[i] / avg)
            for term, f in tf.items():
                postings[term][i] = idf[term] * f * (K1 + 1) / (f + norm) / (K1 + 1)
        unigrams = [t for t in idf if " " not in t]
        mean_idf = sum(idf[t] for t in unigrams) / max(len(unigrams), 1)
        matcher = cls(table, docs, dict(postings), idf, mean_idf, common_df=max(50, int(n * COMMON_DF_SHARE)))
        matcher.deletes = _deletes_index(t for t in unigrams if not t.isdigit())
        return matcher

    # --- query ----------------------------------------------------------------------

    def _query(self, text: str) -> _Query:
        tokens = self.abbreviations.apply(normalize_tokens(text[:MAX_QUERY_CHARS]))
        accented = _content(tokens)
        folded = [fold_token(t) for t in accented]
        folded, weights = self._repair(folded)
        terms: dict[str, float] = {}
        unknown = 0
        for tok, w in zip(folded, weights):
            if tok in self.idf:
                terms[tok] = max(terms.get(tok, 0.0), w)
            elif not tok.isdigit():
                unknown += 1
        for (a, wa), (b, wb) in zip(zip(folded, weights), zip(folded[1:], weights[1:])):
            pair = f"{a} {b}"
            if pair in self.idf:
                terms[pair] = max(terms.get(pair, 0.0), BIGRAM_BOOST * min(wa, wb))
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
            prev = out[-1] if out else ""
            nxt = folded[i + 1] if i + 1 < len(folded) else ""
            fixed = self._correct(tok, prev, nxt)
            out.append(fixed or tok)
            weights.append(TYPO_WEIGHT if fixed else 1.0)
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

    def _correct(self, tok: str, prev: str, nxt: str) -> str | None:
        """The best known syllable within edit distance 1 (pairs with a neighbour win)."""
        if len(tok) < 3:
            return None
        cands: set[str] = set(self.deletes.get(tok, ()))
        for d in _deletes(tok):
            if d in self.idf and " " not in d:
                cands.add(d)
            cands.update(self.deletes.get(d, ()))
        cands = {c for c in cands if OSA.distance(tok, c, score_cutoff=1) <= 1}
        if not cands:
            return None

        def rank(c: str) -> tuple[bool, float]:
            paired = f"{prev} {c}" in self.idf or f"{c} {nxt}" in self.idf
            return paired, -self.idf[c]

        return max(sorted(cands), key=rank)

    def _retrieve(self, q: _Query) -> dict[int, float]:
        """BM25 scores (sum of weighted term contributions) of candidate docs."""
        scores: dict[int, float] = {}
        ordered = sorted(q.terms, key=lambda t: len(self.postings[t]))
        for term in ordered:
            posting = self.postings[term]
            w = q.terms[term]
            if len(posting) > self.common_df and scores:
                for doc in scores:
                    s = posting.get(doc)
                    if s:
                        scores[doc] += w * s
            else:
                for doc, s in posting.items():
                    scores[doc] = scores.get(doc, 0.0) + w * s
        return scores

    def _alias_score(self, doc: _Doc, qset: set[str]) -> float:
        """How completely one of the entry's names/aliases appears in the query (idf-weighted)."""
        best = 0.0
        for alias in doc.aliases:
            terms = _terms(list(alias))
            total = sum(self.idf.get(t, 0.0) for t in terms)
            if total <= 0:
                continue
            hit = sum(self.idf.get(t, 0.0) for t in terms if t in qset)
            specificity = min(1.0, total / (2.5 * self.mean_idf))
            best = max(best, hit / total * specificity)
        return best

    def _score(self, q: _Query, candidates: dict[int, float]) -> list[Candidate]:
        """Calibrated 0..1 scores for the best BM25 candidates."""
        total = sum(w * self.idf[t] for t, w in q.terms.items())
        total += q.unknown * UNKNOWN_WEIGHT * self.mean_idf
        if total <= 0:
            return []
        top = sorted(candidates.items(), key=lambda kv: -kv[1])[:RERANK_DEPTH]
        qset = set(q.terms)
        marked = [t for t in q.accented if has_marks(t)]
        out = []
        for idx, raw in top:
            doc = self.docs[idx]
            coverage = min(1.0, raw / total)
            alias = self._alias_score(doc, qset)
            fuzzy = max((fuzz.partial_ratio(a, q.text) for a in doc.alias_text if len(a) >= 6), default=0.0) / 100
            fuzzy = max(0.0, (fuzzy - 0.7) / 0.3)
            accent = sum(t in doc.accented for t in marked) / len(marked) if marked else 1.0
            evidence = min(1.0, raw / (MIN_EVIDENCE * self.mean_idf))
            score = (0.55 * coverage + 0.35 * alias + 0.10 * fuzzy - ACCENT_PENALTY * (1 - accent)) * evidence
            out.append(Candidate(doc.id, round(min(1.0, max(0.0, score)), 4)))
        out.sort(key=lambda c: -c.score)
        return out

    def search(self, text: str, limit: int = 3) -> list[Candidate]:
        """Retrieval only (no intent rules): best entries with scores in 0..1."""
        q = self._query(text)
        if not q.terms:
            return []
        return self._score(q, self._retrieve(q))[:limit]

    def decide(self, ranked: list[Candidate]) -> str:
        """answer / ask / none from the calibrated scores."""
        if not ranked or ranked[0].score < self.ASK_THRESHOLD:
            return "none"
        if ranked[0].score < self.ANSWER_THRESHOLD:
            return "ask"
        if len(ranked) > 1 and ranked[0].score - ranked[1].score < self.ASK_MARGIN:
            return "ask"
        return "answer"

    def match(self, text: str, limit: int = 3) -> MatchResult:
        """Intent, then (for knowledge questions) the best entries and a decision."""
        text = text or ""
        tokens = self.abbreviations.apply(normalize_tokens(text[:MAX_QUERY_CHARS]))
        folded = " ".join(fold_token(t) for t in tokens)
        intent = classify(text, folded, load_rules())
        if intent.name != "procedure":
            return MatchResult(text, folded, intent.name, [], "none", intent.help_kind, intent.dossier_code)
        ranked = self.search(text, RERANK_DEPTH)
        decision = self.decide(ranked)
        if decision == "none":
            return MatchResult(text, folded, "unknown", [], "none", wants_guide=intent.wants_guide)
        best = ranked[0].score
        matches = [c for c in ranked[:limit] if c.score >= best * 0.5]
        if decision == "answer":
            matches = matches[:1] + [c for c in matches[1:]]
        return MatchResult(text, folded, "procedure", matches, decision, wants_guide=intent.wants_guide)


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
