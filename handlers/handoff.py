"""A real person behind "Gặp người hỗ trợ": tickets to community teams and one-stop desks, live chat.

The citizen asks (menu, "gặp người thật", the guide's stuck path, repeated "not found"); the commune
is asked once and remembered; a ticket card goes to the chat of the commune's team (or one-stop
desk, or the province desk) through the outbox, and the citizen is told exactly that: it is being
passed on, nobody has taken it yet. When nobody can be reached (no team, out of hours), the citizen
gets the desk's address, hours and hotline at once. Staff press "Nhận" (or type /nhan HT12); one
claim wins. Then every line is relayed through the outbox both ways, and the assistant stays quiet
for the citizen until either side ends it ("Kết thúc", /ketthuc). A job escalates unclaimed
tickets to the province desk and closes silent chats.

Actions ("handoff:..."): claim:<id>, end:<id>, cancel:<id>, resume:<id>, rate:<id>:<n>, commune:<code|skip>.
States: "handoff:commune", "handoff:<id>" (citizen, waiting or live), "handoff:staff:<id>" (helper).
Commands: /nhan CODE, /traloi CODE text, /ketthuc [CODE].
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections import defaultdict
from typing import Any

from handlers.complaint_intake import normalize_phone
from handlers.complaint_ops import clean_text
from handlers.context import Context, Services
from handlers.handoff_directory import HandoffDirectory, Target, desks_of, load_teams
from handlers.router import Router
from handlers.texts import handoff as T
from handlers.types import Attachment, Button, Reply
from knowledge.communes import commune_in_address, get_commune, match_commune
from knowledge.normalize import fold
from storage.complaints import Message
from storage.handoff_models import OPEN_TICKET_STATUSES, HandoffTicket
from storage.handoffs import HandoffRepo, id_from_code

log = logging.getLogger(__name__)

router = Router()

TEXT_MAX = 1500
SUMMARY_MAX = 1500
CODES_DAYS = 30  # a dossier followed or a complaint filed this recently is named on the card
JOB_INTERVAL = 30.0  # seconds between checks of unclaimed and silent tickets
QUEUE_SPACING = dt.timedelta(minutes=2)  # a waiting citizen hears of a new place in the queue at most this often
CAPTION_MAX = 800
# Only "kết thúc" ends a chat: "xong rồi" is what a citizen answers when a step the helper asked for is done.
END_WORDS = {"ket thuc", "ketthuc", "/ketthuc", "ket thuc tro chuyen", "cam on, ket thuc"}
POLITE_HEAD = {"da", "vang", "thoi", "cho", "em", "toi", "xin", "chau", "con"}  # "dạ kết thúc", "thôi cho tôi kết thúc"
POLITE_TAIL = {"a", "nhe", "nha", "di", "luon", "chau", "em"}  # "kết thúc ạ", "… nhé"
NUMBERED_CHANNELS = {"zalo", "terminal"}  # buttons are numbered text; a pushed message's become the typed choices
CHOICES_KEY = "_choices"  # the dispatcher's numbered choices (cleared while a person is talking)
EXTRA_KEY = "_choices_named"  # the dispatcher's earlier choices reachable by name
COMMUNE_KEY = "home_commune"  # {"code", "name"} remembered once asked


# --- wiring -------------------------------------------------------------------------------------

async def setup(services: Services) -> None:
    agencies = services.extras.get("agencies")
    province = services.settings.default_province or (agencies.province if agencies is not None else "")
    path = services.settings.helpers_file
    teams = load_teams(path, province) if path else []
    desks, fallback, holidays = desks_of(agencies)
    hotline = agencies.config.hotline if agencies is not None else ""
    services.extras["handoff_directory"] = HandoffDirectory(teams, desks, fallback, holidays, hotline)
    services.extras["handoff_repo"] = HandoffRepo(services.store)
    services.extras["handoff"] = request
    services.extras.setdefault("group_hooks", []).append(on_group_text)
    services.extras.setdefault("menu_leads", []).append(menu_lead)
    services.extras.setdefault("menu_notes", []).append(menu_note)
    services.extras.setdefault("jobs", []).append((timer_job, JOB_INTERVAL))
    services.extras.setdefault("stats_notes", []).append(stats_note)


def _is_end(text: str) -> bool:
    """ "Kết thúc", said as a person says it: "dạ kết thúc ạ", "thôi kết thúc nhé", "Kết thúc." """
    words = fold(text).replace(".", " ").replace("!", " ").replace(",", " ").split()
    if words[:2] == ["cam", "on"]:  # "cảm ơn, kết thúc"
        words = words[2:]
    while words and words[0] in POLITE_HEAD:
        words = words[1:]
    while words and words[-1] in POLITE_TAIL:
        words = words[:-1]
    return " ".join(words) in END_WORDS or fold(text) in END_WORDS


def repo(ctx: Context | Services) -> HandoffRepo:
    services = ctx.services if isinstance(ctx, Context) else ctx
    return services.extras["handoff_repo"]


def directory(ctx: Context | Services) -> HandoffDirectory:
    services = ctx.services if isinstance(ctx, Context) else ctx
    return services.extras["handoff_directory"]


def actor(ctx: Context) -> str:
    return f"{ctx.incoming.channel}:{ctx.incoming.user_id}"


def _menu_row() -> list[Button]:
    return [Button(T.BTN_MENU, "menu")]


def _msg(channel: str, chat_id: str, text: str, key: str, buttons: list[list[Button]] | None = None) -> Message:
    rows = [[{"label": b.label, "action": b.action} for b in row] for row in buttons or []]
    return Message(channel, chat_id, text, key, rows)


def _citizen(t: HandoffTicket, text: str, key: str, buttons: list[list[Button]] | None = None) -> Message:
    return _msg(t.channel, t.chat_id, text, key, buttons)


def _rating_buttons(tid: int) -> list[list[Button]]:
    return [[Button(str(n), f"handoff:rate:{tid}:{n}") for n in range(1, 6)]]


# --- the citizen asks ----------------------------------------------------------------------------

async def request(ctx: Context, reason: str, summary: str = "") -> list[Reply]:
    """Entry point for every trigger (core menu/intent, guide, not-found): open a ticket or say who to call."""
    d = directory(ctx)
    if ctx.incoming.chat_type == "group":
        return [Reply.make(_contacts(d, "", "", T.UNREACHABLE_NONE))]
    r = repo(ctx)
    open_t = await r.open_for_user(ctx.session.user_id)
    if open_t is not None:
        ctx.session.state = f"handoff:{open_t.id}"
        ctx.session.data["handoff_id"] = open_t.id
        if open_t.status == "live":
            return [Reply.make(T.ALREADY_LIVE.format(name=open_t.claimed_name, target=open_t.target_name),
                               [[Button(T.BTN_END, f"handoff:end:{open_t.id}")]])]
        return [Reply.make(T.ALREADY_OPEN.format(code=open_t.code),
                           [[Button(T.BTN_CANCEL, f"handoff:cancel:{open_t.id}")], _menu_row()])]
    topic = str(ctx.session.data.get("last_topic") or "")
    ctx.session.data["handoff_req"] = {"reason": reason[:64], "summary": summary[:SUMMARY_MAX], "topic": topic[:200]}
    if not d.anyone:
        return await _open(ctx)
    if COMMUNE_KEY not in ctx.session.data:
        return _ask_commune(ctx)
    return await _open(ctx)


def _ask_commune(ctx: Context, text: str = T.ASK_COMMUNE) -> list[Reply]:
    ctx.session.state = "handoff:commune"
    return [Reply.make(text, [[Button(T.BTN_SKIP, "handoff:commune:skip")], _menu_row()])]


async def _commune_text(ctx: Context) -> list[Reply] | None:
    if ctx.incoming.kind != "text":
        return None
    typed = clean_text(ctx.text, 80)
    if len(typed.split()) > 8:  # a question, not a place: answer it and leave the request
        ctx.session.state = ""
        ctx.session.data.pop("handoff_req", None)
        return None
    agencies = ctx.services.extras.get("agencies")
    province = ctx.settings.default_province or (agencies.province if agencies is not None else "")
    # "tôi ở phường Châu Đốc", "5 Trần Hưng Đạo, phường Châu Đốc": the commune inside a sentence or an address
    found = match_commune(typed, province) or commune_in_address(clean_text(ctx.text, 200), province)
    if not found and ctx.kb.matcher.match(typed).help_kind == "human":
        return _ask_commune(ctx, T.ASK_COMMUNE_AGAIN)  # "gặp người thật" again: the question, not "no such commune"
    if not found:
        return _ask_commune(ctx, T.COMMUNE_NOT_FOUND.format(text=typed))
    if len(found) == 1:
        return await _set_commune(ctx, found[0].code, found[0].label)
    rows = [[Button(c.label[:60], f"handoff:commune:{c.code}")] for c in found[:5]]
    rows.append([Button(T.BTN_SKIP, "handoff:commune:skip")])
    return [Reply.make(T.PICK_COMMUNE, rows)]


async def _set_commune(ctx: Context, code: str, label: str) -> list[Reply]:
    ctx.session.data[COMMUNE_KEY] = {"code": code, "name": label}
    ctx.session.state = ""
    return await _open(ctx)


async def _open(ctx: Context) -> list[Reply]:
    d, r = directory(ctx), repo(ctx)
    req = ctx.session.data.pop("handoff_req", None) or {"reason": "menu", "summary": "", "topic": ""}
    commune = ctx.session.data.get(COMMUNE_KEY) or {}
    code, label = str(commune.get("code") or ""), str(commune.get("name") or "")
    short = label.partition(",")[0]
    now = ctx.now()
    target = d.pick(code, short, now)
    dossier, complaint = await r.recent_codes(ctx.session.user_id, now - dt.timedelta(days=CODES_DAYS))
    summary = "\n".join([*([T.CARD_DOSSIER.format(value=dossier)] if dossier else []),
                         *([T.CARD_COMPLAINT.format(value=complaint)] if complaint else []), _summary_text(ctx, req)])
    values: dict[str, Any] = dict(
        user_id=ctx.session.user_id, channel=ctx.session.channel, chat_id=ctx.incoming.chat_id,
        commune_code=code, commune=label[:160], reason=str(req.get("reason") or "")[:64],
        summary=summary.strip()[:SUMMARY_MAX + 300], phone="")
    if target is None:
        someone = any(t.chats for t in d.candidates(code, short))
        why = (T.UNREACHABLE_CLOSED if someone else
               T.UNREACHABLE_NO_TEAM.format(place=short) if short and d.anyone else T.UNREACHABLE_NONE)
        await r.create({**values, "status": "unreachable", "closed_at": now, "closed_by": "nobody"}, lambda t: [])
        log.info("handoff: nobody reachable (%s) for commune %s", "closed" if someone else "none", code or "-")
        ctx.session.state = ""
        return [Reply.make(_contacts(d, code, short, why), [_menu_row()])]
    t = await r.create({**values, "status": "waiting", "target_key": target.key, "target_name": target.name[:160]},
                       lambda t: _cards(ctx.services, t, target, T.CARD_HEAD.format(code=t.code)))
    log.info("handoff %s: ticket to %s", t.id, target.key)
    ctx.session.state = f"handoff:{t.id}"
    ctx.session.data["handoff_id"] = t.id
    lines = [T.NOTIFYING.format(target=target.name)]
    ahead = await r.waiting_before(t)
    await r.queue_shown(t.id, ahead)  # later places are told only when it moves forward (check_timers)
    if ahead:
        lines.append(T.QUEUE.format(n=ahead))
    lines.append(T.WAIT_LIMIT.format(minutes=ctx.settings.handoff_claim_minutes))
    return [Reply.make("\n".join(lines), [[Button(T.BTN_PHONE, f"handoff:phone:{t.id}")],
                                          [Button(T.BTN_CANCEL, f"handoff:cancel:{t.id}")], _menu_row()])]


def _summary_text(ctx: Context, req: dict[str, Any]) -> str:
    lines = []
    reason = str(req.get("reason") or "")
    topic = reason.partition(":")[2] if reason.startswith("guide:") else str(req.get("topic") or "")
    entry = ctx.kb.get(topic) if topic else None
    focus = ctx.session.data.get("focus")
    if entry is None and isinstance(focus, dict):
        entry = ctx.kb.get(str(focus.get("id") or focus.get("entry_id") or ""))
    if entry is not None:
        lines.append(T.CARD_TOPIC.format(value=entry.name))
    summary = clean_text(str(req.get("summary") or ""), SUMMARY_MAX)
    if summary:
        lines.append(summary)
    return "\n".join(lines)[:SUMMARY_MAX + 200]


def _cards(services: Services, t: HandoffTicket, target: Target, heading: str) -> list[Message]:
    reason = t.reason.partition(":")[0]
    lines = [heading, T.CARD_PLACE.format(value=t.commune or T.UNKNOWN),
             T.CARD_REASON.format(value=T.REASONS.get("stuck" if reason == "guide" else reason, t.reason)),
             T.CARD_CHANNEL.format(value=T.CHANNELS.get(t.channel, t.channel)),
             T.CARD_PHONE.format(value=t.phone) if t.phone else T.CARD_NO_PHONE]
    if t.summary:
        lines += ["", T.CARD_SUMMARY, *("┃ " + line if line else "┃" for line in t.summary.split("\n"))]
    buttons = [[Button(T.BTN_CLAIM, f"handoff:claim:{t.id}")]]
    return [_msg(ch, chat, "\n".join([*lines, "", _howto(ch, t.code)]), "card", buttons if _tappable(ch) else None)
            for ch, chat in target.chats]


def _tappable(channel: str) -> bool:
    """Staff can press buttons and reply to the bot's messages in groups (Telegram); elsewhere they type commands
    (a numbered "1. Nhận" in a Zalo group cannot be chosen: numbers are remembered for private chats only)."""
    return channel == "telegram"


def _howto(channel: str, code: str) -> str:
    return (T.CARD_HOWTO if _tappable(channel) else T.CARD_HOWTO_TYPED).format(code=code)


def _claimed_note(channel: str, name: str, code: str) -> str:
    return (T.STAFF_CLAIMED if _tappable(channel) else T.STAFF_CLAIMED_TYPED).format(name=name, code=code)


def _contacts(d: HandoffDirectory, code: str, short: str, why: str, passed_to: str = "") -> str:
    """The honest "nobody can take it now" answer: where to go, when, and whom to call.

    ``passed_to``: the team or desk the request did reach (nobody took it), else it was passed to nobody."""
    lines = [why, T.NOT_TAKEN.format(target=passed_to) if passed_to else T.NOT_PASSED, T.CONTACT_HEAD]
    desk = d.desk_for(code, short)
    if desk is not None:
        lines.append(T.CONTACT_DESK.format(name=desk.name, address=desk.address) if desk.address
                     else T.CONTACT_DESK_NO_ADDRESS.format(name=desk.name))
        if desk.hours.spans:
            lines.append(T.CONTACT_HOURS.format(hours=desk.hours.text()))
        if desk.hotline:
            lines.append(T.CONTACT_DESK_HOTLINE.format(name=desk.name, hotline=desk.hotline))
    else:
        lines.append(T.CONTACT_GENERIC_DESK)
    team = d.team_for(code, short)
    if team is not None and team.hotline:
        lines.append(T.CONTACT_DESK_HOTLINE.format(name=team.name, hotline=team.hotline))
    else:
        lines.append(T.CONTACT_TEAM)
    if d.province_hotline and not (desk is not None and desk.hotline == d.province_hotline):
        lines.append(T.CONTACT_DESK_HOTLINE.format(name="đường dây nóng của tỉnh", hotline=d.province_hotline))
    lines.append(T.CONTACT_NATIONAL)
    return "\n".join(lines)


def _hotline(d: HandoffDirectory, t: HandoffTicket) -> str:
    desk = d.desk_for(t.commune_code, t.commune.partition(",")[0])
    return (desk.hotline if desk is not None and desk.hotline else d.province_hotline) or "18001096"


# --- the citizen while waiting or talking --------------------------------------------------------

@router.state("handoff")
async def on_state(ctx: Context) -> list[Reply] | None:
    arg = ctx.session.state.partition(":")[2]
    if arg == "commune":
        return await _commune_text(ctx)
    if arg.startswith("phone:"):
        return await _phone_text(ctx, arg.partition(":")[2])
    if arg.startswith("staff:"):
        return await _staff_private(ctx, arg.partition(":")[2])
    if not arg.isdigit():
        ctx.session.state = ""
        return None
    t = await repo(ctx).get(int(arg))
    if t is None or t.status not in OPEN_TICKET_STATUSES or t.user_id != ctx.session.user_id:
        ctx.session.state = ""
        ctx.session.data.pop("handoff_id", None)
        return None
    if t.status == "waiting":
        if ctx.incoming.kind == "text" and _is_end(ctx.text):
            return await _end_by_citizen(ctx, t)  # "Kết thúc" before anyone took it: the request is cancelled
        return None  # the assistant answers as usual; the way back says it is still waiting (see resume)
    ctx.session.data.pop(CHOICES_KEY, None)  # a person is talking: "1" is a message, not a menu choice
    ctx.session.data["handoff_id"] = t.id  # "menu" then ends the chat (menu_note)
    if ctx.incoming.kind in ("photo", "document"):
        return await _citizen_file(ctx, t)
    if ctx.incoming.kind != "text":
        return []
    if _is_end(ctx.text):
        return await _end_by_citizen(ctx, t)
    text = clean_text(ctx.text, TEXT_MAX)
    res = await repo(ctx).relay(t.id, "citizen", text, _update_key(ctx), lambda t: _to_staff(t, text))
    if isinstance(res, str) and res.startswith("status:"):
        ctx.session.state = ""
        return None
    return []  # silent: the person answers, not the assistant


def incoming_file(ctx: Context) -> Attachment | None:
    """The photo or document of this update, with its caption cleaned (None if there is none)."""
    att = ctx.incoming.attachment
    if att is None:
        return None
    return Attachment(att.kind, att.ref, att.source, clean_text(att.caption, CAPTION_MAX), att.name[:160])


def _what(att: Attachment) -> str:
    return T.WHAT_PHOTO if att.kind == "photo" else T.WHAT_DOCUMENT


def _transcript(att: Attachment) -> str:
    if att.kind == "photo":
        return T.TRANSCRIPT_PHOTO.format(caption=att.caption).strip()
    return T.TRANSCRIPT_DOCUMENT.format(name=att.name or "", caption=att.caption).strip()


def _forward(att: Attachment, head: str) -> list[dict[str, str]]:
    """The file as the other side gets it: the sender named on top of its caption."""
    caption = f"{head}\n{att.caption}" if att.caption else head
    return [Attachment(att.kind, att.ref, att.source, caption, att.name).to_dict()]


async def _citizen_file(ctx: Context, t: HandoffTicket) -> list[Reply]:
    """A photo (or, on Telegram, a document) from the citizen during a live chat: relayed to the helper's
    chat through the outbox, or, if that app cannot receive it, the citizen is told so (never "sent")."""
    att = incoming_file(ctx)
    channel, chat = _staff_chat(t)
    if att is None or not chat:
        return [Reply.make(T.PHOTO_NOT_RELAYED)]
    if not att.reachable_on(channel):
        return [Reply.make(T.FILE_NOT_TO_STAFF.format(channel=T.CHANNELS.get(channel, channel), what=_what(att)))]
    media = _forward(att, T.CAPTION_FROM_CITIZEN.format(code=t.code))
    res = await repo(ctx).relay(t.id, "citizen", _transcript(att), _update_key(ctx),
                                lambda t: [Message(channel, chat, "", "line", [], media=media)])
    if isinstance(res, str) and res.startswith("status:"):
        ctx.session.state = ""
        return [Reply.make(T.STAFF_CLOSED_ALREADY.format(code=t.code), [_menu_row()])]
    return []  # silent, as for text: the person answers


async def _phone_text(ctx: Context, tid_text: str) -> list[Reply] | None:
    """The number the citizen chose to share: stored on the ticket and sent to the team (never otherwise)."""
    if ctx.incoming.kind != "text" or not tid_text.isdigit():
        return None
    phone = normalize_phone(ctx.text)
    if phone is None:
        if len(ctx.text.split()) > 3:  # a sentence, not a number: back to the request, and answer it
            ctx.session.state = f"handoff:{tid_text}"
            return None
        return [Reply.make(T.PHONE_BAD, [[Button(T.BTN_SKIP, f"handoff:resume:{tid_text}")]])]
    current = await repo(ctx).get(int(tid_text))
    target = directory(ctx).get(current.target_key) if current is not None else None

    def render(t: HandoffTicket) -> list[Message]:
        channel, chat = _staff_chat(t)
        chats = [(channel, chat)] if chat else list(target.chats if target else ())
        return [_msg(ch, c, T.STAFF_PHONE.format(code=t.code, phone=phone), "phone") for ch, c in chats]

    ctx.session.state = f"handoff:{tid_text}"
    t = await repo(ctx).share_phone(int(tid_text), ctx.session.user_id, phone, render)
    if t is None:
        ctx.session.state = ""
        return [Reply.make(T.STAFF_CLOSED_ALREADY.format(code=f"HT{tid_text}"), [_menu_row()])]
    return [Reply.make(T.PHONE_SAVED.format(phone=phone, target=t.target_name))]


@router.before("handoff")
async def live_chat_first(ctx: Context) -> list[Reply] | None:
    """A person took the citizen's request while they were in another flow: their messages go to the person."""
    tid = ctx.session.data.get("handoff_id")
    if not isinstance(tid, int) or ctx.session.state.startswith("handoff"):
        return None
    t = await repo(ctx).get(tid)
    if t is None or t.user_id != ctx.session.user_id or t.status not in OPEN_TICKET_STATUSES or t.status == "waiting":
        return None
    ctx.session.state = f"handoff:{t.id}"
    return await on_state(ctx)


