"""Serve a Starlette app on 127.0.0.1 with uvicorn for tests that speak real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from tests.fake_telegram import free_port


@contextlib.asynccontextmanager
async def serve_app(app: Any, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run ``app`` (ASGI) on a free port until the block exits; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raise the startup error
                raise RuntimeError("the web server stopped during start-up")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def serve_routes(routes: list[Any]) -> AsyncIterator[str]:
    """Serve a list of Starlette routes."""
    async with serve_app(Starlette(routes=routes)) as base_url:
        yield base_url
