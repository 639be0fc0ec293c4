"""Complaints and feedback (phản ánh, kiến nghị): the feature's router and setup.

Citizen side (action prefix "complaint", state "complaint", intent "complaint"): intake in
``handlers.complaint_intake``, lookup by tracking code, rating and reopening here.
Agency side (action prefix "agency", /baocao, /dangky, /taomoi): ``handlers.agency``.
The workflow and its outbox messages: ``handlers.complaint_ops``.
"""

from __future__ import annotations

import logging
import re

from bot.agencies import AgencyDirectory
from handlers import agency
from handlers import complaint_intake as intake
from handlers.complaint_ops import MAX_REOPEN, ComplaintOps, fmt_time
from handlers.context import Context, Services
from handlers.dispatcher import GROUP_STATE
from handlers.idempotency import action_key
from handlers.router import Router
from handlers.texts import complaint as T
from handlers.types import Button, Reply
from knowledge.complaint_reading import read_complaint
from knowledge.matcher import MatchResult
from knowledge.normalize import fold
from storage.complaint_models import OPEN_STATUSES, Complaint

log = logging.getLogger(__name__)

router = Router()
router.include(agency.router)
CODE = re.compile(r"PAKN\s*-\s*(\d{4})\s*-\s*(\d{1,8})", re.IGNORECASE)
JOB_INTERVAL = 300.0  # seconds between deadline checks


async def setup(services: Services) -> None:
    """Load the agencies file, expose agency chats to other features, register the deadline job."""
    path = services.settings.agencies_file
    directory = AgencyDirectory.load(path) if path else None
    if directory is None:
        log.info("AGENCIES_FILE not set: complaints are stored but not routed to any agency")
    services.extras["agencies"] = directory
    services.extras["complaint_ops"] = ComplaintOps(services)
    services.extras["agency_chats"] = directory.chats if directory else (lambda _key: [])
    services.extras.setdefault("jobs", []).append((deadline_job, JOB_INTERVAL))


async def deadline_job(services: Services) -> None:
    reminded, overdue = await services.extras["complaint_ops"].check_deadlines()
    if reminded or overdue:
        log.info("complaint deadlines: %s reminders, %s overdue alerts", reminded, overdue)


def find_code(text: str) -> str | None:
    m = CODE.search(text or "")
    return f"PAKN-{m.group(1)}-{int(m.group(2)):06d}" if m else None


def ops(ctx: Context) -> ComplaintOps:
    return ctx.services.extras["complaint_ops"]


# --- entry points -------------------------------------------------------------------------

@router.intent("complaint")
async def on_intent(ctx: Context, result: MatchResult) -> list[Reply]:
    code = find_code(ctx.text)
    if code:
        return await lookup(ctx, code)
    folded = fold(ctx.text)
    if "tra cuu" in folded or "kiem tra" in folded or "xem lai" in folded:
        return ask_code(ctx)
    return intake.begin(ctx, ctx.text)


@router.intent("report")
async def on_report(ctx: Context, result: MatchResult) -> list[Reply]:
    """A message that tells a problem or a grievance ("đường hư nặng, đề nghị sửa", "hồ sơ của tôi trễ hạn
    2 tuần không ai trả lời") starts a complaint, unless it is a question the knowledge base answers well
    and asks for nothing ("hồ sơ trễ hạn thì làm sao"). [] lets the conversation answer it."""
    if ctx.incoming.chat_type == "group":
        return []
    r = read_complaint(ctx.text, province=intake.home_province(ctx))
    if not r.complaint:
        return []
    if (result.decision == "answer" or result.limit) and not r.strong:
        return []
    return intake.begin_from_message(ctx, ctx.text)


@router.action("complaint")
async def on_action(ctx: Context, arg: str) -> list[Reply]:
    verb, _, rest = arg.partition(":")
    if verb == "start":
        if ctx.incoming.chat_type == "group":
            return [Reply.make(T.PRIVATE_ONLY)]
        ctx.session.state = ""
        rows = [[Button(T.BTN_NEW, "complaint:new")], [Button(T.BTN_LOOKUP, "complaint:lookup")],
                [Button(T.BTN_MENU, "menu")]]
        return [Reply.make(T.INTRO, rows)]
    if verb == "new":
        return intake.begin(ctx)
    if verb == "lookup":
        return ask_code(ctx)
    if verb == "cancel":
        ctx.session.data.pop(intake.DRAFT, None)
        ctx.session.state = ""
        return [Reply.make(T.CANCELLED, [[Button(T.BTN_MENU, "menu")]])]
    if verb == "resume":
        return intake.ask_again(ctx)
    if intake.is_stale(ctx, verb):
        return [Reply.make(T.STALE_STEP), *intake.ask_again(ctx)]
    if verb == "topic":
        return await intake.on_topic(ctx, rest)
    if verb == "proc":
        return await intake.on_procedure(ctx, "" if rest == "none" else rest)
    if verb == "dossier":
        return intake.skip_dossier(ctx)
    if verb == "commune":
        return await intake.on_commune(ctx, rest)
    if verb == "desc":
        d = intake.draft(ctx)
        return intake.set_description(ctx, d.get("seed", "")) if d else intake.expired()
    if verb == "photo":
        return intake.next_step(ctx, "photo") if intake.draft(ctx) is not None else intake.expired()
    if verb == "contact":
        return await intake.on_contact(ctx, rest)
    if verb == "edit":
        return await intake.on_edit(ctx, rest)
    if verb == "send":
        return await intake.on_send(ctx)
    if verb == "rate":
        return await rate(ctx, rest)
    if verb == "reopen":
        return await ask_reopen(ctx, rest)
    if verb == "info":
        return await ask_info(ctx, rest)
    if verb == "comment":
        return await ask_comment(ctx, rest)
    return intake.expired()