@router.resume("handoff")
async def way_back(ctx: Context) -> Reply | None:
    arg = ctx.session.state.partition(":")[2]
    if not arg.isdigit():
        return None
    t = await repo(ctx).get(int(arg))
    if t is None or t.status != "waiting":
        return None
    ahead = await repo(ctx).waiting_before(t)
    text = T.STILL_WAITING.format(target=t.target_name) + (f"\n{T.QUEUE.format(n=ahead)}" if ahead else "")
    return Reply.make(text, [[Button(T.BTN_CANCEL, f"handoff:cancel:{t.id}")]])


def _update_key(ctx: Context) -> str:
    key = ctx.incoming.update_key
    return f"{ctx.incoming.channel}:{key}"[:140] if key else ""


def _staff_chat(t: HandoffTicket) -> tuple[str, str]:
    channel, _, chat = t.staff_chat.partition(":")
    return channel, chat


def _to_staff(t: HandoffTicket, text: str) -> list[Message]:
    channel, chat = _staff_chat(t)
    return [_msg(channel, chat, T.FROM_CITIZEN.format(code=t.code, text=text), "line")] if chat else []


async def _end_by_citizen(ctx: Context, t: HandoffTicket, left: bool = False) -> list[Reply]:
    target = directory(ctx).get(t.target_key)

    def render(t: HandoffTicket) -> list[Message]:
        channel, chat = _staff_chat(t)
        if not chat:  # nobody had taken it: the team's chats learn that the card is void
            note = T.STAFF_CITIZEN_CANCELLED.format(code=t.code)
            return [_msg(ch, c, note, "cancelled") for ch, c in (target.chats if target else ())]
        note = (T.STAFF_CITIZEN_LEFT if left else T.STAFF_CITIZEN_ENDED).format(code=t.code)
        return [_msg(channel, chat, note, "note")]

    res = await repo(ctx).close(t.id, "citizen", render)
    ctx.session.state = ""
    ctx.session.data.pop("handoff_id", None)
    if isinstance(res, str):
        return []
    text = (T.LEFT_BY_MENU if left else T.ENDED_BY_CITIZEN).format(name=t.claimed_name or t.target_name)
    if res.claimed_by:
        rows = _rating_buttons(t.id) if left else [*_rating_buttons(t.id), _menu_row()]  # left: the menu follows
        return [Reply.make(f"{text}\n{T.ASK_RATING}", rows)]
    return [Reply.make(T.CANCELLED, [_menu_row()])]


