"""Core conversation: greeting, menu, help, and answering knowledge questions."""

from __future__ import annotations

from handlers import cards
from handlers.context import Context
from handlers.focus import TOPIC_KEY, clear_focus, set_focus
from handlers.router import Router
from handlers.texts import common as T
from handlers.texts import handoff as HT
from handlers.types import Button, Reply
from knowledge.matcher import MatchResult
from knowledge.schema import Procedure

router = Router()

# Menu items: (label, action of the feature that serves it)
MENU_ITEMS = (
    (T.MENU_ASK, "menu:ask"),
    (T.MENU_GUIDE, "guide:menu"),
    (T.MENU_STATUS, "dossier:start"),
    (T.MENU_COMPLAINT, "complaint:start"),
    (T.MENU_HUMAN, "menu:human"),
)
# Questions people ask most, offered when nothing matched.
POPULAR = ("khai-sinh", "cap-can-cuoc", "dang-ky-tam-tru", "ly-lich-tu-phap", "doi-gplx")
_ASPECT_OF_PART = {part: aspect for aspect, part in cards.ASPECT_PART.items()}


def menu_buttons() -> list[list[Button]]:
    return [[Button(label, action)] for label, action in MENU_ITEMS]


def menu_reply(text: str = T.MENU_PROMPT) -> Reply:
    return Reply.make(text, menu_buttons())


async def menu_notes(ctx: Context) -> list[Reply]:
    """Extra replies features add under the menu (e.g. "continue your guide at step 4/9?")."""
    notes: list[Reply] = []
    for note in ctx.services.extras.get("menu_notes", []):
        notes.extend(await note(ctx))
    return notes


async def menu_leads(ctx: Context) -> list[Reply]:
    """Replies features put above the menu: what "menu" just ended, whose choices must keep their numbers
    (a live chat left by "menu" asks its rating 1-5: typing "1" then rates, it does not pick the menu's 1)."""
    leads: list[Reply] = []
    for lead in ctx.services.extras.get("menu_leads", []):
        leads.extend(await lead(ctx))
    return leads


@router.command("start")
async def start(ctx: Context, _: str) -> list[Reply]:
    ctx.session.state = ""
    clear_focus(ctx)
    leads = await menu_leads(ctx)
    return [*leads, menu_reply(T.GREETING.format(bot_name=T.BOT_NAME)), *await menu_notes(ctx)]


@router.command("menu")
@router.action("menu")
async def menu(ctx: Context, arg: str) -> list[Reply]:
    if arg == "ask":
        ctx.session.state = ""
        clear_focus(ctx)
        return [Reply.make(T.ASK_PROMPT, [[Button(T.BTN_MENU, "menu")]])]
    if arg == "human":
        return await handoff(ctx, "menu")
    ctx.session.state = ""
    clear_focus(ctx)
    leads = await menu_leads(ctx)
    return [*leads, menu_reply(), *await menu_notes(ctx)]


@router.command("help")
async def help_command(ctx: Context, _: str) -> list[Reply]:
    return [Reply.make(T.HELP, menu_buttons())]


async def handoff(ctx: Context, reason: str) -> list[Reply]:
    """Reach a person (handlers/handoff.py): a ticket to the commune's team, or honestly who to call."""
    summary = ctx.session.data.get(TOPIC_KEY, "")
    await ctx.store.add_handoff(ctx.session.user_id, reason, summary or "(chưa có chủ đề)")
    person = ctx.services.extras.get("handoff")
    if person is not None:
        return await person(ctx, reason)
    return [Reply.make(T.HUMAN, [[Button(T.BTN_MENU, "menu")]])]


@router.intent("help")
async def on_help(ctx: Context, result: MatchResult) -> list[Reply]:
    kind = result.help_kind
    if kind == "thanks":
        return [Reply.make(T.THANKS)]
    if kind == "bye":
        return [Reply.make(T.BYE)]
    if kind == "about":
        return [Reply.make(T.ABOUT.format(bot_name=T.BOT_NAME), menu_buttons())]
    if kind == "human":
        return await handoff(ctx, "asked")
    if kind == "greeting":
        return [menu_reply(T.GREETING.format(bot_name=T.BOT_NAME))]
    return [Reply.make(T.HELP, menu_buttons())]  # "bạn giúp được gì", "hướng dẫn sử dụng": say what em can do


def unknown_replies(ctx: Context) -> list[Reply]:
    """Nothing matched: say so, suggest the questions people ask most, and the way to a person."""
    rows = [[Button(ctx.kb.entries[i].name[:60], f"kb:card:{i}")] for i in POPULAR if i in ctx.kb.entries]
    rows.append([Button(T.MENU_HUMAN, "menu:human"), Button(T.BTN_MENU, "menu")])
    # Three in a row (nothing but "did you mean" or "not found" replies in between): a person is offered first.
    prev = {action for _, action in ctx.session.data.get("_choices") or []}
    going = bool(prev & {"kb:none", "menu:human"})
    run = ctx.session.data["_not_found_run"] = ctx.session.data.get("_not_found_run", 0) + 1 if going else 1
    if run % 3 == 0:
        return [Reply.make(f"{T.NOT_FOUND}\n{HT.NOT_FOUND_AGAIN}", [[Button(T.MENU_HUMAN, "menu:human")], *rows[:-1],
                                                                    [Button(T.BTN_MENU, "menu")]])]
    return [Reply.make(f"{T.NOT_FOUND}\n{T.NOT_FOUND_SUGGEST}", rows)]


@router.intent("unknown")
async def on_unknown(ctx: Context, result: MatchResult | None = None) -> list[Reply]:
    return unknown_replies(ctx)


@router.action("kb")
async def on_kb_button(ctx: Context, arg: str) -> list[Reply]:
    part, _, entry_id = arg.partition(":")
    if part == "none":
        return await on_unknown(ctx)
    entry = ctx.kb.get(entry_id)
    if entry is None:
        return [Reply.make(T.UNKNOWN_BUTTON, [[Button(T.BTN_MENU, "menu")]])]
    set_focus(ctx, entry.id, "" if part == "card" else _ASPECT_OF_PART.get(part, ""))
    if part == "card" or not isinstance(entry, Procedure):
        return [cards.entry_card(entry)]
    reply = cards.detail(entry, part)
    return [reply] if reply else [Reply.make(T.UNKNOWN_BUTTON, [[Button(T.BTN_MENU, "menu")]])]
