"""Free text in context: follow-ups about the procedure in focus, the aspect asked, everyday words,
"guide me" requests, long and composite messages, and honest limits.

The dispatcher calls ``respond`` for typed text that no flow (guide, complaint, dossier lookup)
took. The language data (word families, aspects, guide phrases) lives in
``knowledge/data/conversation.yaml``; this module decides what to answer with it.
"""

from __future__ import annotations

from handlers import cards, catalogue, core
from handlers.context import Context
from handlers.focus import Focus, clear_focus, get_focus, set_focus
from handlers.router import Router
from handlers.texts import common as T
from handlers.types import Button, Reply
from knowledge import dialogue
from knowledge.intent import looks_out_of_scope
from knowledge.limits import get_limit
from knowledge.matcher import Candidate, Matcher
from knowledge.schema import Procedure
from knowledge.understanding import FILLER as _FILLER, Question, named_topic, prefer_exact, read_question

ALTS_KEY = "alts"  # other candidates of the last answer, for "sai rồi"
PENDING_KEY = "pending_aspect"  # an aspect asked before the procedure was named
LABEL_MAX = 60
SHORT_FOLLOW_UP = 10  # words: a message this short after an answer is asked back about it, not refused
UNRELATED_SCORE = 0.2  # below this best score a question is about something else, not a badly typed procedure


async def respond(ctx: Context, router: Router) -> list[Reply]:
    """Answer typed text that no flow took: everyday words, questions, follow-ups."""
    text = ctx.text
    fam = dialogue.families(text)
    if fam and ctx.kb.matcher.match(text).help_kind == "human":
        fam = frozenset()  # "tôi không biết làm": a person, not "không sao ạ"
    if fam:
        replies = await _everyday(ctx, fam)
        if replies is not None:
            return replies
    q = read_question(ctx.kb.matcher, text)
    result = q.result
    best = result.matches[0] if result.matches else None
    ctx.session.log_question(  # written with the session at the end of the turn
        text=text, normalized=result.normalized, intent=result.intent, decision=result.decision,
        best_id=best.id if best else None, score=best.score if best else None)
    if result.intent == "status":
        return await _status(ctx, router, q)
    if result.intent in ("complaint", "help"):
        handler = router.intents.get(result.intent) or router.intents["unknown"]
        return await handler(ctx, result)
    report = router.intents.get("report")  # a problem told, not asked ("đèn đường hư cả tháng không ai sửa")
    if report is not None and result.intent != "status":
        replies = await report(ctx, result)  # [] when it is a question to answer
        if replies:
            return replies
    replies = await _answer(ctx, q, router)
    if q.also and replies:
        replies.append(_also_reply(ctx, q.also))
    return replies


# --- everyday words ---------------------------------------------------------------------------

async def _everyday(ctx: Context, fam: frozenset[str]) -> list[Reply] | None:
    """A short everyday message outside any flow question (those are mapped to the choices first)."""
    menu_row = [Button(T.BTN_MENU, "menu")]
    if "thanks" in fam:
        return [Reply.make(T.THANKS)]
    if "wrong" in fam:
        return [_wrong(ctx)]
    if "not_sure" in fam:
        return [Reply.make(T.NOT_SURE, [[Button(T.MENU_HUMAN, "menu:human"), *menu_row]])]
    if "stuck" in fam:
        return [Reply.make(T.STUCK_FREE, [[Button(T.MENU_HUMAN, "menu:human"), *menu_row]])]
    if fam & {"cancel", "later"}:
        ctx.session.data.pop(PENDING_KEY, None)
        return [Reply.make(T.LATER, [menu_row])]
    if fam & {"yes", "ack", "no", "next"}:
        return [Reply.make(T.ACK)]
    return None


def _wrong(ctx: Context) -> Reply:
    """ "sai rồi" after an answer: apologise, offer the other candidates or ask again; never a card."""
    focus = get_focus(ctx)
    alts = [i for i in ctx.session.data.get(ALTS_KEY) or [] if isinstance(i, str) and i in ctx.kb.entries]
    if focus is not None:
        alts = [i for i in alts if i != focus.entry_id]
    clear_focus(ctx)
    ctx.session.data.pop(ALTS_KEY, None)
    if not alts:
        return Reply.make(T.WRONG_ASK, [[Button(T.MENU_HUMAN, "menu:human"), Button(T.BTN_MENU, "menu")]])
    rows = [[Button(_short(ctx.kb.entries[i].name), f"kb:card:{i}")] for i in alts[:3]]
    rows.append([Button(T.NONE_OF_THESE, "kb:none")])
    return Reply.make(T.WRONG_ALTS, rows)


