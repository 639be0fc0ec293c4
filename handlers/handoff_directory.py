"""Who can take a citizen's request for a person: community teams and one-stop desks, with hours.

Teams come from HELPERS_FILE (``teams:`` with ``chats``, ``hours``, ``hotline``), desks from
AGENCIES_FILE (agencies with ``one_stop: true``, their ``area`` communes, ``address``, ``hours``,
``hotline``); the file's default desk is the province fallback. Old files without these keys stay
valid: a team or desk without a chat simply cannot receive tickets.

Hours are written like ``"mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30"`` (Vietnam time);
empty means always open.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handlers.texts import handoff as T
from knowledge.communes import match_commune
from knowledge.normalize import fold

VN_TZ = dt.timezone(dt.timedelta(hours=7))
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class HandoffConfigError(ValueError):
    """A team's or desk's handoff settings are wrong; the message says where."""


@dataclass(frozen=True)
class Hours:
    """Opening hours: per weekday (0 = Monday) a list of (start, end) minutes after midnight."""

    spans: tuple[tuple[tuple[int, int], ...], ...] = ()  # empty = always open
    raw: str = ""

    @classmethod
    def parse(cls, text: str | None) -> "Hours":
        text = (text or "").strip()
        if not text:
            return cls()
        days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for part in text.split(";"):
            words = part.split()
            if not words:
                continue
            which = _days(words[0])
            if not words[1:]:
                raise HandoffConfigError(f"hours {text!r}: {words[0]!r} needs times like 07:30-11:30")
            for span in words[1:]:
                m = _SPAN.match(span.rstrip(","))
                if not m:
                    raise HandoffConfigError(f"hours {text!r}: {span!r} is not like 07:30-11:30")
                a, b = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
                if not 0 <= a < b <= 24 * 60:
                    raise HandoffConfigError(f"hours {text!r}: {span!r} ends before it starts")
                for d in which:
                    days[d].append((a, b))
        return cls(tuple(tuple(sorted(d)) for d in days), text)

    def open_at(self, moment: dt.datetime, holidays: frozenset[dt.date] = frozenset()) -> bool:
        if not self.spans:
            return True
        local = moment.astimezone(VN_TZ)
        if local.date() in holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.spans[local.weekday()])

    def text(self) -> str:
        if not self.spans:
            return T.ALWAYS
        groups: list[tuple[list[int], tuple[tuple[int, int], ...]]] = []
        for d, spans in enumerate(self.spans):
            if not spans:
                continue
            if groups and groups[-1][1] == spans and groups[-1][0][-1] == d - 1:
                groups[-1][0].append(d)
            else:
                groups.append(([d], spans))
        out = []
        for ds, spans in groups:
            names = T.DAYS[DAY_KEYS[ds[0]]] + ("–" + T.DAYS[DAY_KEYS[ds[-1]]] if len(ds) > 1 else "")
            times = T.AND.join(f"{a // 60}:{a % 60:02d}–{b // 60}:{b % 60:02d}" for a, b in spans)
            out.append(f"{names} {times}")
        return "; ".join(out)


def _days(word: str) -> list[int]:
    word = word.lower()
    if word in ("daily", "all", "everyday"):
        return list(range(7))
    a, _, b = word.partition("-")
    if a not in DAY_KEYS or (b and b not in DAY_KEYS):
        raise HandoffConfigError(f"hours: {word!r} is not a day or range like mon-fri")
    i, j = DAY_KEYS.index(a), DAY_KEYS.index(b or a)
    return list(range(i, j + 1)) if i <= j else [*range(i, 7), *range(0, j + 1)]


@dataclass(frozen=True)
class Target:
    """A team or a desk that can receive tickets."""

    key: str  # "team:<slug>" | "desk:<agency key>"
    name: str
    chats: tuple[tuple[str, str], ...] = ()
    members: frozenset[str] = frozenset()
    hours: Hours = field(default_factory=Hours)
    hotline: str = ""
    address: str = ""
    commune_codes: frozenset[str] = frozenset()
    commune_names: frozenset[str] = frozenset()  # folded, for teams whose commune did not resolve

    @property
    def is_desk(self) -> bool:
        return self.key.startswith("desk:")

    def serves(self, commune_code: str, commune_name: str = "") -> bool:
        return bool(commune_code and commune_code in self.commune_codes) or (
            bool(commune_name) and fold(commune_name) in self.commune_names)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")[:58] or "team"


def _chats(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for c in raw or []:
        if not isinstance(c, dict) or c.get("channel") not in ("telegram", "zalo", "terminal") or not c.get("chat_id"):
            raise HandoffConfigError(f"{where}: each chat needs channel (telegram|zalo) and chat_id")
        out.append((str(c["channel"]), str(c["chat_id"])))
    return tuple(out)


def load_teams(path: Path, province: str = "") -> list[Target]:
    """The teams of the helpers file, with what the handoff needs (chats, hours, hotline)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    teams = data.get("teams") if isinstance(data, dict) else None
    out: list[Target] = []
    for n, team in enumerate(teams or [], 1):
        if not isinstance(team, dict):
            continue
        name = str(team.get("name") or "").strip()
        commune = str(team.get("commune") or "").strip()
        where = f"{path}: team {n} ({name})"
        try:
            hours = Hours.parse(team.get("hours"))
        except HandoffConfigError as exc:
            raise HandoffConfigError(f"{where}: {exc}") from None
        codes: set[str] = set()
        if commune:
            where_province = str(team.get("province") or province)
            for text in (commune, f"{commune}, {where_province}" if where_province else ""):
                found = match_commune(text, where_province) if text else []
                if len(found) == 1:
                    codes.add(found[0].code)
                    break
        out.append(Target(key=f"team:{_slug(name)}", name=name, chats=_chats(team.get("chats"), where),
                          members=frozenset(str(m).strip() for m in team.get("members") or []), hours=hours,
                          hotline=str(team.get("hotline") or "").strip(), address=str(team.get("address") or ""),
                          commune_codes=frozenset(codes), commune_names=frozenset({fold(commune)} if commune else ())))
    return out


