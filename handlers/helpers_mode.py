"""Helper mode for community digital technology team members (Tổ công nghệ số cộng đồng).

A helper is either in the configured list (HELPERS_FILE, see examples/helpers.example.yaml)
or registered with a one-time invite code that an administrator (ADMIN_IDS) issued with /moi.
Helpers start a guide on behalf of a resident (/hotro), note the resident's commune and the
outcome, and see their own and their team's counts per week and per commune (/thongke).
Only the commune and the outcome are kept about the resident.

Actions ("helper:..."): start, commune:default, go:<entry_id>, outcome:<session_id>:<code>.
States: "helper:code", "helper:team", "helper:commune", "helper:pick".
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from handlers import guide
from handlers.context import Context, Services
from handlers.router import Router
from handlers.texts import guide as T
from handlers.types import Button, Reply
from knowledge.normalize import fold, strip_marks
from storage.guides import GuideStore, StatRow

log = logging.getLogger(__name__)

router = Router()

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
CODE_VALID_DAYS = 14
MAX_CODE_FAILS = 5  # wrong codes per user per day
VN_OFFSET = dt.timedelta(hours=7)
WEEKS_SHOWN = 6
_MEMBER = re.compile(r"^[a-z]+:[\w.@-]{1,64}$")


@dataclass(frozen=True)
class HelperInfo:
    who: str  # "channel:user_id"
    team: str
    commune: str


class HelpersFileError(ValueError):
    """The helpers file is not in the expected shape; the message says where."""


def load_helpers(path: Path) -> dict[str, HelperInfo]:
    """Read the configured helper list: teams with a name, a commune and members "channel:user_id"."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    teams = data.get("teams") if isinstance(data, dict) else None
    if not isinstance(teams, list):
        raise HelpersFileError(f"{path}: expected a 'teams:' list")
    out: dict[str, HelperInfo] = {}
    for n, team in enumerate(teams, 1):
        if not isinstance(team, dict) or not str(team.get("name") or "").strip():
            raise HelpersFileError(f"{path}: team {n} needs a name")
        name, commune = str(team["name"]).strip(), str(team.get("commune") or "").strip()
        for member in team.get("members") or []:
            member = str(member).strip()
            if not _MEMBER.match(member):
                raise HelpersFileError(f"{path}: team {name!r}: member {member!r} is not channel:user_id")
            out[member] = HelperInfo(member, name[:128], commune[:128])
    return out


def _who(ctx: Context) -> str:
    return f"{ctx.session.channel}:{ctx.session.external_id}"


def _gstore(ctx: Context) -> GuideStore:
    return guide.gstore(ctx)


async def helper_info(ctx: Context) -> HelperInfo | None:
    """The helper record of the current user: from the configured list, else from an invite."""
    who = _who(ctx)
    configured = ctx.services.extras.get("helpers", {}).get(who)
    if configured is not None:
        return configured
    row = await _gstore(ctx).helper(ctx.session.channel, ctx.session.external_id)
    return HelperInfo(who, row.team, row.commune) if row else None


async def is_helper(ctx: Context) -> bool:
    return await helper_info(ctx) is not None


def iso_week(moment: dt.datetime) -> str:
    """ISO week in Vietnam time, e.g. "2026-W05"."""
    year, week, _ = (moment.astimezone(dt.timezone.utc) + VN_OFFSET).isocalendar()
    return f"{year}-W{week:02d}"


def week_label(week: str) -> str:
    year, w = week.split("-W")
    start = dt.date.fromisocalendar(int(year), int(w), 1)
    end = start + dt.timedelta(days=6)
    return T.STATS_WEEK.format(week=week, start=start.strftime("%d/%m"), end=end.strftime("%d/%m/%Y"))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def clean_code(text: str) -> str:
    """The code as typed, upper-cased, without spaces or dashes (not ``fold``: it squeezes "AA" to "A")."""
    return re.sub(r"[^A-Z0-9]", "", strip_marks(text).upper())


# --- /hotro: register with a code, or start helping a resident ------------------------------

@router.command("hotro")
async def cmd_hotro(ctx: Context, args: str) -> list[Reply]:
    """``/hotro``; ``/hotro CODE`` redeems an invite code in the same message."""
    info = await helper_info(ctx)
    if info is None:
        ctx.session.state = "helper:code"
        if args.strip():
            redeemed = await _redeem(ctx, args)
            if redeemed is not None:
                return redeemed
            ctx.session.state = "helper:code"
        return [Reply.make(T.HELPER_ONLY, [[Button(T.BTN_MENU, "menu")]])]
    return _ask_commune(ctx, info)