async def menu_lead(ctx: Context) -> list[Reply]:
    """"menu" leaves a live chat at any time: it ends, the helper is told, and the rating (1-5) comes above
    the menu so that its numbers stay 1-5 on Zalo and the terminal."""
    tid = ctx.session.data.get("handoff_id")
    if not isinstance(tid, int):
        return []
    t = await repo(ctx).get(tid)
    if t is None or t.status != "live":
        return []
    return await _end_by_citizen(ctx, t, left=True)


async def menu_note(ctx: Context) -> list[Reply]:
    """Under the menu: a request still waiting is named, with the way to cancel it."""
    tid = ctx.session.data.get("handoff_id")
    if not isinstance(tid, int):
        return []
    t = await repo(ctx).get(tid)
    if t is None or t.status not in OPEN_TICKET_STATUSES:
        ctx.session.data.pop("handoff_id", None)
        return []
    if t.status == "live":
        return []
    # (when someone takes it, the citizen is put back into the chat: HandoffRepo.claim)
    return [Reply.make(T.ALREADY_OPEN.format(code=t.code), [[Button(T.BTN_CANCEL, f"handoff:cancel:{t.id}")]])]


# --- buttons ---------------------------------------------------------------------------------------

@router.action("handoff")
async def on_action(ctx: Context, arg: str) -> list[Reply]:
    verb, _, rest = arg.partition(":")
    if verb == "commune":
        if rest == "skip":
            return await _set_commune(ctx, "", "")
        commune = get_commune(rest)
        return await _set_commune(ctx, commune.code, commune.label) if commune else _ask_commune(ctx)
    tid_text, _, extra = rest.partition(":")
    t = await repo(ctx).get(int(tid_text)) if tid_text.isdigit() else None
    if t is None:
        return [Reply.make(T.STAFF_NOT_FOUND)]
    if verb == "claim":
        return await claim(ctx, t)
    if verb == "rate" and extra.isdigit() and 1 <= int(extra) <= 5:
        ok = await repo(ctx).rate(t.id, ctx.session.user_id, int(extra))
        return [Reply.make(T.RATED.format(n=extra) if ok else T.RATE_GONE, [_menu_row()])]
    if verb == "phone" and t.user_id == ctx.session.user_id and t.status in OPEN_TICKET_STATUSES:
        ctx.session.state = f"handoff:phone:{t.id}"
        return [Reply.make(T.ASK_PHONE, [[Button(T.BTN_SKIP, f"handoff:resume:{t.id}")]])]
    if verb in ("end", "cancel", "resume") and t.user_id == ctx.session.user_id:
        if t.status not in OPEN_TICKET_STATUSES:
            ctx.session.state = ""
            return [Reply.make(T.STAFF_CLOSED_ALREADY.format(code=t.code), [_menu_row()])]
        if verb == "resume":
            ctx.session.state = f"handoff:{t.id}"
            ctx.session.data["handoff_id"] = t.id
            if t.status == "live":
                return [Reply.make(T.ALREADY_LIVE.format(name=t.claimed_name, target=t.target_name))]
            ahead = await repo(ctx).waiting_before(t)
            return [Reply.make(T.STILL_WAITING.format(target=t.target_name)
                               + (f"\n{T.QUEUE.format(n=ahead)}" if ahead else ""))]
        return await _end_by_citizen(ctx, t)
    if verb == "end":
        return await _end_by_staff(ctx, t)
    return [Reply.make(T.STAFF_NOT_FOUND)]


