"""What each kind of kiosk operation does at the central store (see store/idempotency.py).

Every handler runs inside the transaction that records its idempotency key; it
returns a JSON-ready result, or raises ``OpRejected`` for a business-rule refusal
(recorded, reported, and never blocking the operations behind it).

Conflict rules (docs/sync.md): the central store decides. A renewal the kiosk
decided locally while offline ("pending") is decided again here with the
central store's data; if it is refused now, the patron gets a
RenewalRefusedLetter and staff see a ``SyncConflict``.

Letters are never sent from a handler: the handler's transaction may still roll back
(an error later in it, a crash, a serialization failure) and the retried operation
would send the email again. A handler queues the letter in its own transaction
(``library_kiosk.central.store.letters.queue_letter``, status ``queued``) and adds its id to
``context["letters"]``; the caller sends those after the commit
(``library_kiosk.central.store.letters.send_queued``), and the sweeper sends any a crash left behind. The
answer (stored for replays) therefore says ``queued``, not whether the email has gone.

Operations that act for a patron (``renew``, ``send_letter``) are applied only within a visit the central store
knows of (store/visits.py): the payload's ``visit`` must be this device's verified visit of the patron, open at the
operation's time (``created``, the time the kiosk queued it; else the time it arrived), or that time must fall
within a gap when this device was out of contact (it identified the patron offline). Otherwise the operation is
rejected with the reason ``no_visit`` before it changes anything. Lockout reports and calls for staff protect
the patron rather than act for them: they need no visit.
"""
from __future__ import annotations

from library_kiosk.central.store import circulation, lending, visits
from library_kiosk.central.store.accounts import get_user
from library_kiosk.central.store.devices import SyncConflict
from library_kiosk.central.store.idempotency import OpRejected


def _user(payload: dict):
    user = get_user(payload["primary_id"])
    if user is None:
        raise OpRejected("patron_not_found", "The patron no longer exists at the central store.")
    return user


def _within_visit(device: str, payload: dict, context: dict) -> None:
    """Act for the patron only within this device's visit of them, or within a gap in its contact (module doc);
    ``OpRejected`` (``no_visit``) otherwise, with nothing changed."""
    rules = visits.VisitRules.from_config(context["config"].get("central"))
    at = visits.op_time(context.get("created"))
    problem = visits.op_problem(device, payload["primary_id"], payload.get("visit"), at, rules)
    if problem:
        raise OpRejected("no_visit", problem)


def renew(device: str, key: str, payload: dict, context: dict) -> dict:
    _within_visit(device, payload, context)
    user = _user(payload)
    decisions = circulation.renew(user, payload.get("loan_ids"), context["today"](), context.get("forward"))
    results = [d.to_dict() for d in decisions]
    told = {d["loan_id"]: d for d in payload.get("local") or [] if d.get("renewed")}
    refused = [r for r in results if r["loan_id"] in told and not r["renewed"]]
    letter_status = ""
    if refused:
        titles = {int(k): v for k, v in (payload.get("titles") or {}).items()}
        letter_status = _refusal_letter(user, refused, titles, device, key, context, told)
        said = {r["loan_id"]: item["reason"] for r, item in zip(refused, _letter_items(user, refused, titles, told))}
        for r in refused:
            SyncConflict.create(device=device, op_key=key, op_type="renew", primary_id=user.primary_id,
                                reason="renewal_refused_at_replay",
                                detail=f"loan {r['loan_id']} ({titles.get(r['loan_id'], '')}): {said[r['loan_id']]}"
                                       + _promised(told[r["loan_id"]]),
                                letter_status=letter_status)
    return {"results": results, "pending_refused": [r["loan_id"] for r in refused], "letter": letter_status}


def _promised(decision: dict) -> str:
    """What the kiosk told the patron, kept with the conflict for staff (read by provisioning/conflicts.py)."""
    due = decision.get("new_due_date")
    if isinstance(due, str) and due:
        return f" [the kiosk said: renewed until {due[:40]}]"
    return " [the kiosk said: renewed]"


