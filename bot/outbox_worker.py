"""Delivers outbox messages to their chats, retrying with backoff, marking sent only on success."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from handlers.types import Button, Reply
from storage.store import OutboxItem, Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20  # about 3 hours of retries before a row is marked failed (kept, never deleted)
BASE_DELAY = 2.0
MAX_DELAY = 900.0
# Appended when a message is sent again because an earlier attempt may have arrived (worker died mid-send).
RESENT_NOTE = "(Tin gửi lại sau sự cố kết nối; nếu đã nhận tin này rồi, xin bỏ qua ạ.)"


class Sender(Protocol):
    """A channel's way to push one message to a chat; returns the platform's message id."""

    channel: str

    async def send(self, chat_id: str, reply: Reply) -> str: ...

    # Optional: ``async def confirm(self, item: OutboxItem) -> str | None`` returns the platform
    # message id if the platform already has this outbox message, None if it surely has not.


def payload_to_reply(payload: dict) -> Reply:
    rows = [[Button(b["label"], b["action"]) for b in row] for row in payload.get("buttons", [])]
    return Reply.make(payload.get("text", ""), rows, title=payload.get("title", ""))


def backoff(attempts: int) -> float:
    return min(MAX_DELAY, BASE_DELAY * (2 ** attempts))


async def deliver_once(store: Store, senders: dict[str, Sender], limit: int = 20) -> int:
    """Claim due messages and send them; returns how many were sent.

    Each attempt is recorded (``sending``) before the platform is called, and marked sent
    right after the platform accepted it, even if the task is cancelled in between. A row
    found ``sending`` after its worker died is "in doubt": the sender's optional
    ``confirm(item)`` says whether the platform already has it; without one, it is sent
    again with a note saying so. See docs/complaints.md for the exact guarantee.
    """
    sent = await _flush_acks(store)
    items: list[OutboxItem] = await store.claim_outbox(limit=limit)
    for item in items:
        sender = senders.get(item.channel)
        if sender is None:
            await store.mark_retry(item.id, f"no sender for channel {item.channel}", backoff(item.attempts))
            continue
        reply = payload_to_reply(item.payload)
        if item.in_doubt:
            verdict = await _confirm(sender, item)
            if verdict is _UNKNOWN_YET:
                continue  # could not ask now: the row stays in doubt and comes back after the lease
            if isinstance(verdict, str):
                await _ack(store, item.id, verdict)
                sent += 1
                continue
            if verdict is _NO_CONFIRM:
                reply = Reply(text=f"{reply.text}\n\n{RESENT_NOTE}", buttons=reply.buttons, title=reply.title)
        if not await store.mark_sending(item.id):
            continue  # our claim was taken over
        try:
            message_id = await sender.send(item.chat_id, reply)
        except Exception as exc:  # noqa: BLE001 - a refusal or network failure: not delivered, retry later
            give_up = item.attempts + 1 >= MAX_ATTEMPTS
            log.warning("outbox %s to %s failed (%s), attempt %s", item.id, item.channel,
                        type(exc).__name__, item.attempts + 1)
            await _failed(store, item.id, item.attempts, exc, give_up)
            continue
        await _ack(store, item.id, message_id)
        sent += 1
    return sent


def in_doubt(exc: BaseException) -> bool:
    """A timeout waiting for the platform's answer: the message may have been accepted."""
    return bool(getattr(exc, "in_doubt", False)) or type(exc).__name__ in ("TimedOut", "ReadTimeout",
                                                                             "TimeoutError")


async def _failed(store: Store, item_id: int, attempts: int, exc: BaseException, give_up: bool = False) -> None:
    """Record a failed attempt: a plain retry, or, after a timeout, a retry "in doubt" (resent with the note)."""
    error = f"{type(exc).__name__}: {exc}"
    if in_doubt(exc) and not give_up:
        await store.mark_in_doubt(item_id, error, backoff(attempts))
    else:
        await store.mark_retry(item_id, error, backoff(attempts), give_up)


async def send_held(store: Store, dedup_key: str, send: Callable[[], Awaitable[str]], again: bool = False) -> bool:
    """Send a held outbox message directly (a reply carrying a tracking code); True if sent now.

    The row is claimed first (``Store.claim_direct``), so the outbox worker cannot send it at the same
    time; if the outbox already has it, nothing is sent here (with ``again``: sent anyway, as an
    ordinary reply). On success the row is marked sent; on failure it goes back to the outbox, which
    retries it with the same guarantees as agency cards.
    """
    try:
        item_id = await store.claim_direct(dedup_key)
    except Exception as exc:  # noqa: BLE001 - the outbox delivers it when the hold ends
        log.warning("could not claim a held reply (%s); the outbox will deliver it", type(exc).__name__)
        item_id = None
    if item_id is None:
        if again:
            try:
                await send()
                return True
            except Exception as exc:  # noqa: BLE001
                log.warning("repeated reply not sent (%s)", type(exc).__name__)
        return False
    try:
        message_id = await send()
    except Exception as exc:  # noqa: BLE001
        log.warning("held reply %s not sent directly (%s); the outbox will deliver it", item_id,
                    type(exc).__name__)
        try:
            await _failed(store, item_id, 0, exc)
        except Exception:  # noqa: BLE001 - the claim expires and the outbox takes it (in doubt, noted)
            log.warning("could not hand held reply %s back to the outbox", item_id)
        return False
    await _ack(store, item_id, message_id)
    return True


_NO_CONFIRM = object()  # the sender cannot tell: send again, saying so
_UNKNOWN_YET = object()  # asking failed: try later


async def _confirm(sender: Sender, item: OutboxItem) -> object:
    """The platform message id if it already has this message, None if not, or a marker."""
    confirm = getattr(sender, "confirm", None)
    if confirm is None:
        return _NO_CONFIRM
    try:
        found = await confirm(item)
    except Exception as exc:  # noqa: BLE001
        log.warning("outbox %s: could not confirm an in-doubt delivery (%s)", item.id, type(exc).__name__)
        return _UNKNOWN_YET
    return str(found) if found else None


async def _ack(store: Store, item_id: int, message_id: str | None) -> None:
    """Mark sent; finish it even when cancelled; keep it in memory if the database fails."""
    task = asyncio.ensure_future(store.mark_sent(item_id, message_id))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        try:
            await task
        except Exception:  # noqa: BLE001
            store.unacked[item_id] = message_id
        raise
    except Exception as exc:  # noqa: BLE001 - retried at the start of the next round
        log.warning("outbox %s accepted by the platform but not marked sent yet (%s)", item_id, type(exc).__name__)
        store.unacked[item_id] = message_id


async def _flush_acks(store: Store) -> int:
    done = 0
    for item_id, message_id in list(store.unacked.items()):
        try:
            await store.mark_sent(item_id, message_id)
        except Exception:  # noqa: BLE001 - the database is still down
            return done
        store.unacked.pop(item_id, None)
        done += 1
    return done


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
