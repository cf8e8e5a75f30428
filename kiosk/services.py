"""What the kiosk's routes ask for, in one place: find a patron, renew, lock a card.

The routes call these functions and nothing else below them, so how an answer
is obtained (the local cache, the central store over HTTP, later the outbox when
the central store is down) can change without touching a screen.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app

from kiosk import trusted_clock, usage
from kiosk.central_client import CentralError, CentralUnavailable
from library_kiosk.domain import clock
from library_kiosk.domain.account import Account


@dataclass(frozen=True)
class RenewalOutcome:
    loan_id: int
    title: str
    renewed: bool
    new_due_date: dt.date | None
    reason: str
    message: str
    pending: bool = False  # queued and waiting for the central store (decided here offline, or unanswered)
    key: str = ""  # the queued operation's key while pending: its outcome is looked up by it (renewal_updates)


def _cache():
    return current_app.extensions["patron_cache"]


def _central():
    return current_app.extensions["central"]


def find_patron(identifier: str) -> Account | None:
    """The patron holding ``identifier``, read through the central store whenever it answers: it reads the
    patron from the library system behind it (or its copy, if read within its freshness window), or from its own
    records, opens a visit there (``g.visit``) and this kiosk keeps the answer. So a patron this kiosk does not
    hold (never seen, or outside the patrons the central store sends it: ``[central] sync_recent_days``) is
    found in one tap, and a block lifted upstream is gone at the next. With the central store (or the library
    system behind it) away, from this kiosk's cache, or the central store's copy.

    ``g.lookup`` says how it was found: "cache" (the central store's own records, or this kiosk's copy of them),
    "checked" (from the library system now, or within its freshness window), "stale" (the central store's
    copy: the library system is away) or "unchecked" (not asked, and the answer may be missing or old: this
    kiosk's copy, while a library system or a scoped sync stands behind it); ``g.as_of`` when a stale or
    unchecked account was last read (ISO, UTC)."""
    from flask import g

    cache = _cache()
    g.lookup, g.as_of, g.visit = "cache", "", ""
    local = capabilities().get("kind", "local") == "local"
    if central_online():
        try:
            answer = _central().refresh(identifier, float(_kiosk_config()["read_through_seconds"]))
        except CentralError as exc:
            if exc.status == 404:  # neither the library system nor the store knows it
                g.lookup = "cache" if local else "checked"
                return None
            current_app.logger.warning("patron not read through: the central store refused (%s)", exc.code)
        except CentralUnavailable as exc:  # central store away, or the library system behind it (503)
            current_app.logger.warning("patron not read through: %s", exc)
        else:
            g.visit = answer.get("visit") or ""
            if answer.get("source") == "offline":  # the library system is away: the central store's own copy
                g.lookup, g.as_of = "stale", answer.get("read_at") or ""
            elif not local:
                g.lookup = "checked"
            return _keep_refreshed(cache, answer)
    found = cache.find(identifier)
    if not local or (found is None and cache.scoped()):
        g.lookup, g.as_of = "unchecked", cache.state("last_pull_ok")
    return found


def _keep_refreshed(cache, answer: dict) -> Account | None:
    """Keep the central store's fresh record of the patron in the cache (as a push answer's) and return it."""
    from kiosk.pages import PageError

    record = answer.get("record")
    try:
        if isinstance(record, dict):
            cache.apply_records([record])
    except PageError as exc:
        current_app.logger.warning("a refreshed record was malformed and not kept: %s", exc)
    found = cache.get(answer.get("primary_id", ""))
    if found is None and isinstance(answer.get("account"), dict):
        return Account.from_dict(answer["account"])
    return found



def end_central_visit(primary_id: str, visit: str) -> bool:
    """Tell the central store the patron's visit has ended (it tells the library system: SIP2 35). Waits at
    most a second, and only when the central store answered lately; a failure changes nothing here (the
    visit then lapses by itself after ``[central] visit_minutes``)."""
    if not primary_id or not visit or not central_online():
        return False
    try:
        return _central().end_visit(primary_id, visit, min(1.0, float(_kiosk_config()["central_timeout_seconds"])))
    except (CentralError, CentralUnavailable) as exc:
        current_app.logger.info("the end of a visit was not told to the central store: %s", exc)
        return False


def get_patron(primary_id: str) -> Account | None:
    return _cache().get(primary_id)


def central_online() -> bool:
    """Whether the central store answered at the last contact (the screens say so discreetly when not)."""
    from kiosk import sync

    cache = _cache()
    if cache.state("central_online", "1") == "1":
        return True
    checked = cache.state("central_checked")
    retry = _kiosk_config().get("sync_interval_seconds", 5.0)
    if checked and (clock.now()
                    - dt.datetime.fromisoformat(checked.rstrip("Z"))).total_seconds() > retry:
        online = _central().health()  # the sync worker has not looked lately: look now
        sync.note_online(cache, online)
        return online
    return False


PUSH_WAIT = 3.0  # seconds a patron's push waits for the sync worker's push to finish (kiosk/outbox.push_turn)
OFFLINE_REFUSED = "the central store is offline and [kiosk] offline_renewals is \"refuse\""
UNCONFIRMED = "Your renewal has been sent and will be confirmed when the library system answers."
PENDING = "Renewed here until {date:%d %B %Y}; this will be confirmed when the library system answers."


def renew(account: Account, loan_ids: list[int] | None, visit: str = "") -> list[RenewalOutcome]:
    """Renew the given loans (all when None). Every renewal goes through the durable outbox, within the patron's
    ``visit`` at this kiosk (the id the central store gave at identification or at the PIN; none when the patron
    was identified offline: the central store then accepts it only as made while this kiosk was out of contact).

    Online: queued, sent at once, and the central store's answer returned (cache refreshed).
    Offline (``[kiosk] offline_renewals``): "refuse" refuses without queueing (raising
    ``CentralUnavailable`` when the connection failed just now); "local" decides
    from the cached rules (``library_kiosk.domain.renewal.decide``), updates the cached loans in the same
    transaction as the queued operation, and marks the outcomes ``pending``. If the central
    store stops answering mid-renewal, the operation stays queued and the outcome is pending
    ("unconfirmed"): it will be applied exactly once when the central store is back.
    """
    titles = {loan.loan_id: loan.title for loan in account.loans}
    wanted = [loan.loan_id for loan in account.loans] if loan_ids is None else list(loan_ids)
    if not central_online():
        return _renew_offline(account, wanted, titles, visit)
    return _renew_online(account, loan_ids, wanted, titles, visit)


def _renews_locally() -> bool:
    """Whether this kiosk decides renewals itself while the central store is down (``[kiosk] offline_renewals``)."""
    return _kiosk_config().get("offline_renewals", "refuse") == "local"


def _queued_titles(wanted: list[int], titles: dict) -> dict:
    """The loans' titles, carried by the queued operation so the central store's records can name them."""
    return {str(i): titles.get(i, "") for i in wanted}


def _in_visit(payload: dict, visit: str) -> dict:
    """An operation's payload with the patron's visit at this kiosk, when there is one (docs/sync.md)."""
    return {**payload, "visit": visit} if visit else payload


def _renew_offline(account: Account, wanted: list[int], titles: dict, visit: str = "") -> list[RenewalOutcome]:
    """The central store is down: refuse (nothing is queued), or decide here and queue the decisions for the
    central store to confirm on replay."""
    if not _renews_locally():
        raise CentralUnavailable(OFFLINE_REFUSED, not_sent=True)  # the screens say so; nothing is queued
    if not time_trusted():  # the due dates would come from a clock nobody has checked: refused the same way
        current_app.logger.warning("offline renewal refused: %s", trusted_clock.UNTRUSTED)
        raise CentralUnavailable(trusted_clock.UNTRUSTED, not_sent=True)
    decisions = _decide_locally(account, wanted)
    granted = [(i, d) for i, d in zip(wanted, decisions) if d and d.renewed]
    key = _queue_local_decisions(account, [i for i, _d in granted], titles, [d for _i, d in granted], visit) \
        if granted else ""  # a renewal refused here is not queued: there is nothing for the central store to do
    return [_pending_outcome(loan_id, titles, decision, key) for loan_id, decision in zip(wanted, decisions)]


def time_trusted() -> bool:
    """Whether this kiosk learnt the time from the central store within ``[kiosk] trusted_time_hours``
    (kiosk/trusted_clock.py): without it, nothing that depends on the date is decided here offline."""
    return trusted_clock.trusted(float(_kiosk_config().get("trusted_time_hours", trusted_clock.DEFAULT_HOURS)))


def _decide_locally(account: Account, wanted: list[int]) -> list:
    """The cached rules' decision for each wanted loan, on the app's day (the trusted clock's:
    kiosk/trusted_clock.py); None for a loan that is not on the account."""
    from library_kiosk.domain.renewal import decide

    today = current_app.config["TODAY"]()
    decisions = []
    for loan_id in wanted:
        loan = account.loan(loan_id)
        decisions.append(decide(account, loan, today) if loan else None)
    return decisions


def _queue_local_decisions(account: Account, wanted: list[int], titles: dict, decisions: list,
                           visit: str = "") -> str:
    """Queue the renewals granted here with this kiosk's decisions (and the renewals each loan had, so the central
    store can tell a loan renewed meanwhile elsewhere: its letter says so), and renew the cached loans in the
    same transaction: the screens show the new due dates at once, and a crash cannot keep one without the
    other. The operation's key."""
    from kiosk import outbox

    cache = _cache()
    seen = {loan.loan_id: loan.renewals for loan in account.loans}
    local = [{"loan_id": i, "renewed": bool(d and d.renewed), "renewals": seen.get(i, 0),
              "new_due_date": d.new_due_date.isoformat() if d and d.new_due_date else None}
             for i, d in zip(wanted, decisions)]
    renewed = {d.loan_id: d.new_due_date for d in decisions if d and d.renewed}

    def effect():
        if renewed:
            cache.replace_account(_with_renewals(account, renewed))

    return outbox.enqueue("renew", _in_visit({"primary_id": account.primary_id, "loan_ids": wanted, "local": local,
                                              "titles": _queued_titles(wanted, titles)}, visit), effect).key


