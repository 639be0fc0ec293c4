"""What happens to a complaint: filing, routing, staff actions, citizen actions, deadlines.

Every change goes through ``ComplaintRepo`` with a ``render`` that builds the agency cards and
citizen notifications, so they are queued in the outbox in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from types import SimpleNamespace
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from handlers import complaint_media
from handlers.texts import complaint as T
from knowledge.communes import get_commune
from knowledge.complaint_reading import load_topics
from storage.complaint_models import OPEN_STATUSES, Complaint, ComplaintEvent
from storage.complaints import CARD_KEY, VN_TZ, ComplaintRepo, Message, submitted_key

if TYPE_CHECKING:
    from bot.agencies import AgencyDirectory
    from handlers.context import Services

log = logging.getLogger(__name__)

DESCRIPTION_MAX = 1500
ANSWER_MAX = 2500
REASON_MAX = 500
MAX_REOPEN = 3
REPLY_HOLD = 20.0  # seconds the outbox waits before delivering a tracking code the channel did not send
TRANSFER_WORKING_DAYS = 5  # feedback outside one's authority is forwarded within 5 working days
OFFICE_CLOSES = dt.time(17, 0)
_BLANKS = re.compile(r"\n{3,}")


# --- working days ------------------------------------------------------------------

def add_working_days(start: dt.date, days: int, holidays: Iterable[dt.date] = ()) -> dt.date:
    """The date ``days`` working days after ``start`` (Saturdays, Sundays and holidays skipped)."""
    off = set(holidays)
    day, left = start, days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in off:
            left -= 1
    return day


def due_after(now: dt.datetime, days: int, holidays: Iterable[dt.date] = ()) -> dt.datetime:
    """End of office hours (17:00, Vietnam time) of the ``days``-th working day after ``now``."""
    local = add_working_days(now.astimezone(VN_TZ).date(), days, holidays)
    return dt.datetime.combine(local, OFFICE_CLOSES, VN_TZ).astimezone(dt.timezone.utc)


def local_day_start(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(VN_TZ)
    return dt.datetime.combine(local.date(), dt.time(0), VN_TZ).astimezone(dt.timezone.utc)


def fmt_time(value: dt.datetime) -> str:
    return value.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y")


def fmt_date(value: dt.datetime) -> str:
    return value.astimezone(VN_TZ).strftime("%d/%m/%Y")


# --- citizen text hygiene ------------------------------------------------------------

def clean_text(text: str, limit: int) -> str:
    """NFC, no control/format characters (zero-width, bidi overrides), tidy lines, capped."""
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = _BLANKS.sub("\n\n", "\n".join(lines)).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quoted(text: str) -> str:
    """Citizen text as a quote block: every line starts with a bar, so no line can pass for a card label."""
    return "\n".join(f"┃ {line}" if line else "┃" for line in text.split("\n"))


# --- operations -------------------------------------------------------------------

class ComplaintOps:
    """The complaint workflow, bound to the running services."""

    def __init__(self, services: "Services") -> None:
        self.services = services
        self.repo = ComplaintRepo(services.store)

    @property
    def directory(self) -> "AgencyDirectory | None":
        return self.services.extras.get("agencies")

    @property
    def holidays(self) -> list[dt.date]:
        return list(self.directory.config.holidays) if self.directory else []

    def due(self, now: dt.datetime, days: int | None = None) -> dt.datetime:
        return due_after(now, days or self.services.settings.complaint_due_working_days, self.holidays)

    def agency_name(self, key: str) -> str:
        agency = self.directory.get(key) if self.directory and key else None
        return agency.name if agency else "bộ phận tiếp nhận phản ánh"

    # --- staff ----------------------------------------------------------------

    async def is_staff(self, agency_key: str, actor: str) -> bool:
        if not agency_key or self.directory is None or self.directory.get(agency_key) is None:
            return False
        if self.directory.configured_member(agency_key, actor):
            return True
        return agency_key in await self.repo.member_agencies(actor)

    async def staff_agencies(self, actor: str) -> list[str]:
        if self.directory is None:
            return []
        keys = [a.key for a in self.directory.agencies_of_member(actor)]
        for key in await self.repo.member_agencies(actor):
            if key not in keys and self.directory.get(key) is not None:
                keys.append(key)
        return keys

    # --- messages ---------------------------------------------------------------

    def _citizen(self, c: Complaint, key: str, text: str, buttons: list[list[dict[str, str]]] | None = None
                 ) -> Message:
        return Message(c.channel, c.chat_id, text, key, buttons or [])

    @staticmethod
    def rating_buttons(cid: int) -> list[list[dict[str, str]]]:
        return [[{"label": str(n), "action": f"complaint:rate:{cid}:{n}"} for n in range(1, 6)],
                [{"label": T.BTN_NOT_RESOLVED, "action": f"complaint:reopen:{cid}"}]]

    def card_text(self, c: Complaint, heading: str, extra: Iterable[str] = ()) -> str:
        kb = self.services.kb
        lines = [heading.format(code=c.code), T.CARD_TOPIC.format(value=topic_short(c.topic))]
        proc = kb.get(c.procedure_id) if c.procedure_id else None
        if proc is not None:
            lines.append(T.CARD_PROCEDURE.format(name=proc.name, field=proc.field))
        if c.dossier_code:
            lines.append(T.CARD_DOSSIER.format(value=c.dossier_code))
        lines.append(T.CARD_PLACE.format(value=c.place or T.SUM_PLACE_NONE))
        lines.append(T.CARD_DUE.format(value=fmt_time(c.due_at)))
        lines.extend(extra)
        lines.append(T.CARD_CONTACT_YES.format(phone=c.phone) if c.contact_ok and c.phone else T.CARD_CONTACT_NO)
        lines.extend(complaint_media.card_lines(_media_rows(c)))
        why = self.route_reason(c.route_rule)
        if why:
            lines.append(T.CARD_WHY.format(why=why))
        lines += ["", T.CARD_TEXT, quoted(c.description), "", T.CARD_HOWTO]
        return "\n".join(lines)

    def route_reason(self, rule: str) -> str:
        """Why the complaint came to this agency, in words ("lĩnh vực Hộ tịch, địa bàn Phường Long Xuyên");
        the stored rule ("field=Hộ tịch; commune=30307") is for the logs and the console."""
        parts: list[str] = []
        for part in (rule or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == "procedure_id":
                entry = self.services.kb.get(value)
                parts.append(T.WHY_PROCEDURE.format(name=entry.name if entry is not None else value))
            elif key == "field":
                parts.append(T.WHY_FIELD.format(field=value))
            elif key == "topic":
                parts.append(T.WHY_GROUP.get(value) or T.WHY_TOPIC.format(topic=topic_short(value).lower()))
            elif key == "commune":
                commune = get_commune(value)
                parts.append(T.WHY_COMMUNE.format(commune=commune.name if commune else value))
            elif key == "default_desk":
                parts.append(T.WHY_DESK)
        return ", ".join(parts)

    @staticmethod
    def howto(channel: str, code: str) -> str:
        """What staff do with a card: Telegram has buttons and replies; Zalo and the terminal have typing."""
        return T.CARD_HOWTO if channel == "telegram" else T.CARD_HOWTO_TYPED.format(code=code)

    @staticmethod
    def card_buttons(cid: int) -> list[list[dict[str, str]]]:
        """A card's actions, always in this order: on Zalo "1".."5" mean them (CARD_HOWTO_TYPED)."""
        return [[{"label": T.BTN_RECEIVE, "action": f"agency:recv:{cid}"},
                 {"label": T.BTN_ANSWER, "action": f"agency:answer:{cid}"}],
                [{"label": T.BTN_TRANSFER, "action": f"agency:xfer:{cid}"},
                 {"label": T.BTN_DONE, "action": f"agency:done:{cid}"}],
                [{"label": T.BTN_ASK_MORE, "action": f"agency:ask:{cid}"}]]

    def cards(self, c: Complaint, heading: str, extra: Iterable[str] = ()) -> list[Message]:
        if self.directory is None or not c.agency_key:
            return []
        chats = self.directory.chats(c.agency_key)
        if not chats:
            log.warning("complaint %s: agency %s and the desk have no chat configured", c.id, c.agency_key)
        text = self.card_text(c, heading, list(extra))
        buttons = self.card_buttons(c.id)
        # the photos themselves go right with the card (before it, in the same outbox row: exactly once)
        media = complaint_media.card_media(_media_rows(c), c.code or "")
        return [Message(channel, chat_id, text.replace(T.CARD_HOWTO, self.howto(channel, c.code or "")), CARD_KEY,
                        buttons, media=media) for channel, chat_id in chats]

    def staff_alert(self, c: Complaint, kind: str, text: str) -> list[Message]:
        if self.directory is None or not c.agency_key:
            return []
        return [Message(ch, chat, text, kind) for ch, chat in self.directory.chats(c.agency_key)]

    # --- citizen actions -----------------------------------------------------------

    async def filed_today(self, user_id: int) -> int:
        return await self.repo.count_since(user_id, local_day_start(self.services.now()))

    @staticmethod
    def idem_key(user_id: int, draft_key: str) -> str:
        """The idempotency key of a draft's filing (``complaints.idem_key``)."""
        return f"{user_id}:{draft_key}"[:48]

    def submitted_text(self, c: Complaint) -> str:
        """The reply that gives the citizen the tracking code."""
        if not c.agency_key:
            return T.SUBMITTED_UNROUTED.format(code=c.code)
        return T.SUBMITTED.format(agency=self.agency_name(c.agency_key), code=c.code, due=fmt_time(c.due_at),
                                  days=self.services.settings.complaint_due_working_days)

    async def submit(self, *, user_id: int, channel: str, chat_id: str, draft: dict[str, Any]) -> Complaint:
        """Route and store a complaint with its agency cards (one transaction)."""
        c, _ = await self.submit_once(user_id=user_id, channel=channel, chat_id=chat_id, draft=draft)
        return c

    async def submit_once(self, *, user_id: int, channel: str, chat_id: str, draft: dict[str, Any],
                          durable_reply: bool = False) -> tuple[Complaint, bool]:
        """``submit``, idempotent on the draft's ``key``: (the complaint, True if filed now).

        With ``durable_reply``, the citizen's tracking-code message is queued too, in the same
        transaction, held for ``REPLY_HOLD`` seconds: the channel sends it directly at once and marks
        it sent; if that fails or the process dies, the outbox delivers it after the hold.
        """
        topic = draft.get("topic", "other")
        procedure_id = draft.get("procedure_id", "")
        proc = self.services.kb.procedure(procedure_id) if procedure_id else None
        field = proc.field if proc else ""
        commune_code = draft.get("commune_code", "")
        if self.directory is not None:
            route = self.directory.route(topic, field=field, procedure_id=procedure_id, commune_code=commune_code)
            agency_key, rule = route.agency.key, route.rule
        else:
            agency_key, rule = "", "no_agencies_file"
        contact_ok = bool(draft.get("contact_ok")) and bool(draft.get("phone"))
        now = self.services.now()
        values = dict(
            user_id=user_id, channel=channel, chat_id=chat_id, topic=topic, procedure_id=procedure_id,
            field=field, dossier_code=draft.get("dossier_code", ""), commune_code=commune_code,
            place=place_text(draft), description=clean_text(draft.get("description", ""), DESCRIPTION_MAX),
            photo_ref=draft.get("photo", "")[:256], media=complaint_media.media_values(draft), contact_ok=contact_ok,
            phone=draft.get("phone", "") if contact_ok else "", agency_key=agency_key, route_rule=rule[:160],
            due_at=self.due(now), idem_key=self.idem_key(user_id, draft["key"]) if draft.get("key") else None)
        transfer_by = due_after(now, TRANSFER_WORKING_DAYS, self.holidays)

        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            messages = self.cards(c, T.CARD_NEW, [T.CARD_TRANSFER_BY.format(value=fmt_date(transfer_by))])
            if durable_reply:
                messages.append(Message(c.channel, c.chat_id, self.submitted_text(c), "submitted",
                                        [[{"label": T.BTN_LOOKUP, "action": "complaint:lookup"},
                                          {"label": T.BTN_MENU, "action": "menu"}]],
                                        hold=REPLY_HOLD, dedup=submitted_key(c.id, c.channel, c.chat_id)))
            return messages

        c, filed = await self.repo.create_once(values, rule, render)
        if filed:
            log.info("complaint %s filed, routed to %s by %s", c.id, agency_key or "-", rule)
        else:
            log.info("complaint %s: the same draft sent again; not filed twice", c.id)
        return c, filed

    async def reopen(self, cid: int, user_id: int, reason: str) -> Complaint | str:
        reason = clean_text(reason, REASON_MAX)
        now = self.services.now()
        events = await self.repo.events(cid)
        last = next((e for e in reversed(events) if e.kind in ("closed", "answered") and e.agency_key), None)
        answer = next((e.note for e in reversed(events) if e.kind == "answered"), "")
        rating = next((e.note for e in reversed(events) if e.kind == "rated"), "")
        back_to = {"agency_key": last.agency_key} if last is not None and self.directory is not None \
            and self.directory.get(last.agency_key) is not None else {}

        def check(c: Complaint) -> str | None:
            if c.user_id != user_id:
                return "not_owner"
            return "limit" if c.reopen_count >= MAX_REOPEN else None

        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            # The citizen's reason is quoted like the description: no line of it can pass for a card line.
            extra = [T.CARD_REOPEN_REASON_QUOTED, quoted(reason)]
            if answer:
                extra += [T.CARD_PREVIOUS_ANSWER, quoted(answer)]
            if rating:
                extra.append(T.CARD_PREVIOUS_RATING.format(n=rating))
            return self.cards(c, T.CARD_REOPENED, extra)

        return await self.repo.change(
            cid, expect=("answered", "closed"), check=check, kind="reopened", actor="citizen", note=reason,
            values=dict(status="reopened", due_at=self.due(now), reminded_at=None, overdue_at=None,
                        reopen_count=_plus_one(), **back_to), render=render)

    async def staff_reopen(self, cid: int, actor: str, reason: str, idem: str | None = None) -> Complaint | str:
        """Staff open again a complaint closed or answered too soon; the citizen is told."""
        reason = clean_text(reason, REASON_MAX)
        now = self.services.now()

        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            return [self._citizen(c, "reopened", T.NOTE_STAFF_REOPENED.format(
                agency=self.agency_name(c.agency_key), code=c.code, due=fmt_time(c.due_at)))]

        return await self.repo.change(
            cid, expect=("answered", "closed"), kind="reopened", actor=actor, note=reason, render=render, idem=idem,
            values=dict(status="reopened", due_at=self.due(now), reminded_at=None, overdue_at=None))

    async def rate(self, cid: int, user_id: int, n: int, idem: str | None = None) -> Complaint | str:
        """The citizen's rating, shown to the agency's chats."""
        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            return self.staff_alert(c, "rated", T.CARD_RATED.format(code=c.code, n=n, stars="★" * n + "☆" * (5 - n)))

        return await self.repo.change(
            cid, expect=("answered", "closed"), check=lambda c: "not_owner" if c.user_id != user_id else None,
            kind="rated", actor="citizen", note=str(n), values=dict(rating=n), idem=idem, render=render)

    async def comment(self, cid: int, user_id: int, text: str, idem: str | None = None) -> Complaint | str:
        """The citizen's comment on how the complaint was handled (after rating), sent to the agency's chats."""
        text = clean_text(text, REASON_MAX)

        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            return self.staff_alert(c, "commented", "\n".join([T.CARD_COMMENT.format(code=c.code), quoted(text)]))

        return await self.repo.change(
            cid, expect=("answered", "closed"), check=lambda c: "not_owner" if c.user_id != user_id else None,
            kind="commented", actor="citizen", note=text, values={}, idem=idem, render=render)

    # --- staff actions -------------------------------------------------------------------

    async def receive(self, cid: int, actor: str, idem: str | None = None) -> Complaint | str:
        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            return [self._citizen(c, "received", T.NOTE_RECEIVED.format(
                code=c.code, agency=self.agency_name(c.agency_key), due=fmt_time(c.due_at)))]

        return await self.repo.change(cid, expect=("new", "transferred", "reopened"), kind="received",
                                      actor=actor, values=dict(status="received"), render=render, idem=idem)

    async def answer(self, cid: int, actor: str, text: str, idem: str | None = None) -> Complaint | str:
        text = clean_text(text, ANSWER_MAX)

        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            body = T.NOTE_ANSWERED.format(agency=self.agency_name(c.agency_key), code=c.code, answer=text)
            return [self._citizen(c, "answered", f"{body}\n\n{T.ASK_RATING}", self.rating_buttons(c.id))]

        return await self.repo.change(cid, expect=(*OPEN_STATUSES, "answered"), kind="answered", actor=actor,
                                      note=text, values=dict(status="answered"), render=render, idem=idem)

    async def close(self, cid: int, actor: str, idem: str | None = None) -> Complaint | str:
        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            body = T.NOTE_CLOSED.format(agency=self.agency_name(c.agency_key), code=c.code)
            return [self._citizen(c, "closed", f"{body}\n\n{T.ASK_RATING}", self.rating_buttons(c.id))]

        return await self.repo.change(cid, expect=(*OPEN_STATUSES, "answered"), kind="closed", actor=actor,
                                      values=dict(status="closed"), render=render, idem=idem)

    async def transfer(self, cid: int, actor: str, to_key: str, reason: str,
                       idem: str | None = None) -> Complaint | str:
        reason = clean_text(reason, REASON_MAX)
        now = self.services.now()
        source: dict[str, str] = {}

        def check(c: Complaint) -> str | None:
            source["key"] = c.agency_key
            return "same_agency" if c.agency_key == to_key else None

        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            extra = [T.CARD_FROM.format(agency=self.agency_name(source.get("key", "")), reason=reason)]
            note = self._citizen(c, "transferred", T.NOTE_TRANSFERRED.format(
                code=c.code, agency=self.agency_name(c.agency_key), reason=reason, due=fmt_time(c.due_at)))
            return [*self.cards(c, T.CARD_TRANSFERRED, extra), note]

        return await self.repo.change(
            cid, expect=(*OPEN_STATUSES, "answered"), check=check, kind="transferred", actor=actor,
            note=f"{to_key}: {reason}", render=render, idem=idem,
            values=dict(status="transferred", agency_key=to_key, route_rule="transferred",
                        due_at=self.due(now), reminded_at=None, overdue_at=None))

    async def ask_citizen(self, cid: int, actor: str, question: str, idem: str | None = None) -> Complaint | str:
        """Staff ask the citizen for more (web console); the citizen answers with "Trả lời cơ quan"."""
        question = clean_text(question, ANSWER_MAX)

        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            text = T.NOTE_ASKED.format(agency=self.agency_name(c.agency_key), code=c.code, question=question)
            return [self._citizen(c, "asked", text, [[{"label": T.BTN_GIVE_INFO, "action": f"complaint:info:{c.id}"}]])]

        return await self.repo.change(cid, expect=OPEN_STATUSES, kind="asked", actor=actor, note=question,
                                      values={}, render=render, idem=idem)

    async def add_info(self, cid: int, user_id: int, text: str) -> Complaint | str:
        """The citizen's answer to a question of the agency: recorded and sent to the agency's chats."""
        text = clean_text(text, REASON_MAX)

        def check(c: Complaint) -> str | None:
            return "not_owner" if c.user_id != user_id else None

        def render(c: Complaint, ev: ComplaintEvent) -> list[Message]:
            body = "\n".join([T.CARD_INFO.format(code=c.code), T.CARD_INFO_TEXT, quoted(text)])
            return self.staff_alert(c, "info", body)

        return await self.repo.change(cid, expect=OPEN_STATUSES, check=check, kind="info", actor="citizen",
                                      note=text, values={}, render=render)

    async def refuse(self, cid: int, actor: str, action: str) -> None:
        """Record an attempt by someone who is not staff of the complaint's agency."""
        log.warning("complaint %s: %s refused to a non-member", cid, action)
        await self.repo.add_event(cid, "refused", actor, note=action)

    # --- deadlines ---------------------------------------------------------------------

    async def check_deadlines(self) -> tuple[int, int]:
        """Remind agencies before a complaint falls due and flag it overdue after; (reminded, overdue)."""
        now = self.services.now()
        hours = self.directory.config.reminder_hours if self.directory else 24
        reminded = overdue = 0
        for c in await self.repo.open_complaints():
            status = T.STATUS_TEXT.get(c.status, c.status)
            if now > c.due_at and c.overdue_at is None:
                text = T.OVERDUE.format(code=c.code, due=fmt_time(c.due_at), status=status)
                overdue += await self.repo.flag(c.id, "overdue_at", "overdue",
                                                lambda c, ev, t=text: self.staff_alert(c, "overdue", t))
            elif now >= c.due_at - dt.timedelta(hours=hours) and c.reminded_at is None and c.overdue_at is None:
                text = T.REMINDER.format(code=c.code, due=fmt_time(c.due_at), status=status)
                reminded += await self.repo.flag(c.id, "reminded_at", "reminded",
                                                 lambda c, ev, t=text: self.staff_alert(c, "reminder", t))
        return reminded, overdue


def _media_rows(c: Complaint) -> list[Any]:
    """The complaint's photos, documents and place (loaded with it by the repository for rendering); a
    complaint filed before they were kept has only ``photo_ref``: a Telegram file id, or a URL."""
    rows = getattr(c, "media_rows", None)
    if rows is not None:
        return list(rows)
    if not c.photo_ref:
        return []
    ref, source = (c.photo_ref[8:], "telegram") if c.photo_ref.startswith("tg-file:") else (c.photo_ref, "url")
    return [SimpleNamespace(kind="photo", ref=ref, source=source, caption="", name="", latitude=None)]


def place_text(draft: dict[str, Any]) -> str:
    """Where it happened, as stored and shown on the card: the commune, and the spot the citizen named."""
    parts = [p for p in (draft.get("place", ""), clean_text(draft.get("spot", ""), 80)) if p]
    return " · ".join(parts)[:160]


def topic_short(key: str) -> str:
    """The topic as cards and summaries name it (knowledge/data/complaint_topics.yaml)."""
    t = load_topics().get(key)
    return t.short if t else key


def _plus_one() -> Any:
    from storage.complaint_models import Complaint as C

    return C.reopen_count + 1
