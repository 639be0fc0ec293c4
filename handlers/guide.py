"""Guided online submission: one phone screen at a time, resumable, with a way out to a person.

Actions ("guide:..."): menu, start:<id>, resume:<id>, restart:<id>, show:<id>, next:<id>:<pos>,
back:<id>:<pos>, elig:<id>:<q>:<y|n>, doc:<id>:<i>, list:<id>, stuck:<id>, problem:<id>:<i>,
handoff:<id>, stop:<id>, drop:<id>, finish:<id>:<pos>.
States: "guide:pick" (typing a procedure name), "guide:run:<id>", "guide:stuck:<id>".
Progress lives in the ``guide_progress`` table, so a restart or a later visit continues.
"""

from __future__ import annotations

import logging

from handlers import guide_flow as flow
from handlers.context import Context, Services
from handlers.router import Router
from handlers.texts import guide as T
from handlers.texts import handoff as HT
from handlers.types import Button, Reply
from knowledge import dialogue
from knowledge.schema import Faq, Procedure
from storage.guides import GuideStore, Progress

log = logging.getLogger(__name__)

router = Router()

POPULAR_GUIDES = ("khai-sinh", "khai-sinh-lien-thong", "dang-ky-tam-tru", "dang-ky-thuong-tru", "ket-hon",
                  "xac-nhan-cu-tru")
LABEL_MAX = 48
_cache: dict[tuple[str, int], flow.Guide] = {}


def guide_of(p: Procedure) -> flow.Guide:
    key = (p.id, id(p))
    if key not in _cache:
        _cache[key] = flow.build_guide(p)
    return _cache[key]


def gstore(ctx: Context) -> GuideStore:
    store = ctx.services.extras.get("guide_store")
    if store is None or store.store is not ctx.store:
        store = ctx.services.extras["guide_store"] = GuideStore(ctx.store)
    return store