def _pending_outcome(loan_id: int, titles: dict, decision, key: str = "") -> RenewalOutcome:
    """What the patron is told of a decision made here: a renewal granted is pending (queued under ``key``) until
    the central store confirms it; one refused here is a refusal, with its reason (nothing was queued)."""
    if decision is None:
        return RenewalOutcome(loan_id, "", False, None, "unknown_loan", "This loan was not found on your account.")
    if decision.renewed:
        return RenewalOutcome(loan_id, titles[loan_id], True, decision.new_due_date, "",
                              PENDING.format(date=decision.new_due_date), True, key)
    return RenewalOutcome(loan_id, titles[loan_id], False, None, decision.reason, decision.message)


def _renew_online(account: Account, loan_ids: list[int] | None, wanted: list[int],
                  titles: dict, visit: str = "") -> list[RenewalOutcome]:
    """Queue the renewal and send it at once: the central store decides. If the connection failed before anything
    was sent, the renewal has been taken back and the offline policy applies."""
    from kiosk import outbox

    item = outbox.enqueue("renew", _in_visit({"primary_id": account.primary_id, "loan_ids": wanted,
                                              "titles": _queued_titles(wanted, titles)}, visit))
    try:
        answer = _ask_central(item)
    except CentralUnavailable:  # it never left the kiosk and is withdrawn
        if not _renews_locally():
            raise
        return renew(account, loan_ids, visit)
    return _merge_answer(answer, wanted, titles, item.key)


