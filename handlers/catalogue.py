"""The official catalogue tier in the conversation: short cards and honest follow-ups.

A catalogue entry (``knowledge/catalogue.py``) knows a procedure's code, name, field, level, agency and whether
it can be done online, nothing more. Its card says so and links the official page; a follow-up about its fees,
papers or time says the details are on that page, never a figure. The entry can be the focus (same session key
as curated entries, id ``tthc:CODE``) so "lệ phí bao nhiêu?" after the card is about it.
"""

from __future__ import annotations

from handlers.context import Context
from handlers.focus import FOCUS_KEY, FOCUS_TTL, set_focus
from handlers.router import Router
from handlers.texts import catalogue as C
from handlers.texts import common as T
from handlers.types import Button, Reply
from knowledge import dialogue
from knowledge.catalogue import ID_PREFIX, CatalogueEntry, consult, is_catalogue_id
from knowledge.intent import looks_out_of_scope
from knowledge.understanding import FILLER, Question

LABEL_MAX = 60
ACTION = "tthc"  # buttons: "tthc:card:<code>"

router = Router()


def focused(ctx: Context) -> CatalogueEntry | None:
    """The catalogue entry in focus, if the focus is one and still fresh."""
    focus = ctx.session.data.get(FOCUS_KEY)
    catalogue = getattr(ctx.kb, "catalogue", None)
    if catalogue is None or not isinstance(focus, dict) or not is_catalogue_id(str(focus.get("id") or "")):
        return None
    at = focus.get("at")
    if not isinstance(at, (int, float)) or ctx.now().timestamp() - at > FOCUS_TTL:
        return None
    return catalogue.get(str(focus["id"]))


def respond(ctx: Context, q: Question, curated_focus: bool = False) -> list[Reply] | None:
    """The catalogue's reply to a knowledge question, or None when the curated answer stands.

    1. A catalogue entry in focus and a question about one of its aspects ("lệ phí bao nhiêu?"): the official page.
    2. The curated entries found nothing or were unsure and the catalogue names a procedure: its card (or a choice).
    """
    catalogue = getattr(ctx.kb, "catalogue", None)
    if catalogue is None:
        return None
    result = q.result
    entry = focused(ctx)
    if entry is not None and q.aspects and _only_aspect(q.text):
        set_focus(ctx, entry.id, q.aspects[0])
        return [aspect_reply(entry, q.aspects[0])]
    if curated_focus and (q.aspects or dialogue.is_followup(q.text)):
        return None  # a follow-up about the curated card on screen
    if q.aspects and _only_aspect(q.text):
        return None  # "lệ phí bao nhiêu vậy" naming nothing: the conversation asks which procedure
    best = result.matches[0].score if result.matches and result.decision != "none" else 0.0
    decision = result.decision if result.intent == "procedure" else "none"
    reading = consult(catalogue, q.text, decision, best, result.limit, looks_out_of_scope(result.normalized))
    if reading is None:
        if entry is not None and q.aspects and decision == "none" and not looks_out_of_scope(result.normalized):
            set_focus(ctx, entry.id, q.aspects[0])  # "thế còn giấy tờ thì sao" about the card on screen
            return [aspect_reply(entry, q.aspects[0])]
        return None
    top = reading.matches[0]
    ctx.session.note_answer(best_id=top.entry.id, decision=reading.decision, score=round(top.score, 4))
    if reading.decision == "ask":
        rows = [[Button(_short(m.entry.name), f"{ACTION}:card:{m.entry.code}")] for m in reading.matches[:3]]
        rows.append([Button(T.NONE_OF_THESE, "kb:none")])
        return [Reply.make(C.DID_YOU_MEAN, rows)]
    found = reading.matches[0].entry
    aspect = q.aspects[0] if q.aspects else ""
    set_focus(ctx, found.id, aspect)
    if aspect and not dialogue.is_general(q.text):
        return [card(found), aspect_reply(found, aspect)]
    return [card(found)]


@router.action(ACTION)
async def on_button(ctx: Context, arg: str) -> list[Reply]:
    """A catalogue procedure chosen from a list: its card (a forged or stale code gets the usual refusal)."""
    _, _, code = arg.partition(":")
    catalogue = getattr(ctx.kb, "catalogue", None)
    entry = catalogue.get(ID_PREFIX + code) if catalogue is not None else None
    if entry is None or code in catalogue.hidden:
        return [Reply.make(T.UNKNOWN_BUTTON, [[Button(T.BTN_MENU, "menu")]])]
    set_focus(ctx, entry.id)
    return [card(entry)]


def card(entry: CatalogueEntry) -> Reply:
    levels = ", ".join(C.LEVELS[x] for x in entry.levels if x in C.LEVELS)
    if entry.agency and levels:
        who = C.WHO_AGENCY.format(agency=entry.agency, levels=levels)
    else:
        who = entry.agency or levels or C.WHO_UNKNOWN
    text = C.CARD.format(code=entry.code, field=entry.field, who=who, online=C.ONLINE.get(entry.online, C.ONLINE["unknown"]),
                         link=entry.link)
    return Reply.make(text, _buttons(), title=C.CARD_TITLE.format(name=entry.name))


def aspect_reply(entry: CatalogueEntry, aspect: str) -> Reply:
    name = T.ASPECT_NAMES.get(aspect, C.ASPECT_GENERIC)
    return Reply.make(C.ASPECT.format(aspect=name, name=entry.name, code=entry.code, link=entry.link), _buttons())


def _buttons() -> list[list[Button]]:
    return [[Button(T.MENU_HUMAN, "menu:human"), Button(T.BTN_MENU, "menu")]]


def _only_aspect(text: str) -> bool:
    topic = dialogue.topic_text(text)
    return not topic or all(w in FILLER for w in topic.split())


def _short(text: str, limit: int = LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
