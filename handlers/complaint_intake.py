"""Citizen side of complaints: the intake conversation, from topic to the tracking code.

Steps (session state ``complaint:<step>``, draft in ``session.data["pakn"]``): topic →
procedure or dossier code → commune → description → photo → contact (→ phone) → summary.
"Sửa ..." on the summary goes back to one step and then returns to the summary.

A complaint told in one message ("đèn đường hư cả tháng không ai sửa") is read first
(``knowledge.complaint_reading``): what it already says (topic, commune, dossier code, procedure,
spot, time, the text itself) fills the draft, only what is missing is asked, then the summary,
where a photo and a phone number can be added ("quick" draft).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace

from handlers import complaint_media as media
from handlers.complaint_ops import DESCRIPTION_MAX, ComplaintOps, clean_text
from handlers.context import Context
from handlers.texts import complaint as T
from handlers.texts import media as TM
from handlers.types import Button, Reply
from knowledge.communes import Commune, commune_in_address, find_province, get_commune, match_commune
from knowledge.complaint_reading import load_topics, read_complaint
from knowledge.intent import find_dossier_code
from knowledge.normalize import fold
from storage.complaints import submitted_key

DRAFT = "pakn"
STEPS = ("topic", "detail", "commune", "description", "photo", "contact", "summary")
MIN_DESCRIPTION_WORDS = 4
_PHONE = re.compile(r"^0\d{9,10}$")
_TRIGGERS = ("toi muon", "muon", "phan anh", "kien nghi", "khieu nai", "gop y", "to cao", "gui", "ve viec", "ve")


def ops(ctx: Context) -> ComplaintOps:
    return ctx.services.extras["complaint_ops"]


def draft(ctx: Context) -> dict | None:
    return ctx.session.data.get(DRAFT)


def cancel_row() -> list[Button]:
    return [Button(T.BTN_CANCEL, "complaint:cancel")]


def _ask(ctx: Context, state: str, text: str, rows: list[list[Button]] | None = None) -> list[Reply]:
    ctx.session.state = f"complaint:{state}"
    d = draft(ctx)
    if d is not None:
        d["step"] = state  # where the citizen is, for a stale button or a question typed in between
    return [Reply.make(text, (rows or []) + [cancel_row()])]


INTAKE_STATES = frozenset({"topic", "procedure", "dossier", "commune", "description", "photo", "contact", "phone",
                           "summary"})
# The steps whose buttons each action answers: a button of another step is from an earlier screen.
ACTION_STEPS = {"topic": ("topic",), "proc": ("procedure",), "dossier": ("dossier",), "commune": ("commune",),
                "desc": ("description",), "photo": ("photo",), "contact": ("contact", "phone"),
                "edit": ("summary",), "send": ("summary",)}


def current_step(ctx: Context) -> str:
    """The intake step the citizen is at ("" if no draft)."""
    d = draft(ctx)
    if d is None:
        return ""
    state = ctx.session.state
    return state.partition(":")[2] if state.startswith("complaint:") else str(d.get("step") or "")


def is_stale(ctx: Context, verb: str) -> bool:
    """A button from an earlier screen of the intake: pressing it must not rewind and lose what was typed."""
    steps = ACTION_STEPS.get(verb)
    step = current_step(ctx)
    return bool(steps) and bool(step) and step not in steps


def ask_again(ctx: Context, step: str = "") -> list[Reply]:
    """Show the step the citizen is at again (after a detour or a stale button)."""
    step = step or current_step(ctx)
    d = draft(ctx)
    if d is None or not step:
        return expired()
    return ask_step(ctx, step)


# --- start and topic ------------------------------------------------------------------

def begin(ctx: Context, seed: str = "") -> list[Reply]:
    """A fresh draft; ``seed`` is what the citizen typed to start: when it tells the complaint, it is read."""
    if ctx.incoming.chat_type == "group":
        return [Reply.make(T.PRIVATE_ONLY)]
    if _meaningful(seed) or (seed and read_complaint(seed, province=home_province(ctx)).topic):
        return begin_from_message(ctx, seed)
    ctx.session.data[DRAFT] = {}
    return ask_topic(ctx)


def begin_from_message(ctx: Context, text: str) -> list[Reply]:
    """A complaint told in one message: keep what it says, ask only what is missing, then the summary."""
    if ctx.incoming.chat_type == "group":
        return [Reply.make(T.PRIVATE_ONLY)]
    r = read_complaint(text, province=home_province(ctx), kb=ctx.kb)
    description = clean_text(text, DESCRIPTION_MAX)
    d: dict = {"quick": True}
    ctx.session.data[DRAFT] = d
    if ctx.incoming.attachment is not None:  # told as the caption of a photo: the photo goes with it
        media.add_file(ctx, d)
    if len(description.split()) >= MIN_DESCRIPTION_WORDS and _meaningful(text):
        d["description"] = description  # "tôi muốn góp ý về thủ tục" names a topic but tells nothing yet
    if r.topic:
        d["topic"] = r.topic
    if r.procedure_id and r.topic in ("procedure", "dossier", "official"):
        d["procedure_id"] = r.procedure_id
    if r.dossier_code:
        d["dossier_code"] = r.dossier_code
    if r.spot:
        d["spot"] = clean_text(r.spot, 80)
    if r.when:
        d["when"] = clean_text(r.when, 40)
    intro = [Reply.make(T.QUICK_INTRO.format(topic=topic_short(r.topic).lower()))] if r.topic else []
    if r.commune is not None:
        return intro + set_commune(ctx, r.commune)
    if r.communes:
        return intro + pick_commune(ctx, r.communes, clean_text(r.commune_text, 80))
    return intro + next_missing(ctx)


def next_missing(ctx: Context) -> list[Reply]:
    """The first thing a quick draft still lacks, else the summary."""
    d = draft(ctx)
    if d is None:
        return expired()
    topic = d.get("topic", "")
    if not topic:
        return ask_topic(ctx)
    if topic == "dossier" and "dossier_code" not in d:
        return ask_step(ctx, "dossier")
    if topic == "procedure" and "procedure_id" not in d:
        return ask_step(ctx, "procedure")
    if "commune_code" not in d and topic != "portal":
        return ask_commune(ctx)
    if not d.get("description"):
        return ask_description(ctx)
    return summary(ctx)


def _meaningful(seed: str) -> bool:
    words = fold(seed).split()
    rest = [w for w in words if w not in {t for trig in _TRIGGERS for t in trig.split()}]
    return len(rest) >= MIN_DESCRIPTION_WORDS


def ask_topic(ctx: Context) -> list[Reply]:
    rows = [[Button(t.label, f"complaint:topic:{t.key}")] for t in load_topics().topics]
    return _ask(ctx, "topic", T.ASK_TOPIC, rows)


def topic_short(key: str) -> str:
    t = load_topics().get(key)
    return t.short if t else key


async def on_topic(ctx: Context, topic: str) -> list[Reply]:
    d = draft(ctx)
    if d is None:
        d = ctx.session.data[DRAFT] = {}
    if load_topics().get(topic) is None:
        return ask_topic(ctx)
    d.update(topic=topic, procedure_id="", dossier_code="")
    if topic in ("procedure", "dossier"):
        return ask_step(ctx, topic)
    return next_step(ctx, "detail")


async def on_procedure_text(ctx: Context) -> list[Reply]:
    found = [c for c in ctx.kb.matcher.search(ctx.text, 4) if ctx.kb.procedure(c.id) is not None]
    rows = [[Button(ctx.kb.entries[c.id].name[:60], f"complaint:proc:{c.id}")] for c in found[:4]]
    rows.append([Button(T.BTN_NOT_LISTED, "complaint:proc:none")])
    return _ask(ctx, "procedure", T.PICK_PROCEDURE if found else T.PROCEDURE_NOT_FOUND, rows)


async def on_procedure(ctx: Context, entry_id: str) -> list[Reply]:
    d = draft(ctx)
    if d is None:
        return expired()
    d["procedure_id"] = entry_id if ctx.kb.procedure(entry_id) is not None else ""
    return next_step(ctx, "detail")


def skip_dossier(ctx: Context) -> list[Reply]:
    d = draft(ctx)
    if d is None:
        return expired()
    d.setdefault("dossier_code", "")
    return next_step(ctx, "detail")


async def on_dossier_text(ctx: Context) -> list[Reply]:
    code = find_dossier_code(ctx.text)
    if code is None:
        return _ask(ctx, "dossier", T.DOSSIER_BAD, [[Button(T.BTN_SKIP, "complaint:dossier:skip")]])
    d = draft(ctx)
    if d is None:
        return expired()
    d["dossier_code"] = code
    return next_step(ctx, "detail")


# --- commune ---------------------------------------------------------------------------

def ask_commune(ctx: Context, text: str = T.ASK_COMMUNE) -> list[Reply]:
    return _ask(ctx, "commune", text, [[Button(T.BTN_SKIP, "complaint:commune:skip")]])


def home_province(ctx: Context) -> str:
    directory = ops(ctx).directory
    return ctx.settings.default_province or (directory.province if directory else "")


async def on_commune_text(ctx: Context) -> list[Reply]:
    typed = clean_text(ctx.text, 80)
    found = match_commune(typed, home_province(ctx))
    if not found and (found := commune_in_address(clean_text(ctx.text, 200), home_province(ctx))):
        d = draft(ctx)
        if d is not None:  # an address: its commune is routed, the address goes on the card as typed
            d[media.ADDRESS] = clean_text(ctx.text, 200)
    if not found:
        return ask_commune(ctx, T.COMMUNE_NOT_FOUND.format(text=typed))
    if len(found) == 1:
        return set_commune(ctx, found[0])
    return pick_commune(ctx, found, typed)


def pick_commune(ctx: Context, found: list[Commune], typed: str) -> list[Reply]:
    if len({c.province for c in found}) > 1 and len(found) > 5:
        return ask_commune(ctx, T.COMMUNE_TOO_MANY.format(text=typed))
    rows = [[Button(c.label[:60], f"complaint:commune:{c.code}")] for c in found[:5]]
    rows.append([Button(T.BTN_RETYPE, "complaint:commune:retype"), Button(T.BTN_SKIP, "complaint:commune:skip")])
    return _ask(ctx, "commune", T.PICK_COMMUNE, rows)


def outside_province(ctx: Context, commune: Commune | None) -> str:
    """The deployment's province if ``commune`` lies in another one (its complaints go elsewhere), else ""."""
    home = home_province(ctx)
    home = find_province(home) or home if home else ""
    return home if commune is not None and home and commune.province != home else ""