def _ask_central(item, take_back: bool = True, backlog: int | None = 50) -> dict | None:
    """Push the outbox up to ``item`` and return the central store's answer for it; None when there is none now (a
    backlog longer than ``backlog`` is left to the sync worker, the push was refused, or the central store stopped
    answering: the operation stays queued). With ``take_back``, ``CentralUnavailable`` when the push certainly
    never left the kiosk, after ``item`` is withdrawn (the caller follows its offline policy); without, it stays
    queued too."""
    from kiosk import outbox, sync

    cache = _cache()
    answer = None
    try:
        if backlog is None or outbox.length() <= backlog:  # a long one is the sync worker's: the patron waits not
            answer = outbox.push(_central(), cache, until_seq=item.seq, wait=PUSH_WAIT)["answers"].get(item.key)
        sync.note_online(cache, True)
    except CentralUnavailable as exc:
        sync.note_online(cache, False, f"central store not reachable: {exc}")
        if take_back and exc.not_sent:  # it never left the kiosk: take it back (the caller follows the offline policy)
            outbox.withdraw(item)
            raise
    except CentralError as exc:
        current_app.logger.warning("%s queued; the central store refused the push: %s", item.op_type, exc)
    return answer


def _merge_answer(answer: dict | None, wanted: list[int], titles: dict, key: str = "") -> list[RenewalOutcome]:
    """The central store's answer as outcomes, with the titles the kiosk knows: every loan unconfirmed (pending,
    under the operation's ``key``) without an answer, every loan refused when the operation was rejected, else
    the answer's results."""
    if answer is None:
        return [RenewalOutcome(i, titles.get(i, ""), False, None, "unconfirmed", UNCONFIRMED, True, key)
                for i in wanted]
    if answer.get("status") == "rejected":
        return [RenewalOutcome(i, titles.get(i, ""), False, None, answer.get("reason", "rejected"),
                               answer.get("message", "")) for i in wanted]
    return [
        RenewalOutcome(
            loan_id=r["loan_id"],
            title=titles.get(r["loan_id"], ""),
            renewed=r["renewed"],
            new_due_date=dt.date.fromisoformat(r["new_due_date"]) if r["new_due_date"] else None,
            reason=r["reason"],
            message=r["message"],
        )
        for r in answer["result"]["results"]
    ]


def renewal_updates(pending: list[tuple[int, str]]) -> dict[int, RenewalOutcome]:
    """The outcomes now known of renewals shown as pending: ``pending`` is (loan id, the operation's key); returns
    {loan id: outcome} for those the central store has answered (the push of the web app or the sync worker,
    ``outbox.RenewalAnswer``), the due date as it answered. Still queued, or forgotten: left out."""
    from kiosk import outbox

    answers = outbox.renewal_answers(sorted({key for _loan, key in pending}))
    known = {}
    for loan_id, key in pending:
        found = answers.get(key)
        if not found:
            continue
        result = found.get(loan_id) or found.get(None)
        if result is None:
            continue
        due = result.get("new_due_date")
        known[loan_id] = RenewalOutcome(loan_id, "", bool(result.get("renewed")),
                                        dt.date.fromisoformat(due) if due else None, result.get("reason", ""),
                                        result.get("message", ""))
    return known


def _with_renewals(account: Account, renewed: dict) -> Account:
    import dataclasses

    loans = tuple(dataclasses.replace(loan, due_date=renewed[loan.loan_id], renewals=loan.renewals + 1)
                  if loan.loan_id in renewed else loan for loan in account.loans)
    return dataclasses.replace(account, loans=loans)


# --- the cache's storage: what cannot be recorded is not promised (issue 21) ---