def desks_of(directory: Any) -> tuple[list[Target], Target | None, frozenset[dt.date]]:
    """One-stop desks and the province fallback desk from a loaded agencies directory."""
    if directory is None:
        return [], None, frozenset()
    desks: list[Target] = []
    fallback: Target | None = None
    for a in directory.config.agencies:
        extra = getattr(a, "model_extra", None) or {}
        get = (lambda k, a=a, extra=extra: getattr(a, k, None) if hasattr(a, k) else extra.get(k))
        try:
            hours = Hours.parse(get("hours"))
        except HandoffConfigError as exc:
            raise HandoffConfigError(f"agency {a.key}: {exc}") from None
        t = Target(key=f"desk:{a.key}", name=a.name, chats=tuple((c.channel, c.chat_id) for c in a.chats),
                   members=frozenset(a.members), hours=hours, hotline=str(get("hotline") or ""),
                   address=str(get("address") or ""), commune_codes=directory.communes.get(a.key, frozenset()))
        if a.is_default_desk:
            fallback = t
        if get("one_stop"):
            desks.append(t)
    return desks, fallback, frozenset(directory.config.holidays)


@dataclass
class HandoffDirectory:
    teams: list[Target]
    desks: list[Target]
    fallback: Target | None
    holidays: frozenset[dt.date] = frozenset()
    province_hotline: str = ""

    @property
    def anyone(self) -> bool:
        """Is any team or desk able to receive tickets at all (else the commune is not even asked)?"""
        return any(t.chats for t in [*self.teams, *self.desks, *([self.fallback] if self.fallback else [])])

    def candidates(self, commune_code: str, commune_name: str = "") -> list[Target]:
        """Who could take it, in order: the commune's teams, its one-stop desk, the province desk."""
        out = [t for t in self.teams if t.serves(commune_code, commune_name)]
        out += [d for d in self.desks if d.serves(commune_code, commune_name)]
        if self.fallback is not None:
            out.append(self.fallback)
        return out

    def pick(self, commune_code: str, commune_name: str, now: dt.datetime) -> Target | None:
        """The first candidate with a chat that is open now."""
        for t in self.candidates(commune_code, commune_name):
            if t.chats and t.hours.open_at(now, self.holidays):
                return t
        return None

    def desk_for(self, commune_code: str, commune_name: str = "") -> Target | None:
        """Where the citizen can go in person: the commune's one-stop desk, else the province desk."""
        return next((d for d in self.desks if d.serves(commune_code, commune_name)), self.fallback)

    def team_for(self, commune_code: str, commune_name: str = "") -> Target | None:
        return next((t for t in self.teams if t.serves(commune_code, commune_name)), None)

    def get(self, key: str) -> Target | None:
        for t in [*self.teams, *self.desks, *([self.fallback] if self.fallback else [])]:
            if t.key == key:
                return t
        return None

    def of_chat(self, channel: str, chat_id: str) -> list[Target]:
        return [t for t in [*self.teams, *self.desks, *([self.fallback] if self.fallback else [])]
                if (channel, chat_id) in t.chats]
