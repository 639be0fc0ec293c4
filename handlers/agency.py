"""Agency side of complaints: card buttons, staff answers, transfers, /baocao, invite codes.

Only staff registered for the complaint's current agency (in the agencies file, or with an
invite code) can act; anyone else is refused and the attempt is recorded.
"""

from __future__ import annotations

import re
from dataclasses import replace

from handlers.complaint_ops import ComplaintOps, fmt_time, topic_short
from handlers.context import Context
from handlers.idempotency import action_key
from handlers.router import Router
from handlers.texts import complaint as T
from handlers.types import Button, Reply
from knowledge.normalize import fold
from storage.complaint_models import STATUSES, Complaint

router = Router()
MIN_ANSWER_WORDS = 3
LIST_MAX = 20
CODE = re.compile(r"PAKN\s*-\s*(\d{4})\s*-\s*(\d{1,8})", re.IGNORECASE)
# A card's choices in order (ComplaintOps.card_buttons): "2 PAKN-2026-000004" is its second choice.
CHOICES = {"1": "recv", "2": "answer", "3": "xfer", "4": "done", "5": "ask"}
# Typed staff actions, with or without "/", folded: "trả lời PAKN-2026-000004 …", "/xong PAKN-…".
VERBS = {"tiep nhan": "recv", "tiepnhan": "recv", "nhan xu ly": "recv", "tra loi": "answer", "traloi": "answer",
         "phan hoi": "answer", "phanhoi": "answer", "hoi them": "ask", "hoithem": "ask", "chuyen": "xfer",
         "chuyen don vi": "xfer", "xong": "done", "da xu ly": "done", "dong": "done", "mo lai": "reopen",
         "molai": "reopen"}