class StorageFault(Exception):
    """This kiosk cannot record what it would promise: its cache is full, read-only, missing or damaged
    (``problem``: kiosk/heartbeat.py ``STORAGE_WORDS``). The screens say it is out of order."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


STORAGE_RETRY_SECONDS = 30.0  # after a storage fault, the screens say out of order this long before trying again
PROBE_BYTES = 16384  # the probe's write: a few pages, as much as a patron's record or a renewal may need
CALL_AGAIN_SECONDS = 600.0  # the kiosk calls staff about its storage at most this often
TRY_CALL_SECONDS = 60.0  # and tries again this long after a call that could not be made


def _moment() -> float:
    return clock.now_aware().timestamp()  # the product's clock: tests move it on, never sleep


def check_storage() -> None:
    """Raise ``StorageFault`` when this kiosk cannot record what it would promise: a fault met within
    ``STORAGE_RETRY_SECONDS`` (it is tried again after that: freed space needs no restart), or a write begun and
    rolled back now fails (full, read-only, missing, damaged). Called before anything is counted or shown, so a
    wrong PIN is never counted on a cache where the account could not be shown, nor the other way round."""
    noted = current_app.extensions.get("storage_fault")
    if noted and _moment() - noted["at"] < STORAGE_RETRY_SECONDS:
        raise StorageFault(noted["problem"])
    try:
        _probe_write()
    except Exception as exc:
        problem = storage_fault(exc)
        if problem is None:
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                return  # the sync worker is writing (beyond the busy timeout): busy, not broken; go on
            raise
        raise StorageFault(problem) from exc
    current_app.extensions.pop("storage_fault", None)


def _probe_write() -> None:
    """Room on the cache's disk (``heartbeat.check_free_space``), then a write of a few pages begun and rolled
    back, without waiting for the write lock (the screen never waits for the sync worker: a locked cache is busy,
    not broken)."""
    import peewee

    from kiosk.cache_db import SyncState, cache_db

    if not isinstance(cache_db.obj, peewee.SqliteDatabase):  # (the cache is SQLite; anything else: not probed)
        return
    from kiosk import heartbeat

    if cache_db.obj.database not in ("", ":memory:"):
        heartbeat.check_free_space(cache_db.obj.database)  # a full disk, even where the log's old pages take the write
    waits = cache_db.execute_sql("PRAGMA busy_timeout").fetchone()[0]
    cache_db.execute_sql("PRAGMA busy_timeout = 0")
    try:
        try:  # (by hand: atomic() would try to roll back a BEGIN that failed, and hide why it failed)
            cache_db.execute_sql("BEGIN IMMEDIATE")
        except peewee.OperationalError as exc:
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                return  # another connection holds the write lock: busy, not broken
            raise
        try:
            SyncState.replace(name="storage_probe", value="-" * PROBE_BYTES).execute()
        finally:
            if cache_db.connection().in_transaction:  # (SQLite may have rolled back a failed write itself)
                cache_db.execute_sql("ROLLBACK")
    finally:
        cache_db.execute_sql(f"PRAGMA busy_timeout = {int(waits)}")


def storage_fault(exc: BaseException) -> str | None:
    """Note a storage fault met by this app (the screens then say out of order for a while; ``kiosk doctor`` and
    the sync worker's heartbeat read the note beside the cache); its problem, or None for any other error."""
    from kiosk import heartbeat, sync

    problem = heartbeat.note_storage(exc, sync.cache_url(), remember=False)
    if problem:
        current_app.extensions["storage_fault"] = {"problem": problem, "at": _moment()}
        current_app.logger.warning("kiosk cache: %s (%s)", heartbeat.STORAGE_WORDS[problem], exc)
    return problem


def call_staff_out_of_order() -> bool:
    """Tell staff this kiosk is out of order, at once through the central store (the outbox is in the cache
    that cannot be written), at most every ``CALL_AGAIN_SECONDS``; True when the call was made now."""
    last = current_app.extensions.get("out_of_order_called")
    if last is not None and _moment() - last["at"] < (CALL_AGAIN_SECONDS if last["made"] else TRY_CALL_SECONDS):
        return False
    current_app.extensions["out_of_order_called"] = {"at": _moment(), "made": False}
    try:  # (a central store away costs one patron its timeout, not every patron)
        _central().staff_call("out_of_order")
    except (CentralError, CentralUnavailable) as exc:
        current_app.logger.warning("staff not called about the kiosk being out of order: %s", exc)
        return False
    current_app.extensions["out_of_order_called"]["made"] = True
    return True


# --- PIN, lockouts, letters, receipts, calls for staff (issue 3: the patron screens) ---

@dataclass(frozen=True)
class PinResult:
    ok: bool
    attempts_left: int | None = 0
    locked_until: dt.datetime | None = None  # UTC, naive
    message: str = ""  # set when the PIN could not be checked at all (nothing was counted)
    paused_until: dt.datetime | None = None  # PIN entry at this kiosk waits until then (UTC, naive)
    visit: str = ""  # checked right by the central store: the patron's verified visit there (docs/sync.md)


PIN_UNCHECKED = ("Your PIN cannot be checked just now because the library system cannot be reached. "
                 "Please try again later or ask at the desk.")


def _kiosk_config() -> dict:
    return current_app.config["KIOSK"]["kiosk"]


def _lock_longest() -> dt.timedelta:
    """The longest a card can be locked from now: this kiosk's lockout, or the central store's (mirrored here),
    whichever is longer. A lock ending later was made under a clock that was ahead (kiosk/lockout.py)."""
    config = current_app.config["KIOSK"]
    minutes = max(float(_kiosk_config()["pin_lockout_minutes"]),
                  float(config.get("central", {}).get("pin_lockout_minutes", 0) or 0))
    return dt.timedelta(minutes=minutes)


def _pins_pause_longest() -> dt.timedelta:
    """The longest PIN entry at this kiosk can be paused from now: its own pause, or a minute (the central store's
    ``Retry-After`` for too many checks a minute), whichever is longer."""
    return dt.timedelta(seconds=max(float(_kiosk_config()["wrong_pins_pause_seconds"]), 60.0))


def pin_locked_until(primary_id: str) -> dt.datetime | None:
    """When the card's lock at this kiosk ends (UTC, trusted clock), or None when it is not locked."""
    from kiosk import lockout

    return lockout.locked_until(primary_id, longest=_lock_longest())


def check_pin(account: Account, pin: str, visit: str = "") -> PinResult:
    """Check ``pin``: the central store is the authority while it answers; offline, this kiosk decides.

    ``visit`` is the patron's visit the central store opened at identification: a PIN it finds right verifies
    it (or a verified one is opened), and ``PinResult.visit`` is the id to keep in the session.

    Online, every check goes to the central store (``POST .../verify-pin``), which counts wrong PINs per patron
    across every kiosk and locks the patron everywhere; its answer (attempts left, the lock and its end) is
    mirrored in this kiosk's counters (``lockout.mirror``), so a lock made there is honoured here, offline too.
    Offline (or when the central store cannot be reached), the kiosk falls back to its own counters and
    ``_check_offline``; a PIN that cannot be checked at all is refused with ``PIN_UNCHECKED`` and nothing is
    counted: an unchecked PIN is never accepted. The last allowed local failure locks the card here for
    ``pin_lockout_minutes`` and reports the lockout to the central store (``record_lockout``). Every wrong PIN
    also counts towards this kiosk's wrong-PIN throttle (``[kiosk] wrong_pins_per_minute``, any cards), which
    pauses PIN entry here for a while.
    """
    from kiosk import lockout

    paused = lockout.pins_paused_until(longest=_pins_pause_longest())
    if paused:
        return PinResult(False, None, None, paused_until=paused)
    until = lockout.locked_until(account.primary_id, longest=_lock_longest())
    if until:
        return PinResult(False, 0, until)
    result = _check_at_central(account, pin, visit) if central_online() else None
    if result is None:
        result = _check_here(account, pin)
    if not result.ok and not result.message and result.paused_until is None:
        config = _kiosk_config()
        paused = lockout.wrong_pin(int(config["wrong_pins_per_minute"]), float(config["wrong_pins_pause_seconds"]))
        if paused:
            result = PinResult(False, result.attempts_left, result.locked_until, paused_until=paused)
    return result


def _check_offline(account: Account, pin: str) -> bool | None:
    """This kiosk's own check of a PIN (the central store cannot be asked): the few bits of the PIN's offline
    check value (domain/offline_pin.py). None when it cannot check: no value (none sent, or the library's policy
    sends none) or no key (the kiosk has not reached the central store since it started)."""
    from kiosk.device_keys import KeysUnavailable
    from library_kiosk.domain import offline_pin

    if not account.pin_check:
        return None
    try:
        keys = _cache().device_keys()
    except KeysUnavailable:
        return None
    return offline_pin.matches(keys.pin_check_key, account.primary_id, pin, account.pin_check)


def _check_here(account: Account, pin: str) -> PinResult:
    """Offline: this kiosk's check and counters decide."""
    from kiosk import lockout

    config = _kiosk_config()
    ok = _check_offline(account, pin) if pin else False
    if ok is None:
        return PinResult(False, None, None, PIN_UNCHECKED)
    if ok:
        lockout.clear(account.primary_id)
        return PinResult(True, config["pin_max_attempts"])
    return _wrong_here(account)


def _wrong_here(account: Account) -> PinResult:
    """Count a wrong PIN on this kiosk's counter; the last allowed one locks the card here and is reported."""
    from kiosk import lockout

    config = _kiosk_config()
    left, locked = lockout.failure(account.primary_id, config["pin_max_attempts"], config["pin_lockout_minutes"])
    if locked:
        until = lockout.locked_until(account.primary_id, longest=_lock_longest())
        record_lockout(account.primary_id, until)
        return PinResult(False, 0, until)
    return PinResult(False, left)


def _check_at_central(account: Account, pin: str, visit: str = "") -> PinResult | None:
    """The central store's answer, mirrored here; None when it could not be asked (fall back to this kiosk)."""
    from kiosk import lockout

    answer = _secret_check_at_central(account.primary_id, _in_visit({"pin": pin}, visit), "PIN")
    if answer is None:
        return None
    if answer.get("retry_after") is not None:  # 429: this kiosk asked too often; wait, check nothing
        paused = trusted_clock.now() + dt.timedelta(seconds=answer["retry_after"])
        lockout.pin_paused(paused)
        return PinResult(False, None, None, paused_until=paused)
    if answer.get("not_found"):  # not a patron there: wrong, counted here
        return _wrong_here(account)
    config = _kiosk_config()
    if answer.get("ok") is True:
        lockout.clear(account.primary_id)
        return PinResult(True, _whole(answer.get("attempts_left"), config["pin_max_attempts"]),
                         visit=_visit_of(answer))
    until = _timestamp(answer.get("locked_until"))
    left = 0 if until else _whole(answer.get("attempts_left"), config["pin_max_attempts"] - 1)
    lockout.mirror(account.primary_id, int(config["pin_max_attempts"]) - left, until)
    return PinResult(False, left, until)


def _visit_of(answer: dict) -> str:
    """The visit id in a central store's answer ("" when there is none, or it is not one)."""
    visit = answer.get("visit")
    return visit if isinstance(visit, str) and len(visit) <= 64 else ""


def _whole(value, default) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else int(default)


def _timestamp(value) -> dt.datetime | None:
    """A central store's UTC time (``...Z``) as naive UTC; None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        return None
    return moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def verify_pin_upstream(primary_id: str, pin: str) -> bool | None:
    """Ask the central store to check ``pin`` with the library system (``POST .../verify-pin``, the PIN in
    the body). True or False when it was checked; None when it could not be (offline, upstream down)."""
    return _verify_at_central(primary_id, {"pin": pin}, "PIN")


def verify_password_central(primary_id: str, password: str) -> bool | None:
    """Ask the central store whether ``password`` is the patron's (the same ``POST .../verify-pin`` route,
    ``{"password": ...}`` in the body: the patron's password hash there, else the library system). True or
    False when it was checked; None when it could not be (offline, upstream down)."""
    return _verify_at_central(primary_id, {"password": password}, "password")


def _verify_at_central(primary_id: str, body: dict, what: str) -> bool | None:
    answer = _secret_check_at_central(primary_id, body, what)
    if answer is None:
        return None
    return answer.get("ok") is True


def _secret_check_at_central(primary_id: str, body: dict, what: str) -> dict | None:
    """The central store's answer to ``POST .../verify-pin`` (``ok``, ``attempts_left``, ``locked_until``, and when
    right the patron's verified ``visit``; or ``retry_after`` after a 429); None when it could not check (offline,
    the library system down, refused). ``body`` holds the secret and the session's ``visit``, if any."""
    from urllib.parse import quote

    if not central_online():
        return None
    central = _central()
    try:
        response = central._send("POST", f"/api/v1/patrons/{quote(primary_id, safe='')}/verify-pin", json=body)
        if response.status_code == 429:  # this kiosk asked too often: wait as long as it is told
            current_app.logger.warning("%s not checked: too many checks from this kiosk", what)
            return {"ok": False, "retry_after": _whole(_int_or_none(response.headers.get("Retry-After")), 60)}
        return central._json(response)
    except CentralUnavailable as exc:  # includes 503: the library system behind it is down
        current_app.logger.warning("%s not checked: %s", what, exc)
        return None
    except CentralError as exc:
        if exc.status == 404:  # not a patron there: no secret can be right
            return {"ok": False, "not_found": True}
        current_app.logger.warning("%s not checked: the central store refused (%s)", what, exc.code)
        return None


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


