"""The kiosk's durable outbox: every change made at this kiosk, queued for the central store.

``enqueue`` writes the operation in the same SQLite transaction as its local
effect (the cache runs with ``synchronous=FULL``, so a committed operation
survives a power cut), with the next per-device sequence number and a random
idempotency key. ``push`` sends pending operations in sequence order and
removes each one only when the central store has answered for its key; a
replay after a crash or a lost answer gets the first answer back, so nothing is
lost or applied twice. Operations the central store rejects on business rules
(and pending offline renewals or checkouts it refused at replay) are kept in ``OpResult``
for staff, and never block the ones behind them.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import time
import uuid

import peewee as pw

from kiosk import trusted_clock
from kiosk.cache_db import CacheModel, SyncState, cache_db
from kiosk.central_client import CentralError, CentralUnavailable
from library_kiosk.domain import clock

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    """When an operation was queued, on the trusted clock: the central store judges visits and gaps by it."""
    return trusted_clock.now()


class OutboxItem(CacheModel):
    seq = pw.BigIntegerField(primary_key=True)  # this device's operation sequence number
    key = pw.CharField(unique=True)  # the idempotency key (the central store namespaces it by device)
    op_type = pw.CharField()
    payload = pw.TextField()
    primary_id = pw.CharField(default="")
    created = pw.DateTimeField(default=_now)
    attempts = pw.IntegerField(default=0)
    last_error = pw.TextField(default="")


class OpResult(CacheModel):
    """An operation the central store rejected, or a pending renewal it refused at replay: shown to staff."""

    key = pw.CharField(primary_key=True)
    seq = pw.BigIntegerField()
    op_type = pw.CharField()
    primary_id = pw.CharField(default="")
    status = pw.CharField()  # rejected / conflict
    reason = pw.CharField(default="")
    detail = pw.TextField(default="")
    created = pw.DateTimeField(default=_now)


class RenewalAnswer(CacheModel):
    """The central store's answer to a renewal this kiosk queued (loan ids, renewed or not, due dates, reasons;
    nothing that identifies the patron), so a screen that showed it pending can show its outcome once it is
    known (``renewal_answers``). Kept a day."""

    key = pw.CharField(primary_key=True)
    results = pw.TextField()  # JSON: [{"loan_id", "renewed", "new_due_date", "reason", "message"}]
    created = pw.DateTimeField(default=clock.now, index=True)


ANSWER_DAYS = 1
OUTBOX_MODELS = [OutboxItem, OpResult, RenewalAnswer]


def _state(name: str, default: str = "") -> str:
    row = SyncState.get_or_none(SyncState.name == name)
    return row.value if row else default


def _set_state(**values) -> None:
    for name, value in values.items():
        SyncState.replace(name=name, value=str(value)).execute()


def enqueue(op_type: str, payload: dict, effect=None, key: str = "") -> OutboxItem:
    """Queue one operation; ``effect()`` (the local change) runs in the same transaction. ``key``: the caller's
    idempotency key (one tap of a button): an operation of that key still queued is returned, not queued twice;
    one already sent is queued again under its key, and the central store answers it with its first answer."""
    with cache_db.atomic("IMMEDIATE") if _is_sqlite() else cache_db.atomic():
        if key and (queued := OutboxItem.get_or_none(OutboxItem.key == key)) is not None:
            return queued
        seq = int(_state("op_seq", "0")) + 1
        _set_state(op_seq=seq)
        item = OutboxItem.create(seq=seq, key=key or uuid.uuid4().hex, op_type=op_type,
                                 payload=json.dumps(payload, separators=(",", ":"), sort_keys=True),
                                 primary_id=payload.get("primary_id", ""))
        if effect is not None:
            effect()
    return item


def enqueue_many(ops: list[tuple[str, dict]]) -> int:
    """Queue many operations in one transaction (tests and benchmarks)."""
    with cache_db.atomic():
        seq = int(_state("op_seq", "0"))
        rows = []
        for op_type, payload in ops:
            seq += 1
            rows.append({"seq": seq, "key": uuid.uuid4().hex, "op_type": op_type,
                         "payload": json.dumps(payload, separators=(",", ":"), sort_keys=True),
                         "primary_id": payload.get("primary_id", ""), "created": _now()})
        for start in range(0, len(rows), 500):
            OutboxItem.insert_many(rows[start:start + 500]).execute()
        _set_state(op_seq=seq)
    return len(rows)


def _is_sqlite() -> bool:
    return isinstance(cache_db.obj, pw.SqliteDatabase)


def pending(limit: int | None = None) -> list[OutboxItem]:
    query = OutboxItem.select().order_by(OutboxItem.seq)
    return list(query.limit(limit) if limit else query)


def length() -> int:
    return OutboxItem.select().count()


def queued(key: str) -> bool:
    """Whether the operation of ``key`` is still waiting here (not yet answered by the central store)."""
    return OutboxItem.select().where(OutboxItem.key == key).exists()


def _as_op(item: OutboxItem) -> dict:
    """An operation as pushed: with ``created``, the time it was queued here (UTC), by which the central store
    judges whether the patron's visit, or this kiosk's time out of contact, covers it (docs/sync.md)."""
    op = {"seq": item.seq, "key": item.key, "type": item.op_type, "payload": json.loads(item.payload)}
    if isinstance(item.created, dt.datetime):
        op["created"] = item.created.replace(microsecond=0).isoformat() + "Z"
    return op


class PushBusy(CentralError):
    """Another process of this kiosk is pushing and did not finish within the wait: nothing was sent."""

    def __init__(self, waited: float):
        super().__init__(409, "push_busy", f"another push of this kiosk is still running after {waited:g} s")


@contextlib.contextmanager
def push_turn(wait: float | None = None):
    """This kiosk's turn to push: the web app (a patron's renewal) and the sync worker are separate processes, and
    the central store answers a second push of one device ``in_progress`` while the first runs; so they take
    turns on a lock file beside the cache (``flock``, freed by the kernel if a process dies). ``wait``: seconds
    to wait at most (None: as long as it takes); ``PushBusy`` when that passes."""
    path = getattr(cache_db.obj, "database", "") if cache_db.obj is not None else ""
    if not path or path == ":memory:":
        yield
        return
    fd = os.open(f"{path}.push-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise PushBusy(wait) from None
                    time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # (closing frees the lock)


def push(client, cache, batch: int = 100, until_seq: int | None = None, max_batches: int | None = None,
         wait: float | None = None) -> dict:
    """Send pending operations in order until the outbox is empty (or ``until_seq`` is answered), in this
    kiosk's turn (``push_turn``: ``wait`` seconds at most, else ``PushBusy`` and nothing sent).

    Returns {"sent", "applied", "rejected", "answers": {key: answer}}. Raises
    ``CentralUnavailable`` when the central store does not answer (everything
    stays queued) and ``CentralError`` for a refusal the kiosk cannot fix itself.
    """
    with push_turn(wait):
        return _push(client, cache, batch, until_seq, max_batches)


def _push(client, cache, batch: int, until_seq: int | None, max_batches: int | None) -> dict:
    summary = {"sent": 0, "applied": 0, "rejected": 0, "answers": {}}
    batches = 0
    close_gaps()
    while True:
        items = pending(batch)
        if until_seq is not None:
            items = [item for item in items if item.seq <= until_seq]
        if not items:
            return summary
        ops = [_as_op(item) for item in items]
        summary["sent"] += len(ops)
        try:
            answer = client.push_ops(ops)
        except CentralUnavailable as exc:
            _note_attempt(items, str(exc))
            raise
        except CentralError as refusal:
            _settle(cache, refusal.body.get("results") or [], refusal.body.get("records") or [], summary)
            if refusal.code == "sequence_gap" and _renumber(refusal.body.get("expected_seq")):
                continue
            _note_attempt(items[:1], f"{refusal.code}: {refusal.message}")
            raise
        _settle(cache, answer.get("results") or [], answer.get("records") or [], summary)
        batches += 1
        if max_batches and batches >= max_batches:
            return summary


def _note_attempt(items, error: str) -> None:
    keys = [item.key for item in items]
    with cache_db.atomic():
        OutboxItem.update(attempts=OutboxItem.attempts + 1, last_error=error[:500]).where(
            OutboxItem.key.in_(keys)).execute()


def _settle(cache, results: list[dict], records: list[dict], summary: dict) -> None:
    """Remove answered operations, keep rejections and conflicts, refresh touched patrons: one transaction."""
    if not results and not records:
        return
    with cache_db.atomic():
        keys = []
        for result in results:
            key = result.get("key")
            if not key:
                continue
            keys.append(key)
            summary["answers"][key] = result
            item_seq = result.get("seq", 0)
            if result.get("status") == "rejected":
                summary["rejected"] += 1
                OpResult.insert(key=key, seq=item_seq, op_type=result.get("type", ""),
                                primary_id=result.get("primary_id", ""), status="rejected",
                                reason=result.get("reason", ""), detail=result.get("message", "")
                                ).on_conflict_ignore().execute()
            else:
                summary["applied"] += 1
                refused = (result.get("result") or {}).get("pending_refused") or []
                if result.get("type") == "checkout" and (result.get("result") or {}).get("conflict"):
                    lent = result.get("result") or {}
                    OpResult.insert(key=key, seq=item_seq, op_type="checkout",
                                    primary_id=result.get("primary_id", ""), status="conflict",
                                    reason="checkout_refused_at_replay",
                                    detail=f"item {lent.get('item_barcode', '')} was lent offline but refused by the "
                                           f"central store: {lent.get('reason', '')}").on_conflict_ignore().execute()
                if refused:
                    OpResult.insert(key=key, seq=item_seq, op_type=result.get("type", ""),
                                    primary_id=result.get("primary_id", ""), status="conflict",
                                    reason="renewal_refused_at_replay",
                                    detail=f"loans {refused} were renewed offline but refused by the central store;"
                                           f" letter: {(result.get('result') or {}).get('letter', '')}"
                                    ).on_conflict_ignore().execute()
        _keep_renewal_answers(results)
        for start in range(0, len(keys), 500):
            OutboxItem.delete().where(OutboxItem.key.in_(keys[start:start + 500])).execute()
        if records:
            cache.apply_records(records)
        _set_state(last_push_ok=clock.now().isoformat() + "Z")  # this box's own log, as last_pull_ok


def _keep_renewal_answers(results: list[dict]) -> None:
    """Keep each renewal's per-loan outcome (in ``_settle``'s transaction), and forget those older than a day."""
    rows = []
    for result in results:
        if result.get("type") != "renew" or not result.get("key"):
            continue
        if result.get("status") == "rejected":
            loans = [{"loan_id": None, "renewed": False, "new_due_date": None, "reason": result.get("reason", ""),
                      "message": result.get("message", "")}]
        else:
            loans = (result.get("result") or {}).get("results") or []
        rows.append({"key": result["key"], "results": json.dumps(loans, separators=(",", ":")),
                     "created": clock.now()})
    if rows:
        RenewalAnswer.insert_many(rows).on_conflict_replace().execute()
    RenewalAnswer.delete().where(RenewalAnswer.created < clock.now() - dt.timedelta(days=ANSWER_DAYS)).execute()


def renewal_answers(keys: list[str]) -> dict:
    """For each queued renewal's key: None while it waits in the outbox (pending), else what the central store
    answered, ``{loan_id: result}`` (a rejected operation: ``{None: result}``, for every loan); keys neither
    waiting nor answered (forgotten) are left out."""
    keys = [k for k in keys if k]
    if not keys:
        return {}
    waiting = {row.key for row in OutboxItem.select(OutboxItem.key).where(OutboxItem.key.in_(keys))}
    found: dict = dict.fromkeys(waiting)
    for row in RenewalAnswer.select().where(RenewalAnswer.key.in_(keys)):
        found[row.key] = {r.get("loan_id"): r for r in json.loads(row.results)}
    return found


def close_gaps() -> int:
    """Renumber pending operations so their sequence numbers follow on without a hole (an operation taken back
    by ``withdraw`` leaves one; a hole would make every push after it refused). Safe: none of them has been
    applied (the central store applies a device's operations in order, and none could follow the hole), and the
    central store knows an operation by its key and payload, never its number. Returns how many moved."""
    moved = 0
    with cache_db.atomic("IMMEDIATE") if _is_sqlite() else cache_db.atomic():  # no enqueue in between
        items = pending()
        if not items or items[-1].seq - items[0].seq == len(items) - 1:
            return 0
        for number, item in enumerate(items, start=items[0].seq):
            if item.seq != number:
                OutboxItem.update(seq=number).where(OutboxItem.key == item.key).execute()
                moved += 1
        if int(_state("op_seq", "0")) == items[-1].seq:
            _set_state(op_seq=items[0].seq + len(items) - 1)
    log.warning("outbox: closed a gap in the sequence (%d operations renumbered)", moved)
    return moved


def _renumber(expected) -> bool:
    """The central store expects an earlier number (this kiosk was enrolled again): renumber what is pending."""
    first = OutboxItem.select(pw.fn.MIN(OutboxItem.seq)).scalar()
    if not isinstance(expected, int) or first is None or expected >= first:
        return False
    shift = first - expected
    with cache_db.atomic():
        for item in pending():
            OutboxItem.update(seq=item.seq - shift).where(OutboxItem.key == item.key).execute()
        _set_state(op_seq=int(_state("op_seq", "0")) - shift)
    return True


def withdraw(item: OutboxItem) -> None:
    """Take back an operation the central store certainly never received (its connection failed)."""
    with cache_db.atomic():
        if OutboxItem.delete().where(OutboxItem.key == item.key).execute() and int(_state("op_seq", "0")) == item.seq:
            _set_state(op_seq=item.seq - 1)  # else the gap is closed at the next push (close_gaps)


def rejected(limit: int = 50) -> list[dict]:
    return [{"key": r.key, "seq": r.seq, "type": r.op_type, "primary_id": r.primary_id, "status": r.status,
             "reason": r.reason, "detail": r.detail, "created": r.created.isoformat() + "Z"}
            for r in OpResult.select().order_by(OpResult.created.desc()).limit(limit)]
