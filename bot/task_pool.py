"""Bounded background handling of updates, in order per user (webhook server and Zalo polling)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class PoolFull(Exception):
    """Too many updates are waiting; the caller should ask the platform to retry later."""


class TaskPool:
    """Runs update handlers in the background: bounded, ordered per key, failures logged.

    Keeps a reference to every task (so none is garbage-collected mid-flight), runs at most
    ``concurrency`` at once, refuses new work beyond ``max_pending``, and ``drain`` waits for
    what was accepted (used on shutdown).
    """

    def __init__(self, concurrency: int = 32, max_pending: int = 1000, max_per_key: int = 50,
                 busy_per_key: int = 5, pace_after: int = 10, pace: float = 0.25) -> None:
        self.max_pending = max_pending
        # Fairness: one key (one user) never holds more than ``max_per_key`` waiting updates, and once
        # the pool is 80% full, keys that already have ``busy_per_key`` are refused first, so that a
        # flooding user is asked to retry later (503) while everyone else is still accepted.
        self.max_per_key = max_per_key
        self.busy_per_key = busy_per_key
        # A key with more than ``pace_after`` updates waiting (a flood: a person's burst, even an album
        # of 10 photos, stays below) has each of its turns start ``pace`` seconds after the previous one,
        # so that a flooder's turns (each a few database writes) take a small share of the worker
        # (tests/test_faults_fairness.py; docs/server.md gives the figures).
        self.pace_after = pace_after
        self.pace = pace
        self._sem = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._per_key: dict[str, int] = {}
        self.failures = 0
        self.refused_keys = 0  # updates refused by the per-key caps (the global cap not reached)
        self.paced = 0  # turns of a flooding key started late (see ``pace``)

    def __len__(self) -> int:
        return len(self._tasks)

    def full(self) -> bool:
        return len(self._tasks) >= self.max_pending

    def refuses(self, key: str) -> bool:
        """True if an update of ``key`` must be refused now (global cap, or this key's fair share)."""
        if self.full():
            return True
        if not key:
            return False
        n = self._per_key.get(key, 0)
        if n >= self.max_per_key or (n >= self.busy_per_key and len(self._tasks) >= self.max_pending * 0.8):
            self.refused_keys += 1
            return True
        return False

    def submit(self, coro: Coroutine[Any, Any, None], key: str = "",
               on_queued: Callable[[], Awaitable[None]] | None = None) -> asyncio.Task[None]:
        """Schedule ``coro``; after the previous task with the same non-empty ``key``.

        ``on_queued`` runs first if the task has to wait for that previous one (the server uses it
        to record the update in the database at once, so that other workers see it waiting).
        """
        if self.refuses(key):
            coro.close()
            raise PoolFull()
        previous = self._tails.get(key) if key else None
        task = asyncio.create_task(self._run(coro, previous, on_queued, key))
        self._tasks.add(task)
        if key:
            self._tails[key] = task
            self._per_key[key] = self._per_key.get(key, 0) + 1
        task.add_done_callback(lambda t: self._done(key, t))
        return task

    async def _run(self, coro: Coroutine[Any, Any, None], previous: asyncio.Task[None] | None,
                   on_queued: Callable[[], Awaitable[None]] | None = None, key: str = "") -> None:
        started = False
        try:
            if previous is not None and not previous.done():
                if on_queued is not None:
                    try:
                        await on_queued()
                    except Exception:  # noqa: BLE001 - handling goes on; only ordering help is lost
                        log.warning("could not record a queued update", exc_info=True)
                await asyncio.wait([previous])
            if previous is not None and self.pace > 0 and self._per_key.get(key, 0) > self.pace_after:
                self.paced += 1
                await asyncio.sleep(self.pace)
            async with self._sem:
                started = True
                await coro
        finally:
            if not started:
                coro.close()

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if key and self._tails.get(key) is task:
            del self._tails[key]
        if key:
            left = self._per_key.get(key, 1) - 1
            if left > 0:
                self._per_key[key] = left
            else:
                self._per_key.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            self.failures += 1
            log.error("background update handling failed", exc_info=task.exception())

    async def drain(self, timeout: float = 20.0) -> None:
        """Wait for accepted work; cancel what is still running after ``timeout`` seconds."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("shutdown: %d update(s) cancelled after %.0fs", len(pending), timeout)
            await asyncio.gather(*pending, return_exceptions=True)