# --- Signing in without a card (kiosk/signin.py): user name and password ---

@dataclass(frozen=True)
class SignInResult:
    account: Account | None = None  # set when signed in
    locked_until: dt.datetime | None = None  # this account (or name) is locked at this kiosk (UTC, naive)
    paused_until: dt.datetime | None = None  # sign-in at this kiosk is paused (too many failures)
    message: str = ""  # the password could not be checked (nothing was counted)
    visit: str = ""  # signed in: the patron's verified visit at the central store (docs/sync.md)


SIGNIN_UNCHECKED = ("Signing in without a card is not possible just now because the library system cannot be "
                    "reached. Please use your card, or ask at the desk.")
_dummy_hash: list[str] = []


def find_sign_in(user_name: str) -> Account | None:
    """The patron a typed user name names: their primary id (exactly), else any of their active identifiers
    (barcode, card number, ...: what a card tap or a scan finds, the same keyed-hash lookup)."""
    user_name = user_name.strip()
    if not user_name:
        return None
    return get_patron(user_name) or find_patron(user_name)


def sign_in(user_name: str, password: str) -> SignInResult:
    """Sign in with a user name and password instead of a card and PIN.

    The password is checked by the central store (``verify_password_central``): the kiosk's cache holds PIN
    hashes but no password hashes, so offline nothing can check it and sign-in is refused
    (``SIGNIN_UNCHECKED``, nothing counted) -- an unchecked secret is never accepted. A wrong password counts
    on the patron's wrong-PIN counter (``kiosk.lockout``: the same lock, the same report to staff); a user name
    that is nobody's fails the same way, on a counter of its own, after an equally slow check. Every failure
    also counts towards the kiosk's sign-in throttle.
    """
    from flask import g

    from kiosk import lockout
    from library_kiosk.domain.hashing import hash_secret, verify_secret

    paused = lockout.signin_paused_until(
        longest=dt.timedelta(seconds=float(_kiosk_config()["signin_pause_seconds"])))
    if paused:
        return SignInResult(paused_until=paused)
    if not central_online():
        return SignInResult(message=SIGNIN_UNCHECKED)
    account = find_sign_in(user_name)
    key = account.primary_id if account else "?" + _cache().identifier_key(user_name)
    until = lockout.locked_until(key, longest=_lock_longest())
    if until:
        return SignInResult(locked_until=until)
    if account is None:
        if not _dummy_hash:
            _dummy_hash.append(hash_secret("not anyone's password"))
        verify_secret(_dummy_hash[0], password or "x")  # as slow as a real check: no hint the name is nobody's
        answer: dict | None = {"ok": False}
    else:
        found_visit = str(g.get("visit") or "")  # the visit find_patron's read through opened, if it did
        answer = _secret_check_at_central(account.primary_id, _in_visit({"password": password}, found_visit),
                                          "password") if password else {"ok": False}
        if answer is None or "retry_after" in answer:
            return SignInResult(message=SIGNIN_UNCHECKED)
    if answer.get("ok") is True:
        lockout.clear(key)
        return SignInResult(account=account, visit=_visit_of(answer))
    return _sign_in_failed(key, account, _timestamp(answer.get("locked_until")))