# --- staff -----------------------------------------------------------------------------------------

async def _may_act(ctx: Context, t: HandoffTicket) -> bool:
    who = actor(ctx)
    if who in ctx.settings.admins:
        return True
    target = directory(ctx).get(t.target_key)
    if target is None:
        return False
    if who in target.members:
        return True
    if target.is_desk:
        ops = ctx.services.extras.get("complaint_ops")
        return ops is not None and await ops.is_staff(target.key.partition(":")[2], who)
    guides = ctx.services.extras.get("guide_store")
    row = await guides.helper(ctx.incoming.channel, ctx.incoming.user_id) if guides is not None else None
    return row is not None and fold(row.team) == fold(target.name)


def _name(ctx: Context) -> str:
    return (ctx.session.display_name or ctx.incoming.display_name or "Cán bộ hỗ trợ")[:60]


async def claim(ctx: Context, t: HandoffTicket) -> list[Reply]:
    if t.status != "waiting":
        return [_taken(t)]
    if not await _may_act(ctx, t):
        return [Reply.make(T.STAFF_REFUSED)]
    name, here = _name(ctx), (ctx.incoming.channel, ctx.incoming.chat_id)
    target = directory(ctx).get(t.target_key)

    def render(t: HandoffTicket) -> list[Message]:
        # On Zalo and the terminal a pushed button becomes the numbered choice "1": the citizen's first answer
        # "1" to the helper would end the chat. There the text says to type "Kết thúc".
        end = [] if t.channel in NUMBERED_CHANNELS else [[Button(T.BTN_END, f"handoff:end:{t.id}")]]
        out = [_citizen(t, T.CLAIMED.format(name=t.claimed_name, target=t.target_name), "claimed", end)]
        out += [_msg(ch, chat, _claimed_note(ch, t.claimed_name, t.code), "taken")
                for ch, chat in (target.chats if target else ()) if (ch, chat) != here]
        return out

    res = await repo(ctx).claim(t.id, actor(ctx), name, f"{here[0]}:{here[1]}", render,
                                forget=(CHOICES_KEY, EXTRA_KEY))
    if isinstance(res, str):
        fresh = await repo(ctx).get(t.id)
        return [_taken(fresh or t)]
    log.info("handoff %s claimed", t.id)
    ctx.session.state = f"handoff:staff:{t.id}"
    return [Reply.make(_claimed_note(here[0], name, t.code))]