def _short(text: str, limit: int = LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _menu_row() -> list[Button]:
    return [Button(T.BTN_MENU, "menu")]


def _helper_outcome_buttons(session_id: int) -> list[list[Button]]:
    return [[Button(label, f"helper:outcome:{session_id}:{code}")] for code, label in T.OUTCOMES.items()]


# --- rendering ------------------------------------------------------------------

def render(guide: flow.Guide, prog: Progress) -> Reply:
    """The current screen of a guide, with its buttons."""
    p = guide.procedure
    pos = guide.clamp(prog.pos)
    screen = guide.screens[pos]
    eid = p.id
    intro = guide.intro + "\n\n" if pos == 0 else ""
    nav_back = [Button(T.BTN_BACK, f"guide:back:{eid}:{pos}")] if pos > 0 else []
    if screen.kind == "question":
        i, n = guide.number(pos)
        text = intro + T.QUESTION_TITLE.format(i=i, n=n) + ":\n" + screen.text
        q = screen.question
        rows = [[Button(T.BTN_YES, f"guide:elig:{eid}:{q}:y"), Button(T.BTN_NO, f"guide:elig:{eid}:{q}:n")],
                [*nav_back, Button(T.BTN_LATER, f"guide:stop:{eid}")]]
        return Reply.make(text, rows, title=p.name)
    ticked = set(prog.ticked)
    if screen.kind == "checklist":
        text = intro + flow.checklist_text(guide, prog.ticked)
        rows = [[Button(_short((T.DOC_ON if d.index in ticked else T.DOC_OFF).format(name=d.name)),
                        f"guide:doc:{eid}:{d.index}")] for d in guide.to_tick]
        rows.append([Button(T.BTN_SEND_LIST, f"guide:list:{eid}")])
    else:
        text = intro + screen.text
        rows = []
    last = pos == guide.last
    forward = (Button(T.BTN_FINISH, f"guide:finish:{eid}:{pos}") if last
               else Button(T.BTN_NEXT, f"guide:next:{eid}:{pos}"))
    rows += [[forward, *nav_back], [Button(T.BTN_STUCK, f"guide:stuck:{eid}")],
             [Button(T.BTN_STOP, f"guide:stop:{eid}")]]
    return Reply.make(text, rows, title=guide.title(pos))


def render_blocked(ctx: Context, guide: flow.Guide, q: int) -> Reply:
    """The answer leads elsewhere: say why, where to go, and offer the variant that fits."""
    p = guide.procedure
    question = p.eligibility[q]
    lines = [T.BLOCKED.format(otherwise=question.otherwise), T.BLOCKED_WHERE.format(in_person=p.in_person)]
    rows: list[list[Button]] = []
    other = ctx.kb.procedure(question.redirect) if question.redirect else None
    if other is not None:
        lines.append(T.BLOCKED_REDIRECT.format(name=other.name))
        rows.append([Button(_short(T.BTN_GUIDE_OF.format(name=other.name)), f"guide:start:{other.id}")])
    lines.append(T.BLOCKED_HINT)
    rows.append([Button(T.BTN_REANSWER, f"guide:show:{p.id}")])
    rows.append([Button(T.BTN_HANDOFF, f"guide:handoff:{p.id}"), *_menu_row()])
    return Reply.make("\n".join(lines), rows, title=p.name)


def in_person_reply(p: Procedure) -> Reply:
    lines = [T.IN_PERSON_ONLY.format(name=p.name, in_person=p.in_person)]
    if p.postal:
        lines.append(T.IN_PERSON_POSTAL.format(postal=p.postal))
    lines.append(T.IN_PERSON_DOCS)
    rows = [[Button(T.BTN_DOCS_TO_BRING, f"kb:docs:{p.id}")], [Button(T.BTN_HANDOFF, "menu:human"), *_menu_row()]]
    return Reply.make("\n".join(lines), rows, title=p.name)


# --- starting and resuming ---------------------------------------------------------------

async def start_guide(ctx: Context, entry_id: str, helper_session_id: int | None = None) -> list[Reply]:
    """Start (or offer to resume) the guide of a procedure; the entry point for menu, cards and typed requests."""
    entry = ctx.kb.get(entry_id)
    if entry is None:
        return [Reply.make(T.UNKNOWN_ENTRY, [_menu_row()])]
    if isinstance(entry, Faq):
        return [Reply.make(T.NOT_PROCEDURE, [_menu_row()])]
    ctx.session.data["last_topic"] = entry.id
    if not flow.online_possible(entry):
        ctx.session.state = ""
        replies = [in_person_reply(entry)]
        if helper_session_id is not None:
            replies.append(await _outcome_prompt(ctx, guide_of(entry), helper_session_id))
        return replies
    guide = guide_of(entry)
    prog = await gstore(ctx).get(ctx.session.user_id, entry_id)
    if helper_session_id is None and prog is not None and prog.status == "active" and prog.pos > 0:
        ctx.session.state = f"guide:run:{entry_id}"
        where = guide.where(prog.pos)
        return [Reply.make(T.RESUME_ASK.format(name=entry.name, where=where),
                           [[Button(T.BTN_RESUME, f"guide:resume:{entry_id}"),
                             Button(T.BTN_RESTART, f"guide:restart:{entry_id}")], _menu_row()])]
    keep_session = prog.helper_session_id if prog is not None and prog.status == "active" else None
    prog = Progress(entry_id=entry_id, helper_session_id=helper_session_id or keep_session)
    await gstore(ctx).save(ctx.session.user_id, prog)
    ctx.session.state = f"guide:run:{entry_id}"
    return [render(guide, prog)]


async def open_guides_reply(ctx: Context, heading: str) -> Reply | None:
    """Unfinished guides with a 'continue' button each, or None."""
    open_ = [(g, ctx.kb.procedure(g.entry_id)) for g in await gstore(ctx).open_guides(ctx.session.user_id)]
    open_ = [(g, p) for g, p in open_ if p is not None and flow.online_possible(p)]
    if not open_:
        return None
    if len(open_) == 1:
        g, p = open_[0]
        where = guide_of(p).where(g.pos)
        return Reply.make(T.RESUME_ASK.format(name=p.name, where=where),
                          [[Button(T.BTN_RESUME, f"guide:resume:{p.id}"), Button(T.BTN_DROP, f"guide:drop:{p.id}")]])
    lines = [heading]
    rows = []
    for g, p in open_[:4]:
        where = guide_of(p).where(g.pos)
        lines.append(T.MENU_OPEN_LINE.format(name=p.name, where=where))
        rows.append([Button(_short(T.BTN_CONTINUE_OF.format(name=p.name, where=where), 60), f"guide:resume:{p.id}")])
    return Reply.make("\n".join(lines), rows)


async def menu_note(ctx: Context) -> list[Reply]:
    """For the core's menu: offer to continue a guide left unfinished."""
    reply = await open_guides_reply(ctx, T.RESUME_NOTE)
    return [reply] if reply else []


def _procedure_buttons(ctx: Context, ids: list[str]) -> list[list[Button]]:
    rows = []
    for i in ids:
        p = ctx.kb.procedure(i)
        if p is not None:
            rows.append([Button(_short(p.name, 60), f"guide:start:{p.id}")])
    return rows


async def guide_menu(ctx: Context) -> list[Reply]:
    ctx.session.state = "guide:pick"
    replies = []
    open_reply = await open_guides_reply(ctx, T.MENU_OPEN_HEAD)
    if open_reply is not None:
        replies.append(open_reply)
    rows = _procedure_buttons(ctx, list(POPULAR_GUIDES))
    if await _is_helper(ctx):
        rows.append([Button(T.BTN_HELPER, "helper:start")])
    rows.append(_menu_row())
    replies.append(Reply.make(T.MENU, rows))
    return replies


async def _is_helper(ctx: Context) -> bool:
    check = ctx.services.extras.get("is_helper")
    return bool(check and await check(ctx))


# --- actions -----------------------------------------------------------------------------------

@router.action("guide")
async def on_action(ctx: Context, arg: str) -> list[Reply]:
    verb, _, rest = arg.partition(":")
    if verb == "menu" or not verb:
        return await guide_menu(ctx)
    parts = rest.split(":")
    entry_id = parts[0]
    if verb == "start":
        return await start_guide(ctx, entry_id)
    p = ctx.kb.procedure(entry_id)
    if p is None:
        return [Reply.make(T.UNKNOWN_ENTRY, [_menu_row()])]
    guide = guide_of(p)
    store = gstore(ctx)
    prog = await store.get(ctx.session.user_id, entry_id)
    if verb == "restart":
        sid = prog.helper_session_id if prog else None
        prog = Progress(entry_id=entry_id, helper_session_id=sid)
        await store.save(ctx.session.user_id, prog)
        ctx.session.state = f"guide:run:{entry_id}"
        return [render(guide, prog)]
    if prog is None or prog.status in ("done", "dropped"):
        return [Reply.make(T.NO_OPEN_GUIDE, [[Button(T.BTN_RESTART, f"guide:restart:{entry_id}")], _menu_row()])]
    args = parts[1:]
    return await _do(ctx, verb, args, guide, prog)


async def _do(ctx: Context, verb: str, args: list[str], guide: flow.Guide, prog: Progress) -> list[Reply]:
    store = gstore(ctx)
    uid = ctx.session.user_id
    eid = guide.procedure.id
    ctx.session.state = f"guide:run:{eid}"
    pos = guide.clamp(prog.pos)
    # An old "Tiếp"/"Quay lại" pressed again only shows where the user is: a double tap never skips a step.
    stale = verb in ("next", "back", "finish") and bool(args) and args[0].isdigit() and int(args[0]) != pos
    if verb in ("resume", "show") or stale:
        if prog.status == "blocked":
            q = flow.first_blocking(guide.procedure, prog.answers)
            if q is not None:
                prog.answers.pop(str(q), None)
                prog.pos = q
            prog.status = "active"
        await store.save(uid, prog)
        return [render(guide, prog)]
    if verb == "next":
        prog.pos = guide.clamp(pos + 1)
    elif verb == "back":
        prog.pos = guide.clamp(pos - 1)
    elif verb == "elig" and len(args) == 2 and args[0].isdigit() and args[1] in ("y", "n"):
        q = int(args[0])
        if not 0 <= q < len(guide.procedure.eligibility):
            return [render(guide, prog)]
        prog.answers[str(q)] = args[1]
        if not flow.answer_fits(guide.procedure, q, args[1]):
            prog.status, prog.pos = "blocked", q
            await store.save(uid, prog)
            ctx.session.state = ""
            return [render_blocked(ctx, guide, q)]
        if guide.screens[pos].kind == "question" and guide.screens[pos].question == q:
            prog.pos = guide.clamp(pos + 1)
    elif verb == "doc" and args and args[0].isdigit():
        i = int(args[0])
        if any(d.index == i for d in guide.to_tick):
            prog.ticked = [t for t in prog.ticked if t != i] if i in prog.ticked else [*prog.ticked, i]
        prog.pos = next(k for k, s in enumerate(guide.screens) if s.kind == "checklist")
    elif verb == "list":
        await store.save(uid, prog)
        text = flow.checklist_text(guide, prog.ticked, keep=True)
        return [Reply.make(text, title=T.CHECKLIST_KEEP_TITLE.format(name=guide.procedure.name)),
                render(guide, prog)]
    elif verb == "stuck":
        return _stuck(ctx, guide, prog)
    elif verb == "problem" and args and args[0].isdigit():
        return _problem(ctx, guide, prog, int(args[0]))
    elif verb == "handoff":
        problem = ctx.session.data.pop("guide_problem", "")
        return await handoff(ctx, guide, prog, problem)
    elif verb == "stop":
        return await _stop(ctx, guide, prog)
    elif verb == "drop":
        await store.forget(uid, eid)
        ctx.session.state = ""
        return [Reply.make(T.DROPPED.format(name=guide.procedure.name), [_menu_row()])]
    elif verb == "finish":
        return await _finish(ctx, guide, prog)
    await store.save(uid, prog)
    return [render(guide, prog)]


def _stuck(ctx: Context, guide: flow.Guide, prog: Progress) -> list[Reply]:
    eid = guide.procedure.id
    screen = guide.screens[guide.clamp(prog.pos)]
    ctx.session.state = f"guide:stuck:{eid}"
    ctx.session.data.pop("guide_problem", None)
    lines = [T.STUCK_HEAD if screen.problems else T.STUCK_NONE]
    rows = [[Button(_short(pr.problem, 60), f"guide:problem:{eid}:{i}")] for i, pr in enumerate(screen.problems)]
    step = f"{eid}:{guide.clamp(prog.pos)}"
    last = ctx.session.data.get("guide_stuck") or ["", 0]
    times = last[1] + 1 if last[0] == step else 1
    ctx.session.data["guide_stuck"] = [step, times]
    if times >= 2:  # stuck twice on the same step: a person is offered first (not forced)
        lines.insert(0, HT.STUCK_AGAIN)
        rows.insert(0, [Button(T.BTN_HANDOFF, f"guide:handoff:{eid}")])
    lines.append(T.STUCK_TYPE)
    rows.append([Button(T.BTN_NONE_FITS if screen.problems else T.BTN_HANDOFF, f"guide:handoff:{eid}")])
    rows.append([Button(T.BTN_BACK_TO_STEP, f"guide:show:{eid}")])
    return [Reply.make("\n".join(lines), rows, title=guide.title(prog.pos))]


def _problem(ctx: Context, guide: flow.Guide, prog: Progress, i: int) -> list[Reply]:
    eid = guide.procedure.id
    screen = guide.screens[guide.clamp(prog.pos)]
    if not 0 <= i < len(screen.problems):
        return _stuck(ctx, guide, prog)
    problem = screen.problems[i]
    ctx.session.data["guide_problem"] = problem.problem
    ctx.session.state = f"guide:stuck:{eid}"
    rows = [[Button(T.BTN_FIXED, f"guide:show:{eid}")], [Button(T.BTN_STILL, f"guide:handoff:{eid}")]]
    return [Reply.make(T.FIX.format(fix=problem.fix), rows, title=problem.problem)]


async def handoff(ctx: Context, guide: flow.Guide, prog: Progress, problem: str) -> list[Reply]:
    """Hand the citizen to a person, with a summary so that nobody has to start over; recorded."""
    p = guide.procedure
    text = flow.summary(guide, prog.pos, prog.answers, prog.ticked, problem)
    await ctx.store.add_handoff(ctx.session.user_id, f"guide:{p.id}"[:64], text)
    ctx.session.state = ""
    rows = [[Button(T.BTN_RESUME, f"guide:show:{p.id}")], _menu_row()]
    person = ctx.services.extras.get("handoff")  # handlers/handoff.py: a ticket, or honestly who to call
    first = await person(ctx, f"guide:{p.id}", text) if person else [Reply.make(T.HANDOFF.format(in_person=p.in_person))]
    if ctx.session.state == "handoff:commune":
        return first  # the commune comes first; the summary goes with the ticket
    return [*first, Reply.make(text, rows, title=T.SUMMARY_TITLE)]


async def _stop(ctx: Context, guide: flow.Guide, prog: Progress) -> list[Reply]:
    await gstore(ctx).save(ctx.session.user_id, prog)
    ctx.session.state = ""
    rows = [[Button(T.BTN_RESUME, f"guide:resume:{guide.procedure.id}")],
            [Button(T.BTN_DROP, f"guide:drop:{guide.procedure.id}"), *_menu_row()]]
    replies = [Reply.make(T.STOPPED.format(where=guide.where(prog.pos)), rows)]
    if prog.helper_session_id is not None:
        replies.append(await _outcome_prompt(ctx, guide, prog.helper_session_id))
    return replies


async def _outcome_prompt(ctx: Context, guide: flow.Guide, session_id: int) -> Reply:
    session = await gstore(ctx).session(session_id)
    commune = session.commune if session else ""
    return Reply.make(T.HELPER_OUTCOME_ASK.format(commune=commune, name=guide.procedure.name),
                      _helper_outcome_buttons(session_id))


async def _finish(ctx: Context, guide: flow.Guide, prog: Progress) -> list[Reply]:
    p = guide.procedure
    ctx.session.state = ""
    rows = [[Button(T.BTN_TRACK, "dossier:start"), *_menu_row()]]
    replies = [Reply.make(T.DONE.format(name=p.name, time=p.processing_time), rows)]
    if prog.helper_session_id is not None:
        # The resident's answers and papers are not kept once the outcome is what matters.
        await gstore(ctx).forget(ctx.session.user_id, p.id)
        replies.append(await _outcome_prompt(ctx, guide, prog.helper_session_id))
    else:
        prog.status = "done"
        await gstore(ctx).save(ctx.session.user_id, prog)
    return replies


# --- typed text while in a guide ---------------------------------------------------------------

@router.state("guide")
async def on_text(ctx: Context) -> list[Reply] | None:
    if ctx.incoming.kind != "text":
        return None
    kind, _, entry_id = ctx.session.state.partition(":")[2].partition(":")
    if kind == "pick":
        return _pick(ctx, ctx.text)
    p = ctx.kb.procedure(entry_id)
    if p is None:
        ctx.session.state = ""
        return None
    prog = await gstore(ctx).get(ctx.session.user_id, entry_id)
    if prog is None or prog.status != "active":
        ctx.session.state = ""
        return None
    guide = guide_of(p)
    if kind == "stuck":
        problem = ctx.session.data.pop("guide_problem", "")
        described = ctx.text.strip()[:300]
        return await handoff(ctx, guide, prog, f"{problem} — {described}" if problem else described)
    screen = guide.screens[guide.clamp(prog.pos)]
    pos = str(guide.clamp(prog.pos))
    fam = dialogue.families(ctx.text)
    if screen.kind == "question":
        if "yes" in fam or "no" in fam:
            answer = "y" if "yes" in fam else "n"  # "dung" (đúng or dừng) without marks: yes on a question
            return await _do(ctx, "elig", [str(screen.question), answer], guide, prog)
        if "not_sure" in fam:
            return [_not_sure(guide, prog)]
        if "next" in fam:  # a yes/no question needs an answer first
            return [render(guide, prog)]
    if "next" in fam:
        return await _do(ctx, "finish" if prog.pos >= guide.last else "next", [pos], guide, prog)
    if "back" in fam:
        return await _do(ctx, "back", [pos], guide, prog)
    if fam & {"stuck", "not_sure"}:
        return await _do(ctx, "stuck", [], guide, prog)
    if fam & {"later", "cancel"}:
        return await _do(ctx, "stop", [], guide, prog)
    if fam & {"yes", "ack"}:  # "dạ", "vâng", "được" on a step: done, go on
        return await _do(ctx, "finish" if prog.pos >= guide.last else "next", [pos], guide, prog)
    return None  # a question: the normal matching answers it, and the way back is added (see resume)


def _not_sure(guide: flow.Guide, prog: Progress) -> Reply:
    """ "không biết" on a yes/no question: where to find out, and a person if that does not help."""
    screen = render(guide, prog)
    rows = [list(r) for r in screen.buttons]
    rows.insert(1, [Button(T.BTN_HANDOFF, f"guide:handoff:{guide.procedure.id}")])
    return Reply.make(T.NOT_SURE_QUESTION + "\n\n" + screen.text, rows, title=screen.title)


@router.resume("guide")
async def way_back(ctx: Context) -> Reply | None:
    """Under an answer to a question typed mid-guide: where the citizen is, and how to go on."""
    kind, _, entry_id = ctx.session.state.partition(":")[2].partition(":")
    p = ctx.kb.procedure(entry_id)
    if kind != "run" or p is None:
        return None
    prog = await gstore(ctx).get(ctx.session.user_id, entry_id)
    if prog is None or prog.status != "active":
        return None
    where = guide_of(p).where(prog.pos)
    return Reply.make(T.DETOUR.format(where=where, name=p.name),
                      [[Button(T.BTN_NEXT, f"guide:show:{entry_id}"), Button(T.BTN_STOP, f"guide:stop:{entry_id}")]])


def _pick(ctx: Context, text: str) -> list[Reply] | None:
    """Typed procedure name on the guide menu: offer the procedures that match."""
    results = ctx.kb.matcher.search(text, 5)
    ids = [c.id for c in results if ctx.kb.procedure(c.id) is not None][:3]
    if not ids:
        rows = _procedure_buttons(ctx, list(POPULAR_GUIDES))
        rows.append(_menu_row())
        return [Reply.make(T.PICK_NONE, rows)]
    rows = _procedure_buttons(ctx, ids)
    rows.append(_menu_row())
    return [Reply.make(T.PICK_FOUND, rows)]


# --- wiring ----------------------------------------------------------------------------------------

async def setup(services: Services) -> None:
    services.extras["guide_store"] = GuideStore(services.store)
    services.extras["guide"] = start_guide
    services.extras.setdefault("menu_notes", []).append(menu_note)


__all__ = ["guide_of", "menu_note", "render", "router", "setup", "start_guide"]