# --- long and composite messages ------------------------------------------------------------------

def _also_reply(ctx: Context, also: tuple[str, str]) -> Reply:
    entry_id, aspect = also
    entry = ctx.kb.entries[entry_id]
    return Reply.make(T.ALSO_ASKED.format(name=entry.name),
                      [[Button(_short(T.BTN_ALSO.format(name=entry.name)), _entry_action(ctx, entry_id, aspect))]])


# --- questions ---------------------------------------------------------------------------------

# With a procedure in focus, a question that names another procedure with a specific word the focus does not
# have (idf at least this many mean idfs: "anh hùng", not "giải quyết xong") is about that other procedure.
RARE_WORD = 1.4


async def _answer(ctx: Context, q: Question, router: Router) -> list[Reply]:
    """A knowledge question: pick the entry (the one named, or the one in focus) and answer the aspect asked."""
    result = q.result
    if result.limit:
        return _unknown(ctx, q)  # a topic this assistant does not cover: say where to ask
    if result.wants_guide or q.guide:
        return await _guide_request(ctx, q, router)
    matcher = ctx.kb.matcher
    focus = get_focus(ctx)
    tier = catalogue.respond(ctx, q, focus is not None)  # official catalogue: short cards where curated entries are weak
    if tier is not None:
        return tier
    pending = ctx.session.data.pop(PENDING_KEY, "") if not q.aspects else ""
    aspects = q.aspects or ([pending] if pending in dialogue.ASPECTS else [])
    named: list[Candidate] = []
    named_decision = "none"
    if focus is not None or result.decision != "answer":  # is a procedure named apart from the aspect words?
        named, named_decision = named_topic(matcher, q.text, q.context)
    entry_id = ""
    ask_ids: list[str] = []
    if focus is not None:
        near = [c.id for c in named if c.score >= Matcher.ASK_THRESHOLD]
        if aspects and _only_aspect(q.text):
            entry_id = focus.entry_id  # "nộp hồ sơ ở đâu", "lệ phí bao nhiêu": about the procedure in focus
        elif _about_result_of(ctx, focus.entry_id, q.text):
            entry_id = focus.entry_id  # "khi nào nhận được giấy đăng ký xe mới" after the transfer card
        elif named_decision == "answer":
            entry_id = named[0].id
            exact = matcher.is_alias(named[0].id, dialogue.topic_text(q.text))
            close = named[0].score - _score_of(named, focus.entry_id) < Matcher.ASK_MARGIN
            if focus.entry_id in near[:3] and close and not exact:
                entry_id = focus.entry_id  # "bằng lái mất mấy ngày" while on the licence card
        elif (named_decision == "ask" and dialogue.is_followup(q.text) and named[0].id != focus.entry_id
              and named[0].score >= Matcher.ANSWER_THRESHOLD
              and named[0].score - _score_of(named, focus.entry_id) >= Matcher.ASK_MARGIN):
            entry_id = named[0].id  # "vậy hộ kinh doanh thì sao": the best of the names given, not the focus
        elif focus.entry_id in near:
            entry_id = focus.entry_id
        elif aspects and near and matcher.unexplained(focus.entry_id, dialogue.topic_text(q.text), RARE_WORD) >= 1.0:
            # "mẹ Việt Nam anh hùng được hưởng chế độ gì" on the household-business card: the aspect words are
            # about another procedure named (not the focus): the official catalogue first, else as with no focus
            tier = catalogue.respond(ctx, q, False)
            if tier is not None:
                return tier
        elif aspects or (dialogue.is_followup(q.text) and named_decision == "none" and result.decision != "answer"):
            entry_id = focus.entry_id
    if not entry_id and not ask_ids:
        if aspects and _only_aspect(q.text):
            return [_which_procedure(ctx, aspects[0])]  # "lệ phí bao nhiêu?" with nothing in focus
        if result.decision == "answer" and result.matches:
            entry_id = result.matches[0].id
        elif named_decision == "answer" and not _only_aspect(q.text) and not looks_out_of_scope(result.normalized):
            entry_id = named[0].id  # "khai tử làm ở đâu": the aspect words blurred the whole question
        elif result.decision == "ask" and result.matches:
            ask_ids = [m.id for m in result.matches]
        elif named_decision == "ask" and not _only_aspect(q.text):
            ask_ids = [c.id for c in named[:3]]
    if ask_ids:
        return [_did_you_mean(ctx, ask_ids, aspects[0] if aspects else "")]
    if not entry_id:
        if focus is not None and _short_follow_up(q):
            return [_clarify(ctx, focus)]  # "mấy nghìn một trang": most likely still about the card on screen
        return _unknown(ctx, q)
    if q.aspects and entry_id != (focus.entry_id if focus else "") and dialogue.aspects(q.text):
        besides = set(_aspects_besides_name(ctx, entry_id, q.text))  # "hỗ trợ mai táng phí" asks no fee
        aspects = [a for a in aspects if a in besides]
    aspect = aspects[0] if aspects else ""
    if aspect and (focus is None or entry_id != focus.entry_id) and dialogue.is_general(q.text):
        aspect = ""  # "lý lịch tư pháp thì cần gì", "muốn ly hôn thì làm sao": the whole card
    if not aspect and focus is not None and entry_id != focus.entry_id and dialogue.is_followup(q.text):
        aspect = focus.aspect  # "thế còn kết hôn thì sao" after the fee of khai sinh: the fee of kết hôn
    others = [m.id for m in result.matches if m.id != entry_id] + [c.id for c in named if c.id != entry_id]
    ctx.session.data[ALTS_KEY] = list(dict.fromkeys(others))[:3]
    return [_entry_reply(ctx, entry_id, aspect)]