def _taken(t: HandoffTicket) -> Reply:
    if t.status == "live":
        return Reply.make(T.STAFF_TAKEN.format(code=t.code, name=t.claimed_name))
    return Reply.make(T.STAFF_CLOSED_ALREADY.format(code=t.code))


async def staff_say(ctx: Context, t: HandoffTicket, text: str, att: Attachment | None = None) -> list[Reply]:
    """A helper's line to the citizen (reply in the group, /traloi, or a private message); with ``att``, a photo
    or document (its caption in ``att``), relayed as the file itself."""
    if t.status == "waiting":
        claimed = await claim(ctx, t)
        t = await repo(ctx).get(t.id) or t
        if t.status != "live" or t.claimed_by != actor(ctx):
            return claimed
    if t.status != "live":
        return [_taken(t)]
    if t.claimed_by != actor(ctx):
        return [Reply.make(T.STAFF_NOT_YOURS.format(code=t.code, name=t.claimed_name))]
    if att is not None:
        if not att.reachable_on(t.channel):
            return [Reply.make(T.FILE_NOT_TO_CITIZEN.format(channel=T.CHANNELS.get(t.channel, t.channel),
                                                            what=_what(att)))]
        media = _forward(att, T.CAPTION_FROM_STAFF.format(name=t.claimed_name))
        res = await repo(ctx).relay(t.id, actor(ctx), _transcript(att), _update_key(ctx),
                                    lambda t: [Message(t.channel, t.chat_id, "", "line", [], media=media)])
        if isinstance(res, str) and res.startswith("status:"):
            return [_taken(await repo(ctx).get(t.id) or t)]
        return []
    text = clean_text(text, TEXT_MAX)
    if not text:
        return [Reply.make(T.STAFF_USAGE)]
    line = T.FROM_STAFF.format(name=t.claimed_name, text=text)
    res = await repo(ctx).relay(t.id, actor(ctx), text, _update_key(ctx), lambda t: [_citizen(t, line, "line")])
    if isinstance(res, str) and res.startswith("status:"):
        return [_taken(await repo(ctx).get(t.id) or t)]
    return []  # delivered through the outbox; nothing to echo in the helper's chat


