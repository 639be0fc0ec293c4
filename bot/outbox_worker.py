"""Delivers outbox messages to their chats, retrying with backoff, marking sent only on success."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from handlers.types import Button, Reply
from storage.store import OutboxItem, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
BASE_DELAY = 2.0
MAX_DELAY = 900.0


class Sender(Protocol):
    """A channel's way to push one message to a chat; returns the platform's message id."""

    channel: str

    async def send(self, chat_id: str, reply: Reply) -> str: ...


def payload_to_reply(payload: dict) -> Reply:
    rows = [[Button(b["label"], b["action"]) for b in row] for row in payload.get("buttons", [])]
    return Reply.make(payload.get("text", ""), rows, title=payload.get("title", ""))


def backoff(attempts: int) -> float:
    return min(MAX_DELAY, BASE_DELAY * (2 ** attempts))


async def deliver_once(store: Store, senders: dict[str, Sender], limit: int = 20) -> int:
    """Claim due messages and send them; returns how many were sent."""
    sent = 0
    items: list[OutboxItem] = await store.claim_outbox(limit=limit)
    for item in items:
        sender = senders.get(item.channel)
        if sender is None:
            await store.mark_retry(item.id, f"no sender for channel {item.channel}", backoff(item.attempts))
            continue
        try:
            message_id = await sender.send(item.chat_id, payload_to_reply(item.payload))
        except Exception as exc:  # noqa: BLE001 - any failure means "not delivered, retry later"
            give_up = item.attempts + 1 >= MAX_ATTEMPTS
            log.warning("outbox %s to %s failed (%s), attempt %s", item.id, item.channel,
                        type(exc).__name__, item.attempts + 1)
            await store.mark_retry(item.id, f"{type(exc).__name__}: {exc}", backoff(item.attempts), give_up)
            continue
        await store.mark_sent(item.id, message_id)
        sent += 1
    return sent


async def run_outbox(store: Store, senders: dict[str, Sender], interval: float = 1.0) -> None:
    """Loop forever delivering the outbox (safe to run in every worker)."""
    while True:
        try:
            while await deliver_once(store, senders):
                pass
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep the loop alive
            log.exception("outbox loop error")
        await asyncio.sleep(interval)