def _aspects_besides_name(ctx: Context, entry_id: str, text: str) -> list[str]:
    """Aspects asked, not counting words that are part of the entry's own name or aliases."""
    entry = ctx.kb.entries[entry_id]
    typed = dialogue.Text.of(text)  # with its diacritics when typed with them ("mẫu" is not "màu")
    rest = f" {typed.value} "
    for name in sorted((entry.name, *entry.aliases), key=len, reverse=True):
        said = dialogue.Text.of(name).value if typed.marked else dialogue.folded(name)
        if not said or f" {said} " not in rest:
            continue
        core = dialogue.topic_text(name)
        if core != dialogue.folded(name) and ctx.kb.matcher.is_alias(entry_id, core):
            continue  # "xin lý lịch tư pháp online": "online" is asked, the alias only carries it
        rest = rest.replace(f" {said} ", " ")
    return dialogue.aspects(rest) if rest.strip() != typed.value else dialogue.aspects(text)


def _about_result_of(ctx: Context, entry_id: str, text: str) -> bool:
    """The message names the paper the procedure in focus gives ("giấy đăng ký xe" after "sang tên xe")."""
    entry = ctx.kb.procedure(entry_id)
    if entry is None or not dialogue.aspects(text):
        return False
    words = [w for w in dialogue.topic_text(text).split() if w not in _FILLER]
    result = f" {dialogue.folded(entry.result)} "
    return len(words) >= 2 and f" {' '.join(words)} " in result


def _short_follow_up(q: Question) -> bool:
    """A short message right after an answer, naming nothing and not about another kind of thing."""
    return len(q.text.split()) <= SHORT_FOLLOW_UP and not looks_out_of_scope(q.result.normalized)


def _clarify(ctx: Context, focus: Focus) -> Reply:
    """Ask what the citizen wants to know about the procedure in focus, with its card's choices."""
    entry = ctx.kb.entries[focus.entry_id]
    set_focus(ctx, entry.id, focus.aspect)
    rows = cards.detail_buttons(entry.id) if isinstance(entry, Procedure) else [[Button(T.BTN_MENU, "menu")]]
    name = entry.name if isinstance(entry, Procedure) else entry.question
    return Reply.make(T.FOCUS_CLARIFY.format(name=name), rows)


def _score_of(found: list[Candidate], entry_id: str) -> float:
    return next((c.score for c in found if c.id == entry_id), 0.0)


def _only_aspect(text: str) -> bool:
    """Nothing but aspect and everyday words: "lệ phí bao nhiêu?", "mất mấy ngày"."""
    topic = dialogue.topic_text(text)
    return not topic or all(w in _FILLER for w in topic.split())





def _entry_reply(ctx: Context, entry_id: str, aspect: str) -> Reply:
    """The aspect of an entry when one was asked (short, with the card's choices); the card otherwise."""
    entry = ctx.kb.entries[entry_id]
    set_focus(ctx, entry_id, aspect if isinstance(entry, Procedure) else "")
    if aspect and isinstance(entry, Procedure):
        reply = cards.aspect_reply(entry, aspect)
        if reply is not None:
            return reply
    return cards.entry_card(entry)


def _entry_action(ctx: Context, entry_id: str, aspect: str) -> str:
    part = cards.ASPECT_PART.get(aspect) if aspect else None
    if part and isinstance(ctx.kb.entries.get(entry_id), Procedure):
        return f"kb:{part}:{entry_id}"
    return f"kb:card:{entry_id}"


