"""Idempotency keys of citizen and staff actions, tied to the session step.

An action (subscribing to a dossier, claiming or answering a complaint, rating it) writes its key in
the same transaction as its effect (``storage.models.ActionKey``). The key names the user, the action,
its target and the session's stored version at the start of the turn: if the process dies after the
action committed but before the session was saved, the retried turn (a redelivered update, or the user
pressing again) loads the same version, finds the key and answers as the first time without a second
effect. Once the session is saved the version moves on, so a later, deliberate repeat is a new action.
"""

from __future__ import annotations

from handlers.context import Context


def action_key(ctx: Context, kind: str, target: object) -> str:
    """``<kind>:<user id>:<target>:<session version>``, at most 160 characters."""
    return f"{kind}:{ctx.session.user_id}:{target}:v{ctx.session.version}"[:160]
