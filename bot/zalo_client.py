"""A small client for the Zalo Bot Platform API (the Telegram-like Bot API Zalo opened in 2025).

Requests go to ``<base_url><token>/<method>`` as POST with a JSON body; answers are
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``.
Every failure becomes one exception type, :class:`ZaloError`. Network errors, 429 and 5xx
are retried with exponential backoff. The token is part of the URL, so URLs never go to logs
or error messages.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

log = logging.getLogger(__name__)

IDLE = 408  # getUpdates: no update arrived within the timeout (not an error)
NETWORK_ERROR = 0  # error_code used when the request never got an answer


class ZaloError(Exception):
    """The Zalo Bot API refused a request, or could not be reached (error_code 0)."""

    def __init__(self, error_code: int, description: str) -> None:
        super().__init__(f"Zalo API error {error_code}: {description}")
        self.error_code = error_code
        self.description = description

    @property
    def retryable(self) -> bool:
        return self.error_code == NETWORK_ERROR or self.error_code == 429 or self.error_code >= 500


class ZaloClient:
    """Async client; use ``async with ZaloClient(token, base_url) as client`` or call ``close()``."""

    def __init__(self, token: str, base_url: str = "https://bot-api.zaloplatforms.com/bot", *,
                 retries: int = 3, retry_delay: float = 0.5, max_delay: float = 30.0,
                 timeout: float = 15.0, http: httpx.AsyncClient | None = None) -> None:
        self._prefix = f"{base_url.rstrip('/')}{token}/"
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._http = http or httpx.AsyncClient(timeout=timeout, headers={"User-Agent": "tro-ly-dvc"})
        self._own_http = http is None

    async def __aenter__(self) -> "ZaloClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # --- the transport --------------------------------------------------------

    async def call(self, method: str, payload: dict[str, Any] | None = None, *,
                   timeout: float | None = None, retries: int | None = None) -> Any:
        """Call one method and return its ``result``; raise ZaloError when it is not ``ok``."""
        attempts = (self.retries if retries is None else retries) + 1
        for attempt in range(attempts):
            try:
                return await self._call_once(method, payload or {}, timeout)
            except ZaloError as exc:
                if not exc.retryable or attempt == attempts - 1:
                    raise
                delay = self._delay(attempt, exc)
                log.warning("zalo %s failed (%s), retrying in %.1fs", method, exc.error_code, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _call_once(self, method: str, payload: dict[str, Any], timeout: float | None) -> Any:
        try:
            resp = await self._http.post(self._prefix + method, json=payload,
                                         timeout=timeout if timeout is not None else self.timeout)
        except httpx.HTTPError as exc:  # connection refused, reset, timeouts...
            raise ZaloError(NETWORK_ERROR, f"network error: {type(exc).__name__}") from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ZaloError(resp.status_code if resp.status_code >= 400 else 502,
                            f"unexpected answer (HTTP {resp.status_code})")
        if body.get("ok") is True:
            return body.get("result")
        code = body.get("error_code")
        if not isinstance(code, int):
            code = resp.status_code if resp.status_code >= 400 else 400
        err = ZaloError(code, str(body.get("description") or "request failed"))
        params = body.get("parameters")
        if isinstance(params, dict) and isinstance(params.get("retry_after"), (int, float)):
            err.retry_after = float(params["retry_after"])  # type: ignore[attr-defined]
        raise err

    def _delay(self, attempt: int, exc: ZaloError) -> float:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(self.max_delay, float(retry_after))
        return min(self.max_delay, self.retry_delay * (2 ** attempt))

    # --- the methods ----------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")

    async def get_updates(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait up to ``timeout`` seconds for updates; [] when none came (error 408)."""
        try:
            result = await self.call("getUpdates", {"timeout": str(int(timeout))}, timeout=timeout + 10.0)
        except ZaloError as exc:
            if exc.error_code == IDLE:
                return []
            raise
        if result is None:
            return []
        if isinstance(result, list):
            return [u for u in result if isinstance(u, dict)]
        return [result] if isinstance(result, dict) else []

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        result = await self.call("sendMessage", {"chat_id": str(chat_id), "text": text})
        return result if isinstance(result, dict) else {}

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> dict[str, Any]:
        """A photo by its URL (Zalo fetches it), with an optional caption."""
        payload = {"chat_id": str(chat_id), "photo": photo_url}
        if caption:
            payload["caption"] = caption
        result = await self.call("sendPhoto", payload)
        return result if isinstance(result, dict) else {}

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": str(chat_id), "action": action}, retries=0)

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> Any:
        return await self.call("getWebhookInfo")
