"""Agency side of complaints: card buttons, staff answers, transfers, /baocao, invite codes.

Only staff registered for the complaint's current agency (in the agencies file, or with an
invite code) can act; anyone else is refused and the attempt is recorded.
"""

from __future__ import annotations

from handlers.complaint_ops import ComplaintOps, fmt_time
from handlers.context import Context
from handlers.idempotency import action_key
from handlers.router import Router
from handlers.texts import complaint as T
from handlers.types import Button, Reply
from storage.complaint_models import STATUSES, Complaint

router = Router()
MIN_ANSWER_WORDS = 3


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
        return [Reply.make(T.STAFF_REFUSED)]
    return c


def _outcome(result: Complaint | str, ok: str, code: str | None) -> list[Reply]:
    if isinstance(result, str):
        if result.startswith("status:"):
            status = T.STATUS_TEXT.get(result.partition(":")[2], result)
            return [Reply.make(T.STAFF_ALREADY.format(code=code, status=status))]
        return [Reply.make(T.STAFF_NOT_FOUND)]
    return [Reply.make(ok)]


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
        return _outcome(res, T.STAFF_RECEIVED.format(who=who(ctx), code=c.code), c.code)
    if verb == "answer":
        ctx.session.state = f"complaint:answer:{c.id}"
        ctx.session.data["pakn_chat"] = ctx.incoming.chat_id
        return [Reply.make(T.STAFF_ASK_ANSWER.format(code=c.code, agency=o.agency_name(c.agency_key)))]
    if verb == "done":
        return _outcome(await o.close(c.id, actor(ctx), idem=action_key(ctx, "done", c.id)),
                        T.STAFF_CLOSED.format(code=c.code), c.code)
    if verb == "xfer":
        others = [a for a in (o.directory.config.agencies if o.directory else []) if a.key != c.agency_key]
        if not others:
            return [Reply.make(T.STAFF_NO_OTHER)]
        rows = [[Button(a.name[:60], f"agency:xferto:{c.id}:{a.key}")] for a in others]
        return [Reply.make(T.STAFF_PICK_AGENCY.format(code=c.code), rows)]
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
    got = await _authorized(ctx, int(cid_text), "xfer")
    if isinstance(got, list):
        return got
    o = ops(ctx)
    res = await o.transfer(got.id, actor(ctx), target, ctx.text, idem=action_key(ctx, "xfer", got.id))
    return _outcome(res, T.STAFF_TRANSFERRED.format(code=got.code, agency=o.agency_name(target)), got.code)


async def answer(ctx: Context, cid: int, text: str) -> list[Reply]:
    got = await _authorized(ctx, cid, "answer")
    if isinstance(got, list):
        return got
    if len(text.split()) < MIN_ANSWER_WORDS:
        return [Reply.make(T.STAFF_ANSWER_SHORT)]
    res = await ops(ctx).answer(got.id, actor(ctx), text, idem=action_key(ctx, "answer", got.id))
    return _outcome(res, T.STAFF_ANSWERED.format(code=got.code), got.code)


async def on_group_text(ctx: Context) -> list[Reply] | None:
    """In group chats: a reply to a complaint card is the answer; other chatter in agency chats is ignored."""
    inc = ctx.incoming
    if inc.kind != "text":
        return None
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
