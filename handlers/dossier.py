"""Dossier status (tra cứu hồ sơ): code, then the phone's last digits, then status, next step and due date.

The code alone reveals nothing: an unknown code and a wrong phone factor get the same
neutral answer, and wrong tries are slowed down (attempts are stored in the database).
After a successful lookup the citizen may subscribe to changes; the late-dossier job
warns subscribers and agency chats before and after the due date.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import math
from dataclasses import replace

from handlers.context import Context, Services
from handlers.focus import set_focus
from handlers.idempotency import action_key
from handlers.router import Router
from handlers.texts import common as TC
from handlers.texts import dossier as T
from handlers.types import Button, Reply
from knowledge import dialogue
from knowledge.matcher import MatchResult
from storage.dossiers import (
    CODE_STEP,
    CODE_WAITS,
    FINISHED,
    OTP_DIGITS,
    OTP_TRIES,
    OTP_TTL,
    DossierStore,
    DossierView,
    EventView,
    Notice,
    normalize_dossier_code,
    otp_matches,
    subscribed_key,
    vn_date,
)

log = logging.getLogger(__name__)
router = Router()

STATE_CODE = "dossier:code"
STATE_FACTOR = "dossier:factor"
STATE_OTP = "dossier:otp"
KEY_CODE = "dossier_code"
KEY_OTP = "dossier_otp"  # {"kept": digest, "until": epoch seconds, "tries": n} of the code sent (never the code)
LATE_JOB_INTERVAL = 900.0  # seconds between runs of the late-dossier job
HISTORY_SHOWN = 3
SUBSCRIBE_HOLD = 20.0  # seconds the outbox waits before delivering a confirmation the channel did not send


async def setup(services: Services) -> None:
    """Share one repository and register the late-dossier job."""
    services.extras["dossiers"] = DossierStore(services.store)
    services.extras.setdefault("jobs", []).append((late_job, LATE_JOB_INTERVAL))


def repo(ctx: Context) -> DossierStore:
    found = ctx.services.extras.get("dossiers")
    if found is None:
        found = ctx.services.extras["dossiers"] = DossierStore(ctx.store)
    return found


async def late_job(services: Services) -> None:
    """Warn subscribers (and agency chats, when the agency directory is installed) about late dossiers."""
    dossiers: DossierStore = services.extras.get("dossiers") or DossierStore(services.store)
    now = services.now()
    citizens = await dossiers.alert_citizens(now)
    agencies = 0
    resolver = services.extras.get("agency_chats")
    if resolver is not None:
        agencies = await dossiers.alert_agencies(now, resolver)
    await dossiers.forget_old_attempts()
    if citizens or agencies:
        log.info("late dossiers: %s citizen and %s agency alerts queued", citizens, agencies)


# --- conversation ------------------------------------------------------------------------


def _menu_row() -> list[Button]:
    return [Button(TC.BTN_MENU, "menu")]


async def ask_code(ctx: Context) -> list[Reply]:
    """Ask for the code; offer the dossiers this user already looked up."""
    ctx.session.state = STATE_CODE
    ctx.session.data.pop(KEY_CODE, None)
    recent = await repo(ctx).verified_codes(ctx.session.user_id)
    rows = [[Button(T.BTN_RECENT.format(code=code), f"dossier:view:{code}")] for code in recent]
    return [Reply.make(T.ASK_CODE + (f"\n{T.RECENT_HINT}" if recent else ""), rows + [_menu_row()])]


def ask_factor(ctx: Context, code: str, prefix: str = "") -> list[Reply]:
    ctx.session.state = STATE_FACTOR
    ctx.session.data[KEY_CODE] = code
    text = T.ASK_FACTOR.format(n=ctx.settings.dossier_factor_digits, code=code)
    return [Reply.make(f"{prefix}\n{text}" if prefix else text, [[Button(T.BTN_RETRY, "dossier:start")], _menu_row()])]


def _done(ctx: Context) -> None:
    ctx.session.state = ""
    ctx.session.data.pop(KEY_CODE, None)
    ctx.session.data.pop(KEY_OTP, None)


@router.intent("status")
async def on_status(ctx: Context, result: MatchResult) -> list[Reply]:
    code = result.dossier_code or normalize_dossier_code(ctx.text)
    if code:
        return ask_factor(ctx, code)
    return await ask_code(ctx)


@router.resume("dossier")
async def way_back(ctx: Context) -> Reply | None:
    """Under an answer to a question typed during the lookup: the lookup still waits for its code or digits."""
    code = ctx.session.data.get(KEY_CODE)
    if ctx.session.state == STATE_FACTOR and code:
        text = T.DETOUR_FACTOR.format(n=ctx.settings.dossier_factor_digits, code=code)
    elif ctx.session.state == STATE_OTP and code:
        text = T.DETOUR_OTP.format(n=OTP_DIGITS, code=code)
    elif ctx.session.state == STATE_CODE:
        text = T.DETOUR_CODE
    else:
        return None
    return Reply.make(text, [[Button(T.BTN_STOP_LOOKUP, "dossier:stop"), *_menu_row()]])


@router.state("dossier")
async def on_text(ctx: Context) -> list[Reply] | None:
    if ctx.incoming.kind != "text":
        return None
    text = ctx.text
    code = normalize_dossier_code(text)
    has_digits = any(ch.isdigit() for ch in text)
    if ctx.session.state == STATE_OTP and ctx.session.data.get(KEY_CODE):
        current = ctx.session.data[KEY_CODE]
        if code and code != current:
            return ask_factor(ctx, code)
        if not has_digits:
            return None  # a question: answered, with the way back (see way_back)
        return await check_one_time_code(ctx, current, "".join(ch for ch in text if ch.isdigit()))
    if ctx.session.state == STATE_FACTOR and ctx.session.data.get(KEY_CODE):
        current = ctx.session.data[KEY_CODE]
        if code and code != current:
            return ask_factor(ctx, code)
        if not has_digits:
            return None  # a question, not digits: it is answered, and the way back is added (see way_back)
        return await check_factor(ctx, current, "".join(ch for ch in text if ch.isdigit()))
    if code:
        return ask_factor(ctx, code)
    if not has_digits and dialogue.mentions(text, "not_sure"):  # "tôi không nhớ mã"
        return [Reply.make(T.CODE_HELP, [[Button(T.BTN_STOP_LOOKUP, "dossier:stop"), *_menu_row()]])]
    if not has_digits:
        return None
    return [Reply.make(T.BAD_CODE, [_menu_row()])]


def _factor(digits: str, n: int) -> str | None:
    """The last ``n`` digits from what was typed: exactly n digits, or a whole phone number."""
    if len(digits) == n:
        return digits
    if 9 <= len(digits) <= 12 and len(digits) > n:
        return digits[-n:]
    return None


async def check_factor(ctx: Context, code: str, typed: str) -> list[Reply]:
    n = ctx.settings.dossier_factor_digits
    digits = _factor(typed, n)
    if digits is None:
        example = "".join(str((5 + i) % 10) for i in range(n))
        return [Reply.make(T.FACTOR_FORMAT.format(n=n, example=example), [_menu_row()])]
    dossiers = repo(ctx)
    user = ctx.session.user_id
    wait = await dossiers.wait_seconds(user, code)
    if wait > 0:
        return [Reply.make(T.THROTTLED.format(minutes=math.ceil(wait / 60)), [_menu_row()])]
    wait = await dossiers.code_wait_seconds(user, code)  # wrong tries on this code from every account
    if wait > 0:
        return [Reply.make(T.THROTTLED_CODE.format(code=code, minutes=math.ceil(wait / 60)), [_menu_row()])]
    found = await dossiers.get(code)
    ok = found is not None and found.phone_matches(digits)
    if ok and ctx.settings.dossier_one_time_code and not await dossiers.verified(user, code):
        chats = await dossiers.subscriber_chats(code, other_than=user)
        if chats:  # someone follows this dossier from another account: that chat must confirm
            return await send_one_time_code(ctx, dossiers, code, chats)
    await dossiers.record_attempt(user, code, ok)
    if not ok or found is None:
        text = T.NOT_FOUND.format(code=code, n=n)
        wait = await dossiers.wait_seconds(user, code)
        if wait > 0:
            text += "\n\n" + T.THROTTLED.format(minutes=math.ceil(wait / 60))
        if found is not None:
            await _alert_on_guessing(ctx, dossiers, found)
        return [Reply.make(text, [[Button(T.BTN_RETRY, "dossier:start")], _menu_row()])]
    _done(ctx)
    return [await card(ctx, found)]


async def send_one_time_code(ctx: Context, dossiers: DossierStore, code: str,
                             chats: list[tuple[str, str]]) -> list[Reply]:
    """Send a one-time code through the outbox to the chats subscribed to ``code``; ask for it here."""
    minutes = int(OTP_TTL.total_seconds() // 60)
    issued = await dossiers.issue_one_time_code(
        code, action_key(ctx, "otp", code), chats,
        lambda otp: Notice(T.OTP_MESSAGE.format(code=code, otp=otp, minutes=minutes)))
    if issued is None:
        _done(ctx)
        return [Reply.make(T.OTP_TOO_MANY.format(code=code), [_menu_row()])]
    kept, until = issued
    ctx.session.state = STATE_OTP
    ctx.session.data[KEY_CODE] = code
    ctx.session.data[KEY_OTP] = {"kept": kept, "until": until.timestamp(), "tries": 0}
    return [Reply.make(T.OTP_SENT.format(code=code, n=OTP_DIGITS, minutes=minutes),
                       [[Button(T.BTN_STOP_LOOKUP, "dossier:stop"), *_menu_row()]])]


async def check_one_time_code(ctx: Context, code: str, typed: str) -> list[Reply]:
    """The code sent to the subscribed chat: right, it opens the dossier (and verifies this user); wrong,
    it counts as a wrong try on the dossier (throttles, locks and agency alerts as for phone digits)."""
    held = ctx.session.data.get(KEY_OTP)
    if not isinstance(held, dict) or not held.get("kept"):
        return ask_factor(ctx, code)
    if ctx.now().timestamp() > float(held.get("until") or 0):
        ctx.session.data.pop(KEY_OTP, None)
        return ask_factor(ctx, code, prefix=T.OTP_EXPIRED)
    if len(typed) != OTP_DIGITS:
        return [Reply.make(T.OTP_FORMAT.format(n=OTP_DIGITS), [[Button(T.BTN_STOP_LOOKUP, "dossier:stop"),
                                                                *_menu_row()]])]
    dossiers = repo(ctx)
    user = ctx.session.user_id
    found = await dossiers.get(code)
    ok = found is not None and otp_matches(str(held["kept"]), typed)
    await dossiers.record_attempt(user, code, ok)
    if ok and found is not None:
        _done(ctx)
        return [await card(ctx, found)]
    if found is not None:
        await _alert_on_guessing(ctx, dossiers, found)
    held["tries"] = int(held.get("tries") or 0) + 1
    if held["tries"] >= OTP_TRIES:
        _done(ctx)
        return [Reply.make(T.OTP_USED_UP, [[Button(T.BTN_RETRY, "dossier:start")], _menu_row()])]
    return [Reply.make(T.OTP_WRONG.format(left=OTP_TRIES - held["tries"]),
                       [[Button(T.BTN_STOP_LOOKUP, "dossier:stop"), *_menu_row()]])]


async def _alert_on_guessing(ctx: Context, dossiers: DossierStore, d: DossierView) -> None:
    """Every CODE_STEP wrong tries on an existing dossier from any accounts: tell its agency (outbox)."""
    tries, accounts, _ = await dossiers.code_failures(d.code)
    if tries == 0 or tries % CODE_STEP:
        return
    resolver = ctx.services.extras.get("agency_chats")
    if resolver is None:
        return
    chats = await _chats(resolver, d.agency_key) or (await _chats(resolver, d.agency_name) if d.agency_name else [])
    if not chats:
        log.warning("dossier lookup: repeated wrong tries on a dossier of %s, no agency chat to alert", d.agency_key)
        return
    tier = tries // CODE_STEP
    minutes = math.ceil(CODE_WAITS[min(tier, len(CODE_WAITS)) - 1] / 60)
    text = T.GUESSING_AGENCY.format(code=d.code, tries=tries, accounts=accounts, n=ctx.settings.dossier_factor_digits,
                                    minutes=minutes)
    await dossiers.alert_guessing(d.code, chats, Notice(text), tier)
    log.warning("dossier lookup: %s wrong tries from %s accounts on one dossier of %s; agency alerted",
                tries, accounts, d.agency_key)


async def _chats(resolver: object, key: str) -> list[tuple[str, str]]:
    result = resolver(key)  # type: ignore[operator]
    if inspect.isawaitable(result):
        result = await result
    return [(str(ch), str(chat)) for ch, chat in (result or [])]


@router.action("dossier")
async def on_action(ctx: Context, arg: str) -> list[Reply]:
    verb, _, raw = arg.partition(":")
    if verb in ("", "start"):
        return await ask_code(ctx)
    if verb == "stop":
        _done(ctx)
        return [Reply.make(T.LOOKUP_STOPPED, [_menu_row()])]
    code = normalize_dossier_code(raw)
    if verb not in ("view", "sub", "unsub") or code is None:
        return [Reply.make(TC.UNKNOWN_BUTTON, [_menu_row()])]
    dossiers = repo(ctx)
    user = ctx.session.user_id
    if verb == "unsub":
        removed = await dossiers.unsubscribe(code, user)
        return [Reply.make((T.UNSUBSCRIBED if removed else T.NOT_SUBSCRIBED).format(code=code),
                           [[Button(T.BTN_OTHER, "dossier:start")], _menu_row()])]
    found = await dossiers.get(code)
    if found is None or not await dossiers.verified(user, code):
        return ask_factor(ctx, code, prefix=T.NEED_VERIFY.format(code=code, n=ctx.settings.dossier_factor_digits))
    if verb == "view":
        return [await card(ctx, found)]
    rows = [[Button(T.BTN_UNSUBSCRIBE, f"dossier:unsub:{code}")], _menu_row()]
    # Where the outbox can deliver on this channel, the confirmation is durable: a held copy is queued
    # with the subscription and the channel sends it directly (see Reply.durable).
    durable = ctx.session.channel in ctx.services.extras.get("senders", {})
    confirm = (T.SUBSCRIBED.format(code=code), [[{"label": b.label, "action": b.action} for b in row] for row in rows],
               SUBSCRIBE_HOLD) if durable else None
    created = await dossiers.subscribe(code, user, ctx.session.channel, ctx.session.chat_id, confirm=confirm,
                                       idem=action_key(ctx, "sub", code))
    reply = Reply.make((T.SUBSCRIBED if created else T.ALREADY_SUBSCRIBED).format(code=code), rows)
    if created and durable:
        sub_id = await dossiers.subscription_id(code, user)
        if sub_id is not None:
            reply = replace(reply, durable=subscribed_key(sub_id))
    return [reply]


# --- rendering -----------------------------------------------------------------------------


def status_label(d: DossierView, now: dt.datetime) -> str:
    label = T.STATUS_LABEL.get(d.status, d.status)
    return f"{label} — {T.LATE_LABEL}" if d.is_late(now) else label


def next_step(status: str, note: str, delivery: str) -> str:
    return T.NEXT_STEP.get(status, "").format(note=note.strip() or T.NOTE_MISSING,
                                             delivery=delivery.strip() or T.DELIVERY_DEFAULT)


def procedure_name(d: DossierView, ctx: Context | None = None) -> str:
    if ctx is not None and d.procedure_id:
        entry = ctx.kb.get(d.procedure_id)
        if entry is not None:
            return entry.name
    return d.procedure_name or d.procedure_id


async def card(ctx: Context, d: DossierView) -> Reply:
    """Everything the citizen needs: status in plain words, what to do next, dates, recent history."""
    now = ctx.now()
    lines = []
    if d.procedure_id and ctx.kb.procedure(d.procedure_id) is not None:
        set_focus(ctx, d.procedure_id)  # "lệ phí bao nhiêu?" next is about this dossier's procedure
    name = procedure_name(d, ctx)
    if name:
        lines.append(T.CARD_PROCEDURE.format(value=name))
    lines.append(T.CARD_AGENCY.format(value=d.agency_name or d.agency_key))
    if d.applicant_name:
        lines.append(T.CARD_APPLICANT.format(value=d.applicant_name))
    lines.append(T.CARD_STATUS.format(label=status_label(d, now)))
    lines.append(T.STATUS_EXPLAIN.get(d.status, ""))
    lines.append(T.CARD_RECEIVED.format(date=vn_date(d.received_at)))
    lines.append(T.CARD_DUE.format(date=vn_date(d.due_at)))
    if d.result_at:
        lines.append(T.CARD_RESULT.format(date=vn_date(d.result_at)))
    if d.delivery_method:
        lines.append(T.CARD_DELIVERY.format(value=d.delivery_method))
    lines += ["", T.CARD_NEXT, next_step(d.status, d.status_note, d.delivery_method)]
    stage = d.stage(now)
    if stage == "late":
        lines += ["", T.CARD_LATE.format(date=vn_date(d.due_at))]
    elif stage == "soon":
        lines += ["", T.CARD_SOON.format(date=vn_date(d.due_at))]
    events = await repo(ctx).history(d.code, HISTORY_SHOWN)
    if len(events) > 1:
        lines += ["", T.CARD_HISTORY]
        lines += [T.CARD_HISTORY_LINE.format(date=vn_date(e.at), label=T.STATUS_LABEL.get(e.status, e.status))
                  for e in events]
    subscribed = await repo(ctx).is_subscribed(d.code, ctx.session.user_id)
    if subscribed:
        lines += ["", T.SUBSCRIBED_HINT]
        rows = [[Button(T.BTN_UNSUBSCRIBE, f"dossier:unsub:{d.code}")]]
    else:
        rows = [[Button(T.BTN_SUBSCRIBE, f"dossier:sub:{d.code}")]]
    if stage == "late" or d.status == "rejected":
        rows.append([Button(T.BTN_COMPLAINT, "complaint:start")])
    rows.append([Button(T.BTN_OTHER, "dossier:start"), Button(TC.BTN_MENU, "menu")])
    return Reply.make("\n".join(lines), rows, title=T.CARD_TITLE.format(code=d.code))


def _buttons(*pairs: tuple[str, str]) -> list[list[dict[str, str]]]:
    return [[{"label": label, "action": action}] for label, action in pairs]


def change_notice(d: DossierView, e: EventView) -> Notice:
    """What a subscriber receives when the dossier's status changes."""
    lines = [T.NOTIFY_TITLE.format(code=d.code),
             T.NOTIFY_STATUS.format(label=T.STATUS_LABEL.get(e.status, e.status)),
             T.STATUS_EXPLAIN.get(e.status, ""),
             next_step(e.status, e.note, d.delivery_method),
             T.NOTIFY_TIME.format(date=vn_date(e.at))]
    if e.status not in FINISHED:
        lines.append(T.NOTIFY_DUE.format(date=vn_date(d.due_at)))
    return Notice("\n".join(line for line in lines if line),
                  _buttons((T.BTN_VIEW, f"dossier:view:{d.code}"), (T.BTN_UNSUBSCRIBE, f"dossier:unsub:{d.code}")))