def _sign_in_failed(key: str, account: Account | None, central_lock: dt.datetime | None) -> SignInResult:
    """Count a failed sign-in here; a lock the central store made (it counts PINs and passwords for every kiosk)
    is mirrored and needs no report, a lock made here is reported."""
    from kiosk import lockout

    config = _kiosk_config()
    _left, locked = lockout.failure(key, config["pin_max_attempts"], config["pin_lockout_minutes"])
    paused = lockout.signin_failure(max_failures=int(config["signin_max_failures"]),
                                    window_seconds=float(config["signin_window_seconds"]),
                                    pause_seconds=float(config["signin_pause_seconds"]))
    if central_lock is not None:
        lockout.mirror(key, int(config["pin_max_attempts"]), central_lock)
        return SignInResult(locked_until=central_lock, paused_until=paused)
    if locked:
        until = lockout.locked_until(key, longest=_lock_longest())
        if account is not None:
            record_lockout(account.primary_id, until)
        return SignInResult(locked_until=until, paused_until=paused)
    return SignInResult(paused_until=paused)


def record_lockout(primary_id: str, locked_until: dt.datetime | None = None) -> bool:
    """Report that this kiosk locked a card (staff audit log at the central store).

    The report goes through the durable outbox, so a lockout made while the central store
    is down is reported on reconnect; returns True when it was delivered now. (The PIN check
    itself is local and never queued or replayed.)
    """
    from kiosk import outbox, sync

    max_attempts = int(_kiosk_config().get("pin_max_attempts", 0) or 0)
    item = outbox.enqueue("lockout", {"primary_id": primary_id, "failed_attempts": max_attempts,
                                      "locked_until": locked_until.isoformat() + "Z" if locked_until else ""})
    if not central_online():
        return False
    try:
        answers = outbox.push(_central(), _cache(), until_seq=item.seq, wait=PUSH_WAIT)["answers"]
        return item.key in answers
    except CentralUnavailable as exc:
        sync.note_online(_cache(), False, f"central store not reachable: {exc}")
    except CentralError as exc:
        current_app.logger.warning("PIN lockout queued; the central store refused the push: %s", exc)
    return False