def _ask_commune(ctx: Context, info: HelperInfo) -> list[Reply]:
    ctx.session.state = "helper:commune"
    rows = []
    if info.commune:
        rows.append([Button(guide._short(T.HELPER_COMMUNE_DEFAULT.format(commune=info.commune), 60),
                            "helper:commune:default")])
    rows.append([Button(T.BTN_MENU, "menu")])
    return [Reply.make(T.HELPER_ASK_COMMUNE, rows)]


@router.action("helper")
async def on_action(ctx: Context, arg: str) -> list[Reply]:
    verb, _, rest = arg.partition(":")
    info = await helper_info(ctx)
    if info is None:
        ctx.session.state = "helper:code"
        return [Reply.make(T.HELPER_ONLY, [[Button(T.BTN_MENU, "menu")]])]
    if verb == "start":
        return _ask_commune(ctx, info)
    if verb == "commune" and info.commune:
        return _pick_procedure(ctx, info.commune)
    if verb == "go":
        return await _go(ctx, info, rest)
    if verb == "outcome":
        sid, _, code = rest.partition(":")
        if sid.isdigit() and code in T.OUTCOMES and await _gstore(ctx).set_outcome(int(sid), info.who, code):
            return [Reply.make(T.HELPER_OUTCOME_SAVED.format(outcome=T.OUTCOMES[code]), [[Button(T.BTN_MENU, "menu")]])]
        return [Reply.make(T.HELPER_OUTCOME_BAD, [[Button(T.BTN_MENU, "menu")]])]
    return _ask_commune(ctx, info)


def _pick_procedure(ctx: Context, commune: str) -> list[Reply]:
    ctx.session.data["helper_commune"] = commune
    ctx.session.state = "helper:pick"
    rows = [[Button(guide._short(p.name, 60), f"helper:go:{p.id}")]
            for p in (ctx.kb.procedure(i) for i in guide.POPULAR_GUIDES) if p is not None]
    rows.append([Button(T.BTN_MENU, "menu")])
    return [Reply.make(T.HELPER_PICK.format(commune=commune), rows)]


async def _go(ctx: Context, info: HelperInfo, entry_id: str) -> list[Reply]:
    p = ctx.kb.procedure(entry_id)
    commune = str(ctx.session.data.get("helper_commune") or info.commune)
    if p is None:
        return _pick_procedure(ctx, commune)
    sid = await _gstore(ctx).start_session(helper=info.who, team=info.team, entry_id=p.id, commune=commune,
                                           commune_key=fold(commune), week=iso_week(ctx.now()))
    ctx.session.data.pop("helper_commune", None)
    return await guide.start_guide(ctx, p.id, helper_session_id=sid)


@router.state("helper")
async def on_text(ctx: Context) -> list[Reply] | None:
    if ctx.incoming.kind != "text":
        return None
    step = ctx.session.state.partition(":")[2]
    if step == "code":
        return await _redeem(ctx, ctx.text)
    if step == "team":
        return await _issue(ctx)
    info = await helper_info(ctx)
    if info is None:
        ctx.session.state = ""
        return None
    if step == "commune":
        commune = " ".join(ctx.text.split())[:100]
        if len(fold(commune)) < 2:
            return [Reply.make(T.HELPER_COMMUNE_BAD)]
        return _pick_procedure(ctx, commune)
    if step == "pick":
        found = [c.id for c in ctx.kb.matcher.search(ctx.text, 5) if ctx.kb.procedure(c.id) is not None][:3]
        if not found:
            return _pick_procedure(ctx, str(ctx.session.data.get("helper_commune") or info.commune))
        rows = [[Button(guide._short(ctx.kb.entries[i].name, 60), f"helper:go:{i}")] for i in found]
        rows.append([Button(T.BTN_MENU, "menu")])
        return [Reply.make(T.PICK_FOUND, rows)]
    return None


async def _redeem(ctx: Context, text: str) -> list[Reply] | None:
    if len(fold(text).split()) > 2:  # a sentence, not a code: leave helper mode and answer it
        ctx.session.state = ""
        return None
    today = ctx.now().date().isoformat()
    fails = ctx.session.data.get("_invite_fails") or {}
    if fails.get("day") == today and fails.get("n", 0) >= MAX_CODE_FAILS:
        return [Reply.make(T.HELPER_CODE_LOCKED, [[Button(T.BTN_MENU, "menu")]])]
    code = clean_code(text)
    row = None
    if len(code) == CODE_LENGTH:
        row = await _gstore(ctx).redeem_invite(code, ctx.session.channel, ctx.session.external_id)
    if row is None:
        n = fails.get("n", 0) + 1 if fails.get("day") == today else 1
        ctx.session.data["_invite_fails"] = {"day": today, "n": n}
        log.info("wrong helper invite code from %s user %s", ctx.session.channel, ctx.session.user_id)
        return [Reply.make(T.HELPER_CODE_BAD, [[Button(T.BTN_MENU, "menu")]])]
    ctx.session.data.pop("_invite_fails", None)
    ctx.session.state = ""
    return [Reply.make(T.HELPER_WELCOME.format(team=row.team), [[Button(T.BTN_HELPER, "helper:start")],
                                                                [Button(T.BTN_MENU, "menu")]])]


