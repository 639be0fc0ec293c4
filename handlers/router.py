"""Routes what the user did to the handler that owns it (in the spirit of aiogram's routers).

- ``action(prefix)``: a button press whose action is ``prefix`` or ``prefix:arg``.
- ``state(prefix)``: typed text (or a photo) while the session state starts with ``prefix``;
  the handler returns ``None`` to let the message fall through to normal matching.
- ``command(name)``: ``/name`` commands.
- ``intent(name)``: free text the matcher classified as ``name``.
- ``before(name)``: looks at typed text (or a photo) in a private chat before any flow does; returns
  ``None`` to let it through (a live chat with a person takes the citizen's messages, whatever flow
  they were in when the person took it).
- ``resume(prefix)``: the way back into a flow (state ``prefix``), added under an answer to a
  question typed in the middle of it ("Anh/chị đang ở bước 3/9 … Gõ Tiếp để làm tiếp").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from handlers.types import Reply

if TYPE_CHECKING:
    from handlers.context import Context
    from knowledge.matcher import MatchResult

ActionHandler = Callable[["Context", str], Awaitable[list[Reply]]]
StateHandler = Callable[["Context"], Awaitable[list[Reply] | None]]
IntentHandler = Callable[["Context", "MatchResult"], Awaitable[list[Reply]]]
ResumeHandler = Callable[["Context"], Awaitable[Reply | None]]
F = TypeVar("F", bound=Callable[..., Any])


class Router:
    """A table of handlers; feature modules each build one and the app includes them all."""

    def __init__(self) -> None:
        self.actions: dict[str, ActionHandler] = {}
        self.states: dict[str, StateHandler] = {}
        self.commands: dict[str, ActionHandler] = {}
        self.intents: dict[str, IntentHandler] = {}
        self.resumes: dict[str, ResumeHandler] = {}
        self.befores: dict[str, StateHandler] = {}

    def _register(self, table: dict[str, Any], key: str) -> Callable[[F], F]:
        def deco(fn: F) -> F:
            if key in table:
                raise ValueError(f"handler for {key!r} registered twice")
            table[key] = fn
            return fn
        return deco

    def action(self, prefix: str) -> Callable[[F], F]:
        return self._register(self.actions, prefix)

    def state(self, prefix: str) -> Callable[[F], F]:
        return self._register(self.states, prefix)

    def command(self, name: str) -> Callable[[F], F]:
        return self._register(self.commands, name)

    def intent(self, name: str) -> Callable[[F], F]:
        return self._register(self.intents, name)

    def before(self, name: str) -> Callable[[F], F]:
        return self._register(self.befores, name)

    def resume(self, prefix: str) -> Callable[[F], F]:
        return self._register(self.resumes, prefix)

    def include(self, other: "Router") -> None:
        for mine, theirs in ((self.actions, other.actions), (self.states, other.states),
                             (self.commands, other.commands), (self.intents, other.intents),
                             (self.resumes, other.resumes), (self.befores, other.befores)):
            for key, fn in theirs.items():
                if key in mine:
                    raise ValueError(f"handler for {key!r} registered twice")
                mine[key] = fn

    def find_action(self, action: str) -> tuple[ActionHandler | None, str]:
        prefix, _, arg = action.partition(":")
        return self.actions.get(prefix), arg

    def find_state(self, state: str) -> StateHandler | None:
        return self.states.get(state.partition(":")[0]) if state else None

    def find_resume(self, state: str) -> ResumeHandler | None:
        return self.resumes.get(state.partition(":")[0]) if state else None
