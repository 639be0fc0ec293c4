"""Background jobs that run beside a channel: the outbox and the features' periodic jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.outbox_worker import run_outbox
from handlers.context import Services

log = logging.getLogger(__name__)

Job = Callable[[Services], Awaitable[None]]  # one run of a periodic job


async def _periodic(services: Services, job: Job, interval: float) -> None:
    while True:
        try:
            await job(services)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.exception("periodic job %s failed", getattr(job, "__name__", job))
        await asyncio.sleep(interval)


PRUNE_INTERVAL = 600.0  # seconds between clean-ups of old update ids


async def prune_job(services: Services) -> None:
    """Keep the de-duplication tables small (every worker may run it; deletes are idempotent)."""
    ids, pending = await services.store.prune_update_records()
    if ids or pending:
        log.info("pruned %d old update ids and %d stale pending rows", ids, pending)


@contextlib.asynccontextmanager
async def background_jobs(services: Services, outbox_interval: float = 1.0) -> AsyncIterator[None]:
    """Run the outbox, the clean-up of old update ids and every registered periodic job until the block exits."""
    senders = services.extras.setdefault("senders", {})
    tasks = [asyncio.create_task(run_outbox(services.store, senders, outbox_interval)),
             asyncio.create_task(_periodic(services, prune_job, PRUNE_INTERVAL))]
    for job, interval in services.extras.get("jobs", []):
        tasks.append(asyncio.create_task(_periodic(services, job, interval)))
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
