"""Reading a message: which clause asks, which procedure it names, and what about it.

Pure functions of the matcher and the text (no session, no storage): the conversation core
(``handlers/conversation.py``) adds the focus and the flows; the matching benchmark times them.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge import dialogue
from knowledge.intent import looks_out_of_scope
from knowledge.matcher import RERANK_DEPTH, Candidate, Matcher, MatchResult

SHORT_MESSAGE = 300  # characters: below this a message answered as a whole is read clause by clause only
# when its clauses lean to different entries
STRONG_SENTENCE = 0.5  # a clause that asks and names a procedure this clearly is a question of its own


@dataclass
class Question:
    """What one message asks, after long and composite messages are reduced to their question."""

    text: str  # the sentence (or whole message) to answer
    result: MatchResult
    aspects: list[str]
    also: tuple[str, str] | None = None  # a second question: (entry id, aspect)
    guide: bool = False  # the message (any clause of it) asks to be guided through submitting online
    context: str = ""  # the message whose best entries the clause in ``text`` was read among ("": the whole index)


def read_question(matcher: Matcher, text: str) -> Question:
    """The question of a message: the whole text, or in a long or composite one the clause(s) that ask.

    Narrative around the question (a wedding envelope, the weather at harvest) is read and left
    aside; a status or complaint message stays one when no clause asks about a procedure; two
    clauses naming two procedures give the first as the answer and the second as a choice.
    """
    whole = matcher.match(text)
    q = _read(matcher, text, whole)
    q.guide = q.guide or whole.wants_guide
    return q


def _read(matcher: Matcher, text: str, whole: MatchResult) -> Question:
    parts = dialogue.clauses(text)
    if len(parts) <= 1 or whole.limit:  # (a topic not covered stays so, whatever a clause resembles)
        return Question(text, whole, dialogue.aspects(text))
    if whole.intent == "procedure" and whole.decision == "answer" and sum(map(dialogue.asks, parts)) < 2:
        # one procedure named by the whole and at most one clause asking: one question, no second to offer
        return Question(text, whole, _asked_aspects(parts) or dialogue.aspects(text))
    if whole.decision == "answer" and whole.matches and len(text) < SHORT_MESSAGE:
        # a short message whose every clause leans to the entry the whole names: one question
        top = whole.matches[0].id
        if all(matcher.leading(part, within=text) in (top, None) for part in parts):
            return Question(text, whole, dialogue.aspects(text))
    within = text if len(text) < SHORT_MESSAGE else ""  # a long story's best entries may miss the question's
    results = [(i, part, matcher.match(part, within=within)) for i, part in enumerate(parts)]
    scored = [x for x in results if x[2].intent == "procedure" and x[2].matches]
    answered = [x for x in scored if x[2].decision == "answer"]
    asking = any(dialogue.asks(part) for _, part, _ in answered)
    if whole.intent == "status" or (whole.intent == "complaint" and not asking):
        return Question(text, whole, [])
    for wanted in ("status", "complaint"):
        flow = next((r for _, _, r in results if r.intent == wanted), None)
        if flow is not None and (wanted == "status" or not asking):
            return Question(text, flow, [])
    if not scored:
        return Question(text, whole, dialogue.aspects(text))
    strong = [x for x in answered if x[2].matches[0].score >= STRONG_SENTENCE and dialogue.asks(x[1])]
    distinct: list[tuple[int, str, MatchResult]] = []
    for x in strong:
        if all(x[2].matches[0].id != d[2].matches[0].id for d in distinct):
            distinct.append(x)
    second = None
    if len(distinct) >= 2:  # two questions about two procedures: the first answered, the other offered
        first, second = distinct[0], distinct[1]
    elif whole.intent == "procedure" and whole.decision == "answer":  # "mất căn cước…, làm lại sao": one question
        return Question(text, whole, _asked_aspects(parts) or dialogue.aspects(text))
    elif answered:  # a story around one clear question: that clause
        first = max(answered, key=lambda x: (dialogue.asks(x[1]), not dialogue.is_purpose(x[1]),
                                             x[2].matches[0].score))
    elif whole.decision == "none" and any(dialogue.asks(x[1]) for x in scored):
        # nothing clear anywhere: the likeliest clause that asks, to ask back about
        first = max((x for x in scored if dialogue.asks(x[1])),
                    key=lambda x: (not dialogue.is_purpose(x[1]), x[2].matches[0].score))
    else:
        return Question(text, whole, dialogue.aspects(text))
    i, part, r = first
    context = within
    asp = dialogue.aspects(part)
    if not asp:  # "…khai sinh cho thằng bé. Vậy bà phải mang theo những giấy tờ gì?" / "cần gì để làm hộ chiếu"
        named_elsewhere = {x[0] for x in answered if x[0] != i}
        for j in sorted(range(len(parts)), key=lambda j: (not dialogue.asks(parts[j]), abs(j - i))):
            if j != i and j not in named_elsewhere:
                asp = dialogue.aspects(parts[j])
                if asp:
                    break
    also = None
    if second is not None:
        also_part = second[1]
        also_asp = [] if dialogue.is_general(also_part) else dialogue.aspects(also_part)
        also = (second[2].matches[0].id, also_asp[0] if also_asp else "")
    return Question(part, r, asp, also, context=context)


def _asked_aspects(parts: list[str]) -> list[str]:
    """The aspects of the clauses that ask, the last question first (in a story, the question ends it)."""
    for part in reversed(parts):
        if dialogue.asks(part):
            found = dialogue.aspects(part)
            if found:
                return found
    return []


def understand(matcher: Matcher, text: str) -> MatchResult:
    """What a message asks, as one match result, the way the conversation reads it with nothing in focus:
    the clause that asks in a long message, and the procedure named apart from the aspect words when the
    whole message was unclear ("khai tử làm ở đâu"). ``python -m bot match`` prints this."""
    q = read_question(matcher, text)
    r = q.result
    if (r.intent in ("procedure", "unknown") and r.decision != "answer" and not r.limit
            and not looks_out_of_scope(r.normalized)):
        named, decision = named_topic(matcher, q.text, q.context)
        only_aspect = not [w for w in dialogue.topic_text(q.text).split() if w not in FILLER]
        if decision == "answer" and not only_aspect:
            r = MatchResult(r.query, r.normalized, "procedure", named[:3], "answer", wants_guide=r.wants_guide)
    return MatchResult(text, r.normalized, r.intent, r.matches, r.decision, r.help_kind, r.dossier_code,
                       r.wants_guide or q.guide, r.limit)


# Words that name no procedure: what is left of a message made only of them asks an aspect, nothing more.
FILLER = frozenset(dialogue.folded(
    "bao nhiêu không có phải được mất hết làm thì là ạ à ơi vậy nhỉ hả thế nào sao gì nào chưa rồi xong "
    "cho hỏi xin tôi em mình anh chị bạn cần phải nộp đi nữa còn cái này đó với và hay cũng ấy kia thủ tục "
    "hồ sơ giấy mấy nhiều ít nhanh lâu khi giờ bây hôm nay ngày bố mẹ cha má con cháu ông bà vợ chồng bé "
    "nội ngoại người nhà số tải mới cũ của về ở tại từ trong một nếu muốn").split())


def named_topic(matcher: Matcher, text: str, context: str = "") -> tuple[list[Candidate], str]:
    """Candidates for the procedure the message names (aspect and follow-up words removed), and a decision.

    ``context``: the message a clause in ``text`` was read in, among whose best entries the clause was matched
    (``Question.context``): its name is searched there too, not over the whole index again."""
    topic = dialogue.topic_text(text)
    if not topic:
        return [], "none"
    if topic == dialogue.plain_words(text):  # nothing removed but politeness: the message's own ranking
        found = matcher.search(text, RERANK_DEPTH)[:5]  # (the whole message's search, remembered)
    else:
        found = matcher.search_within(topic, context or text, 5)  # the topic's words are the message's, fewer
    found = prefer_exact(matcher, topic, found)
    return found, matcher.decide(found)


def prefer_exact(matcher: Matcher, topic: str, found: list[Candidate]) -> list[Candidate]:
    """Close candidates, one of which is called exactly what was typed ("khai tử" beside "liên thông khai
    tử …"): that one comes first, clearly ahead."""
    if len(found) < 2 or matcher.decide(found) != "ask" or found[0].score < Matcher.ASK_THRESHOLD:
        return found
    exact = [c for c in found[:3] if matcher.is_alias(c.id, topic)]
    if len(exact) != 1:
        return found
    best = exact[0]
    top = max(found[0].score, best.score)
    rest = [c for c in found if c.id != best.id]
    lifted = Candidate(best.id, round(min(1.0, max(top, Matcher.ANSWER_THRESHOLD) + Matcher.ASK_MARGIN), 4))
    return [lifted, *rest]


__all__ = ["Question", "named_topic", "prefer_exact", "read_question"]