def _did_you_mean(ctx: Context, ids: list[str], aspect: str) -> Reply:
    rows = [[Button(_short(ctx.kb.entries[i].name), _entry_action(ctx, i, aspect))]
            for i in ids[:3] if i in ctx.kb.entries]
    rows.append([Button(T.NONE_OF_THESE, "kb:none")])
    return Reply.make(T.DID_YOU_MEAN, rows)


def _which_procedure(ctx: Context, aspect: str) -> Reply:
    """An aspect asked with no procedure named and none in focus: ask which one, and remember the aspect."""
    ctx.session.data[PENDING_KEY] = aspect
    rows = [[Button(_short(ctx.kb.entries[i].name), _entry_action(ctx, i, aspect))]
            for i in core.POPULAR if i in ctx.kb.entries]
    rows.append([Button(T.BTN_MENU, "menu")])
    return Reply.make(T.ASPECT_WHICH.format(aspect=T.ASPECT_NAMES.get(aspect, aspect)), rows)


def _unknown(ctx: Context, q: Question) -> list[Reply]:
    """Honest limits: out-of-scope questions are told so, with where to ask; others get suggestions."""
    limit = get_limit(q.result.limit) if q.result.limit else None
    if limit is not None:
        return [Reply.make(T.OUT_OF_SCOPE_WHERE.format(where=limit.where),
                           [[Button(T.MENU_HUMAN, "menu:human"), Button(T.BTN_MENU, "menu")]])]
    if looks_out_of_scope(q.result.normalized) or _looks_unrelated(ctx, q):
        return [Reply.make(T.OUT_OF_SCOPE, [[Button(T.MENU_HUMAN, "menu:human"), Button(T.BTN_MENU, "menu")]])]
    return core.unknown_replies(ctx)


def _looks_unrelated(ctx: Context, q: Question) -> bool:
    """Hardly a word of the question is known to the knowledge base."""
    found = ctx.kb.matcher.search(q.text, 1)
    return not found or found[0].score < UNRELATED_SCORE


# --- "guide me" requests -------------------------------------------------------------------------

async def _guide_request(ctx: Context, q: Question, router: Router) -> list[Reply]:
    """ "hướng dẫn nộp X online": start the guide of X when X is clear; ask which when it is not."""
    matcher = ctx.kb.matcher
    start = ctx.services.extras.get("guide")
    topic = dialogue.guide_topic(q.text)
    found = [c for c in matcher.search(topic, 8) if ctx.kb.procedure(c.id) is not None] if topic else []
    found = prefer_exact(matcher, topic, [c for c in found if c.score >= Matcher.ASK_THRESHOLD])
    if found and start is not None:
        clear = len(found) == 1 or found[0].score - found[1].score >= Matcher.ASK_MARGIN
        if clear and found[0].score >= Matcher.ANSWER_THRESHOLD:
            set_focus(ctx, found[0].id)
            return await start(ctx, found[0].id)
        rows = [[Button(_short(ctx.kb.entries[c.id].name), f"guide:start:{c.id}")] for c in found[:3]]
        rows.append([Button(T.NONE_OF_THESE, "guide:menu")])
        return [Reply.make(T.GUIDE_WHICH, rows)]
    focus: Focus | None = get_focus(ctx)
    if not topic and focus is not None and ctx.kb.procedure(focus.entry_id) is not None and start is not None:
        return await start(ctx, focus.entry_id)
    result = q.result
    if result.decision == "answer" and result.matches and ctx.kb.procedure(result.matches[0].id) is None:
        return [_entry_reply(ctx, result.matches[0].id, "")]  # a general topic, e.g. how online submission works
    handler, arg = router.find_action("guide:menu")
    if start is None or handler is None:
        return core.unknown_replies(ctx)
    return await handler(ctx, arg)  # the guide menu: popular procedures and unfinished guides


# --- status questions that name a procedure -----------------------------------------------------

async def _status(ctx: Context, router: Router, q: Question) -> list[Reply]:
    handler = router.intents.get("status") or router.intents["unknown"]
    if q.result.dossier_code:
        return await handler(ctx, q.result)
    found = ctx.kb.matcher.search(q.text, 2)
    named = found[0] if found and ctx.kb.matcher.decide(found) != "none" else None
    replies = await handler(ctx, q.result)
    if named is not None and isinstance(ctx.kb.entries.get(named.id), Procedure):
        set_focus(ctx, named.id)
        replies = [Reply.make(T.STATUS_FOR.format(name=ctx.kb.entries[named.id].name)), *replies]
    return replies


def _short(text: str, limit: int = LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


__all__ = ["respond"]