async def _end_by_staff(ctx: Context, t: HandoffTicket) -> list[Reply]:
    if t.status == "live" and t.claimed_by != actor(ctx) and actor(ctx) not in ctx.settings.admins:
        return [Reply.make(T.STAFF_NOT_YOURS.format(code=t.code, name=t.claimed_name))]
    if t.status == "waiting" and not await _may_act(ctx, t):
        return [Reply.make(T.STAFF_REFUSED)]

    def render(t: HandoffTicket) -> list[Message]:
        text = T.ENDED_BY_STAFF.format(name=t.claimed_name or t.target_name)
        return [_citizen(t, f"{text}\n{T.ASK_RATING}", "ended", [*_rating_buttons(t.id), _menu_row()])]

    res = await repo(ctx).close(t.id, actor(ctx), render)
    if ctx.session.state == f"handoff:staff:{t.id}":
        ctx.session.state = ""
    if isinstance(res, str):
        return [_taken(await repo(ctx).get(t.id) or t)]
    return [Reply.make(T.STAFF_ENDED.format(code=t.code))]


async def _staff_private(ctx: Context, tid_text: str) -> list[Reply] | None:
    """A helper who took a ticket types in a private chat with the bot: it goes to the citizen (photos too)."""
    kind = ctx.incoming.kind
    if ctx.incoming.chat_type != "private" or kind not in ("text", "photo", "document") or not tid_text.isdigit():
        return None
    t = await repo(ctx).get(int(tid_text))
    if t is None or t.status != "live" or t.claimed_by != actor(ctx):
        ctx.session.state = ""
        return None
    if kind != "text":
        att = incoming_file(ctx)
        return await staff_say(ctx, t, "", att) if att is not None else [Reply.make(T.STAFF_USAGE)]
    if _is_end(ctx.text):
        return await _end_by_staff(ctx, t)
    return await staff_say(ctx, t, ctx.text)


