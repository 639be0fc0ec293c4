"""Delivers outbox messages to their chats, retrying with backoff, marking sent only on success."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
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


LEASE = 60.0  # seconds a claim lasts; renewed every LEASE / 4 while the row is in hand


async def deliver_once(store: Store, senders: dict[str, Sender], limit: int = 20) -> int:
    """Claim due messages and send them; returns how many were sent.

    Rows are sent in lanes, one per destination chat, concurrently: a chat that is slow or rate
    limited delays only its own messages. Each attempt is recorded (``sending``) before the platform
    is called, and marked sent right after the platform accepted it, even if the task is cancelled in
    between; claims are renewed while rows are in hand. A row found ``sending`` after its worker died
    (or after a timeout) is "in doubt": the sender's optional ``confirm(item)`` says whether the
    platform already has it; without one, it is sent again with a note saying so. A message sent in
    several parts records each part, so that a retry sends only the missing ones.
    See docs/complaints.md for the exact guarantee.
    """
    sent = await _flush_acks(store)
    items: list[OutboxItem] = await store.claim_outbox(limit=limit, lease=LEASE)
    if not items:
        return sent
    lanes: dict[tuple[str, str], list[OutboxItem]] = {}
    for item in items:
        lanes.setdefault((item.channel, item.chat_id), []).append(item)
    in_hand = {item.id for item in items}

    async def lane(queue: list[OutboxItem]) -> int:
        done = 0
        for item in queue:
            try:
                done += await deliver_item(store, senders, item)
            finally:
                in_hand.discard(item.id)
        return done

    async with _renewing(store, in_hand):
        results = await asyncio.gather(*(lane(q) for q in lanes.values()))
    return sent + sum(results)


async def deliver_item(store: Store, senders: dict[str, Sender], item: OutboxItem) -> int:
    """Deliver one claimed row; 1 if it is now sent."""
    sender = senders.get(item.channel)
    if sender is None:
        await store.mark_retry(item.id, f"no sender for channel {item.channel}", backoff(item.attempts))
        return 0
    reply = payload_to_reply(item.payload)
    if item.in_doubt:
        verdict = await _confirm(sender, item)
        if verdict is _UNKNOWN_YET:
            return 0  # could not ask now: the row stays in doubt and comes back after the lease
        if isinstance(verdict, str):
            await _ack(store, item.id, verdict)
            return 1
        if verdict is _NO_CONFIRM:
            reply = Reply(text=f"{reply.text}\n\n{RESENT_NOTE}", buttons=reply.buttons, title=reply.title)
    if not await store.mark_sending(item.id):
        return 0  # our claim was taken over
    try:
        message_id = await _send(store, sender, item, reply)
    except Exception as exc:  # noqa: BLE001 - a refusal or network failure: not delivered, retry later
        give_up = item.attempts + 1 >= MAX_ATTEMPTS
        log.warning("outbox %s to %s failed (%s), attempt %s", item.id, item.channel,
                    type(exc).__name__, item.attempts + 1)
        await _failed(store, item.id, item.attempts, exc, give_up)
        return 0
    await _ack(store, item.id, message_id)
    return 1


async def _send(store: Store, sender: Sender, item: OutboxItem, reply: Reply) -> str:
    """Send through the channel; a sender with ``send_parts`` skips the parts already accepted and
    records each part it sends, so that a retry after a failure in part k does not repeat parts < k."""
    send_parts = getattr(sender, "send_parts", None)
    if send_parts is None:
        return await sender.send(item.chat_id, reply)
    payload = dict(item.payload)

    async def on_part(n: int) -> None:
        payload["parts_sent"] = n
        try:
            await store.mark_parts(item.id, payload)
        except Exception as exc:  # noqa: BLE001 - at worst that part is sent again
            log.warning("outbox %s: could not record part %s (%s)", item.id, n, type(exc).__name__)

    return await send_parts(item.chat_id, reply, int(payload.get("parts_sent") or 0), on_part)


@contextlib.asynccontextmanager
async def _renewing(store: Store, in_hand: set[int]) -> AsyncIterator[None]:
    """Renew the claims of the rows in hand every LEASE / 4 seconds (a send may wait long on a 429),
    so that another worker never takes a row that is still being sent."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE / 4)
            if in_hand:
                try:
                    await store.renew_claims(sorted(in_hand), LEASE)
                except Exception as exc:  # noqa: BLE001 - tried again next time
                    log.warning("outbox: could not renew claims (%s)", type(exc).__name__)

    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class OutboxLanes:
    """The long-running outbox of ``run_outbox``: one lane (a task) per destination chat.

    Each round claims due rows of chats whose lane is not already busy and hands them to their lane
    without waiting: a 429 with ``retry_after`` or a slow chat holds only its own lane, never the
    next round nor other chats. Claims in hand are renewed while they wait or are sent.
    """

    MAX_QUEUED = 5  # rows claimed ahead per lane; more wait in the table (unclaimed) for other workers

    def __init__(self, store: Store, senders: dict[str, Sender], limit: int = 20) -> None:
        self.store, self.senders, self.limit = store, senders, limit
        self.queues: dict[tuple[str, str], list[OutboxItem]] = {}
        self.tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self.in_hand: set[int] = set()
        self.sent = 0

    def busy_chats(self) -> list[str]:
        return [chat for (_, chat), q in self.queues.items() if len(q) >= self.MAX_QUEUED]

    async def round(self) -> int:
        """Claim and dispatch; returns how many rows were claimed (0: nothing due)."""
        self.sent += await _flush_acks(self.store)
        items = await self.store.claim_outbox(limit=self.limit, lease=LEASE, exclude_chats=self.busy_chats())
        for item in items:
            key = (item.channel, item.chat_id)
            self.queues.setdefault(key, []).append(item)
            self.in_hand.add(item.id)
            task = self.tasks.get(key)
            if task is None or task.done():
                self.tasks[key] = asyncio.create_task(self._lane(key))
        return len(items)

    async def _lane(self, key: tuple[str, str]) -> None:
        queue = self.queues[key]
        try:
            while queue:
                item = queue[0]
                try:
                    self.sent += await deliver_item(self.store, self.senders, item)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - the claim expires and the row comes back
                    log.exception("outbox lane error")
                finally:
                    queue.pop(0)
                    self.in_hand.discard(item.id)
        finally:
            if not queue and self.queues.get(key) is queue:
                del self.queues[key]
                self.tasks.pop(key, None)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
    """Loop forever delivering the outbox in per-chat lanes (safe to run in every worker)."""
    lanes = OutboxLanes(store, senders)
    try:
        async with _renewing(store, lanes.in_hand):
            while True:
                try:
                    while await lanes.round():
                        await asyncio.sleep(0)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - keep the loop alive
                    log.exception("outbox loop error")
                await asyncio.sleep(interval)
    finally:
        await lanes.close()
