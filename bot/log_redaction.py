"""Clean logs: no bot token, phone number, CCCD number, name or message text at any level.

``install(settings)`` (called by ``bot.cli.setup_logging``) does three things:

1. quiets the libraries whose DEBUG/INFO output carries request bodies, SQL parameters or
   result rows (python-telegram-bot, httpx/httpcore, aiohttp, aiosqlite, asyncpg, SQLAlchemy);
   they log WARNING and above only, whatever ``LOG_LEVEL`` says;
2. registers the configured secrets (bot tokens, webhook secrets, dossier API keys, the
   database password) so that they are replaced wherever they appear;
3. installs ``RedactingFilter`` as a log-record factory step, so that every record of every
   logger (uvicorn's own handlers included) is cleaned once, when it is created: the message
   and the traceback text are rendered, redacted, and stored back on the record.

What is redacted: registered secrets; anything shaped like a Telegram bot token
(``123456:AA...``, also inside Bot API URLs); Vietnamese phone numbers; 12-digit numbers
(CCCD); the values of name/text fields in dict or JSON reprs (``'text': '...'``,
``"first_name": "..."``); SQLAlchemy's ``[parameters: ...]`` and python-telegram-bot's
``with parameters {...}``; and user ids in ``channel:id`` form, which become a short salted hash
(the same user gives the same hash within one process, so log lines can still be followed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from typing import Any

# Libraries that log bodies, SQL parameters or rows below WARNING.
QUIET_LOGGERS = ("telegram", "httpx", "httpcore", "aiohttp", "aiosqlite", "asyncpg", "sqlalchemy",
                 "apscheduler", "uvicorn.access", "hpack", "multipart")

_TOKEN = re.compile(r"(?<!\d)\d{5,12}:[A-Za-z0-9_-]{30,}")
# Phone numbers: 0xxxxxxxxx / +84 / 84, digits optionally grouped by spaces, dots or dashes.
_PHONE = re.compile(r"(?<![\w.])(?:\+84|84|0)(?:[ .-]?\d){8,10}(?![\w])")
_CCCD = re.compile(r"(?<!\d)\d{12}(?!\d)")
_FIELDS = ("text", "caption", "first_name", "last_name", "username", "name", "full_name", "display_name",
           "description", "applicant_name", "phone", "phone_number", "answer", "reason", "note", "title",
           "data", "address", "place")
_FIELD_VALUE = re.compile(
    r"""(['"](?:%s)['"]\s*:\s*)(?:'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""" % "|".join(_FIELDS))
_SQL_PARAMS = re.compile(r"\[parameters: .*?\](?=\s*(?:\n|$|\(Background))", re.S)
_PTB_PARAMS = re.compile(r"(with (?:parameters|return value)) .*", re.S)
_USER_ID = re.compile(r"\b(telegram|zalo|terminal):(-?[\w-]{1,64})")

_secrets: set[str] = set()
_SALT = os.urandom(8)


def hash_user(user_id: str) -> str:
    """A short, salted, per-process hash of a user id for log lines."""
    return "u" + hashlib.sha256(_SALT + user_id.encode("utf-8", "replace")).hexdigest()[:10]


def add_secrets(values: Iterable[str]) -> None:
    """Register values that must never appear in a log line (tokens, webhook secrets, keys)."""
    for value in values:
        if value and len(value) >= 6:
            _secrets.add(value)


def redact(text: str) -> str:
    """The text with secrets, tokens, phone numbers, CCCD numbers and personal fields replaced."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "<secret>")
    text = _TOKEN.sub("<token>", text)
    text = _PTB_PARAMS.sub(r"\1 <hidden>", text)
    text = _SQL_PARAMS.sub("[parameters: <hidden>]", text)
    text = _FIELD_VALUE.sub(r"\1'<hidden>'", text)
    text = _CCCD.sub("<id-number>", text)
    text = _PHONE.sub("<phone>", text)
    return _USER_ID.sub(lambda m: f"{m.group(1)}:{hash_user(m.group(2))}", text)


class RedactingFilter(logging.Filter):
    """Renders a record's message and traceback once, redacted (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep what we have, cleaned
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._redacted = True  # type: ignore[attr-defined]
        return True


_FILTER = RedactingFilter()


def install_record_factory() -> None:
    """Clean every log record when it is created (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _FILTER.filter(record)
        return record

    factory._redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def quiet_libraries(level: int) -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def settings_secrets(settings: Any) -> list[str]:
    """The secrets found in the settings (tokens, webhook secrets, dossier API keys, DB password)."""
    values = [getattr(settings, name, "") or "" for name in
              ("telegram_bot_token", "zalo_bot_token", "telegram_webhook_secret", "zalo_webhook_secret")]
    url = getattr(settings, "database_url", "") or ""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password if url else None
        if password:
            values.append(str(password))
    except Exception:  # noqa: BLE001 - a bad URL is reported elsewhere
        pass
    raw = getattr(settings, "dossier_api_keys", "") or ""  # "agency:key,agency2:key2" (the file's keys are
    if isinstance(raw, str):                                # registered by bot/dossier_api.py when loaded)
        values.extend(part.split(":", 1)[-1] for part in raw.split(",") if part.strip())
    return [v.strip() for v in values if isinstance(v, str)]


def install(settings: Any, level: int) -> None:
    """Quiet the libraries, register the secrets and clean every record."""
    quiet_libraries(level)
    add_secrets(settings_secrets(settings))
    install_record_factory()
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