async def on_group_text(ctx: Context) -> list[Reply] | None:
    """In group chats: a reply to a ticket card or line is a helper's message; chatter in team chats is ignored.

    A photo or document is a helper's when it replies to a card or line (Telegram), or when its caption
    starts with the ticket's code ("HT12 ảnh màn hình đúng", Zalo has no replies); other files are chatter."""
    inc = ctx.incoming
    if inc.kind in ("photo", "document"):
        return await _group_file(ctx)
    if inc.kind != "text":
        return None
    if inc.reply_to:
        tid = await repo(ctx).by_card(inc.channel, inc.chat_id, inc.reply_to)
        if tid is not None:
            t = await repo(ctx).get(tid)
            if t is not None:
                if _is_end(inc.text):
                    return await _end_by_staff(ctx, t)
                return await staff_say(ctx, t, inc.text)
    targets = directory(ctx).of_chat(inc.channel, inc.chat_id)
    if targets and not any(t.is_desk for t in targets):
        return []  # a team's group: the bot only acts on its cards, commands and replies
    return None


async def _group_file(ctx: Context) -> list[Reply]:
    inc = ctx.incoming
    att = incoming_file(ctx)
    tid = await repo(ctx).by_card(inc.channel, inc.chat_id, inc.reply_to) if inc.reply_to else None
    if tid is None and att is not None and att.caption.upper().startswith("HT"):
        tid, rest = _ticket_arg(att.caption)
        if tid is not None:
            att = Attachment(att.kind, att.ref, att.source, rest, att.name)
    t = await repo(ctx).get(tid) if tid is not None else None
    if t is None or att is None:
        return []  # a photo shared among staff: not for the bot, and nothing said in the group
    return await staff_say(ctx, t, "", att)


def _ticket_arg(args: str) -> tuple[int | None, str]:
    word, _, rest = args.strip().partition(" ")
    return id_from_code(word), rest.strip()


@router.command("nhan")
async def cmd_claim(ctx: Context, args: str) -> list[Reply]:
    tid, _ = _ticket_arg(args)
    t = await repo(ctx).get(tid) if tid is not None else None
    if t is None:
        return [Reply.make(T.STAFF_CLAIM_USAGE if tid is None else T.STAFF_NOT_FOUND)]
    return await claim(ctx, t)


@router.command("traloi")
async def cmd_reply(ctx: Context, args: str) -> list[Reply]:
    tid, text = _ticket_arg(args)
    if tid is None:
        mine = await repo(ctx).live_of_staff(actor(ctx))
        if len(mine) > 1:
            return [Reply.make(T.STAFF_WHICH.format(codes=", ".join(t.code for t in mine)))]
        if not mine or not args.strip():
            return [Reply.make(T.STAFF_USAGE)]
        return await staff_say(ctx, mine[0], args)
    t = await repo(ctx).get(tid)
    if t is None:
        return [Reply.make(T.STAFF_NOT_FOUND)]
    if not text:
        return [Reply.make(T.STAFF_USAGE)]
    return await staff_say(ctx, t, text)


@router.command("ketthuc")
async def cmd_end(ctx: Context, args: str) -> list[Reply]:
    tid, _ = _ticket_arg(args)
    if tid is None:
        own = await repo(ctx).open_for_user(ctx.session.user_id) if ctx.incoming.chat_type == "private" else None
        if own is not None:
            return await _end_by_citizen(ctx, own)
        mine = await repo(ctx).live_of_staff(actor(ctx))
        if len(mine) == 1:
            return await _end_by_staff(ctx, mine[0])
        return [Reply.make(T.STAFF_END_USAGE)]
    t = await repo(ctx).get(tid)
    if t is None:
        return [Reply.make(T.STAFF_NOT_FOUND)]
    if t.user_id == ctx.session.user_id:
        return await _end_by_citizen(ctx, t)
    return await _end_by_staff(ctx, t)


# --- time: unclaimed and silent tickets -----------------------------------------------------------

async def timer_job(services: Services) -> None:
    escalated, expired, idle = await check_timers(services)
    if escalated or expired or idle:
        log.info("handoff timers: %s escalated, %s expired, %s idle chats closed", escalated, expired, idle)