_TYPED = re.compile(r"^\s*/?\s*(?P<verb>[1-5]|[a-zA-ZÀ-ỹđĐ ]{2,14}?)\s*[:.)-]?\s*(?P<code>PAKN\s*-\s*\d{4}\s*-\s*\d{1,8})"
                    r"\s*[:,.-]?\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)


def ops(ctx: Context) -> ComplaintOps:
    return ctx.services.extras["complaint_ops"]


def actor(ctx: Context) -> str:
    return f"{ctx.incoming.channel}:{ctx.incoming.user_id}"


def who(ctx: Context) -> str:
    return ctx.session.display_name or "Cán bộ"


async def _authorized(ctx: Context, cid: int, action: str) -> Complaint | list[Reply]:
    """The complaint if the user is staff of its current agency; otherwise the refusal reply."""
    o = ops(ctx)
    c = await o.repo.get(cid)
    if c is None:
        return [Reply.make(T.STAFF_NOT_FOUND)]
    if not await o.is_staff(c.agency_key, actor(ctx)):
        await o.refuse(c.id, actor(ctx), action)
        return [replace(Reply.make(T.STAFF_REFUSED), private=True)]  # to the person, not posted in the group
    return c


def _outcome(result: Complaint | str, ok: str, code: str | None, ctx: Context | None = None,
             cid: int | None = None) -> list[Reply]:
    if isinstance(result, str):
        if result.startswith("status:"):
            status = T.STATUS_TEXT.get(result.partition(":")[2], result)
            return [Reply.make(T.STAFF_ALREADY.format(code=code, status=status), _again(ctx, cid))]
        return [Reply.make(T.STAFF_NOT_FOUND)]
    return [Reply.make(ok, _again(ctx, cid))]


def _again(ctx: Context | None, cid: int | None) -> list[list[Button]]:
    """Where choices are typed numbers (Zalo, terminal), the card's choices again after each action on it:
    "1" then "2" both act on that card (the reply's choices are what numbers mean next)."""
    if ctx is None or cid is None or ctx.incoming.channel == "telegram":
        return []
    return [[Button(b["label"], b["action"]) for b in row] for row in ComplaintOps.card_buttons(cid)]


@router.action("agency")
async def on_agency_button(ctx: Context, arg: str) -> list[Reply]:
    verb, _, rest = arg.partition(":")
    if verb == "report":
        return await report_for(ctx, rest)
    if verb == "invite":
        return await invite_for(ctx, rest)
    cid_text, _, target = rest.partition(":")
    if not cid_text.isdigit():
        return [Reply.make(T.STAFF_NOT_FOUND)]
    got = await _authorized(ctx, int(cid_text), verb)
    if isinstance(got, list):
        return got
    c, o = got, ops(ctx)
    if verb == "recv":
        res = await o.receive(c.id, actor(ctx), idem=action_key(ctx, "recv", c.id))
        return _outcome(res, T.STAFF_RECEIVED.format(who=who(ctx), code=c.code), c.code, ctx, c.id)
    if verb == "answer":
        ctx.session.state = f"complaint:answer:{c.id}"
        ctx.session.data["pakn_chat"] = ctx.incoming.chat_id
        return [Reply.make(T.STAFF_ASK_ANSWER.format(code=c.code, agency=o.agency_name(c.agency_key)))]
    if verb == "ask":
        ctx.session.state = f"complaint:ask:{c.id}"
        ctx.session.data["pakn_chat"] = ctx.incoming.chat_id
        return [Reply.make(T.STAFF_ASK_QUESTION.format(code=c.code))]
    if verb == "done":
        return _outcome(await o.close(c.id, actor(ctx), idem=action_key(ctx, "done", c.id)),
                        T.STAFF_CLOSED.format(code=c.code), c.code, ctx, c.id)
    if verb == "xfer":
        others = [a for a in (o.directory.config.agencies if o.directory else []) if a.key != c.agency_key]
        if not others:
            return [Reply.make(T.STAFF_NO_OTHER)]
        rows = [[Button(a.name[:60], f"agency:xferto:{c.id}:{a.key}")] for a in others]
        keys = "\n".join(T.STAFF_AGENCY_KEY.format(key=a.key, name=a.name) for a in others)
        return [Reply.make(T.STAFF_PICK_AGENCY.format(code=c.code, keys=keys), rows)]
    if verb == "xferto" and o.directory is not None and o.directory.get(target) is not None:
        ctx.session.state = f"complaint:xfer:{c.id}:{target}"
        ctx.session.data["pakn_chat"] = ctx.incoming.chat_id
        return [Reply.make(T.STAFF_ASK_REASON.format(code=c.code, agency=o.agency_name(target)))]
    return [Reply.make(T.STAFF_NOT_FOUND)]


async def staff_text(ctx: Context, step: str, arg: str) -> list[Reply] | None:
    """Text typed by staff after "Trả lời" or after choosing a transfer target."""
    if ctx.session.data.get("pakn_chat") != ctx.incoming.chat_id or ctx.incoming.kind != "text":
        ctx.session.state = ""  # the staff member moved to another chat: let the text be handled normally
        return None
    cid_text, _, target = arg.partition(":")
    if not cid_text.isdigit():
        ctx.session.state = ""
        return None
    if len(ctx.text.split()) < MIN_ANSWER_WORDS:
        return [Reply.make(T.STAFF_ANSWER_SHORT)]
    ctx.session.state = ""
    if step == "answer":
        return await answer(ctx, int(cid_text), ctx.text)
    if step == "ask":
        return await ask_citizen(ctx, int(cid_text), ctx.text)
    return await transfer(ctx, int(cid_text), target, ctx.text)


async def transfer(ctx: Context, cid: int, target: str, reason: str) -> list[Reply]:
    got = await _authorized(ctx, cid, "xfer")
    if isinstance(got, list):
        return got
    o = ops(ctx)
    res = await o.transfer(got.id, actor(ctx), target, reason, idem=action_key(ctx, "xfer", got.id))
    return _outcome(res, T.STAFF_TRANSFERRED.format(code=got.code, agency=o.agency_name(target)), got.code)


async def ask_citizen(ctx: Context, cid: int, question: str) -> list[Reply]:
    got = await _authorized(ctx, cid, "ask")
    if isinstance(got, list):
        return got
    res = await ops(ctx).ask_citizen(got.id, actor(ctx), question, idem=action_key(ctx, "ask", got.id))
    return _outcome(res, T.STAFF_ASKED.format(code=got.code), got.code, ctx, got.id)


async def answer(ctx: Context, cid: int, text: str) -> list[Reply]:
    got = await _authorized(ctx, cid, "answer")
    if isinstance(got, list):
        return got
    if len(text.split()) < MIN_ANSWER_WORDS:
        return [Reply.make(T.STAFF_ANSWER_SHORT)]
    res = await ops(ctx).answer(got.id, actor(ctx), text, idem=action_key(ctx, "answer", got.id))
    return _outcome(res, T.STAFF_ANSWERED.format(code=got.code), got.code, ctx, got.id)


async def on_group_text(ctx: Context) -> list[Reply] | None:
    """In group chats: a reply to a complaint card is the answer; other chatter in agency chats is ignored."""
    inc = ctx.incoming
    if inc.kind != "text":
        return None
    typed = await typed_action(ctx)
    if typed is not None:
        return typed
    o = ops(ctx)
    if inc.reply_to:
        cid = await o.repo.by_card(inc.channel, inc.chat_id, inc.reply_to)
        if cid is not None:
            if ctx.session.state.startswith("complaint:answer"):
                ctx.session.state = ""
            return await answer(ctx, cid, inc.text)
    if ctx.session.state.startswith("complaint:"):
        return None  # staff mid-answer: the state handler takes it
    if o.directory is not None and o.directory.agency_of_chat(inc.channel, inc.chat_id) is not None:
        return []
    return None


# --- report -----------------------------------------------------------------------------

@router.command("baocao")
async def on_report(ctx: Context, _: str) -> list[Reply]:
    o = ops(ctx)
    if o.directory is None:
        return [Reply.make(T.STAFF_NO_AGENCIES)]
    mine = await o.staff_agencies(actor(ctx))
    here = o.directory.agency_of_chat(ctx.incoming.channel, ctx.incoming.chat_id)
    if here is not None and here.key in mine:
        return await report_for(ctx, here.key)
    if len(mine) == 1:
        return await report_for(ctx, mine[0])
    if not mine:
        return [Reply.make(T.REPORT_NOT_STAFF)]
    rows = [[Button(o.agency_name(k)[:60], f"agency:report:{k}")] for k in mine]
    return [Reply.make(T.REPORT_PICK, rows)]


async def report_for(ctx: Context, key: str) -> list[Reply]:
    o = ops(ctx)
    if not await o.is_staff(key, actor(ctx)):
        return [Reply.make(T.REPORT_NOT_STAFF)]
    counts = await o.repo.counts(key)
    now = ctx.now()
    overdue = [c for c in await o.repo.open_complaints(key) if c.due_at < now]
    lines = [T.REPORT_TITLE.format(agency=o.agency_name(key))]
    lines += [T.REPORT_LINE.format(status=T.STATUS_TEXT[s], n=counts.get(s, 0)) for s in STATUSES]
    lines.append(T.REPORT_TOTAL.format(n=sum(counts.values())))
    if overdue:
        lines.append(T.REPORT_OVERDUE.format(n=len(overdue)))
        lines += [T.REPORT_OVERDUE_LINE.format(code=c.code, due=fmt_time(c.due_at), status=T.STATUS_TEXT[c.status])
                  for c in overdue[:30]]
    else:
        lines.append(T.REPORT_NO_OVERDUE)
    return [Reply.make("\n".join(lines))]


# --- invites ------------------------------------------------------------------------------

@router.command("dangky")
async def on_register(ctx: Context, args: str) -> list[Reply]:
    """``/dangky``, then the code; or ``/dangky CODE`` in one message."""
    if args.strip():
        return await _use_invite(ctx, args.strip())
    ctx.session.state = "complaint:invite"
    return [Reply.make(T.INVITE_ASK_CODE)]


async def invite_text(ctx: Context) -> list[Reply]:
    ctx.session.state = ""
    return await _use_invite(ctx, ctx.text)


async def _use_invite(ctx: Context, code: str) -> list[Reply]:
    o = ops(ctx)
    key = await o.repo.use_invite(code, actor(ctx))
    if key is None:
        return [Reply.make(T.INVITE_BAD)]
    return [Reply.make(T.INVITE_OK.format(agency=o.agency_name(key)))]


@router.command("taomoi")
async def on_create_invite(ctx: Context, _: str) -> list[Reply]:
    o = ops(ctx)
    if o.directory is None:
        return [Reply.make(T.STAFF_NO_AGENCIES)]
    keys = _invitable(ctx, await o.staff_agencies(actor(ctx)))
    if not keys:
        return [Reply.make(T.INVITE_NOT_ALLOWED)]
    if len(keys) == 1:
        return await invite_for(ctx, keys[0])
    return [Reply.make(T.INVITE_PICK, [[Button(o.agency_name(k)[:60], f"agency:invite:{k}")] for k in keys])]


def _invitable(ctx: Context, mine: list[str]) -> list[str]:
    o = ops(ctx)
    if actor(ctx) in ctx.settings.admins and o.directory is not None:
        return list(o.directory.agencies)
    return mine


async def invite_for(ctx: Context, key: str) -> list[Reply]:
    o = ops(ctx)
    if key not in _invitable(ctx, await o.staff_agencies(actor(ctx))):
        return [Reply.make(T.INVITE_NOT_ALLOWED)]
    code = await o.repo.create_invite(key, actor(ctx))
    return [Reply.make(T.INVITE_CREATED.format(agency=o.agency_name(key), code=code))]


# --- typed actions by complaint code (Zalo has no buttons; any channel may type them) -----------------

def parse_typed(text: str) -> tuple[str, str, str] | None:
    """(action, code, the rest) for "2 PAKN-2026-000004", "trả lời PAKN-2026-000004 nội dung", "/xong PAKN-…"."""
    m = _TYPED.match(text or "")
    if m is None:
        return None
    verb = " ".join(fold(m["verb"]).split())
    action = CHOICES.get(verb) or VERBS.get(verb)
    if action is None:
        return None
    c = CODE.search(m["code"])
    return action, f"PAKN-{c.group(1)}-{int(c.group(2)):06d}", m["rest"].strip()


@router.before("agency")
async def typed_in_private(ctx: Context) -> list[Reply] | None:
    """Staff in a private chat with the bot (how Zalo agencies work) typing an action with a code."""
    return await typed_action(ctx) if ctx.incoming.kind == "text" else None


async def typed_action(ctx: Context) -> list[Reply] | None:
    """A typed staff action naming a complaint; None if the text is not one or the sender is not staff."""
    parsed = parse_typed(ctx.text)
    if parsed is None or not await ops(ctx).staff_agencies(actor(ctx)):
        return None  # a citizen's text goes its usual way
    return await act(ctx, *parsed)


async def act(ctx: Context, action: str, code: str, rest: str) -> list[Reply]:
    """One staff action on the complaint ``code``; ``rest`` is the answer, question, reason or target."""
    o = ops(ctx)
    c = await o.repo.by_code(code)
    if c is None:
        return [replace(Reply.make(T.STAFF_CODE_UNKNOWN.format(code=code)), private=True)]
    if action in ("recv", "done") or (action in ("answer", "ask") and not rest):
        return await on_agency_button(ctx, f"{action}:{c.id}")
    if action == "answer":
        ctx.session.state = "" if ctx.session.state.startswith("complaint:answer") else ctx.session.state
        return await answer(ctx, c.id, rest)
    if action == "ask":
        if len(rest.split()) < MIN_ANSWER_WORDS:
            return [Reply.make(T.STAFF_ANSWER_SHORT)]
        return await ask_citizen(ctx, c.id, rest)
    if action == "reopen":
        got = await _authorized(ctx, c.id, "reopen")
        if isinstance(got, list):
            return got
        res = await o.staff_reopen(c.id, actor(ctx), rest, idem=action_key(ctx, "reopen", c.id))
        return _outcome(res, T.STAFF_REOPENED.format(code=c.code), c.code, ctx, c.id)
    # transfer: "chuyển PAKN-… <mã đơn vị> <lý do>"
    key, _, reason = rest.partition(" ")
    target = o.directory.find(key) if o.directory is not None and key else None
    if target is None:
        return await on_agency_button(ctx, f"xfer:{c.id}")
    if len(reason.split()) < MIN_ANSWER_WORDS:
        return await on_agency_button(ctx, f"xferto:{c.id}:{target.key}")
    return await transfer(ctx, c.id, target.key, reason)


@router.command("tiepnhan")
async def cmd_receive(ctx: Context, args: str) -> list[Reply]:
    return await _command(ctx, "recv", args)


@router.command("phanhoi")
async def cmd_answer(ctx: Context, args: str) -> list[Reply]:
    return await _command(ctx, "answer", args)


@router.command("hoithem")
async def cmd_ask(ctx: Context, args: str) -> list[Reply]:
    return await _command(ctx, "ask", args)


@router.command("chuyen")
async def cmd_transfer(ctx: Context, args: str) -> list[Reply]:
    return await _command(ctx, "xfer", args)


@router.command("xong")
async def cmd_close(ctx: Context, args: str) -> list[Reply]:
    return await _command(ctx, "done", args)


@router.command("molai")
async def cmd_reopen(ctx: Context, args: str) -> list[Reply]:
    return await _command(ctx, "reopen", args)


async def _command(ctx: Context, action: str, args: str) -> list[Reply]:
    m = CODE.search(args or "")
    if m is None:
        return [Reply.make(T.STAFF_COMMANDS)]
    code = f"PAKN-{m.group(1)}-{int(m.group(2)):06d}"
    return await act(ctx, action, code, (args[:m.start()] + " " + args[m.end():]).strip(" :,.-"))


@router.command("lenh")
async def cmd_help(ctx: Context, _: str) -> list[Reply]:
    return [Reply.make(T.STAFF_COMMANDS)]


@router.command("danhsach")
async def cmd_list(ctx: Context, _: str) -> list[Reply]:
    """The open complaints of the staff member's agencies, newest first, with their codes."""
    o = ops(ctx)
    mine = await o.staff_agencies(actor(ctx))
    if not mine:
        return [Reply.make(T.REPORT_NOT_STAFF)]
    lines: list[str] = []
    for key in mine:
        found = sorted(await o.repo.open_complaints(key), key=lambda c: c.id, reverse=True)
        lines.append(T.LIST_TITLE.format(agency=o.agency_name(key), n=len(found)))
        lines += [T.LIST_LINE.format(code=c.code, status=T.STATUS_TEXT.get(c.status, c.status),
                                     due=fmt_time(c.due_at), topic=topic_short(c.topic),
                                     place=(c.place or T.SUM_PLACE_NONE).split(",")[0])
                  for c in found[:LIST_MAX]]
        if len(found) > LIST_MAX:
            lines.append(T.LIST_MORE.format(n=len(found) - LIST_MAX))
    lines.append(T.LIST_HOWTO)
    return [Reply.make("\n".join(lines))]