def _letter_items(user, refused: list[dict], titles: dict, told: dict) -> list[dict]:
    """Each refused loan as the letter tells it (``letters.replay_item``): what happened to the loan, read now."""
    from library_kiosk.central.store.letters import replay_item
    from library_kiosk.central.store.models import Loan
    from library_kiosk.domain.membership import last_valid_day

    items = []
    for r in refused:
        loan = Loan.get_or_none((Loan.id == r["loan_id"]) & (Loan.user == user))
        if loan is not None and loan.status == "RETURNED":  # off the account ("unknown_loan"): returned, in truth
            r = {**r, "reason": "returned"}
        items.append(replay_item(titles.get(r["loan_id"], f"loan {r['loan_id']}"), r, told.get(r["loan_id"], {}),
                                 loan.due_date if loan else None, loan.renewals if loan else None,
                                 last_valid_day(user.expiry_date)))
    return items


def _refusal_letter(user, refused: list[dict], titles: dict, device: str, key: str, context: dict,
                    told: dict | None = None) -> str:
    """Queue the RenewalRefusedLetter in this transaction (sent after commit); its status: queued, or failed."""
    try:
        from library_kiosk.central.store.letters import queue_letter
    except ImportError:  # the letters module is missing: the SyncConflict rows are the record
        return "none"
    items = _letter_items(user, refused, titles, told or {})
    letter = queue_letter(user, "RenewalRefusedLetter", context["config"], operator=f"kiosk:{device}",
                          device=device, op_key=key, refused=items)
    _after_commit(context, letter)
    return letter.status


def _after_commit(context: dict, letter) -> None:
    """Hand a queued letter to the caller, which sends it once the operation's transaction has committed."""
    if letter.status == "queued":
        context.setdefault("letters", []).append(letter.id)


def lockout(device: str, key: str, payload: dict, context: dict) -> dict:
    """A card locked at a kiosk after too many wrong PINs (counted there, offline): the staff audit log shows it.

    Validated strictly before anything is written (``pin_checks.lockout_report_problem``: a real UTC timestamp no
    later than ``[central] pin_lockout_minutes`` from now; it may be past, the kiosk may report on reconnect),
    with a sensible count of attempts; otherwise rejected (``invalid_lockout``, recorded, the queue moves on)."""
    from library_kiosk.central.store import pin_checks, staff

    user = _user(payload)
    until = payload.get("locked_until", "")
    limits = pin_checks.PinLimits.from_config(context["config"].get("central"))
    problem = pin_checks.lockout_report_problem(until, limits, live=False)
    attempts = payload.get("failed_attempts", 0)
    if problem is None and not (isinstance(attempts, int) and 0 <= attempts <= 100):
        problem = "failed_attempts must be a whole number from 0 to 100."
    if problem:
        raise OpRejected("invalid_lockout", problem)
    entry = staff.audit(pin_checks.operator(device), pin_checks.LOCKOUT_ACTION, user.primary_id,
                        f"Card locked at {device} after {attempts} wrong PINs, until {until} (reported by sync)")
    return {"audit_id": entry.id}


def call_staff(device: str, key: str, payload: dict, context: dict) -> dict:
    from library_kiosk.central.store import kiosk_calls

    reason = payload.get("reason") or "help"
    if reason not in kiosk_calls.REASONS:
        raise OpRejected("unknown_reason", f"There is no call reason {reason!r}.")
    call = kiosk_calls.create_call(device, reason, payload.get("primary_id", ""))
    return {"call_id": call.id}


