"""python-telegram-bot's network layer on aiohttp instead of httpx.

PTB lets an application plug in its own ``BaseRequest``. Measured here, one Bot API call costs
about 1.6 ms of CPU through httpx and 0.2 ms through aiohttp (``benchmarks/bench_load.py`` shows
the effect on the whole server). Behaviour follows PTB's own ``HTTPXRequest``: form-encoded fields
whose values are JSON strings (sent as a JSON body), multipart when files are uploaded, the same timeouts, and
``TimedOut``/``NetworkError`` for failures.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` over one ``aiohttp.ClientSession`` with a bounded connection pool."""

    __slots__ = ("_connections", "_connect_timeout", "_media_write_timeout", "_pool_timeout", "_read_timeout",
                 "_session", "_write_timeout")

    def __init__(self, connection_pool_size: int = 16, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0) -> None:
        self._connections = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, limit_per_host=self._connections)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        write = (self._media_write_timeout if files else self._write_timeout) if isinstance(
            write_timeout, DefaultValue) else write_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        # aiohttp has no separate write timeout: a whole request may take its connect, write and read
        # time; "connect" covers waiting for a pooled connection and opening a new one.
        timeout = aiohttp.ClientTimeout(total=_sum(_sum(pool, connect), _sum(write, read)),
                                        connect=_sum(pool, connect), sock_read=read, sock_connect=connect)
        data: Any
        headers: dict[str, str] = {}
        if files:
            data = aiohttp.FormData()
            for name, value in (fields or {}).items():
                data.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                data.add_field(name, content, filename=filename, content_type=mimetype)
        else:
            # A JSON body (the Bot API takes JSON for every method but uploads); the values are PTB's, nested
            # objects already JSON strings as in its form posts. Encoding JSON costs far less CPU than
            # percent-encoding Vietnamese text into a form.
            data = json.dumps(fields or {}, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except asyncio.TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b