def set_commune(ctx: Context, commune: Commune | None) -> list[Reply]:
    d = draft(ctx)
    if d is None:
        return expired()
    home = outside_province(ctx, commune)
    if home and commune is not None:  # never routed to this province's agencies: say where it goes
        d.pop("commune_code", None)
        d.pop("place", None)
        rows = [[Button(T.BTN_OTHER_COMMUNE, "complaint:commune:retype")]]
        return _ask(ctx, "commune", T.OTHER_PROVINCE.format(place=commune.label, province=commune.province,
                                                             home=home), rows)
    d["commune_code"] = commune.code if commune else ""
    d["place"] = commune.label if commune else ""
    return next_step(ctx, "commune")


async def on_commune(ctx: Context, arg: str) -> list[Reply]:
    if arg == "retype":
        return ask_commune(ctx)
    if arg == "skip":
        return set_commune(ctx, None)
    commune = get_commune(arg)
    return set_commune(ctx, commune) if commune else ask_commune(ctx)


# --- description, photo, contact -----------------------------------------------------------

def ask_description(ctx: Context) -> list[Reply]:
    d = draft(ctx) or {}
    rows = [[Button(T.BTN_USE_FIRST, "complaint:desc:seed")]] if d.get("seed") else []
    return _ask(ctx, "description", T.ASK_DESCRIPTION, rows)


