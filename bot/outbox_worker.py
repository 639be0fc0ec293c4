"""Delivers outbox messages to their chats, retrying with backoff, marking sent only on success."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from handlers.texts import media as TM
from handlers.types import Attachment, Button, Reply
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
    #
    # Optional, for rows with photos/documents (``payload["media"]``):
    #   ``can_send(att) -> bool``: whether this channel can fetch it at all (a Telegram file_id on Zalo cannot);
    #   ``media_groups(atts) -> list[list[int]]``: how they go out, one platform call per group (an album);
    #   ``async send_media(chat_id, atts) -> str``: send one group; raises ``MediaRefused`` when the platform
    #   refused the file itself (gone, expired, too big), any other exception as for ``send``.
    # A sender without them gets the media in ``reply.media`` and does what it can.


class MediaRefused(Exception):
    """The platform refused a photo or document itself (it can no longer be fetched, or is not a valid
    file), not the chat: retrying would not help, so the row goes on and the card says so."""


def payload_to_reply(payload: dict) -> Reply:
    rows = [[Button(b["label"], b["action"]) for b in row] for row in payload.get("buttons", [])]
    media = tuple(a for a in (Attachment.from_dict(m) for m in payload.get("media") or []) if a is not None)
    return Reply(text=payload.get("text", ""), buttons=tuple(tuple(r) for r in rows), title=payload.get("title", ""),
                 media=media)


def backoff(attempts: int) -> float:
    return min(MAX_DELAY, BASE_DELAY * (2 ** attempts))


LEASE = 60.0  # seconds a claim lasts; renewed every LEASE / 4 while the row is in hand
# Channels whose messages their own process shows (``python -m bot chat`` prints its user's rows after each
# turn): a worker without a sender for them leaves them alone instead of counting failed attempts.
SELF_DELIVERED = ("terminal", "webchat")  # the web chat: read back by its page (bot/webchat_channel.py)


def _skipped(senders: dict[str, Any]) -> tuple[str, ...]:
    return tuple(c for c in SELF_DELIVERED if c not in senders)


async def deliver_once(store: Store, senders: dict[str, Sender], limit: int = 20,
                       only: tuple[str, str] | None = None) -> int:
    """Claim due messages and send them; returns how many were sent.

    Rows are sent in lanes, one per destination chat, concurrently: a chat that is slow or rate
    limited delays only its own messages. Each attempt is recorded (``sending``) before the platform
    is called, and marked sent right after the platform accepted it, even if the task is cancelled in
    between; claims are renewed while rows are in hand. A row found ``sending`` after its worker died
    (or after a timeout) is "in doubt": the sender's optional ``confirm(item)`` says whether the
    platform already has it; without one, it is sent again with a note saying so. A message sent in
    several parts records each part, so that a retry sends only the missing ones. ``only``: claim the rows
    of that one (channel, chat) only (the terminal delivers its own user's messages).
    See docs/complaints.md for the exact guarantee.
    """
    sent = await _flush_acks(store)
    items: list[OutboxItem] = await store.claim_outbox(limit=limit, lease=LEASE, only=only,
                                                       skip_channels=_skipped(senders))
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
            text = f"{reply.text}\n\n{RESENT_NOTE}" if reply.text else RESENT_NOTE
            reply = Reply(text=text, buttons=reply.buttons, title=reply.title, media=reply.media)
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
    records each part it sends, so that a retry after a failure in part k does not repeat parts < k.

    A row with photos/documents sends them first (parts 0…g-1, one per group: an album is one part),
    then its text (parts g…). A file the platform refused (``MediaRefused``), or that this channel
    cannot fetch (a Telegram file_id on Zalo), is recorded in ``payload["media_failed"]`` and named
    in the text that follows (the card says which photo did not come, never silently dropped).
    """
    payload = dict(item.payload)

    async def record(n: int) -> None:
        payload["parts_sent"] = n
        try:
            await store.mark_parts(item.id, payload)
        except Exception as exc:  # noqa: BLE001 - at worst that part is sent again
            log.warning("outbox %s: could not record part %s (%s)", item.id, n, type(exc).__name__)

    skip = int(payload.get("parts_sent") or 0)
    message_id = ""
    offset = 0
    if reply.media and hasattr(sender, "send_media"):
        offset, message_id = await _send_media(sender, item, reply, payload, skip, record)
        note = media_note(list(reply.media), payload.get("media_failed") or [], item.channel)
        if note:
            reply = Reply(text=f"{reply.text}\n\n{note}" if reply.text else note, buttons=reply.buttons,
                          title=reply.title)
        elif not reply.text and not reply.title:
            return message_id  # photos only, all delivered
        reply = Reply(text=reply.text, buttons=reply.buttons, title=reply.title)
    send_parts = getattr(sender, "send_parts", None)
    if send_parts is None:
        return await sender.send(item.chat_id, reply)

    async def on_part(n: int) -> None:
        await record(offset + n)

    return await send_parts(item.chat_id, reply, max(0, skip - offset), on_part)


async def _send_media(sender: Any, item: OutboxItem, reply: Reply, payload: dict, skip: int,
                      record: Callable[[int], Awaitable[None]]) -> tuple[int, str]:
    """Send the row's photos/documents group by group from part ``skip`` on; (number of media parts, last id).

    An album the platform refuses is split (recorded first, so the plan stays the same after a crash)
    and its photos are sent one by one, so that one photo that is gone does not hold back the others.
    """
    media = list(reply.media)
    failed = set(payload.get("media_failed") or [])
    for i, att in enumerate(media):
        if not sender.can_send(att):
            failed.add(i)
    payload["media_failed"] = sorted(failed)
    message_id = ""
    part = 0
    while True:
        plan = _media_plan(sender, media, failed, payload.get("media_split") or [])
        if part >= len(plan):
            return len(plan), message_id
        group = plan[part]
        if part < skip:
            part += 1
            continue
        try:
            message_id = await sender.send_media(item.chat_id, [media[j] for j in group])
        except MediaRefused as exc:
            if len(group) > 1:
                payload["media_split"] = sorted({*(payload.get("media_split") or []), group[0]})
                log.warning("outbox %s: an album was refused (%s); its photos go one by one", item.id, exc)
                await record(part)
                continue
            failed.add(group[0])
            payload["media_failed"] = sorted(failed)
            log.warning("outbox %s: photo/document %s refused by the platform (%s)", item.id, group[0] + 1, exc)
        part += 1
        await record(part)


def _media_plan(sender: Any, media: list[Attachment], failed: set[int], split: list[int]) -> list[list[int]]:
    """The groups to send, in order: the sender's grouping of what can still go, albums listed in
    ``split`` (by their first index) as single photos. A file the platform refused keeps its place (the
    parts already counted stay valid); one this channel cannot fetch at all never has one."""
    todo = [i for i in range(len(media)) if sender.can_send(media[i])]  # a refused one keeps its place
    groups: list[list[int]] = []
    for g in sender.media_groups([media[i] for i in todo]):
        ids = [todo[j] for j in g]
        if len(ids) > 1 and ids[0] in split:
            groups.extend([i] for i in ids)
        else:
            groups.append(ids)
    return groups


def media_note(media: list[Attachment], failed: list[int], channel: str) -> str:
    """What the recipient is told about photos/documents that did not come: which, and why."""
    by_reason: dict[str, list[str]] = {}
    for i in sorted(set(failed)):
        if not 0 <= i < len(media):
            continue
        att = media[i]
        what = (TM.PHOTO if att.kind == "photo" else TM.DOCUMENT).format(n=i + 1, total=len(media))
        why = TM.OTHER_CHANNEL if att.source == "telegram" and channel != "telegram" else \
            TM.NOT_HERE if att.kind == "document" and channel != "telegram" else TM.GONE
        by_reason.setdefault(why, []).append(what)
    lines = [TM.FAILED_LINE.format(what=", ".join(whats), why=why) for why, whats in by_reason.items()]
    return "\n".join([TM.FAILED_HEAD, *lines]) if lines else ""


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
        items = await self.store.claim_outbox(limit=self.limit, lease=LEASE, exclude_chats=self.busy_chats(),
                                              skip_channels=_skipped(self.senders))
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