def late_notice(d: DossierView, stage: str) -> Notice:
    """What a subscriber receives a day before the due date, and once it has passed."""
    template = T.LATE_CITIZEN if stage == "late" else T.LATE_SOON_CITIZEN
    pairs = [(T.BTN_VIEW, f"dossier:view:{d.code}")]
    if stage == "late":
        pairs.append((T.BTN_COMPLAINT, "complaint:start"))
    pairs.append((T.BTN_UNSUBSCRIBE, f"dossier:unsub:{d.code}"))
    return Notice(template.format(code=d.code, date=vn_date(d.due_at)), _buttons(*pairs))


def agency_late_notice(agency: str, listed: list[tuple[DossierView, str]], now: dt.datetime) -> Notice:
    """The list an agency chat receives (codes and procedures only: no personal data)."""
    lines = [T.LATE_AGENCY_TITLE.format(agency=agency)]
    for d, stage in listed:
        proc = d.procedure_name or d.procedure_id or "—"
        if stage == "late":
            days = max(1, math.ceil((now - d.due_at).total_seconds() / 86400))
            lines.append(T.LATE_AGENCY_LINE_LATE.format(code=d.code, procedure=proc, date=vn_date(d.due_at), days=days))
        else:
            lines.append(T.LATE_AGENCY_LINE_SOON.format(code=d.code, procedure=proc, date=vn_date(d.due_at)))
    lines += ["", T.LATE_AGENCY_FOOTER]
    return Notice("\n".join(lines))