def set_description(ctx: Context, text: str) -> list[Reply]:
    d = draft(ctx)
    if d is None:
        return expired()
    text = clean_text(text, DESCRIPTION_MAX + 1)
    if len(text.split()) < MIN_DESCRIPTION_WORDS:
        return _ask(ctx, "description", T.DESCRIPTION_SHORT)
    prefix = []
    if len(text) > DESCRIPTION_MAX:
        text = clean_text(text, DESCRIPTION_MAX)
        prefix = [Reply.make(T.DESCRIPTION_CUT.format(n=DESCRIPTION_MAX))]
    d["description"] = text
    d.pop("seed", None)
    return prefix + next_step(ctx, "description")


def ask_photo(ctx: Context, text: str = T.ASK_PHOTO) -> list[Reply]:
    have = media.summary_line(draft(ctx))
    if have:  # photos came already (with the description, or before): more, or go on
        return _ask(ctx, "photo", TM.ASK_MORE.format(what=have), [media.done_button()])
    return _ask(ctx, "photo", text, [[Button(T.BTN_SKIP, "complaint:photo:skip")]])


async def on_photo_step(ctx: Context) -> list[Reply]:
    """Photos (several, an album, with captions) or documents until "Xong"; the step stays here meanwhile."""
    d = draft(ctx)
    if d is None:
        return expired()
    if ctx.incoming.kind not in ("photo", "document"):
        return ask_photo(ctx, T.PHOTO_EXPECTED)
    kept, first = media.add_file(ctx, d)
    if not first:
        return []  # the rest of an album: acknowledged with its first photo
    return _ask(ctx, "photo", media.note_received(d, kept), [media.done_button()])


