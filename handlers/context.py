"""What a handler gets: the services, the incoming message and the user's stored session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handlers.types import Incoming
from storage.store import SessionState, Store

if TYPE_CHECKING:
    from bot.config import Settings
    from knowledge.base import KnowledgeBase


@dataclass
class Services:
    """Long-lived things shared by every handler (built once per process)."""

    settings: "Settings"
    kb: "KnowledgeBase"
    store: Store
    extras: dict[str, Any] = field(default_factory=dict)  # feature services (agency directory, helpers...)

    def now(self) -> dt.datetime:
        return self.store.now()


@dataclass
class Context:
    """One turn of a conversation."""

    services: Services
    incoming: Incoming
    session: SessionState

    @property
    def kb(self) -> "KnowledgeBase":
        return self.services.kb

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def settings(self) -> "Settings":
        return self.services.settings

    @property
    def text(self) -> str:
        return self.incoming.text

    def now(self) -> dt.datetime:
        return self.services.now()