def call_staff(reason: str, primary_id: str = "", key: str = "") -> str:
    """Ask for staff (the staff station lists open calls). The call goes through the outbox, so it is never lost
    and made exactly once, even when an answer is lost: "sent" (the central store has it), "queued" (kept here
    and sent as soon as the central store answers: it may already have it) or "failed" (refused). ``key``: the
    tap's own key (the help screen's button): the same tap posted twice is one call, the second post answered as
    the first (by the outbox, or by the central store, which answers a key it has applied with its first answer)."""
    from kiosk import outbox

    item = outbox.enqueue("call_staff", {"reason": reason, "primary_id": primary_id or ""}, key=key)
    answer = _ask_central(item, take_back=False, backlog=None) if central_online() else None
    if answer is None:
        # the same tap's other post may have pushed it meanwhile: answered, it left the outbox
        return "sent" if key and central_online() and not outbox.queued(item.key) else "queued"
    return "sent" if answer.get("status") == "applied" else "failed"


@dataclass(frozen=True)
class LetterOutcome:
    sent: bool
    error: str = ""


def email_letter(primary_id: str, letter_type: str, context: dict | None = None, visit: str = "") -> LetterOutcome:
    """Have the central store email the patron a letter (requests report, loans receipt), within the patron's
    ``visit`` at this kiosk (without one it refuses: 403 ``visit_required``).

    Raises ``CentralUnavailable`` when the central store does not answer.
    """
    try:
        answer = _central().send_letter(primary_id, letter_type, context, visit)
    except CentralError as exc:  # 422: no usable address; 503 mail_unavailable: the mail server refused
        return LetterOutcome(False, exc.message)
    return LetterOutcome(answer.get("status") == "sent")


def queue_letter(primary_id: str, letter_type: str, visit: str = "") -> None:
    """Have the central store email the patron a letter when it can be reached again: an outbox
    operation, applied after the renewals queued before it (their new due dates show), carrying the patron's
    ``visit`` at this kiosk if there is one."""
    from kiosk import outbox

    outbox.enqueue("send_letter", _in_visit({"primary_id": primary_id, "letter_type": letter_type}, visit))


def print_receipt(title: str, account: Account, lines: list[str]) -> bool:
    """Print a receipt on this kiosk's printer (``[kiosk.printer]``); False when none works."""
    from kiosk import receipts

    return receipts.print_receipt(_kiosk_config()["printer"], _kiosk_config()["library_name"], title,
                                  account.display_name, lines, current_app.config["TODAY"]())


def printer_available() -> bool:
    return _kiosk_config()["printer"]["kind"] != "none"


def capabilities() -> dict:
    """What the upstream supports (``GET /api/v1/capabilities``), cached a minute; renew_all defaults to true."""
    import time

    cached = current_app.extensions.get("kiosk_capabilities")
    if cached and time.monotonic() - cached[0] < 60:
        return cached[1]
    found = {"renew_all": True}
    try:
        answer = _central()._call("GET", "/api/v1/capabilities")
        if isinstance(answer, dict):
            found.update({k: v for k, v in answer.items() if isinstance(v, bool)})
            if isinstance(answer.get("kind"), str):
                found["kind"] = answer["kind"]  # "local", "alma", "sip2": whether a library system is behind it
    except (CentralUnavailable, CentralError):
        pass
    current_app.extensions["kiosk_capabilities"] = (time.monotonic(), found)
    return found


# --- borrowing and giving back (issue 18): the central store decides; the outbox makes each exactly once ---

@dataclass(frozen=True)
class CheckoutOutcome:
    """One item the patron asked to borrow, as the borrow tray shows it."""

    item_barcode: str
    title: str
    borrowed: bool
    due_date: dt.date | None
    reason: str  # a key of ``domain.checkout.CHECKOUT_REASONS`` when not borrowed ("" when borrowed)
    message: str  # the plain sentence to show
    pending: bool = False  # queued, not yet confirmed by the central store (lent offline, or its answer lost)
    key: str = ""  # the queued operation's key while pending
    desensitize: bool | None = None  # the library system says clear the item's security (None: not said)


@dataclass(frozen=True)
class CheckinResult:
    """One item given back, as the return screen shows it (never the borrower: nobody identified)."""

    item_barcode: str
    title: str
    returned: bool
    route: str  # a key of ``domain.checkout.CHECKIN_ROUTES``: shelf, hold_shelf, desk, transit
    late_fee: Decimal | None  # the fine for lateness the return made (the library's currency), None: none
    reason: str  # a key of ``domain.checkout.CHECKIN_REASONS`` ("queued": accepted, the central store not told yet)
    message: str
    pending: bool = False
    key: str = ""
    resensitize: bool | None = None  # the library system says set the item's security again (None: not said)


def offline_checkout_allowed() -> bool:
    """Whether this kiosk lends items while the central store cannot be reached (``[kiosk] offline_checkout``)."""
    return _kiosk_config().get("offline_checkout", "refuse") == "allow"


@usage.counted("checkouts", "borrowed")  # kiosk usage statistics: items lent (kiosk/usage.py)
def checkout(account: Account, item_barcode: str, visit: str = "") -> CheckoutOutcome:
    """Lend one item to the identified patron, within their ``visit`` at this kiosk.

    Online: queued in the outbox and sent at once; the central store decides (its rules, or the library system
    behind it) and the answer is returned (the patron's cached record is refreshed by the push's answer). An
    answer lost on the way: pending with reason ``unconfirmed`` (the queued operation is applied exactly once
    when the central store answers). Offline (or the connection failed before anything was sent),
    ``[kiosk] offline_checkout``: "refuse" (default) refuses with ``offline_refused`` and queues nothing; "allow"
    decides here from the cached account (``domain.checkout.decide_offline_checkout``: blocks, expiry, the
    group's loan limit, at most ``offline_checkout_limit`` items lent offline and not yet confirmed), queues the
    checkout with that decision and adds the loan to the cached account in the same transaction; the central
    store decides again at replay, and a refusal there is a sync conflict staff see."""
    from kiosk import outbox
    from library_kiosk.domain.checkout import CheckoutDecision

    barcode = (item_barcode or "").strip()
    if not barcode or len(barcode) > 60:
        return _checkout_outcome(CheckoutDecision(barcode[:60], False, None, "unknown_item"))
    if central_online():
        item = outbox.enqueue("checkout", _in_visit({"primary_id": account.primary_id, "item_barcode": barcode},
                                                    visit))
        try:
            answer = _ask_central(item)
        except CentralUnavailable:  # never sent, withdrawn: the offline policy applies
            return _checkout_offline(account, barcode, visit)
        return _checkout_answer(answer, barcode, item.key)
    return _checkout_offline(account, barcode, visit)