async def check_timers(services: Services) -> tuple[int, int, int]:
    """Unclaimed too long: to the province desk (once), then expired with the hotline; silent chats closed."""
    d, r, now = directory(services), repo(services), services.now()
    wait = dt.timedelta(minutes=services.settings.handoff_claim_minutes)
    escalated = expired = idle = 0
    for t in await r.waiting():
        since = t.escalated_at or t.created_at
        if now - since < wait:
            continue
        old = directory(services).get(t.target_key)
        fallback = d.fallback
        minutes = services.settings.handoff_claim_minutes
        hotline = _hotline(d, t)
        if (t.escalated_at is None and fallback is not None and fallback.chats and fallback.key != t.target_key
                and fallback.hours.open_at(now, d.holidays)):
            def render(t: HandoffTicket, old: Target | None = old, fallback: Target = fallback) -> list[Message]:
                out = _cards(services, t, fallback, T.CARD_ESCALATED.format(code=t.code, old=old.name if old else "—"))
                out.append(_citizen(t, T.ESCALATED_CITIZEN.format(
                    minutes=minutes, old=old.name if old else "", target=fallback.name, hotline=hotline), "escalated"))
                note = T.STAFF_ESCALATED_AWAY.format(code=t.code, minutes=minutes, target=fallback.name)
                out += [_msg(ch, chat, note, "away") for ch, chat in (old.chats if old else ())]
                return out

            if await r.escalate(t.id, fallback.key, fallback.name, render) is not None:
                escalated += 1
            continue

        def render_expired(t: HandoffTicket, old: Target | None = old) -> list[Message]:
            text = _contacts(d, t.commune_code, t.commune.partition(",")[0], T.EXPIRED_CITIZEN,
                             t.target_name or T.UNKNOWN)
            out = [_citizen(t, text, "expired", [[Button(T.BTN_MENU, "menu")]])]
            note = T.STAFF_EXPIRED.format(code=t.code)
            out += [_msg(ch, chat, note, "expired") for ch, chat in (old.chats if old else ())]
            return out

        if not isinstance(await r.close(t.id, "unclaimed", render_expired, expect=("waiting",), status="expired"), str):
            expired += 1
    await tell_queue_places(services)
    silent = now - dt.timedelta(minutes=services.settings.handoff_idle_minutes)
    for t in await r.idle_live(silent):
        def render_idle(t: HandoffTicket) -> list[Message]:
            channel, chat = _staff_chat(t)
            out = [_citizen(t, f"{T.ENDED_IDLE}\n{T.ASK_RATING}", "idle", [*_rating_buttons(t.id), _menu_row()])]
            if chat:
                out.append(_msg(channel, chat, T.STAFF_IDLE.format(code=t.code), "idle"))
            return out

        if not isinstance(await r.close(t.id, "idle", render_idle, expect=("live",), older_than=silent), str):
            idle += 1
    return escalated, expired, idle


async def tell_queue_places(services: Services) -> int:
    """Waiting citizens whose place in their team's queue moved forward hear it (at most every QUEUE_SPACING,
    once per place: a flood of claims gives one message, not one per claim); returns how many were told."""
    r = repo(services)
    queues: dict[str, list[HandoffTicket]] = defaultdict(list)
    for t in await r.waiting():  # in id order: the queue of each team or desk
        queues[t.target_key].append(t)
    told = 0
    for queue in queues.values():
        for place, t in enumerate(queue):
            if t.queue_told is not None and place >= t.queue_told:
                continue

            def render(t: HandoffTicket, place: int = place) -> list[Message]:
                text = (T.QUEUE_NEXT.format(target=t.target_name) if place == 0 else
                        T.QUEUE_NOW.format(n=place, target=t.target_name))
                return [_citizen(t, text, f"queue{place}")]  # no buttons: the citizen may be in another flow

            told += await r.tell_queue(t.id, place, QUEUE_SPACING, render)
    return told


# --- figures ------------------------------------------------------------------------------------------

def _p90(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]


def figures(tickets: list[HandoffTicket]) -> list[dict[str, Any]]:
    """Per team/desk and commune: tickets, claimed, unclaimed, minutes to claim (median, p90), ratings."""
    groups: dict[tuple[str, str], list[HandoffTicket]] = defaultdict(list)
    for t in tickets:
        groups[(t.target_name or "—", t.commune or "—")].append(t)
    rows = []
    for (name, commune), ts in sorted(groups.items()):
        waits = [(t.claimed_at - t.created_at).total_seconds() / 60 for t in ts if t.claimed_at is not None]
        ratings = [t.rating for t in ts if t.rating]
        rows.append({"team": name, "commune": commune, "tickets": len(ts), "claimed": len(waits),
                     "unclaimed": sum(1 for t in ts if t.status in ("expired", "unreachable")),
                     "waiting": sum(1 for t in ts if t.status == "waiting"),
                     "claim_median_min": round(statistics.median(waits), 1) if waits else "",
                     "claim_p90_min": round(_p90(waits), 1) if waits else "",
                     "rating_avg": round(sum(ratings) / len(ratings), 2) if ratings else "",
                     "ratings": len(ratings)})
    return rows


def _min_text(value: Any) -> str:
    return "—" if value == "" else T.MINUTES.format(n=value)


def stats_text(tickets: list[HandoffTicket]) -> str:
    rows = figures(tickets)
    if not rows:
        return T.STATS_NONE
    lines = []
    for row in rows:
        rating = f"{row['rating_avg']}/5 ({row['ratings']})" if row["ratings"] else T.STATS_NO_RATING
        lines.append(T.STATS_LINE.format(name=f"{row['team']} — {row['commune']}", n=row["tickets"],
                                         claimed=row["claimed"], unclaimed=row["unclaimed"],
                                         median=_min_text(row["claim_median_min"]),
                                         p90=_min_text(row["claim_p90_min"]), rating=rating))
    return "\n".join(lines)


async def stats_note(ctx: Context) -> list[Reply]:
    """Under /thongke: the handoff figures of the teams and desks this user belongs to (all for admins).

    Nothing for someone who belongs to none (then /thongke answers as before).
    """
    who = actor(ctx)
    d = directory(ctx)
    if who not in ctx.settings.admins:
        mine = {t.key for t in [*d.teams, *d.desks, *([d.fallback] if d.fallback else [])] if who in t.members}
        ops = ctx.services.extras.get("complaint_ops")
        if ops is not None:
            mine |= {f"desk:{key}" for key in await ops.staff_agencies(who)}
        guides = ctx.services.extras.get("guide_store")
        row = await guides.helper(ctx.incoming.channel, ctx.incoming.user_id) if guides is not None else None
        if row is not None:
            mine |= {t.key for t in d.teams if fold(t.name) == fold(row.team)}
        if not mine:
            return []
        tickets = [t for t in await repo(ctx).tickets() if t.target_key in mine or t.claimed_by == who]
    else:
        tickets = await repo(ctx).tickets()
    return [Reply.make(stats_text(tickets), title=T.STATS_TITLE)]


__all__ = ["check_timers", "figures", "request", "router", "setup", "stats_text"]
