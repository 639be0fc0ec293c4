"""Command line: ``python -m bot [run|chat|match|kb|serve|dossiers|outbox|handoffs|db] ...``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from bot.config import ConfigError, Settings, load_settings

log = logging.getLogger("bot")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot",
        description="Trợ lý Dịch vụ công: chatbot for Vietnamese online public services.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the bot with long polling on Telegram and/or Zalo (whichever tokens are set), "
                              "else the terminal chat (default)")
    chat = sub.add_parser("chat", help="terminal chat (also reads piped stdin, one message per line)")
    chat.add_argument("--user", default=None, help="user id to chat as (default: local-<login>)")
    match = sub.add_parser("match", help="match questions from stdin, one JSON line each on stdout")
    match.add_argument("--kb", type=Path, default=None, help="knowledge folder (default: KNOWLEDGE_DIR)")
    match.add_argument("--no-catalogue", action="store_true", help="curated entries only (no official catalogue tier)")

    kb = sub.add_parser("kb", help="knowledge base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="KB_COMMAND", required=True)
    check = kb_sub.add_parser("check", help="validate every knowledge file; non-zero exit on problems")
    check.add_argument("--kb", type=Path, default=None)
    check.add_argument("--stale", type=int, metavar="DAYS", default=None,
                       help="also list entries not checked for more than DAYS days")
    check.add_argument("--today", type=_iso_date, default=None, help="check as of this date (YYYY-MM-DD)")
    review = kb_sub.add_parser("review", help="one CSV row per fact, for an agency to check in a spreadsheet")
    review.add_argument("--out", type=Path, default=None, help="CSV file to write (default: stdout)")
    review.add_argument("--kb", type=Path, default=None)
    imp_review = kb_sub.add_parser("import-review", help="apply an agency's checked review CSV to the knowledge files")
    imp_review.add_argument("file", type=Path)
    imp_review.add_argument("--kb", type=Path, default=None)
    dump = kb_sub.add_parser("dump", help="print every entry as one JSON array")
    dump.add_argument("--kb", type=Path, default=None)
    imp = kb_sub.add_parser("import", help="import a province's procedure list (CSV) into the catalogue tier")
    imp.add_argument("file", type=Path)
    imp.add_argument("--kb", type=Path, default=None)
    imp.add_argument("--drafts", action="store_true", help="make curated draft entries instead (kb/drafts/)")
    imp.add_argument("--source", default="", help="where the list comes from (default: the file name)")
    gaps = kb_sub.add_parser("gaps", help="most frequent unanswered or low-confidence questions")
    gaps.add_argument("--limit", type=int, default=20)
    gaps.add_argument("--days", type=int, default=0, help="only the last N days (0 = all)")

    serve = sub.add_parser("serve", help="web server: Telegram and Zalo webhooks, dossier push API, /healthz")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--set-webhooks", metavar="URL", default=None,
                       help="register both webhooks at this public base URL and exit")

    dossiers = sub.add_parser("dossiers", help="dossier (hồ sơ) data")
    d_sub = dossiers.add_subparsers(dest="dossiers_command", metavar="DOSSIERS_COMMAND", required=True)
    d_imp = d_sub.add_parser("import", help="import or update dossiers from a CSV file")
    d_imp.add_argument("file", type=Path)

    outbox = sub.add_parser("outbox", help="messages waiting for delivery (complaint cards, notifications)")
    o_sub = outbox.add_subparsers(dest="outbox_command", metavar="OUTBOX_COMMAND", required=True)
    o_sub.add_parser("failed", help="list the messages given up on after about 3 hours of retries")
    o_retry = o_sub.add_parser("retry", help="send failed messages again (all, or the given ids)")
    o_retry.add_argument("ids", type=int, nargs="*", metavar="ID")

    ho = sub.add_parser("handoffs", help="figures of the handoff to a person: per team and commune (or CSV)")
    ho.add_argument("--csv", action="store_true", help="the figures as CSV")
    ho.add_argument("--tickets", action="store_true", help="one CSV row per ticket (no personal data)")
    ho.add_argument("--days", type=int, default=None, help="only the last DAYS days")

    ev = sub.add_parser("eval", help="evaluate the assistant on whole conversations")
    ev_sub = ev.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND", required=True)
    ev_d = ev_sub.add_parser("dialogues", help="run YAML conversations (a file or a folder); print the pass rate")
    ev_d.add_argument("path", type=Path, metavar="FILE")

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    db_sub.add_parser("upgrade", help="create or migrate the schema to the latest version")
    return p


def _iso_date(text: str):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.date.fromisoformat(text)


def setup_logging(settings: Settings, quiet: bool = False) -> None:
    level = logging.WARNING if quiet and settings.log_level in ("INFO",) else getattr(logging, settings.log_level)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # No token, phone, CCCD, name or message text at any level (bot/log_redaction.py).
    from bot.log_redaction import install

    install(settings, level)
    log.debug("logging at %s: tokens, phone and CCCD numbers, names and message texts are redacted",
              settings.log_level)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where installed (about twice as fast on network I/O), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    interactive_terminal = command == "chat" or (command == "run" and not _has_channel(settings))
    setup_logging(settings, quiet=interactive_terminal or command in ("match", "kb", "eval"))
    if command in ("run", "serve"):
        import faulthandler

        faulthandler.enable()  # a fatal signal (SIGBUS from SQLite's -shm mapping...) still leaves a traceback
    from storage.db import DatabaseNotWritable

    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_dispatch(command, args, settings))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except DatabaseNotWritable as exc:
        log.error("%s", exc)
        return 2


async def _dispatch(command: str, args: argparse.Namespace, settings: Settings) -> int:
    if command == "match":
        from knowledge.match_cli import run as run_match

        return run_match(sys.stdin, sys.stdout, args.kb or settings.knowledge_dir, catalogue=not args.no_catalogue)
    if command == "kb":
        return await _kb(args, settings)
    if command == "eval":
        from bot.dialogue_eval import DialogueFormatError, evaluate, print_report
        from knowledge.base import KnowledgeBase

        try:
            report = await evaluate(args.path, settings, KnowledgeBase.from_dir(settings.knowledge_dir))
        except (DialogueFormatError, OSError) as exc:
            print(exc, file=sys.stderr)
            return 2
        print_report(report, sys.stdout)
        return 0 if report.total and not report.failures else 1
    if command == "chat" or (command == "run" and not _has_channel(settings)):
        return await _chat(settings, getattr(args, "user", None))
    if command == "run" and settings.zalo_bot_token:
        from bot.zalo_channel import run_zalo_polling

        await run_zalo_polling(settings, with_telegram=bool(settings.telegram_bot_token))
        return 0
    if command == "run":
        from bot.telegram_channel import run_polling

        await run_polling(settings)
        return 0
    if command == "serve":
        from bot.server import serve

        return await serve(settings, host=args.host, port=args.port, workers=args.workers,
                           set_webhooks=args.set_webhooks)
    if command == "dossiers":
        from bot.dossier_import import import_csv_command

        return await import_csv_command(settings, args.file)
    if command == "outbox":
        return await _outbox(args, settings)
    if command == "handoffs":
        from bot.handoff_report import report

        return await report(settings, as_csv=args.csv, tickets=args.tickets, days=args.days)
    if command == "db":
        from storage.migrate import upgrade_command

        return await upgrade_command(settings)
    raise AssertionError(command)


async def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    """``outbox failed`` lists what was given up on; ``outbox retry [ID ...]`` queues it again."""
    from storage.store import Store

    store = Store.from_url(settings.database_url)
    try:
        await store.create_schema()
        if args.outbox_command == "retry":
            n = await store.requeue_failed(args.ids or None)
            print(f"{n} message(s) queued again; a running bot sends them within seconds.")
            return 0
        failed = [r for r in await store.outbox_rows() if r.status == "failed"]
        for r in failed:
            print(f"{r.id}\t{r.channel}:{r.chat_id}\t{r.attempts} attempts\t{r.created_at:%Y-%m-%d %H:%M}\t"
                  f"{(r.last_error or '')[:120]}\t{(r.payload or {}).get('text', '')[:60]!r}")
        print(f"{len(failed)} failed message(s)." + (" Fix the cause (a chat id, the bot removed from a group...),"
                                                     " then: python -m bot outbox retry" if failed else ""))
        return 0
    finally:
        await store.close()


def _has_channel(settings: Settings) -> bool:
    return bool(settings.telegram_bot_token or settings.zalo_bot_token)


async def _chat(settings: Settings, user: str | None) -> int:
    from bot.terminal import run_terminal
    from handlers.app import build_dispatcher

    dispatcher = await build_dispatcher(settings)
    try:
        await run_terminal(dispatcher, user_id=user)
    finally:
        await dispatcher.services.store.close()
    return 0


async def _kb(args: argparse.Namespace, settings: Settings) -> int:
    kb_dir: Path = getattr(args, "kb", None) or settings.knowledge_dir
    if args.kb_command == "check":
        from knowledge.checks import check_command

        return check_command(kb_dir, sys.stdout, today=args.today, stale_days=args.stale)
    if args.kb_command in ("review", "import-review"):
        from knowledge.review import import_review_command, review_command

        if args.kb_command == "review":
            return review_command(kb_dir, args.out, sys.stdout)
        return import_review_command(args.file, kb_dir, sys.stdout)
    if args.kb_command == "dump":
        from knowledge.loader import load_knowledge

        result = load_knowledge(kb_dir)
        data = [e.model_dump(mode="json") for e in result.entries]
        json.dump(data, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return 1 if result.problems else 0
    if args.kb_command == "import":
        from knowledge.importer import import_catalogue_command, import_command

        if args.drafts:
            return import_command(args.file, kb_dir, sys.stdout)
        return import_catalogue_command(args.file, kb_dir, sys.stdout, args.source)
    if args.kb_command == "gaps":
        return await _gaps(settings, args.limit, args.days)
    raise AssertionError(args.kb_command)


async def _gaps(settings: Settings, limit: int, days: int) -> int:
    import datetime as dt

    from storage.store import Store

    store = Store.from_url(settings.database_url)
    try:
        await store.create_schema()
        since = store.now() - dt.timedelta(days=days) if days > 0 else None
        rows = await store.question_gaps(limit=limit, since=since)
        demand = await store.catalogue_demand(limit=limit, since=since)
    finally:
        await store.close()
    if not rows:
        print("No unanswered or low-confidence questions logged yet.")
    else:
        print(f"{'count':>5}  {'best guess':<28} {'score':>5}  question")
        for r in rows:
            score = f"{r['score']:.2f}" if r["score"] is not None else "  -  "
            print(f"{r['count']:>5}  {(r['best_id'] or '-'):<28} {score:>5}  {r['question'][:100]}")
    if demand:  # catalogue procedures citizens asked about: which to curate next
        from knowledge.catalogue import load_entries

        names = {e.code: e.name for e in load_entries(settings.knowledge_dir)[0]}
        print("\nCatalogue procedures asked about (short card only; curate the most asked first):")
        print(f"{'count':>5}  {'code':<9} procedure (example question)")
        for r in demand:
            name = names.get(r["code"], "?")
            print(f"{r['count']:>5}  {r['code']:<9} {name[:80]} ({r['question'][:60]})")
    return 0
