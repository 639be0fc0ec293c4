"""The web console (docs/console.md): pages for agencies, team helpers and operators, served by
``python -m bot serve`` under ``/console``.

Server-rendered with Jinja2 (templates/), one stylesheet (static/), no script. Signing in: the
bot's ``/console`` command sends a one-time link (handlers/console.py); its page asks for one press
(a POST, so that link previews do not use the link up), which sets an HttpOnly SameSite cookie.
Every form carries the session's CSRF token; every action is recorded (console_audit, and the
complaint's own events with the same actor as in the chat); pages never put personal data in URLs.
Complaint actions go through ComplaintOps like the chat buttons: the citizen hears of them through
the outbox.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hmac
import io
import logging
import math
import secrets
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import charts
from handlers.console import StaffIdentity, staff_identity
from handlers.texts import console as T
from handlers.texts import dossier as TD
from storage.complaint_models import OPEN_STATUSES, STATUSES
from storage.console import SESSION_TTL, ConsoleRepo
from storage.console_queries import PAGE, ComplaintFilter, ConsoleQueries, vn_day_start
from storage.handoff_models import TICKET_STATUSES

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "dvc_console"
MAX_FORM = 64 * 1024
MIN_WORDS = 3
VN = dt.timezone(dt.timedelta(hours=7))
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # the sign-in link never leaks to another site through a Referer header
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
ACTIONS = ("receive", "answer", "ask", "transfer", "close")
ACTION_DONE = {"receive": T.DONE_RECEIVED, "answer": T.DONE_ANSWERED, "ask": T.DONE_ASKED,
               "close": T.DONE_CLOSED}

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                          autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)


def vn_time(when: dt.datetime | None, with_time: bool = True) -> str:
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(VN).strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


_env.filters["vn"] = vn_time
_env.filters["day"] = lambda iso: f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if len(iso) == 10 else iso
_env.globals["T"] = T
_env.globals["DOSSIER_STATUS"] = TD.STATUS_LABEL


class Console:
    """The console bound to the running services."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.repo = ConsoleRepo(services.store)
        self.q = ConsoleQueries(services.store)

    # --- plumbing ---------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self.services.now()

    @property
    def ops(self) -> Any:
        return self.services.extras.get("complaint_ops")

    @property
    def directory(self) -> Any:
        return self.services.extras.get("agencies")

    def agency_name(self, key: str) -> str:
        agency = self.directory.get(key) if self.directory is not None and key else None
        return agency.name if agency is not None else (key or "—")

    def agency_choices(self, who: StaffIdentity) -> list[tuple[str, str]]:
        if self.directory is None:
            return []
        return [(a.key, a.name) for a in self.directory.config.agencies if who.may_see_complaint(a.key)]

    async def commune_choices(self, who: StaffIdentity) -> list[tuple[str, str]]:
        """The communes one may filter by: those of the staff member's agencies' areas, else of the
        province (from the bundled list of communes, not a scan of the complaints)."""
        from knowledge.communes import all_communes, get_commune

        d = self.directory
        if d is None:
            return await self.q.communes(who.complaint_scope)
        if not who.operator and who.agencies and all(k in d.communes for k in who.agencies):
            codes = {code for k in who.agencies for code in d.communes[k]}
            found = [get_commune(code) for code in codes]
            return sorted(((c.code, c.name) for c in found if c is not None), key=lambda r: r[1])
        return sorted(((c.code, c.name) for c in all_communes() if c.province == d.province), key=lambda r: r[1])

    def commune_name(self, code: str) -> str:
        from knowledge.communes import get_commune

        found = get_commune(code) if code else None
        return found.name if found is not None else (code or T.NO_COMMUNE)

    @staticmethod
    def render(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(_env.get_template(name).render(**ctx), status_code=status, headers=SECURITY_HEADERS)

    async def viewer(self, request: Request) -> tuple[StaffIdentity, Any] | None:
        signed = await self.repo.session(request.cookies.get(COOKIE, ""))
        if signed is None:
            return None
        who = await staff_identity(self.services, signed.actor)
        return (who, signed) if who.allowed else None

    def page(self, request: Request, name: str, who: StaffIdentity, signed: Any, status: int = 200,
             **ctx: Any) -> HTMLResponse:
        role = T.ROLE_OPERATOR if who.operator else ", ".join(
            [T.ROLE_STAFF.format(agencies=", ".join(self.agency_name(k) for k in who.agencies))] * bool(who.agencies)
            + [T.ROLE_HELPER.format(teams=", ".join(who.teams))] * bool(who.teams))
        return self.render(name, status, who=who, role=role, csrf=signed.csrf, path=request.url.path, **ctx)

    def message(self, text: str, status: int, who: StaffIdentity | None = None, signed: Any = None,
                request: Request | None = None) -> HTMLResponse:
        if who is not None and request is not None:
            return self.page(request, "message.html", who, signed, status, text=text)
        return self.render("message.html", status, who=None, text=text)

    @staticmethod
    async def form(request: Request) -> dict[str, str] | None:
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_FORM:
                return None
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return None
        return {k: v[0] for k, v in parsed.items()}

    async def posted(self, request: Request) -> tuple[StaffIdentity, Any, dict[str, str]] | Response:
        """A POST of a signed-in user with the right CSRF token (and no foreign Origin), else the refusal."""
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        if _foreign(request):
            return self.message(T.BAD_FORM, 403, who, signed, request)
        data = await self.form(request)
        if data is None or not hmac.compare_digest(data.get("csrf", "").encode(), signed.csrf.encode()):
            await self.repo.audit(who.actor, "csrf_refused", request.url.path[:64], "refused")
            return self.message(T.BAD_FORM, 403, who, signed, request)
        return who, signed, data

    # --- signing in and out -------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        token = request.path_params["token"]
        if await self.repo.link_actor(token) is None:
            return self.message(T.LOGIN_BAD, 410)
        return self.render("login.html", who=None, token=token)

    async def login(self, request: Request) -> Response:
        token = request.path_params["token"]
        if _foreign(request):  # another site cannot sign a browser in (with a link of its own)
            return self.message(T.BAD_FORM, 403)
        used = await self.repo.use_link(token)
        if used is None:
            return self.message(T.LOGIN_BAD, 410)
        _, session_token = used
        response = RedirectResponse("/console/", status_code=303, headers=SECURITY_HEADERS)
        response.set_cookie(COOKIE, session_token, max_age=int(SESSION_TTL.total_seconds()), path="/console",
                            httponly=True, samesite="lax", secure=self.secure(request))
        return response

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https" or self.services.settings.public_url.startswith("https://")

    async def logout(self, request: Request) -> Response:
        got = await self.posted(request)
        if isinstance(got, Response):
            return got
        who, _, _ = got
        await self.repo.revoke(request.cookies.get(COOKIE, ""))
        await self.repo.audit(who.actor, "sign_out")
        response = self.message(T.SIGNED_OUT_PAGE, 200)
        response.delete_cookie(COOKIE, path="/console")
        return response

    async def home(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who = got[0]
        target = "/console/complaints" if who.operator or who.agencies else "/console/handoffs"
        return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)

    # --- complaints --------------------------------------------------------------------------

    def complaint_filter(self, request: Request, who: StaffIdentity) -> ComplaintFilter:
        p = request.query_params
        status = p.get("status", "")
        topic = p.get("topic", "")
        return ComplaintFilter(
            agencies=who.complaint_scope, status=status if status in STATUSES else "",
            agency=p.get("agency", "")[:24], commune=p.get("commune", "")[:8],
            topic=topic if topic in T.TOPIC_LABEL else "", overdue=p.get("overdue") == "1",
            date_from=_date(p.get("from", "")), date_to=_date(p.get("to", "")), code=p.get("code", "")[:40])

    async def complaints(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        if not (who.operator or who.agencies):
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        f = self.complaint_filter(request, who)
        now = self.now()
        if request.query_params.get("format") == "csv":
            rows = await self.q.complaints_export(f, now)
            return csv_response("phan-anh.csv", [T.COL_CODE, T.COL_STATUS, T.COL_TOPIC, T.COL_AGENCY, T.COL_PLACE,
                                                 T.COL_CREATED, T.COL_DUE, T.OVERDUE_MARK, T.COL_RATING],
                                [[r.code, T.STATUS_LABEL.get(r.status, r.status), T.TOPIC_LABEL.get(r.topic, r.topic),
                                  self.agency_name(r.agency_key), r.place, vn_time(r.created_at), vn_time(r.due_at),
                                  T.YES if _overdue(r, now) else "", r.rating or ""] for r in rows])
        page = _page(request)
        rows, total = await self.q.complaints(f, now, page)
        items = [dict(id=r.id, code=r.code, status=r.status, topic=r.topic, agency=self.agency_name(r.agency_key),
                      place=r.place, created=r.created_at, due=r.due_at, rating=r.rating,
                      overdue=_overdue(r, now)) for r in rows]
        return self.page(request, "complaints.html", who, signed, items=items, f=f, total=total,
                         **_paging(request, page, total), communes=await self.commune_choices(who),
                         agencies=self.agency_choices(who), statuses=STATUSES)

    async def complaint(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        c = await self._complaint(request)
        if c is None:
            return self.message(T.NOT_FOUND, 404, who, signed, request)
        if not who.may_see_complaint(c.agency_key):
            await self.repo.audit(who.actor, "view", c.code or "", "refused")
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        events = await self.timeline(c)
        media = await self.media(c)
        proc = self.services.kb.get(c.procedure_id) if c.procedure_id else None
        msg = request.query_params.get("done", "")
        notice = ACTION_DONE.get(msg, "")
        if msg == "transfer":
            notice = T.DONE_TRANSFERRED.format(agency=self.agency_name(c.agency_key))
        err = request.query_params.get("error", "")
        error = (T.ERR_STATUS.format(status=T.STATUS_LABEL.get(c.status, c.status)) if err == "status"
                 else ERRORS.get(err, ""))
        can_act = await self.ops.is_staff(c.agency_key, who.actor)
        return self.page(request, "complaint.html", who, signed, c=c, events=events, proc=proc, media=media,
                         can_act=can_act,
                         agency=self.agency_name(c.agency_key), notice=notice, error=error,
                         is_open=c.status in OPEN_STATUSES, can_answer=c.status in (*OPEN_STATUSES, "answered"),
                         can_receive=c.status in ("new", "transferred", "reopened"),
                         others=[(a.key, a.name) for a in (self.directory.config.agencies if self.directory else [])
                                 if a.key != c.agency_key],
                         once=secrets.token_urlsafe(12), agency_of=self.agency_name,
                         overdue=c.status in OPEN_STATUSES and c.due_at < self.now())

    async def _complaint(self, request: Request) -> Any:
        cid = request.path_params["cid"]
        if self.ops is None:
            return None
        return await self.ops.repo.get(cid)

    async def act(self, request: Request) -> Response:
        got = await self.posted(request)
        if isinstance(got, Response):
            return got
        who, signed, data = got
        c = await self._complaint(request)
        if c is None:
            return self.message(T.NOT_FOUND, 404, who, signed, request)
        action = data.get("action", "")
        if action not in ACTIONS:
            return self.message(T.BAD_FORM, 400, who, signed, request)
        ops = self.ops
        if not await ops.is_staff(c.agency_key, who.actor):  # as in the chat: the agency's staff act, others see
            await ops.refuse(c.id, who.actor, f"console:{action}")
            await self.repo.audit(who.actor, action, c.code or "", "refused")
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        text = data.get("text", "").strip()
        idem = f"console:{who.actor}:{action}:{c.id}:{data.get('once', '')[:24]}"[:160]
        back = f"/console/complaints/{c.id}"
        if action in ("answer", "ask", "transfer") and len(text.split()) < MIN_WORDS:
            await self.repo.audit(who.actor, action, c.code or "", "too_short")
            return _redirect(f"{back}?error=short")
        if action == "receive":
            res = await ops.receive(c.id, who.actor, idem=idem)
        elif action == "answer":
            res = await ops.answer(c.id, who.actor, text, idem=idem)
        elif action == "ask":
            res = await ops.ask_citizen(c.id, who.actor, text, idem=idem)
        elif action == "close":
            res = await ops.close(c.id, who.actor, idem=idem)
        else:
            to = data.get("to", "")
            if self.directory is None or self.directory.get(to) is None:
                return _redirect(f"{back}?error=agency")
            res = await ops.transfer(c.id, who.actor, to, text, idem=idem)
        result = res if isinstance(res, str) else "ok"
        await self.repo.audit(who.actor, action, c.code or "", result[:64])
        if isinstance(res, str):
            reason = "status" if res.startswith("status:") else ("same" if res == "same_agency" else "busy")
            return _redirect(f"{back}?error={reason}")
        if action == "transfer" and not who.may_see_complaint(res.agency_key):
            return _redirect("/console/complaints")
        return _redirect(f"{back}?done={action}")

    async def timeline(self, c: Any) -> list[Any]:
        """The complaint's events, with the delivery of its cards to the agency's chats (from the outbox:
        a card's dedup key is ``pakn:<complaint>:<event>:card:<channel>:<chat>``)."""
        events = list(await self.ops.repo.events(c.id))
        keys: dict[str, Any] = {}
        for e in events:
            if e.kind in ("created", "transferred", "reopened") and self.directory is not None:
                for channel, chat in self.directory.chats(e.agency_key):
                    keys[f"pakn:{c.id}:{e.id}:card:{channel}:{chat}"] = e
        for row in await self.q.outbox_by_keys(list(keys)):
            e = keys[row.dedup_key]
            if row.status == "sent" and row.sent_at is not None:
                events.append(SimpleNamespace(kind="sent", created_at=row.sent_at, actor="", note="",
                                              agency_key=e.agency_key, id=e.id))
            elif row.status == "failed":
                events.append(SimpleNamespace(kind="send_failed", created_at=row.created_at, actor="", note="",
                                              agency_key=e.agency_key, id=e.id))
        return sorted(events, key=lambda e: (e.created_at, e.id, e.kind in ("sent", "send_failed")))

    async def media(self, c: Any) -> list[Any]:
        """The complaint's photos, documents and place, in the citizen's order (``complaint_media``); a
        complaint filed before they were kept has only its ``photo_ref``."""
        rows = list(await self.ops.repo.media(c.id)) if hasattr(self.ops.repo, "media") else []
        if rows or not c.photo_ref:
            return rows
        tg = c.photo_ref.startswith("tg-file:")
        return [SimpleNamespace(position=1, kind="photo", ref=c.photo_ref[8:] if tg else c.photo_ref,
                                source="telegram" if tg else "url", caption="", name="", latitude=None,
                                longitude=None)]

    async def photo(self, request: Request) -> Response:
        """A photo or document of a complaint, fetched from where the citizen's channel keeps it."""
        got = await self.viewer(request)
        if got is None:
            return Response(status_code=401, headers=SECURITY_HEADERS)
        who, _ = got
        c = await self._complaint(request)
        if c is None:
            return Response(status_code=404, headers=SECURITY_HEADERS)
        if not who.may_see_complaint(c.agency_key):
            return Response(status_code=403, headers=SECURITY_HEADERS)
        pos = request.path_params.get("pos", 1)
        item = next((m for m in await self.media(c) if m.position == pos and m.kind in ("photo", "document")), None)
        data = await fetch_file(self.services, item.source, item.ref) if item is not None else None
        if data is None:
            return Response(status_code=404, headers=SECURITY_HEADERS)
        headers = {**SECURITY_HEADERS, "Cache-Control": "private, max-age=600"}
        if item.kind == "document":
            headers["Content-Disposition"] = f'attachment; filename="tep-{c.id}-{pos}"'
            return Response(data, media_type="application/octet-stream", headers=headers)
        return Response(data, media_type="image/jpeg", headers=headers)

    # --- handoffs ----------------------------------------------------------------------------------

    async def handoffs(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        history = request.query_params.get("view") == "history"
        page = _page(request)
        scope = who.handoff_scope
        if request.query_params.get("format") == "csv":
            rows, _ = await self.q.handoffs(scope, not history, 1, 200_000)
            return csv_response("ho-tro.csv", [T.H_CODE, T.H_STATUS, T.H_TARGET, T.H_COMMUNE, T.H_REASON, T.H_CREATED,
                                               T.H_CLAIMED, T.H_CLOSED, T.H_RATING],
                                [[t.code, T.TICKET_STATUS.get(t.status, t.status), t.target_name, t.commune,
                                  t.reason, vn_time(t.created_at), t.claimed_name, vn_time(t.closed_at),
                                  t.rating or ""] for t in rows])
        rows, total = await self.q.handoffs(scope, not history, page)
        return self.page(request, "handoffs.html", who, signed, rows=rows, history=history, total=total,
                         **_paging(request, page, total), statuses=TICKET_STATUSES)

    # --- dossiers --------------------------------------------------------------------------------------

    async def dossiers(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        if not (who.operator or who.agencies):
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        now = self.now()
        scope = who.complaint_scope
        agency = request.query_params.get("agency", "")[:64]
        if request.query_params.get("format") == "csv":
            rows, _ = await self.q.dossiers(scope, now, agency, size=0)
            return csv_response("ho-so-tre-han.csv", [T.F_AGENCY, T.DS_CODE, T.DS_PROCEDURE, T.DS_STATUS,
                                                      T.DS_RECEIVED, T.DS_DUE, T.DS_STAGE],
                                [[d.agency_name or self.agency_name(d.agency_key), d.code, d.procedure_name,
                                  TD.STATUS_LABEL.get(d.status, d.status), vn_time(d.received_at), vn_time(d.due_at),
                                  T.STAGE_LATE if d.due_at < now else T.STAGE_SOON] for d in rows])
        counts = [(key, name or self.agency_name(key), late, soon)
                  for key, name, late, soon in await self.q.dossier_counts(scope, now)]
        page = _page(request)
        rows, total = await self.q.dossiers(scope, now, agency, page)
        return self.page(request, "dossiers.html", who, signed, counts=counts, agency=agency, total=total,
                         rows=[(d, "late" if d.due_at < now else "soon") for d in rows],
                         **_paging(request, page, total))

    # --- knowledge ----------------------------------------------------------------------------------------

    async def knowledge(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        if not who.operator:
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        days = _int(request.query_params.get("days", ""), 30, 1, 365)
        rows = await self.services.store.question_gaps(limit=100, since=self.now() - dt.timedelta(days=days))
        kb = self.services.kb
        for r in rows:
            entry = kb.get(r["best_id"]) if r["best_id"] else None
            r["best_name"] = entry.name if entry is not None else ""
        demand = await self.services.store.catalogue_demand(limit=100, since=self.now() - dt.timedelta(days=days))
        catalogue = getattr(kb, "catalogue", None)  # catalogue procedures asked about: which to curate next
        for r in demand:
            entry = catalogue.get(r["entry_id"]) if catalogue is not None else None
            r["name"], r["link"] = (entry.name, entry.link) if entry is not None else ("", "")
        if request.query_params.get("format") == "csv":
            return csv_response("cau-hoi-chua-tra-loi.csv", [T.K_COUNT, T.K_QUESTION, T.K_CLOSEST, T.K_SCORE],
                                [[r["count"], r["question"], r["best_name"] or r["best_id"] or "",
                                  "" if r["score"] is None else r["score"]] for r in rows])
        return self.page(request, "knowledge.html", who, signed, rows=rows, days=days, demand=demand)

    async def entry(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        entry = self.services.kb.get(request.path_params["entry_id"][:64])
        if entry is None:
            return self.message(T.NOT_FOUND, 404, who, signed, request)
        from handlers.cards import faq_card, procedure_card  # noqa: I001 - the same card the citizens see

        card = procedure_card(entry) if hasattr(entry, "documents") else faq_card(entry)
        return self.page(request, "entry.html", who, signed, entry=entry, card=card)

    # --- outbox ------------------------------------------------------------------------------------

    async def outbox(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        if not who.operator:
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        rows = await self.q.failed_outbox()
        if request.query_params.get("format") == "csv":
            return csv_response("tin-gui-loi.csv", [T.O_ID, T.O_CHANNEL, T.O_CREATED, T.O_ATTEMPTS, T.O_ERROR, T.O_TEXT],
                                [[r.id, r.channel, vn_time(r.created_at), r.attempts, (r.last_error or "")[:200],
                                  str((r.payload or {}).get("text", ""))[:80]] for r in rows])
        n = request.query_params.get("resent", "")
        return self.page(request, "outbox.html", who, signed, rows=rows,
                         notice=T.RESENT.format(n=int(n)) if n.isdigit() else "")

    async def resend(self, request: Request) -> Response:
        got = await self.posted(request)
        if isinstance(got, Response):
            return got
        who, signed, data = got
        if not who.operator:
            await self.repo.audit(who.actor, "resend", "outbox", "refused")
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        ident = data.get("id", "")
        ids = [int(ident)] if ident.isdigit() else None
        n = await self.services.store.requeue_failed(ids)
        await self.repo.audit(who.actor, "resend", f"outbox:{ident or 'all'}", "ok", note=str(n))
        return _redirect(f"/console/outbox?resent={n}")

    # --- audit -----------------------------------------------------------------------------------------

    async def audit(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        if not who.operator:
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        rows = await self.repo.audit_rows(500)
        if request.query_params.get("format") == "csv":
            return csv_response("nhat-ky.csv", [T.A_WHEN, T.A_WHO, T.A_ACTION, T.A_TARGET, T.A_RESULT],
                                [[vn_time(r.created_at), r.actor, r.action, r.target, r.result] for r in rows])
        return self.page(request, "audit.html", who, signed, rows=rows)

    # --- figures -----------------------------------------------------------------------------------------

    async def figures(self, request: Request) -> Response:
        got = await self.viewer(request)
        if got is None:
            return self.message(T.NEED_LOGIN, 401)
        who, signed = got
        if not (who.operator or who.agencies):
            return self.message(T.FORBIDDEN, 403, who, signed, request)
        figs = await self.figure_data(who, _int(request.query_params.get("weeks", ""), 12, 1, 104))
        return self.page(request, "figures.html", who, signed, **figs)

    async def figure_data(self, who: StaffIdentity, weeks_back: int) -> dict[str, Any]:
        now = self.now()
        today = now.astimezone(VN).date()
        monday = today - dt.timedelta(days=today.weekday())
        first = monday - dt.timedelta(weeks=weeks_back - 1)
        since = vn_day_start(first)
        weeks = [(first + dt.timedelta(weeks=i)).isoformat() for i in range(weeks_back)]
        scope = who.complaint_scope

        q_since = vn_day_start(today - dt.timedelta(days=29))
        # independent queries, run at once (each on its own connection)
        by_topic, by_commune, timely, ratings, per_day, top_asked = await asyncio.gather(
            self.q.weekly("topic", scope, since), self.q.weekly("commune_code", scope, since),
            self.q.timeliness(scope, since, now), self.q.ratings(scope, since),
            self.q.questions_per_day(q_since), self.q.top_procedures(q_since))
        topics = [t for t in T.TOPIC_LABEL if any(by_topic.get(w, {}).get(t) for w in weeks)]
        topic_table = [(w, [by_topic.get(w, {}).get(t, 0) for t in topics]) for w in weeks]
        topic_chart = charts.stacked_bars(T.FIG_BY_TOPIC, weeks, [
            (T.TOPIC_LABEL[t], [float(by_topic.get(w, {}).get(t, 0)) for w in weeks]) for t in topics])

        totals: dict[str, int] = {}
        for w in weeks:
            for code, n in by_commune.get(w, {}).items():
                totals[code] = totals.get(code, 0) + n
        top = [c for c, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:6]]
        commune_cols = [self.commune_name(c) for c in top]
        rest = [c for c in totals if c not in top]
        if rest:
            commune_cols.append(T.OTHER_COMMUNES)
        commune_table = [(w, [by_commune.get(w, {}).get(c, 0) for c in top]
                          + ([sum(by_commune.get(w, {}).get(c, 0) for c in rest)] if rest else []))
                         for w in weeks]
        commune_chart = charts.stacked_bars(T.FIG_BY_COMMUNE, weeks, [
            (name, [float(row[1][i]) for row in commune_table]) for i, name in enumerate(commune_cols)])

        on_time_table = []
        for w in weeks:
            ok, late = timely["weeks"].get(w, (0, 0))
            on_time_table.append((w, ok, late, round(100 * ok / (ok + late)) if ok + late else None))
        on_time_chart = charts.stacked_bars(T.FIG_ON_TIME, weeks, [
            (T.COL_RATE, [float(r[3] or 0) for r in on_time_table])], unit="%")
        answer_table = [(w, *timely["week_hours"].get(w, (None, None, 0))) for w in weeks]
        answer_chart = charts.stacked_bars(T.FIG_FIRST_ANSWER, weeks, [
            (T.COL_MEDIAN, [float(r[1] or 0) for r in answer_table])], unit="h")

        n_rated = sum(ratings.values())
        average = round(sum(k * v for k, v in ratings.items()) / n_rated, 2) if n_rated else None
        ratings_chart = charts.hbars(T.FIG_RATINGS, [(f"{k} ★", float(v)) for k, v in ratings.items()])

        days = [(today - dt.timedelta(days=29 - i)).isoformat() for i in range(30)]
        questions_table = [(d, per_day.get(d, 0)) for d in days]
        questions_chart = charts.stacked_bars(T.FIG_QUESTIONS, days, [
            (T.COL_COUNT, [float(n) for _, n in questions_table])])
        kb = self.services.kb
        top_procs = [(kb.get(b).name if kb.get(b) is not None else b, n)
                     for b, n in top_asked]
        top_chart = charts.hbars(T.FIG_TOP, [(name, float(n)) for name, n in top_procs])
        return dict(weeks_back=weeks_back, topics=[T.TOPIC_LABEL[t] for t in topics], topic_table=topic_table,
                    topic_chart=topic_chart, commune_cols=commune_cols, commune_table=commune_table,
                    commune_chart=commune_chart, on_time_table=on_time_table, on_time_chart=on_time_chart,
                    answer_table=answer_table, answer_chart=answer_chart, median=timely["median"],
                    p90=timely["p90"], answered=timely["answered"], ratings=ratings, average=average,
                    ratings_chart=ratings_chart, questions_table=questions_table, questions_chart=questions_chart,
                    top_procs=top_procs, top_chart=top_chart)


ERRORS = {"short": T.ERR_SHORT, "busy": T.ERR_BUSY, "same": T.ERR_SAME_AGENCY, "agency": T.ERR_AGENCY}


async def fetch_file(services: Any, source: str, ref: str) -> bytes | None:
    """The bytes of a citizen's file: a Telegram file through the Bot API, else by its https URL (Zalo)."""
    try:
        if source == "telegram":
            sender = services.extras.get("senders", {}).get("telegram")
            if sender is None:
                return None
            file = await sender.bot.get_file(ref)
            return bytes(await file.download_as_bytearray())
        if ref.startswith("https://"):
            import httpx

            async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
                resp = await http.get(ref)
            if resp.status_code == 200 and len(resp.content) <= 20 * 1024 * 1024:
                return resp.content
    except Exception as exc:  # noqa: BLE001 - a file that cannot be fetched is shown as missing
        log.warning("complaint file not fetched (%s)", type(exc).__name__)
    return None


def csv_response(filename: str, header: list[str], rows: list[list[Any]]) -> Response:
    """UTF-8 with a byte-order mark, so that Excel shows Vietnamese correctly."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(buf.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8", headers=headers)


def _cell(v: Any) -> Any:
    """Spreadsheet formulas are not run from a cell a citizen wrote (=, +, -, @ first)."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def _foreign(request: Request) -> bool:
    """A form posted from another site (its Origin header names another scheme, host or port)."""
    origin = request.headers.get("origin")
    return bool(origin) and origin != "null" and origin != f"{request.url.scheme}://{request.url.netloc}"


def _overdue(r: Any, now: dt.datetime) -> bool:
    return r.status in OPEN_STATUSES and r.due_at < now


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _int(text: str, default: int, low: int, high: int) -> int:
    return min(high, max(low, int(text))) if text.isdigit() and len(text) < 7 else default


def _page(request: Request) -> int:
    return _int(request.query_params.get("page", ""), 1, 1, 100_000)


def _paging(request: Request, page: int, total: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / PAGE))
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "format", "done", "error")}

    def link(n: int) -> str:
        return "?" + urlencode({**params, "page": n})

    return dict(page=page, pages=pages, prev_url=link(page - 1) if page > 1 else "",
                next_url=link(page + 1) if page < pages else "", csv_url="?" + urlencode({**params, "format": "csv"}))


def console_mount(services: Any) -> Mount:
    c = Console(services)
    routes = [
        Route("/", c.home, methods=["GET"]),
        Route("/login/{token}", c.login_page, methods=["GET"]),
        Route("/login/{token}", c.login, methods=["POST"]),
        Route("/logout", c.logout, methods=["POST"]),
        Route("/complaints", c.complaints, methods=["GET"]),
        Route("/complaints/{cid:int}", c.complaint, methods=["GET"]),
        Route("/complaints/{cid:int}/act", c.act, methods=["POST"]),
        Route("/complaints/{cid:int}/media/{pos:int}", c.photo, methods=["GET"]),
        Route("/handoffs", c.handoffs, methods=["GET"]),
        Route("/dossiers", c.dossiers, methods=["GET"]),
        Route("/knowledge", c.knowledge, methods=["GET"]),
        Route("/knowledge/{entry_id}", c.entry, methods=["GET"]),
        Route("/outbox", c.outbox, methods=["GET"]),
        Route("/outbox/resend", c.resend, methods=["POST"]),
        Route("/figures", c.figures, methods=["GET"]),
        Route("/audit", c.audit, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="console-static"),
    ]
    return Mount("/console", routes=routes)


__all__ = ["COOKIE", "CSP", "Console", "console_mount", "csv_response"]