# --- /moi: an administrator issues an invite code ------------------------------------------------

@router.command("moi")
async def cmd_moi(ctx: Context, _: str) -> list[Reply]:
    if _who(ctx) not in ctx.settings.admins:
        return [Reply.make(T.ADMIN_ONLY, [[Button(T.BTN_MENU, "menu")]])]
    ctx.session.state = "helper:team"
    return [Reply.make(T.ADMIN_ASK_TEAM, [[Button(T.BTN_MENU, "menu")]])]


async def _issue(ctx: Context) -> list[Reply]:
    if _who(ctx) not in ctx.settings.admins:
        ctx.session.state = ""
        return [Reply.make(T.ADMIN_ONLY, [[Button(T.BTN_MENU, "menu")]])]
    team = " ".join(ctx.text.split())
    if not 3 <= len(team) <= 100:
        return [Reply.make(T.ADMIN_TEAM_BAD)]
    code = new_code()
    await _gstore(ctx).add_invite(code, team, "", _who(ctx), CODE_VALID_DAYS)
    ctx.session.state = ""
    return [Reply.make(T.ADMIN_CODE.format(team=team, code=code, days=CODE_VALID_DAYS), [[Button(T.BTN_MENU, "menu")]])]


# --- /thongke: counts per week and per commune ---------------------------------------------------

@router.command("thongke")
async def cmd_thongke(ctx: Context, _: str) -> list[Reply]:
    info = await helper_info(ctx)
    notes = [r for note in ctx.services.extras.get("stats_notes", []) for r in await note(ctx)]  # handoff figures
    if info is None:
        if notes:  # desk staff: the figures of the handoff to a person
            return notes
        ctx.session.state = "helper:code"
        return [Reply.make(T.HELPER_ONLY, [[Button(T.BTN_MENU, "menu")]])]
    rows = await _gstore(ctx).team_stats(info.team)
    return [*notes, Reply.make(stats_text(rows, info), [[Button(T.BTN_HELPER, "helper:start"),
                                                         Button(T.BTN_MENU, "menu")]], title=T.STATS_TITLE)]


def _line(label: str, counts: dict[str, int]) -> str:
    total = sum(counts.values())
    detail = ", ".join(T.STATS_DETAIL[k].format(n=counts[k]) for k in T.STATS_DETAIL if counts.get(k))
    return T.STATS_LINE.format(label=label, total=total, detail=detail)


def _section(rows: list[StatRow], names: dict[str, str]) -> list[str]:
    by_week: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_commune: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in rows:
        by_week[r.week][r.outcome] += r.count
        by_commune[r.commune_key][r.outcome] += r.count
    lines = [T.STATS_BY_WEEK]
    lines += [_line(week_label(w), by_week[w]) for w in sorted(by_week, reverse=True)[:WEEKS_SHOWN]]
    lines.append(T.STATS_BY_COMMUNE)
    busiest_first = sorted(by_commune, key=lambda c: (-sum(by_commune[c].values()), c))
    lines += [_line(names[c], by_commune[c]) for c in busiest_first]
    return lines


def stats_text(rows: list[StatRow], info: HelperInfo) -> str:
    """Own and team counts per ISO week and per commune, by outcome."""
    if not rows:
        return T.STATS_NONE
    names: dict[str, str] = {}  # one spelling per commune for the whole team (capitalised first)
    for r in sorted(rows, key=lambda r: r.commune):
        names.setdefault(r.commune_key, r.commune or "—")
    mine = [r for r in rows if r.helper == info.who]
    lines = [T.STATS_MINE]
    lines += _section(mine, names) if mine else [T.STATS_NONE]
    lines += ["", T.STATS_TEAM.format(team=info.team), *_section(rows, names)]
    return "\n".join(lines)


async def setup(services: Services) -> None:
    path = services.settings.helpers_file
    services.extras["helpers"] = load_helpers(path) if path else {}
    services.extras["is_helper"] = is_helper


__all__ = ["HelperInfo", "iso_week", "load_helpers", "router", "setup", "stats_text"]
