"""The web console's sign-in links, sessions and audit log (tables in storage/console_models.py).

Tokens are random (``secrets.token_urlsafe``); only their SHA-256 is stored. A link is taken with a
guarded UPDATE (``used_at IS NULL AND expires_at > now``), so two clicks racing sign in once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update

from storage.console_models import ConsoleAudit, ConsoleLink, ConsoleSession
from storage.store import Store

LINK_TTL = dt.timedelta(minutes=10)
SESSION_TTL = dt.timedelta(hours=8)
LINKS_PER_HOUR = 5


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    actor: str
    csrf: str
    expires_at: dt.datetime


class ConsoleRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- links ------------------------------------------------------------------

    async def links_last_hour(self, actor: str) -> int:
        since = self.store.now() - dt.timedelta(hours=1)
        async with self.store.sessions() as db:
            q = select(func.count()).select_from(ConsoleLink).where(ConsoleLink.actor == actor,
                                                                    ConsoleLink.created_at >= since)
            return int((await db.execute(q)).scalar_one())

    async def create_link(self, actor: str) -> str | None:
        """A new link token for ``actor``, or None when LINKS_PER_HOUR were made in the last hour."""
        if await self.links_last_hour(actor) >= LINKS_PER_HOUR:
            return None
        token = secrets.token_urlsafe(32)
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            db.add(ConsoleLink(token_hash=token_hash(token), actor=actor, created_at=now, expires_at=now + LINK_TTL))
        return token

    async def link_actor(self, token: str) -> str | None:
        """Whose valid (unused, unexpired) link this is, without using it."""
        async with self.store.sessions() as db:
            row = await db.get(ConsoleLink, token_hash(token))
        if row is None or row.used_at is not None or row.expires_at <= self.store.now():
            return None
        return row.actor

    async def use_link(self, token: str) -> tuple[str, str] | None:
        """Use the link once: (actor, new session token), or None if unknown, used or expired."""
        now = self.store.now()
        h = token_hash(token)
        async with self.store.sessions.begin() as db:
            res = await db.execute(update(ConsoleLink).where(ConsoleLink.token_hash == h,
                                                             ConsoleLink.used_at.is_(None),
                                                             ConsoleLink.expires_at > now).values(used_at=now))
            if res.rowcount != 1:
                return None
            actor = (await db.execute(select(ConsoleLink.actor).where(ConsoleLink.token_hash == h))).scalar_one()
            session_token = secrets.token_urlsafe(32)
            db.add(ConsoleSession(token_hash=token_hash(session_token), actor=actor, csrf=secrets.token_urlsafe(24),
                                  created_at=now, expires_at=now + SESSION_TTL))
            db.add(ConsoleAudit(actor=actor, action="sign_in", result="ok", created_at=now))
        return actor, session_token

    # --- sessions -------------------------------------------------------------------

    async def session(self, token: str) -> SignedIn | None:
        if not token or len(token) > 200:
            return None
        async with self.store.sessions() as db:
            row = await db.get(ConsoleSession, token_hash(token))
        if row is None or row.revoked_at is not None or row.expires_at <= self.store.now():
            return None
        return SignedIn(row.actor, row.csrf, row.expires_at)

    async def revoke(self, token: str) -> None:
        async with self.store.sessions.begin() as db:
            await db.execute(update(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token),
                                                          ConsoleSession.revoked_at.is_(None))
                             .values(revoked_at=self.store.now()))

    async def revoke_all(self, actor: str) -> int:
        """Sign ``actor`` out everywhere (``/console thoat`` in the chat)."""
        now = self.store.now()
        async with self.store.sessions.begin() as db:
            res = await db.execute(update(ConsoleSession).where(ConsoleSession.actor == actor,
                                                                ConsoleSession.revoked_at.is_(None),
                                                                ConsoleSession.expires_at > now)
                                   .values(revoked_at=now))
            db.add(ConsoleAudit(actor=actor, action="sign_out_all", result="ok", note=str(res.rowcount),
                                created_at=now))
            return res.rowcount or 0

    # --- audit ----------------------------------------------------------------------

    async def audit(self, actor: str, action: str, target: str = "", result: str = "ok", note: str = "") -> None:
        async with self.store.sessions.begin() as db:
            db.add(ConsoleAudit(actor=actor, action=action[:32], target=target[:64], result=result[:64],
                                note=note[:500], created_at=self.store.now()))

    async def audit_rows(self, limit: int = 200) -> list[ConsoleAudit]:
        async with self.store.sessions() as db:
            q = select(ConsoleAudit).order_by(ConsoleAudit.id.desc()).limit(limit)
            return list((await db.execute(q)).scalars())
