"""Whole conversations as tests: run YAML dialogues through the conversation core and check each reply.

A dialogue file (``tests/dialogues/*.yaml``) is a list of conversations::

    - name: fee follow-up after the marriage card
      turns:
        - say: đăng ký kết hôn            # typed text; or  press: "Giấy tờ"  (a button, by label)
          expect: {entry: ket-hon, section: card}
        - say: lệ phí bao nhiêu?
          wait: 60                         # optional: seconds of silence before this turn
          expect: {entry: ket-hon, section: fees}

What a turn may expect (all optional, all must hold):
    entry       the reply answers this knowledge entry (it is the focus set by this turn)
    section     card | fees | time | where | documents | steps | online | who | result | forms | legal
    no_entry    true: the reply answers no entry (no card, no section)
    state       the flow state after the turn starts with this ("" = no flow)
    says        a catalogue text the reply contains, by name: "ACK", "common.ACK", "guide.DETOUR"
    contains    text(s) the replies contain (compared without diacritics or case)
    absent      text(s) the replies must not contain
    choice      a button whose label contains this text is offered

Run by pytest (``tests/test_dialogues.py``) and by ``python -m bot eval dialogues FILE``, which
prints a pass rate and the failures, so that agencies can add their own conversations.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from handlers.app import build_dispatcher
from handlers.dispatcher import Dispatcher
from handlers.focus import FOCUS_KEY
from handlers.types import Incoming, Reply
from knowledge.base import KnowledgeBase
from knowledge.normalize import fold

CHANNEL = "terminal"
START = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)  # 09:00 in Vietnam
TURN_GAP = 20  # seconds between two turns
SECTIONS = ("card", "fees", "time", "where", "documents", "steps", "online", "who", "result", "forms", "legal")
EXPECT_KEYS = {"entry", "section", "no_entry", "state", "says", "contains", "absent", "choice"}


class DialogueFormatError(ValueError):
    """A dialogue file that does not follow the format."""


@dataclass
class Turn:
    say: str = ""
    press: str = ""
    command: str = ""
    wait: float = 0.0
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dialogue:
    name: str
    turns: list[Turn]
    source: str = ""


@dataclass
class Failure:
    dialogue: str
    turn: int
    said: str
    problems: list[str]
    reply: str


@dataclass
class Report:
    total: int = 0
    passed: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def load_dialogues(path: Path) -> list[Dialogue]:
    """Read one YAML file or every ``*.yaml`` in a folder, validating the format."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    out: list[Dialogue] = []
    for file in files:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        data = [] if data is None else data
        if not isinstance(data, list):
            raise DialogueFormatError(f"{file}: a list of conversations is expected")
        for n, item in enumerate(data, 1):
            out.append(_dialogue(item, f"{file.name}#{n}"))
    return out


def _dialogue(item: Any, where: str) -> Dialogue:
    if not isinstance(item, dict) or not isinstance(item.get("turns"), list) or not item["turns"]:
        raise DialogueFormatError(f"{where}: each conversation needs a non-empty 'turns' list")
    turns = []
    for k, t in enumerate(item["turns"], 1):
        if not isinstance(t, dict) or sum(bool(t.get(x)) for x in ("say", "press", "command")) != 1:
            raise DialogueFormatError(f"{where} turn {k}: exactly one of say / press / command")
        expect = t.get("expect") or {}
        if not isinstance(expect, dict) or set(expect) - EXPECT_KEYS:
            raise DialogueFormatError(f"{where} turn {k}: unknown expectations {sorted(set(expect) - EXPECT_KEYS)}")
        if "section" in expect and expect["section"] not in SECTIONS:
            raise DialogueFormatError(f"{where} turn {k}: section must be one of {', '.join(SECTIONS)}")
        turns.append(Turn(say=str(t.get("say") or ""), press=str(t.get("press") or ""),
                          command=str(t.get("command") or ""), wait=float(t.get("wait") or 0), expect=expect))
    return Dialogue(str(item.get("name") or where), turns, where)


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


