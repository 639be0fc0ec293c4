"""Assemble the conversation core: services plus every feature's router."""

from __future__ import annotations

import importlib
import logging

from handlers import core
from handlers.context import Context, Services
from handlers.dispatcher import Dispatcher
from handlers.router import Router
from handlers.texts import common as T
from handlers.types import Button, Reply
from knowledge.base import KnowledgeBase
from knowledge.matcher import MatchResult
from storage.store import Clock, Store, system_clock

log = logging.getLogger(__name__)

# Feature modules, each with a module-level ``router`` and an optional ``async setup(services)``.
FEATURES: list[str] = ["handlers.dossier", "handlers.guide", "handlers.helpers_mode", "handlers.complaint",
                       "handlers.handoff", "handlers.console", "handlers.catalogue"]

# What a menu item or intent says while its feature is not installed.
_PENDING = {"guide": T.MENU_GUIDE, "dossier": T.MENU_STATUS, "complaint": T.MENU_COMPLAINT}
_PENDING_INTENTS = {"status": T.MENU_STATUS, "complaint": T.MENU_COMPLAINT}


def _not_ready(item: str):  # type: ignore[no-untyped-def]
    async def handler(ctx: Context, _: object) -> list[Reply]:
        return [Reply.make(T.NOT_READY.format(item=item), [[Button(T.BTN_MENU, "menu")]])]
    return handler


def build_router(feature_modules: list[str] | None = None) -> tuple[Router, list[object]]:
    """The core router with every feature included; placeholders for what is missing."""
    router = Router()
    router.include(core.router)
    modules = [importlib.import_module(name) for name in (FEATURES if feature_modules is None else feature_modules)]
    for module in modules:
        router.include(module.router)
    for prefix, item in _PENDING.items():
        router.actions.setdefault(prefix, _not_ready(item))
    for intent, item in _PENDING_INTENTS.items():
        router.intents.setdefault(intent, _not_ready(item))
    return router, modules


async def build_dispatcher(settings, *, kb: KnowledgeBase | None = None, store: Store | None = None,  # type: ignore[no-untyped-def]
                           clock: Clock = system_clock) -> Dispatcher:
    """Load the knowledge base, open the store, create tables, and wire the features."""
    kb = kb or KnowledgeBase.from_dir(settings.knowledge_dir, province=settings.default_province)
    store = store or Store.from_url(settings.database_url, clock)
    await store.create_schema()
    services = Services(settings=settings, kb=kb, store=store)
    router, modules = build_router()
    for module in modules:
        setup = getattr(module, "setup", None)
        if setup is not None:
            await setup(services)
    return Dispatcher(services, router)


__all__ = ["FEATURES", "MatchResult", "build_dispatcher", "build_router"]