async def on_attachment(ctx: Context, step: str) -> list[Reply]:
    """A photo, document or location pin at a step that asks for something else: kept, and the step asked again
    (a pin at the commune step offers the communes it may lie in; a photo's caption can be the description)."""
    d = draft(ctx)
    if d is None:
        return expired()
    if ctx.incoming.kind == "location" and ctx.incoming.location is not None:
        near = media.set_pin(d, *ctx.incoming.location)
        if step == "commune":
            text, rows = media.pin_choices(near)
            return _ask(ctx, "commune", text, rows + [[Button(T.BTN_RETYPE, "complaint:commune:retype"),
                                                       Button(T.BTN_SKIP, "complaint:commune:skip")]])
        return [Reply.make(TM.PIN_KEPT)] + ask_step(ctx, step)
    kept, first = media.add_file(ctx, d)
    if not first:
        return []
    caption = ctx.incoming.text
    if step == "description" and len(caption.split()) >= MIN_DESCRIPTION_WORDS:
        return [Reply.make(TM.KEPT_AT_OTHER_STEP)] + set_description(ctx, caption)
    return [Reply.make(TM.KEPT_AT_OTHER_STEP if kept else media.note_received(d, kept))] + ask_step(ctx, step)


def ask_contact(ctx: Context) -> list[Reply]:
    rows = [[Button(T.BTN_CONTACT_YES, "complaint:contact:yes")], [Button(T.BTN_CONTACT_NO, "complaint:contact:no")]]
    return _ask(ctx, "contact", T.ASK_CONTACT, rows)


async def on_contact(ctx: Context, arg: str) -> list[Reply]:
    d = draft(ctx)
    if d is None:
        return expired()
    if arg == "yes":
        return _ask(ctx, "phone", T.ASK_PHONE)
    d.update(contact_ok=False, phone="")
    return next_step(ctx, "contact")


def normalize_phone(text: str) -> str | None:
    digits = re.sub(r"[\s.\-()]", "", text)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits if _PHONE.match(digits) else None


async def on_phone_text(ctx: Context) -> list[Reply]:
    phone = normalize_phone(ctx.text)
    if phone is None:
        return _ask(ctx, "phone", T.PHONE_BAD)
    d = draft(ctx)
    if d is None:
        return expired()
    d.update(contact_ok=True, phone=phone)
    return next_step(ctx, "contact")


# --- flow and summary ---------------------------------------------------------------------

def next_step(ctx: Context, done: str) -> list[Reply]:
    """The step after ``done``, or the summary when editing one field of a finished draft."""
    d = draft(ctx) or {}
    if d.get("editing"):
        return summary(ctx)
    if d.get("quick"):
        return next_missing(ctx)
    return ask_step(ctx, STEPS[STEPS.index(done) + 1])


