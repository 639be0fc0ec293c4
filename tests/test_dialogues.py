"""Whole conversations (tests/dialogues/*.yaml) through the conversation core, and the format's checks."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import load_settings
from bot.dialogue_eval import DialogueFormatError, DialogueRunner, evaluate, load_dialogues, print_report
from knowledge.base import KnowledgeBase

DIALOGUES = Path(__file__).parent / "dialogues"
ALL = load_dialogues(DIALOGUES)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def runner(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase):  # type: ignore[no-untyped-def]
    db = tmp_path_factory.mktemp("dialogues") / "d.sqlite3"
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{db}", telegram_bot_token="")
    r = await DialogueRunner.create(settings, kb)
    yield r
    await r.close()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("dialogue", ALL, ids=[d.source for d in ALL])
async def test_dialogue(runner: DialogueRunner, dialogue) -> None:  # type: ignore[no-untyped-def]
    failures = await runner.run(dialogue)
    assert not failures, "\n".join(f"turn {f.turn} «{f.said}»: {'; '.join(f.problems)}\n  reply: {f.reply}"
                                   for f in failures)


def test_at_least_150_conversations() -> None:
    assert len(ALL) >= 150


async def test_a_wrong_expectation_fails(tmp_path: Path, kb: KnowledgeBase) -> None:
    """The runner is not a rubber stamp: a conversation expecting the wrong entry is reported."""
    f = tmp_path / "wrong.yaml"
    f.write_text("- name: wrong\n  turns:\n    - say: đăng ký kết hôn\n      expect: {entry: ho-chieu}\n"
                 "    - say: lệ phí bao nhiêu\n      expect: {section: time}\n", encoding="utf-8")
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}", telegram_bot_token="")
    report = await evaluate(f, settings, kb)
    assert (report.total, report.passed) == (1, 0)
    assert [x.turn for x in report.failures] == [1, 2]
    out = io.StringIO()
    print_report(report, out)
    assert "dialogues 0/1" in out.getvalue()


@pytest.mark.parametrize("text", [
    "- turns: []\n",
    "- turns:\n    - say: a\n      press: b\n",
    "- turns:\n    - say: a\n      expect: {colour: red}\n",
    "- turns:\n    - say: a\n      expect: {section: price}\n",
    "{}\n",
])
def test_bad_files_are_refused(tmp_path: Path, text: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DialogueFormatError):
        load_dialogues(f)


def test_cli_prints_pass_rate(tmp_path: Path) -> None:
    f = tmp_path / "one.yaml"
    f.write_text("- name: card\n  turns:\n    - say: làm hộ chiếu\n      expect: {entry: ho-chieu, section: card}\n",
                 encoding="utf-8")
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-m", "bot", "eval", "dialogues", str(f)], capture_output=True, text=True,
                       env=env, cwd=Path(__file__).parent.parent, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "dialogues 1/1 = 100.0%" in p.stdout