def _catalogue_text(name: str) -> str:
    """The fixed start of a catalogue text ("ACK" or "guide.DETOUR"): up to its first placeholder."""
    module, _, attr = name.rpartition(".")
    mod = importlib.import_module(f"handlers.texts.{module or 'common'}")
    value = getattr(mod, attr)
    start = re.split(r"\{[a-z_]+\}", str(value))[0]
    return fold(start)[:40]


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class DialogueRunner:
    """Runs conversations through one dispatcher (an SQLite file unless given settings)."""

    def __init__(self, dispatcher: Dispatcher, clock: _Clock) -> None:
        self.dispatcher = dispatcher
        self.clock = clock
        self.kb = dispatcher.services.kb
        self._n = 0

    @classmethod
    async def create(cls, settings: Any, kb: KnowledgeBase) -> "DialogueRunner":
        clock = _Clock()
        settings = settings.model_copy(update={"rate_limit_per_minute": 6000})
        dispatcher = await build_dispatcher(settings, kb=kb, clock=clock)
        return cls(dispatcher, clock)

    async def close(self) -> None:
        await self.dispatcher.services.store.close()

    async def run(self, dialogue: Dialogue) -> list[Failure]:
        self._n += 1
        user = f"dialogue-{self._n}"
        labels: list[str] = []
        failures: list[Failure] = []
        for k, turn in enumerate(dialogue.turns, 1):
            self.clock.now += dt.timedelta(seconds=TURN_GAP + turn.wait)
            incoming, said = self._incoming(turn, user, labels)
            if incoming is None:
                failures.append(Failure(dialogue.name, k, said, [f"no button like {turn.press!r} in {labels}"], ""))
                break
            out = await self.dispatcher.handle(incoming)
            buttons = [b.label for r in out.replies for b in r.all_buttons()]
            if buttons:
                labels = buttons
            problems = await self._check(turn.expect, out.replies, user)
            if problems:
                failures.append(Failure(dialogue.name, k, said, problems, _text(out.replies)[:300]))
        return failures

    def _incoming(self, turn: Turn, user: str, labels: list[str]) -> tuple[Incoming | None, str]:
        if turn.command:
            name, _, args = turn.command.lstrip("/").partition(" ")
            return Incoming(CHANNEL, user, user, "command", text=name, args=args), turn.command
        if turn.press:
            for i, label in enumerate(labels):
                if fold(turn.press) in fold(label):
                    return Incoming(CHANNEL, user, user, "text", text=str(i + 1)), f"[{label}]"
            return None, f"[{turn.press}]"
        return Incoming(CHANNEL, user, user, "text", text=turn.say), turn.say

    async def _check(self, expect: dict[str, Any], replies: list[Reply], user: str) -> list[str]:
        problems: list[str] = []
        text = fold(_text(replies))
        session = await self.dispatcher.services.store.load(CHANNEL, user, user)
        focus = session.data.get(FOCUS_KEY) if isinstance(session.data.get(FOCUS_KEY), dict) else None
        fresh = focus is not None and abs(focus.get("at", 0) - self.clock.now.timestamp()) < 1
        answered = focus.get("id") if fresh and focus else None
        if "entry" in expect:
            want = str(expect["entry"])
            entry = self.kb.get(want)
            if entry is None:
                problems.append(f"unknown entry {want!r} in the test")
            elif answered != want or fold(entry.name)[:30] not in text:
                problems.append(f"wanted an answer about {want}, got {answered or 'none'}")
        if "section" in expect and fresh and focus is not None:
            got = focus.get("aspect") or "card"
            if got != expect["section"]:
                problems.append(f"wanted section {expect['section']}, got {got}")
        elif "section" in expect:
            problems.append(f"wanted section {expect['section']}, but no entry was answered")
        if expect.get("no_entry") and answered:
            problems.append(f"wanted no entry, got {answered}")
        if "state" in expect and not session.state.startswith(str(expect["state"] or "")):
            problems.append(f"wanted state {expect['state']!r}, got {session.state!r}")
        if "state" in expect and not expect["state"] and session.state:
            problems.append(f"wanted no flow, got state {session.state!r}")
        for name in _as_list(expect["says"]) if "says" in expect else []:
            if _catalogue_text(name) not in text:
                problems.append(f"wanted text {name}")
        for part in _as_list(expect["contains"]) if "contains" in expect else []:
            if fold(part) not in text:
                problems.append(f"wanted {part!r} in the reply")
        for part in _as_list(expect["absent"]) if "absent" in expect else []:
            if fold(part) in text:
                problems.append(f"did not want {part!r} in the reply")
        if "choice" in expect:
            labels = [fold(b.label) for r in replies for b in r.all_buttons()]
            for part in _as_list(expect["choice"]):
                if not any(fold(part) in label for label in labels):
                    problems.append(f"wanted a choice like {part!r}, got {labels}")
        return problems


def _text(replies: list[Reply]) -> str:
    return "\n".join((f"{r.title}\n" if r.title else "") + r.text for r in replies)


async def evaluate(path: Path, settings: Any, kb: KnowledgeBase) -> Report:
    """Run every conversation of a file or folder on a fresh SQLite file."""
    dialogues = load_dialogues(path)
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        local = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp}/dialogues.sqlite3"})
        runner = await DialogueRunner.create(local, kb)
        try:
            for d in dialogues:
                failures = await runner.run(d)
                report.total += 1
                report.passed += not failures
                report.failures.extend(failures)
        finally:
            await runner.close()
    return report


def print_report(report: Report, out: Any) -> None:
    for f in report.failures:
        out.write(f"FAIL {f.dialogue} — turn {f.turn} «{f.said}»: {'; '.join(f.problems)}\n")
        if f.reply:
            out.write(f"     reply: {f.reply.replace(chr(10), ' / ')[:240]}\n")
    out.write(f"dialogues {report.passed}/{report.total} = {report.rate:.1%}\n")


__all__ = ["Dialogue", "DialogueFormatError", "DialogueRunner", "Report", "evaluate", "load_dialogues",
           "print_report"]