def _checkout_outcome(decision, pending: bool = False, key: str = "") -> CheckoutOutcome:
    return CheckoutOutcome(decision.item_barcode, decision.title, decision.borrowed, decision.due_date,
                           decision.reason, decision.message, pending, key)


def _checkout_answer(answer: dict | None, barcode: str, key: str) -> CheckoutOutcome:
    from library_kiosk.domain.checkout import CHECKOUT_REASONS

    if answer is None:
        return CheckoutOutcome(barcode, "", False, None, "unconfirmed", CHECKOUT_REASONS["unconfirmed"], True, key)
    if answer.get("status") == "rejected":
        return CheckoutOutcome(barcode, "", False, None, answer.get("reason", "rejected"), answer.get("message", ""))
    result = answer.get("result") or {}
    due = result.get("due_date")
    return CheckoutOutcome(barcode, result.get("title", ""), bool(result.get("borrowed")),
                           dt.date.fromisoformat(due) if due else None, result.get("reason", ""),
                           result.get("message", ""), desensitize=_said(result.get("desensitize")))


def _said(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _checkout_offline(account: Account, barcode: str, visit: str) -> CheckoutOutcome:
    import dataclasses
    import zlib

    from kiosk import outbox
    from library_kiosk.domain.account import Loan
    from library_kiosk.domain.checkout import CheckoutDecision, decide_offline_checkout

    if not offline_checkout_allowed():
        return _checkout_outcome(CheckoutDecision(barcode, False, None, "offline_refused"))
    if not time_trusted():  # a due date from a clock nobody has checked: refused as "refuse" refuses
        current_app.logger.warning("offline checkout refused: %s", trusted_clock.UNTRUSTED)
        return _checkout_outcome(CheckoutDecision(barcode, False, None, "offline_refused"))
    cache = _cache()
    account = cache.get(account.primary_id) or account  # with the loans lent offline so far
    today = current_app.config["TODAY"]()
    decision = decide_offline_checkout(account, barcode, today, offline_checkouts(account.primary_id),
                                       int(_kiosk_config().get("offline_checkout_limit", 3)))
    if not decision.borrowed:
        return _checkout_outcome(decision)
    assert decision.due_date is not None
    lent = Loan(loan_id=-zlib.crc32(barcode.encode()), item_barcode=barcode, title="", author="", call_number="",
                loan_date=today, due_date=decision.due_date,
                renewable=False)  # shown until the central store's record replaces it; not renewed meanwhile

    def effect():
        cache.replace_account(dataclasses.replace(account, loans=(*account.loans, lent)))

    item = outbox.enqueue("checkout", _in_visit({"primary_id": account.primary_id, "item_barcode": barcode,
                                                 "local": {"borrowed": True,
                                                           "due_date": decision.due_date.isoformat()}}, visit),
                          effect)
    return _checkout_outcome(decision, True, item.key)


def offline_checkouts(primary_id: str) -> int:
    """Items this kiosk lent the patron offline that the central store has not confirmed yet (still queued)."""
    from kiosk import outbox

    return sum(1 for item in outbox.OutboxItem.select(outbox.OutboxItem.payload).where(
        (outbox.OutboxItem.op_type == "checkout") & (outbox.OutboxItem.primary_id == primary_id))
        if '"local":' in item.payload)


@usage.counted("returns", "returned")  # kiosk usage statistics: items given back (kiosk/usage.py)
def checkin(item_barcode: str) -> CheckinResult:
    """Take one item back; nobody need identify. Always accepted: the item is physically back. Queued in the
    outbox and, online, sent at once: the central store's answer says where the item goes (shelf, hold shelf,
    desk, transit) and any late fee. Offline, or without an answer: ``returned`` with reason ``queued``
    (pending); the return is applied exactly once when the central store answers. ``[kiosk] library_code``
    goes with it, so an item of another library is routed to transit."""
    from kiosk import outbox
    from library_kiosk.domain.checkout import CHECKIN_REASONS

    barcode = (item_barcode or "").strip()
    if not barcode or len(barcode) > 60:
        return CheckinResult(barcode[:60], "", False, "desk", None, "unknown_item", CHECKIN_REASONS["unknown_item"])
    item = outbox.enqueue("checkin", {"item_barcode": barcode, "library": str(_kiosk_config().get("library_code", ""))})
    answer = _ask_central(item, take_back=False) if central_online() else None
    if answer is None:
        return CheckinResult(barcode, "", True, "shelf", None, "queued", CHECKIN_REASONS["queued"], True, item.key)
    if answer.get("status") == "rejected":
        return CheckinResult(barcode, "", False, "desk", None, answer.get("reason", "rejected"),
                             answer.get("message", ""))
    result = answer.get("result") or {}
    fee = result.get("late_fee")
    return CheckinResult(barcode, result.get("title", ""), bool(result.get("returned")), result.get("route", "desk"),
                         Decimal(fee) if fee else None, result.get("reason", ""), result.get("message", ""),
                         resensitize=_said(result.get("resensitize")))
