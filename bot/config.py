"""Configuration from environment variables and a ``.env`` file (see ``.env.example``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from knowledge.loader import BUNDLED_DIR

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/tro-ly-dvc.sqlite3"
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")


class ConfigError(Exception):
    """A setting is wrong or missing; the message names it in one line."""


class Settings(BaseSettings):
    """Every setting, with its environment variable name (case-insensitive)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    telegram_bot_token: str = ""
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_webhook_secret: str = ""
    telegram_rate_limit: int = Field(default=30, ge=0, le=100_000)  # requests/s overall; 0 = no limiter
    zalo_bot_token: str = ""
    zalo_base_url: str = "https://bot-api.zaloplatforms.com/bot"
    zalo_webhook_secret: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    knowledge_dir: Path = BUNDLED_DIR
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    rate_limit_per_minute: int = Field(default=20, ge=1, le=10_000)
    default_province: str = ""
    agencies_file: Path | None = None
    helpers_file: Path | None = None
    admin_ids: str = ""  # comma-separated "channel:user_id" allowed to issue invite codes
    dossier_factor_digits: int = Field(default=4, ge=2, le=8)
    # a one-time code sent to the chats subscribed to a dossier, asked after the right phone digits from anyone
    # who never verified it (docs/dossiers.md)
    dossier_one_time_code: bool = False
    dossier_api_keys_file: Path | None = None  # YAML: agency_key -> {name, api_key} (dossier push API)
    dossier_api_keys: str = ""  # or inline: "agency:key,agency2:key2"
    complaint_due_working_days: int = Field(default=10, ge=1, le=90)
    complaints_per_day: int = Field(default=5, ge=1, le=1000)
    handoff_claim_minutes: int = Field(default=10, ge=1, le=1440)  # unclaimed this long: citizen told, desk gets it
    handoff_idle_minutes: int = Field(default=30, ge=1, le=1440)  # a live chat silent this long is closed
    public_url: str = ""  # the server's public base URL (https://...), for the web console's sign-in links
    # The web chat for provincial portals (docs/webchat.md): on when WEBCHAT_SECRET is set (signs the session
    # cookie and the buttons; the same on every worker); WEBCHAT_ORIGINS: the portals allowed to embed it.
    webchat_secret: str = ""
    webchat_origins: str = ""  # comma-separated origins, e.g. "https://dichvucong.angiang.gov.vn"
    webchat_per_minute: int = Field(default=30, ge=1, le=100_000)  # messages per browser session
    webchat_ip_per_minute: int = Field(default=120, ge=1, le=1_000_000)  # requests per IP address
    webchat_poll_seconds: float = Field(default=1.0, ge=0.01, le=30.0)  # how often pushed messages are looked for

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("telegram_bot_token", "zalo_bot_token", mode="after")
    @classmethod
    def _token(cls, v: str) -> str:
        v = v.strip()
        if v and not _TOKEN.match(v):
            raise ValueError("does not look like a bot token (digits:letters, from BotFather / Zalo Bot Creator)")
        return v

    @field_validator("telegram_base_url", "zalo_base_url", mode="after")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL")
        return v.rstrip("/")

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url(cls, v: str) -> str:
        if v.startswith(("postgres://", "postgresql://")):
            v = "postgresql+asyncpg://" + v.split("://", 1)[1]
        try:
            url = make_url(v)
        except ArgumentError as exc:
            raise ValueError("is not a database URL") from exc
        if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError("use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user:pass@host/db")
        return v

    @field_validator("knowledge_dir", mode="after")
    @classmethod
    def _kb_dir(cls, v: Path) -> Path:
        if not v.is_dir():
            raise ValueError(f"folder {v} does not exist")
        return v

    @field_validator("agencies_file", "helpers_file", "dossier_api_keys_file", mode="after")
    @classmethod
    def _file(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError(f"file {v} does not exist")
        return v

    @field_validator("webchat_secret", mode="after")
    @classmethod
    def _webchat_secret(cls, v: str) -> str:
        v = v.strip()
        if v and len(v) < 32:
            raise ValueError("must be at least 32 characters (e.g. python -c 'import secrets; "
                             "print(secrets.token_urlsafe(32))')")
        return v

    @field_validator("webchat_origins", mode="after")
    @classmethod
    def _webchat_origins(cls, v: str) -> str:
        for origin in (o.strip() for o in v.split(",")):
            if origin and not re.match(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$", origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
        return v

    @property
    def webchat_allowed(self) -> set[str]:
        return {o.strip().rstrip("/") for o in self.webchat_origins.split(",") if o.strip()}

    @property
    def admins(self) -> set[str]:
        return {a.strip() for a in self.admin_ids.split(",") if a.strip()}


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise ConfigError naming the first wrong setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "?"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"Configuration error: {name}: {msg}") from None