def ask_step(ctx: Context, step: str) -> list[Reply]:
    """The question of one intake step (the summary for the last one)."""
    if step == "topic":
        return ask_topic(ctx)
    if step == "procedure":
        return _ask(ctx, "procedure", T.ASK_PROCEDURE)
    if step == "dossier":
        return _ask(ctx, "dossier", T.ASK_DOSSIER, [[Button(T.BTN_SKIP, "complaint:dossier:skip")]])
    if step == "commune":
        return ask_commune(ctx)
    if step == "description":
        return ask_description(ctx)
    if step == "photo":
        return ask_photo(ctx)
    if step == "contact":
        return ask_contact(ctx)
    if step == "phone":
        return _ask(ctx, "phone", T.ASK_PHONE)
    return summary(ctx)


def summary(ctx: Context) -> list[Reply]:
    d = draft(ctx)
    if d is None or not d.get("description"):
        return expired()
    d["editing"] = True
    d.setdefault("key", secrets.token_hex(8))  # idempotency key of this draft's filing (see on_send)
    topic = topic_short(d.get("topic", "other"))
    proc = ctx.kb.procedure(d.get("procedure_id", "")) if d.get("procedure_id") else None
    if proc is not None:
        topic = f"{topic}: {proc.name}"
    if d.get("dossier_code"):
        topic = f"{topic}: {d['dossier_code']}"
    contact = T.SUM_CONTACT_YES.format(phone=d["phone"]) if d.get("contact_ok") else T.SUM_CONTACT_NO
    lines = [T.SUMMARY, T.SUM_TOPIC.format(value=topic), T.SUM_PLACE.format(value=d.get("place") or T.SUM_PLACE_NONE)]
    if d.get("spot"):
        lines.append(T.SUM_SPOT.format(value=d["spot"]))
    if d.get("when"):
        lines.append(T.SUM_WHEN.format(value=d["when"]))
    if d.get(media.ADDRESS):
        lines.append(TM.SUM_ADDRESS.format(value=d[media.ADDRESS]))
    if media.geo_text(d.get(media.GEO)):
        lines.append(TM.SUM_PIN.format(value=media.geo_text(d.get(media.GEO))))
    lines += [T.SUM_PHOTO.format(value=media.summary_line(d) or (T.YES if d.get("photo") else T.NO)),
              T.SUM_CONTACT.format(value=contact)]
    directory = ops(ctx).directory
    if directory is not None:
        route = directory.route(d.get("topic", "other"), field=proc.field if proc else "",
                                procedure_id=d.get("procedure_id", ""), commune_code=d.get("commune_code", ""))
        lines.append(T.SUM_AGENCY.format(value=route.agency.name))
    lines.append(T.SUM_DESCRIPTION.format(value=d["description"]))
    rows = [[Button(T.BTN_SEND, "complaint:send")],
            [Button(T.BTN_EDIT_TEXT, "complaint:edit:description"), Button(T.BTN_EDIT_PLACE, "complaint:edit:commune")],
            [Button(T.BTN_EDIT_TOPIC, "complaint:edit:topic"), Button(T.BTN_EDIT_CONTACT, "complaint:edit:contact")]]
    if not d.get("photo"):
        rows.append([Button(T.BTN_ADD_PHOTO, "complaint:edit:photo")])
    return _ask(ctx, "summary", "\n".join(lines), rows)


async def on_edit(ctx: Context, what: str) -> list[Reply]:
    d = draft(ctx)
    if d is None or not d.get("description"):
        return expired()
    if what == "topic":
        return ask_topic(ctx)  # a procedure/dossier topic asks its detail, then back to the summary
    if what == "commune":
        return ask_commune(ctx)
    if what == "contact":
        return ask_contact(ctx)
    if what == "photo":
        return ask_photo(ctx)
    return ask_description(ctx)


LAST_FILED = "pakn_last"  # session data: {"id", "at"} of the complaint this user filed last
LAST_FILED_WINDOW = 900  # seconds during which a repeated "Gửi" is answered with that complaint's code


