"""A sample of the YAML conversations through each channel (terminal, Telegram, Zalo): what a citizen
sees there (texts, choices, the entry named) must match what the core answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue_eval import _catalogue_text, load_dialogues
from knowledge.loader import BUNDLED_DIR
from knowledge.normalize import fold

DIALOGUES = Path(__file__).parent / "dialogues"


def _sample() -> list:
    """Every fourth conversation of each theme that needs no clock or command (a stable, varied sample)."""
    picked = []
    for f in sorted(DIALOGUES.glob("*.yaml")):
        plain = [d for d in load_dialogues(f) if all(not t.wait and not t.command for t in d.turns)]
        picked.extend(plain[::4][:3])
    return picked


SAMPLE = _sample()
NAMES = {}


def _name(entry_id: str) -> str:
    if not NAMES:
        import yaml

        for p in (BUNDLED_DIR / "entries").glob("*.yaml"):
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
            NAMES[data["id"]] = data["name"]
    return NAMES[entry_id]


def test_the_sample_covers_every_theme() -> None:
    assert len(SAMPLE) >= 20
    assert len({d.source.split("#")[0] for d in SAMPLE}) == len(list(DIALOGUES.glob("*.yaml")))


@pytest.mark.parametrize("dialogue", SAMPLE, ids=[d.source for d in SAMPLE])
async def test_dialogue_through_channel(channel, dialogue) -> None:  # type: ignore[no-untyped-def]
    for k, turn in enumerate(dialogue.turns, 1):
        seen = await (channel.press(turn.press) if turn.press else channel.say(turn.say))
        text = fold("\n".join(s.text for s in seen))
        labels = [fold(label) for s in seen for label in s.labels]
        where = f"{dialogue.name} turn {k} «{turn.say or turn.press}» on {channel.name}: {text[:200]}"
        e = turn.expect
        if "entry" in e:
            assert fold(_name(e["entry"]))[:30] in text, where
        for name in ([e["says"]] if isinstance(e.get("says"), str) else e.get("says") or []):
            assert _catalogue_text(name)[:30] in text, where
        for part in ([e["contains"]] if isinstance(e.get("contains"), str) else e.get("contains") or []):
            assert fold(part) in text, where
        for part in ([e["absent"]] if isinstance(e.get("absent"), str) else e.get("absent") or []):
            assert fold(part) not in text, where
        for part in ([e["choice"]] if isinstance(e.get("choice"), str) else e.get("choice") or []):
            assert any(fold(part) in label for label in labels) or fold(part) in text, where