def send_letter(device: str, key: str, payload: dict, context: dict) -> dict:
    """Queue the letter in this transaction; it is sent after commit (``status``: queued, or failed)."""
    from library_kiosk.central.store.letters import LETTER_TYPES, kiosk_letter_limit, queue_letter

    _within_visit(device, payload, context)
    user = _user(payload)
    letter_type = payload.get("letter_type", "")
    if letter_type not in LETTER_TYPES:
        raise OpRejected("unknown_letter_type", f"There is no letter type {letter_type!r}.")
    limit = kiosk_letter_limit(user, context["config"])
    if limit is not None:  # refused with its reason (a SyncConflict); the batch goes on
        raise OpRejected("too_many_letters",
                         f"This patron has already been sent {limit} letters from kiosks in the last hour.")
    letter = queue_letter(user, letter_type, context["config"], operator=f"kiosk:{device}")
    _after_commit(context, letter)
    return {"letter_id": letter.id, "status": letter.status}


def _item_barcode(payload: dict) -> str:
    """The operation's item barcode, or ``OpRejected`` (``invalid_item_barcode``) when it can be no item's."""
    barcode = payload["item_barcode"].strip()
    if not barcode or len(barcode) > 60:
        raise OpRejected("invalid_item_barcode", "The item barcode must be 1 to 60 characters.")
    return barcode


def checkout(device: str, key: str, payload: dict, context: dict) -> dict:
    """Lend an item to the patron, within their visit (or this device's time out of contact), exactly once: the
    central store decides (store/lending.py, or the library system behind it: ``context["checkout_forward"]``). A
    checkout the kiosk granted offline (``local``: what it told the patron) and refused here is a
    ``SyncConflict`` (``checkout_refused_at_replay``): the patron left with an item the central store did not
    lend (on hold for someone else, on loan to another...), for staff to settle."""
    _within_visit(device, payload, context)
    user = _user(payload)
    barcode = _item_barcode(payload)
    decision = circulation.checkout(user, barcode, context["today"](), f"{device}:{key}",
                                    context.get("checkout_forward"))
    result = lending.decision_answer(decision)
    told = payload.get("local") or {}
    if told.get("borrowed") and not decision.borrowed and decision.reason != "already_yours":
        due = told.get("due_date")
        said = f"borrowed, due {str(due)[:10]}" if isinstance(due, str) and due else "borrowed"
        SyncConflict.create(device=device, op_key=key, op_type="checkout", primary_id=user.primary_id,
                            reason="checkout_refused_at_replay",
                            detail=f"item {barcode} ({decision.title}): {decision.message} [the kiosk said: {said}]")
        result["conflict"] = True
    return result


def checkin(device: str, key: str, payload: dict, context: dict) -> dict:
    """Take an item back, exactly once. Returns need no visit: the patron need not identify (the item is back in
    the library's hands whoever brings it). ``library``: the kiosk's library code (``[kiosk] library_code``)."""
    outcome = circulation.checkin(_item_barcode(payload), context["today"](), f"{device}:{key}",
                                  payload.get("library") or "", context.get("checkin_forward"))
    return lending.outcome_answer(outcome)


HANDLERS = {"renew": renew, "lockout": lockout, "call_staff": call_staff, "send_letter": send_letter,
            "checkout": checkout, "checkin": checkin}

# The payload each operation type must carry: field -> accepted types (validated before anything is applied).
PAYLOADS = {
    "renew": {"primary_id": (str,), "loan_ids": (list, type(None)), "local": (list, type(None)),
              "titles": (dict, type(None)), "visit": (str,)},
    "lockout": {"primary_id": (str,), "failed_attempts": (int,), "locked_until": (str,)},
    "call_staff": {"primary_id": (str,), "reason": (str,)},
    "send_letter": {"primary_id": (str,), "letter_type": (str,), "visit": (str,)},
    "checkout": {"primary_id": (str,), "item_barcode": (str,), "visit": (str,), "local": (dict, type(None))},
    "checkin": {"item_barcode": (str,), "library": (str,)},
}
REQUIRED = {"renew": ("primary_id",), "lockout": ("primary_id",), "call_staff": (), "send_letter":
            ("primary_id", "letter_type"), "checkout": ("primary_id", "item_barcode"), "checkin": ("item_barcode",)}