@router.resume("complaint")
async def way_back(ctx: Context) -> Reply | None:
    """Under an answer to a question typed mid-intake: the draft is kept, and how to go on."""
    if ctx.session.state.partition(":")[2] not in intake.INTAKE_STATES or not intake.current_step(ctx):
        return None
    return Reply.make(T.DETOUR, [[Button(T.BTN_GO_ON, "complaint:resume"), intake.cancel_row()[0]]])


@router.state("complaint")
async def on_text(ctx: Context) -> list[Reply] | None:
    _, _, rest = ctx.session.state.partition(":")
    step, _, arg = rest.partition(":")
    if step in ("answer", "xfer", "ask"):
        return await agency.staff_text(ctx, step, arg)
    if step == "invite":
        return await agency.invite_text(ctx)
    if step == "lookup":
        ctx.session.state = ""
        return await lookup(ctx, find_code(ctx.text) or ctx.text.strip()[:40])
    if step == "reopen":
        return await reopen(ctx, arg)
    if step == "info":
        return await give_info(ctx, arg)
    if step == "comment":
        return await give_comment(ctx, arg)
    return await intake.on_intake_text(ctx, step)


@router.state(GROUP_STATE)
async def on_group(ctx: Context) -> list[Reply] | None:
    for hook in ctx.services.extras.get("group_hooks", []):  # other features' group texts (handoff tickets)
        replies = await hook(ctx)
        if replies is not None:
            return replies
    return await agency.on_group_text(ctx)


# --- lookup, rating, reopening ------------------------------------------------------------

def ask_code(ctx: Context) -> list[Reply]:
    if ctx.incoming.chat_type == "group":
        return [Reply.make(T.PRIVATE_ONLY)]
    ctx.session.state = "complaint:lookup"
    return [Reply.make(T.ASK_CODE, [[Button(T.BTN_MENU, "menu")]])]


async def _own(ctx: Context, c: Complaint | None) -> Complaint | None:
    """The complaint only if it belongs to this user (others' codes look like unknown codes)."""
    return c if c is not None and c.user_id == ctx.session.user_id else None


async def lookup(ctx: Context, code: str) -> list[Reply]:
    if ctx.incoming.chat_type == "group":
        return [Reply.make(T.PRIVATE_ONLY)]
    o = ops(ctx)
    c = await _own(ctx, await o.repo.by_code(code))
    if c is None:
        return [Reply.make(T.CODE_NOT_FOUND.format(code=code[:40]), [[Button(T.BTN_LOOKUP, "complaint:lookup"),
                                                                      Button(T.BTN_MENU, "menu")]])]
    lines = [T.LOOKUP.format(code=c.code, status=T.STATUS_TEXT.get(c.status, c.status),
                             agency=o.agency_name(c.agency_key), created=fmt_time(c.created_at),
                             due=fmt_time(c.due_at))]
    answers = [e for e in await o.repo.events(c.id) if e.kind == "answered"]
    if answers:
        lines.append(T.LOOKUP_ANSWER.format(agency=o.agency_name(answers[-1].agency_key), answer=answers[-1].note))
    rows = o.rating_buttons(c.id) if c.status in ("answered", "closed") else []
    buttons = [[Button(b["label"], b["action"]) for b in row] for row in rows]
    buttons.append([Button(T.BTN_MENU, "menu")])
    return [Reply.make("\n".join(lines), buttons)]


