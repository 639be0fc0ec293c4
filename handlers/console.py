"""``/console``: a one-time sign-in link to the web console (bot/console/, docs/console.md).

Who may sign in, and what they see, is decided here from the same sources as the chat features:
operators are ADMIN_IDS; agency staff are the agencies file's members and invite-registered staff
(ComplaintOps.staff_agencies); team helpers are the helpers file's members and invite-registered
helpers, mapped to their team's handoff target. The web console asks ``staff_identity`` on every
request, so removing someone from a file takes their access away at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers.context import Context, Services
from handlers.router import Router
from handlers.texts import console as T
from handlers.types import Reply
from storage.console import ConsoleRepo

log = logging.getLogger(__name__)
router = Router()


@dataclass(frozen=True)
class StaffIdentity:
    actor: str  # "telegram:12345"
    operator: bool = False
    agencies: tuple[str, ...] = ()  # agency keys
    teams: tuple[str, ...] = ()  # handoff targets "team:<slug>"

    @property
    def allowed(self) -> bool:
        return self.operator or bool(self.agencies) or bool(self.teams)

    @property
    def complaint_scope(self) -> tuple[str, ...] | None:
        """Agencies whose complaints this person sees; None = all."""
        return None if self.operator else self.agencies

    @property
    def handoff_scope(self) -> tuple[str, ...] | None:
        """Handoff targets whose tickets this person sees: their teams and their agencies' desks."""
        return None if self.operator else self.teams + tuple(f"desk:{k}" for k in self.agencies)

    def may_see_complaint(self, agency_key: str) -> bool:
        return self.operator or agency_key in self.agencies


async def staff_identity(services: Services, actor: str) -> StaffIdentity:
    channel, _, external_id = actor.partition(":")
    operator = actor in services.settings.admins
    agencies: tuple[str, ...] = ()
    ops = services.extras.get("complaint_ops")
    if ops is not None:
        agencies = tuple(await ops.staff_agencies(actor))
    team_names: set[str] = set()
    info = services.extras.get("helpers", {}).get(actor)
    if info is not None:
        team_names.add(info.team)
    guide_store = services.extras.get("guide_store")
    if guide_store is not None and external_id:
        row = await guide_store.helper(channel, external_id)
        if row is not None:
            team_names.add(row.team)
    teams: tuple[str, ...] = ()
    directory = services.extras.get("handoff_directory")
    if directory is not None:
        teams = tuple(t.key for t in directory.teams if actor in t.members or t.name in team_names)
    return StaffIdentity(actor, operator, agencies, teams)


def console_url(services: Services, path: str) -> str:
    s = services.settings
    base = s.public_url.rstrip("/") or f"http://{s.web_host}:{s.web_port}"
    return f"{base}/console{path}"


@router.command("console")
async def cmd_console(ctx: Context, args: str) -> list[Reply]:
    """``/console``: a sign-in link; ``/console thoat``: sign out of every browser."""
    if ctx.incoming.chat_type == "group":
        return [Reply.make(T.PRIVATE_ONLY)]
    actor = f"{ctx.incoming.channel}:{ctx.incoming.user_id}"
    repo = ConsoleRepo(ctx.store)
    if args.strip().lower() in ("thoat", "thoát", "logout"):
        return [Reply.make(T.SIGNED_OUT.format(n=await repo.revoke_all(actor)))]
    if not (await staff_identity(ctx.services, actor)).allowed:
        return [Reply.make(T.NOT_STAFF)]
    token = await repo.create_link(actor)
    if token is None:
        log.info("console link refused: too many in the last hour")
        return [Reply.make(T.TOO_MANY)]
    return [Reply.make(T.LINK.format(url=console_url(ctx.services, f"/login/{token}")))]


__all__ = ["StaffIdentity", "console_url", "router", "staff_identity"]
