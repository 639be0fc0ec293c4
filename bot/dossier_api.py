"""Push endpoint for the one-stop information system: ``POST /api/dossiers/changes``.

Each agency authenticates with its own API key (header ``X-Api-Key``), from the YAML file
``DOSSIER_API_KEYS_FILE`` (agency key -> {name, api_key}) and/or ``DOSSIER_API_KEYS``
("agency:key,agency2:key2"). A change is idempotent on its ``change_id``; an agency may
only change its own dossiers, and create new ones only under its ``prefixes`` (keys file; an
agency without prefixes only codes under nobody's prefix). Who owns a new code is decided by
one ``INSERT … ON CONFLICT DO NOTHING`` (``DossierStore.create``). The JSON body is documented
in docs/dossiers.md.

Answers: 200 ``{"ok": true, "duplicate": false}`` (applied), 200 ``{"ok": true, "duplicate": true}``
(replayed change id), 201 (dossier created from an included ``dossier`` record), 401 wrong key,
403 another agency's dossier or a new code outside the agency's prefixes, 404 unknown dossier, 413 body too large, 422 malformed body.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.config import ConfigError
from bot.dossier_import import RecordError, record_from_mapping
from storage.dossiers import (
    MAX_CHANGE_ID,
    NOTE_REQUIRED,
    DossierStore,
    StatusChange,
    normalize_dossier_code,
    parse_status,
    parse_when,
)

log = logging.getLogger(__name__)

PATH = "/api/dossiers/changes"
MAX_BODY = 64 * 1024
MIN_KEY_LENGTH = 16
_AGENCY_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_CHANGE_ID = re.compile(r"^[\x21-\x7e]{1,%d}$" % MAX_CHANGE_ID)  # printable ASCII, no spaces


@dataclass(frozen=True)
class AgencyKey:
    key: str
    name: str
    api_key: str
    prefixes: tuple[str, ...] = ()  # unit codes under which this agency may create new dossiers


_PREFIX = re.compile(r"^[A-Z0-9]{1,13}(?:\.[A-Z0-9]{1,13}){0,5}$")


def _prefixes(value: Any, key: str, where: str) -> tuple[str, ...]:
    """The ``prefixes`` entry of a keys-file agency: a list (or one string) of unit codes like H21.22."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ConfigError(f"Configuration error: {where}: prefixes of {key!r} must be a list like [H21.22]")
    found = []
    for item in items:
        prefix = str(item).strip().upper()
        if not _PREFIX.match(prefix):
            raise ConfigError(f"Configuration error: {where}: prefix {str(item)[:40]!r} of {key!r} is not a unit "
                              "code (letters and digits separated by dots, e.g. H21.22 or 000.00.18.H21)")
        found.append(prefix)
    return tuple(dict.fromkeys(found))


def code_under(code: str, prefix: str) -> bool:
    """True if the canonical ``code`` lies under the unit code ``prefix`` (whole parts: H21.22 ≠ H21.221)."""
    return code.startswith(prefix) and code[len(prefix):len(prefix) + 1] in ("-", ".")


def may_create(keys: dict[str, AgencyKey], agency: AgencyKey, code: str) -> bool:
    """An agency creates codes under its own prefixes; one without prefixes only codes nobody has claimed."""
    if agency.prefixes:
        return any(code_under(code, p) for p in agency.prefixes)
    return not any(code_under(code, p) for other in keys.values() for p in other.prefixes)


def _add(keys: dict[str, AgencyKey], key: str, name: str, api_key: str, where: str,
         prefixes: tuple[str, ...] = ()) -> None:
    if not _AGENCY_KEY.match(key):
        raise ConfigError(f"Configuration error: {where}: agency key {key!r} must be letters, digits, . _ -")
    if len(api_key) < MIN_KEY_LENGTH:
        raise ConfigError(f"Configuration error: {where}: the API key of {key!r} is shorter than "
                          f"{MIN_KEY_LENGTH} characters")
    others = [a.api_key for a in keys.values() if a.key != key]
    if any(hmac.compare_digest(api_key.encode(), other.encode()) for other in others):
        raise ConfigError(f"Configuration error: {where}: two agencies share one API key")
    for other in keys.values():
        shared = set(prefixes) & set(other.prefixes) if other.key != key else set()
        if shared:
            raise ConfigError(f"Configuration error: {where}: prefix {sorted(shared)[0]} is given to both "
                              f"{other.key!r} and {key!r}")
    keys[key] = AgencyKey(key, name or key, api_key, prefixes)


def load_api_keys(settings: Any) -> dict[str, AgencyKey]:
    """Agency API keys from DOSSIER_API_KEYS_FILE and DOSSIER_API_KEYS; raise ConfigError on a bad entry."""
    keys: dict[str, AgencyKey] = {}
    path: Path | None = getattr(settings, "dossier_api_keys_file", None)
    if path:
        where = "DOSSIER_API_KEYS_FILE"
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"Configuration error: {where}: cannot read {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"Configuration error: {where}: expected a mapping agency_key -> {{name, api_key}}")
        for key, entry in data.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("api_key"), str):
                raise ConfigError(f"Configuration error: {where}: {key!r} needs an api_key")
            _add(keys, str(key), str(entry.get("name") or ""), entry["api_key"].strip(), where,
                 _prefixes(entry.get("prefixes"), str(key), where))
    for item in (getattr(settings, "dossier_api_keys", "") or "").split(","):
        if not item.strip():
            continue
        key, sep, api_key = item.strip().partition(":")
        if not sep:
            raise ConfigError("Configuration error: DOSSIER_API_KEYS: use agency:key,agency2:key2")
        _add(keys, key.strip(), "", api_key.strip(), "DOSSIER_API_KEYS")
    from bot.log_redaction import add_secrets

    add_secrets(a.api_key for a in keys.values())  # never in a log line
    return keys