async def rate(ctx: Context, arg: str) -> list[Reply]:
    cid, _, n = arg.partition(":")
    if not cid.isdigit() or n not in {"1", "2", "3", "4", "5"}:
        return intake.expired()
    res = await ops(ctx).rate(int(cid), ctx.session.user_id, int(n), idem=action_key(ctx, "rate", f"{cid}:{n}"))
    if isinstance(res, str):
        return [Reply.make(T.NOT_YOURS if res in ("missing", "not_owner") else T.RATE_NOT_YET)]
    comment = [Button(T.BTN_COMMENT, f"complaint:comment:{cid}")]
    if int(n) <= 2:
        return [Reply.make(f"{T.RATED.format(n=n)}\n{T.RATE_LOW_HINT}",
                           [[Button(T.BTN_NOT_RESOLVED, f"complaint:reopen:{cid}")], comment,
                            [Button(T.BTN_MENU, "menu")]])]
    return [Reply.make(T.RATED.format(n=n), [comment, [Button(T.BTN_MENU, "menu")]])]


async def ask_comment(ctx: Context, arg: str) -> list[Reply]:
    if not arg.isdigit():
        return intake.expired()
    c = await _own(ctx, await ops(ctx).repo.get(int(arg)))
    if c is None:
        return [Reply.make(T.NOT_YOURS)]
    ctx.session.state = f"complaint:comment:{c.id}"
    return [Reply.make(T.ASK_COMMENT, [[Button(T.BTN_CANCEL, "complaint:cancel")]])]


async def give_comment(ctx: Context, arg: str) -> list[Reply]:
    if ctx.incoming.kind != "text" or not arg.isdigit() or not ctx.text.strip():
        return [Reply.make(T.ASK_COMMENT, [[Button(T.BTN_CANCEL, "complaint:cancel")]])]
    ctx.session.state = ""
    o = ops(ctx)
    res = await o.comment(int(arg), ctx.session.user_id, ctx.text, idem=action_key(ctx, "comment", arg))
    if isinstance(res, str):
        return [Reply.make(T.RATE_NOT_YET if res.startswith("status:") else T.NOT_YOURS,
                           [[Button(T.BTN_MENU, "menu")]])]
    return [Reply.make(T.COMMENT_SENT.format(agency=o.agency_name(res.agency_key)), [[Button(T.BTN_MENU, "menu")]])]


async def ask_reopen(ctx: Context, arg: str) -> list[Reply]:
    if not arg.isdigit():
        return intake.expired()
    c = await _own(ctx, await ops(ctx).repo.get(int(arg)))
    if c is None:
        return [Reply.make(T.NOT_YOURS)]
    if c.status not in ("answered", "closed"):
        return [Reply.make(T.REOPEN_NOT_NOW)]
    ctx.session.state = f"complaint:reopen:{c.id}"
    return [Reply.make(T.ASK_REOPEN_REASON, [[Button(T.BTN_CANCEL, "complaint:cancel")]])]


async def reopen(ctx: Context, arg: str) -> list[Reply]:
    if ctx.incoming.kind != "text" or not arg.isdigit():
        return [Reply.make(T.ASK_REOPEN_REASON)]
    ctx.session.state = ""
    o = ops(ctx)
    res = await o.reopen(int(arg), ctx.session.user_id, ctx.text)
    if isinstance(res, str):
        if res == "limit":
            return [Reply.make(T.REOPEN_LIMIT.format(n=MAX_REOPEN))]
        return [Reply.make(T.REOPEN_NOT_NOW if res.startswith("status:") else T.NOT_YOURS)]
    return [Reply.make(T.REOPENED.format(code=res.code, agency=o.agency_name(res.agency_key), due=fmt_time(res.due_at)),
                       [[Button(T.BTN_MENU, "menu")]])]


# --- the citizen answers a question of the agency (asked from the web console) ------------------

async def ask_info(ctx: Context, arg: str) -> list[Reply]:
    if not arg.isdigit():
        return intake.expired()
    c = await _own(ctx, await ops(ctx).repo.get(int(arg)))
    if c is None:
        return [Reply.make(T.NOT_YOURS)]
    if c.status not in OPEN_STATUSES:
        return [Reply.make(T.INFO_NOT_NOW, [[Button(T.BTN_MENU, "menu")]])]
    ctx.session.state = f"complaint:info:{c.id}"
    return [Reply.make(T.ASK_INFO, [[Button(T.BTN_CANCEL, "complaint:cancel")]])]


async def give_info(ctx: Context, arg: str) -> list[Reply]:
    if ctx.incoming.kind != "text" or not arg.isdigit() or not ctx.text.strip():
        return [Reply.make(T.ASK_INFO, [[Button(T.BTN_CANCEL, "complaint:cancel")]])]
    ctx.session.state = ""
    o = ops(ctx)
    res = await o.add_info(int(arg), ctx.session.user_id, ctx.text)
    if isinstance(res, str):
        return [Reply.make(T.INFO_NOT_NOW if res.startswith("status:") else T.NOT_YOURS,
                           [[Button(T.BTN_MENU, "menu")]])]
    return [Reply.make(T.INFO_SENT.format(agency=o.agency_name(res.agency_key)), [[Button(T.BTN_MENU, "menu")]])]
