"""Repository of the guided submission: guide progress, helpers, invite codes, helper sessions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update

from storage.guide_models import GuideProgress, Helper, HelperSession, InviteCode
from storage.store import Store

OPEN = "active"


@dataclass
class Progress:
    """A user's place in one procedure's guide, detached from the database."""

    entry_id: str
    pos: int = 0
    answers: dict[str, str] = field(default_factory=dict)  # eligibility question index -> "y" | "n"
    ticked: list[int] = field(default_factory=list)  # indices of documents the user has
    status: str = OPEN
    helper_session_id: int | None = None
    updated_at: dt.datetime | None = None

    def data(self) -> dict[str, Any]:
        return {"answers": dict(self.answers), "ticked": sorted(set(self.ticked))}

    @classmethod
    def from_row(cls, row: GuideProgress) -> "Progress":
        data = row.data or {}
        return cls(entry_id=row.entry_id, pos=row.pos, answers={str(k): str(v) for k, v in
                                                                 (data.get("answers") or {}).items()},
                   ticked=[int(i) for i in data.get("ticked") or []], status=row.status,
                   helper_session_id=row.helper_session_id, updated_at=row.updated_at)


@dataclass(frozen=True)
class StatRow:
    helper: str
    week: str
    commune: str
    commune_key: str
    outcome: str  # "" while not recorded
    count: int


class GuideStore:
    """Async access to the guide tables through the core store's sessions and clock."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- progress -------------------------------------------------------------

    async def get(self, user_id: int, entry_id: str) -> Progress | None:
        async with self.store.sessions() as db:
            row = await self._row(db, user_id, entry_id)
            return Progress.from_row(row) if row else None

    @staticmethod
    async def _row(db: Any, user_id: int, entry_id: str) -> GuideProgress | None:
        res = await db.execute(select(GuideProgress).where(GuideProgress.user_id == user_id,
                                                           GuideProgress.entry_id == entry_id))
        return res.scalar_one_or_none()

    async def save(self, user_id: int, p: Progress) -> None:
        """Insert or update the progress of (user, procedure)."""
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            row = await self._row(db, user_id, p.entry_id)
            if row is None:
                db.add(GuideProgress(user_id=user_id, entry_id=p.entry_id, pos=p.pos, data=p.data(),
                                     status=p.status, helper_session_id=p.helper_session_id,
                                     started_at=now, updated_at=now))
            else:
                row.pos, row.data, row.status = p.pos, p.data(), p.status
                row.helper_session_id = p.helper_session_id
                row.updated_at = now
        p.updated_at = now

    async def open_guides(self, user_id: int) -> list[Progress]:
        """Unfinished guides of a user, the most recently used first."""
        async with self.store.sessions() as db:
            rows = (await db.execute(
                select(GuideProgress).where(GuideProgress.user_id == user_id, GuideProgress.status == OPEN)
                .order_by(GuideProgress.updated_at.desc(), GuideProgress.id.desc()))).scalars()
            return [Progress.from_row(r) for r in rows]

    async def forget(self, user_id: int, entry_id: str) -> None:
        """Delete a guide's progress (its answers and ticked documents) altogether."""
        async with self.store.sessions.begin() as db:
            await db.execute(delete(GuideProgress).where(GuideProgress.user_id == user_id,
                                                         GuideProgress.entry_id == entry_id))

    # --- helpers and invite codes ----------------------------------------------

    async def helper(self, channel: str, external_id: str) -> Helper | None:
        async with self.store.sessions() as db:
            res = await db.execute(select(Helper).where(Helper.channel == channel, Helper.external_id == external_id))
            return res.scalar_one_or_none()

    async def add_invite(self, code: str, team: str, commune: str, created_by: str, valid_days: int) -> None:
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            db.add(InviteCode(code=code, team=team, commune=commune, created_by=created_by, created_at=now,
                              expires_at=now + dt.timedelta(days=valid_days)))

    async def redeem_invite(self, code: str, channel: str, external_id: str) -> Helper | None:
        """Use a valid, unused code once and register the user as a helper of its team."""
        now = self.store.now()
        who = f"{channel}:{external_id}"
        async with self.store.sessions.begin() as db:
            res = await db.execute(
                update(InviteCode)
                .where(InviteCode.code == code, InviteCode.used_by.is_(None), InviteCode.expires_at > now)
                .values(used_by=who, used_at=now))
            if res.rowcount != 1:
                return None
            invite = await db.get(InviteCode, code)
            assert invite is not None
            existing = (await db.execute(select(Helper).where(
                Helper.channel == channel, Helper.external_id == external_id))).scalar_one_or_none()
            if existing is None:
                existing = Helper(channel=channel, external_id=external_id, team=invite.team,
                                  commune=invite.commune, created_at=now)
                db.add(existing)
            else:
                existing.team, existing.commune = invite.team, invite.commune
            await db.flush()
            return existing

    # --- helper sessions --------------------------------------------------------

    async def start_session(self, *, helper: str, team: str, entry_id: str, commune: str, commune_key: str,
                            week: str) -> int:
        async with self.store.sessions.begin() as db:
            row = HelperSession(helper=helper, team=team, entry_id=entry_id, commune=commune[:128],
                                commune_key=commune_key[:128], week=week, started_at=self.store.now())
            db.add(row)
            await db.flush()
            return row.id

    async def session(self, session_id: int) -> HelperSession | None:
        async with self.store.sessions() as db:
            return await db.get(HelperSession, session_id)

    async def set_outcome(self, session_id: int, helper: str, outcome: str) -> bool:
        """Record (or correct) the outcome of the helper's own session."""
        async with self.store.sessions.begin() as db:
            res = await db.execute(update(HelperSession)
                                   .where(HelperSession.id == session_id, HelperSession.helper == helper)
                                   .values(outcome=outcome, finished_at=self.store.now()))
            return res.rowcount == 1

    async def set_entry(self, session_id: int, entry_id: str) -> None:
        async with self.store.sessions.begin() as db:
            await db.execute(update(HelperSession).where(HelperSession.id == session_id).values(entry_id=entry_id))

    async def team_stats(self, team: str) -> list[StatRow]:
        """Counts of a team's sessions by helper, week, commune and outcome."""
        q = (select(HelperSession.helper, HelperSession.week, HelperSession.commune_key,
                    func.min(HelperSession.commune).label("commune"), HelperSession.outcome,
                    func.count().label("n"))
             .where(HelperSession.team == team)
             .group_by(HelperSession.helper, HelperSession.week, HelperSession.commune_key, HelperSession.outcome))
        async with self.store.sessions() as db:
            rows = (await db.execute(q)).all()
        return [StatRow(r.helper, r.week, r.commune or "", r.commune_key or "", r.outcome or "", int(r.n))
                for r in rows]


__all__ = ["GuideStore", "Progress", "StatRow"]