def authenticate(keys: dict[str, AgencyKey], presented: str) -> AgencyKey | None:
    """The agency whose key matches, comparing with every key in constant time."""
    found = None
    given = presented.encode()
    for agency in keys.values():
        if hmac.compare_digest(given, agency.api_key.encode()) and presented:
            found = agency
    return found


class BadRequest(ValueError):
    pass


def _str(body: dict[str, Any], name: str, limit: int, required: bool = False) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"'{name}' is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest(f"'{name}' must be a string")
    value = str(value).strip()
    if len(value) > limit:
        raise BadRequest(f"'{name}' is longer than {limit} characters")
    return value


def _when(body: dict[str, Any], name: str, end_of_day: bool = False) -> Any:
    value = _str(body, name, 40)
    if not value:
        return None
    try:
        return parse_when(value, end_of_day=end_of_day)
    except ValueError:
        raise BadRequest(f"'{name}' is not a date or time (ISO 8601, yyyy-mm-dd or dd/mm/yyyy)") from None


def parse_change(body: Any, now: Any) -> StatusChange:
    """Validate a change body; raise BadRequest with a message for the sender."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    raw_code = _str(body, "code", 80, required=True)
    code = normalize_dossier_code(raw_code)
    if code is None:
        raise BadRequest("'code' is not a dossier code (e.g. H21.22-250312-0005)")
    change_id = _str(body, "change_id", MAX_CHANGE_ID, required=True)
    if not _CHANGE_ID.match(change_id):
        raise BadRequest("'change_id' must be printable ASCII without spaces")
    status = parse_status(_str(body, "status", 40, required=True))
    if status is None:
        raise BadRequest("'status' must be received, processing, supplement, result_ready, delivered or rejected")
    note = _str(body, "note", 2000)
    if status in NOTE_REQUIRED and not note:
        raise BadRequest(f"'note' is required for status {status} (what to supplement / why rejected)")
    return StatusChange(code=code, change_id=change_id, status=status, at=_when(body, "at") or now, note=note,
                        due_at=_when(body, "due_date", end_of_day=True), result_at=_when(body, "result_date"),
                        delivery_method=_str(body, "delivery_method", 64) or None)


def _json(status: int, **body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def dossier_routes(services: Any) -> list[Route]:
    """The push endpoint, bound to the services (store, settings) of the running bot."""
    keys = load_api_keys(services.settings)
    if not keys:
        log.warning("no DOSSIER_API_KEYS(_FILE) configured: the dossier push endpoint refuses every request")
    factor_digits = services.settings.dossier_factor_digits

    def repo() -> DossierStore:
        found = services.extras.get("dossiers")
        if found is None:
            found = services.extras["dossiers"] = DossierStore(services.store)
        return found

    async def push_change(request: Request) -> JSONResponse:
        agency = authenticate(keys, request.headers.get("x-api-key", ""))
        if agency is None:
            return _json(401, ok=False, error="missing or wrong X-Api-Key")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _json(413, ok=False, error=f"body larger than {MAX_BODY} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _json(422, ok=False, error=f"body is not valid JSON: {exc}")
        dossiers = repo()
        try:
            change = parse_change(body, dossiers.now())
        except BadRequest as exc:
            return _json(422, ok=False, error=str(exc))
        result = await dossiers.apply_change(change, agency_key=agency.key)
        if result == "unknown" and isinstance(body.get("dossier"), dict):
            if not may_create(keys, agency, change.code):
                return _json(403, ok=False, error=f"dossier {change.code} is outside the code prefixes of "
                                                  f"{agency.key}")
            return await _create(dossiers, agency, change, body["dossier"], factor_digits)
        log.info("dossier change from %s: %s", agency.key, result)
        if result == "unknown":
            return _json(404, ok=False, error=f"unknown dossier {change.code}")
        if result == "forbidden":
            return _json(403, ok=False, error=f"dossier {change.code} belongs to another agency")
        return _json(200, ok=True, duplicate=result == "duplicate", stale=result == "stale", code=change.code)

    return [Route(PATH, push_change, methods=["POST"])]


async def _create(dossiers: DossierStore, agency: AgencyKey, change: StatusChange, record: dict[str, Any],
                  factor_digits: int) -> JSONResponse:
    """A change for a dossier the bot does not know, carrying the whole record: create it."""
    fields = {k: v for k, v in record.items() if isinstance(v, (str, int)) and not isinstance(v, bool)}
    fields.update(code=change.code, agency_key=agency.key, status=change.status, status_note=change.note,
                  change_id=change.change_id, updated_at=change.at.isoformat())
    fields.setdefault("agency_name", agency.name)
    if change.due_at is not None and not fields.get("due_date"):
        fields["due_date"] = change.due_at.isoformat()
    try:
        rec = record_from_mapping(fields, factor_digits)
    except RecordError as exc:
        return _json(422, ok=False, error=f"dossier: {exc}")
    outcome = await dossiers.create(rec, source="api")
    log.info("dossier created by %s: %s", agency.key, outcome)
    if outcome == "new":
        return _json(201, ok=True, duplicate=False, created=True, code=change.code)
    if outcome == "forbidden":  # another agency created it first
        return _json(403, ok=False, error=f"dossier {change.code} belongs to another agency")
    # Created a moment ago by this same agency (a retried or parallel request): an ordinary change.
    result = await dossiers.apply_change(change, agency_key=agency.key)
    if result == "forbidden":
        return _json(403, ok=False, error=f"dossier {change.code} belongs to another agency")
    return _json(200, ok=True, duplicate=result == "duplicate", stale=result == "stale", created=False,
                 code=change.code)