async def on_send(ctx: Context) -> list[Reply]:
    d = draft(ctx)
    if d is None or not d.get("description") or ctx.session.state != "complaint:summary":
        again = await _sent_before(ctx)
        return again if again is not None else expired()
    if outside_province(ctx, get_commune(d.get("commune_code", "")) if d.get("commune_code") else None):
        return set_commune(ctx, get_commune(d["commune_code"]))  # never filed to this province's agencies
    limit = ctx.settings.complaints_per_day
    o = ops(ctx)
    # The draft's key makes filing idempotent: if the process died after the complaint was stored but
    # before this session was saved, pressing "Gửi" again finds that complaint instead of filing twice
    # (and is not refused by the daily limit that this very complaint may have reached).
    d.setdefault("key", secrets.token_hex(8))
    already = await o.repo.by_idem_key(o.idem_key(ctx.session.user_id, d["key"]))
    if already is None and await o.filed_today(ctx.session.user_id) >= limit:
        ctx.session.state = ""
        return [Reply.make(T.LIMIT_REACHED.format(n=limit), [[Button(T.BTN_MENU, "menu")]])]
    channel, chat_id = ctx.incoming.channel, ctx.incoming.chat_id
    durable = channel in ctx.services.extras.get("senders", {})  # the outbox can deliver on this channel
    c, filed = await o.submit_once(user_id=ctx.session.user_id, channel=channel, chat_id=chat_id, draft=d,
                                   durable_reply=durable)
    ctx.session.data.pop(DRAFT, None)
    ctx.session.data[LAST_FILED] = {"id": c.id, "at": ctx.now().timestamp()}
    ctx.session.state = ""
    buttons = [[Button(T.BTN_LOOKUP, "complaint:lookup"), Button(T.BTN_MENU, "menu")]]
    if not filed:  # answered whatever the held copy's state; sending it marks the held copy done
        reply = Reply.make(T.ALREADY_SUBMITTED.format(code=c.code), buttons)
        return [replace(reply, durable=submitted_key(c.id, c.channel, c.chat_id), durable_again=True)
                if durable else reply]
    reply = Reply.make(o.submitted_text(c), buttons)
    return [replace(reply, durable=submitted_key(c.id, channel, chat_id)) if durable else reply]


async def _sent_before(ctx: Context) -> list[Reply] | None:
    """A "Gửi" pressed again shortly after the draft was filed (its reply may have been lost in a crash
    after the session was saved): the code of that complaint, through its durable copy; else None."""
    last = ctx.session.data.get(LAST_FILED)
    if not isinstance(last, dict) or ctx.now().timestamp() - float(last.get("at", 0)) > LAST_FILED_WINDOW:
        return None
    c = await ops(ctx).repo.get(int(last.get("id", 0)))
    if c is None or c.user_id != ctx.session.user_id:
        return None
    ctx.session.state = ""
    reply = Reply.make(T.ALREADY_SUBMITTED.format(code=c.code),
                       [[Button(T.BTN_LOOKUP, "complaint:lookup"), Button(T.BTN_MENU, "menu")]])
    if c.channel in ctx.services.extras.get("senders", {}):
        return [replace(reply, durable=submitted_key(c.id, c.channel, c.chat_id), durable_again=True)]
    return [reply]


def expired() -> list[Reply]:
    return [Reply.make(T.EXPIRED, [[Button(T.BTN_NEW, "complaint:new"), Button(T.BTN_MENU, "menu")]])]


async def on_intake_text(ctx: Context, step: str) -> list[Reply] | None:
    """Typed text (or a photo, document or pin) during the intake; None if the step takes no text."""
    kind = ctx.incoming.kind
    if kind in ("photo", "document", "location") and step in INTAKE_STATES and (step != "photo" or kind == "location"):
        return await on_attachment(ctx, step)
    if step == "procedure":
        return await on_procedure_text(ctx)
    if step == "dossier":
        return await on_dossier_text(ctx)
    if step == "commune":
        return await on_commune_text(ctx)
    if step == "description":
        return set_description(ctx, ctx.text) if ctx.incoming.kind == "text" else _ask(ctx, "description",
                                                                                        T.ASK_DESCRIPTION)
    if step == "photo":
        return await on_photo_step(ctx)
    if step == "phone":
        return await on_phone_text(ctx)
    if step == "topic" and ctx.incoming.kind == "text":
        topic = read_complaint(ctx.text, province=home_province(ctx)).topic
        return await on_topic(ctx, topic) if topic else None
    return None
