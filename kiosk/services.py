"""What the kiosk's routes ask for, in one place: find a patron, renew, lock a card.

The routes call these functions and nothing else below them, so how an answer
is obtained (the local cache, the central store over HTTP, later the outbox when
the central store is down) can change without touching a screen.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app

from domain.account import Account
from kiosk.central_client import CentralError, CentralUnavailable


@dataclass(frozen=True)
class RenewalOutcome:
    loan_id: int
    title: str
    renewed: bool
    new_due_date: dt.date | None
    reason: str
    message: str
    pending: bool = False  # decided locally while the central store was down; confirmed on replay


def _cache():
    return current_app.extensions["patron_cache"]


def _central():
    return current_app.extensions["central"]


def find_patron(identifier: str) -> Account | None:
    return _cache().find(identifier)


def get_patron(primary_id: str) -> Account | None:
    return _cache().get(primary_id)


def renew(account: Account, loan_ids: list[int] | None) -> list[RenewalOutcome]:
    """Renew the given loans (all when None) at the central store; refresh the cached account.

    Raises ``CentralUnavailable`` when the central store does not answer.
    """
    titles = {loan.loan_id: loan.title for loan in account.loans}
    results = _central().renew(account.primary_id, loan_ids)
    try:
        fresh = Account.from_dict(_central().account(account.primary_id) | {"pin_hash": account.pin_hash})
        _cache().replace_account(fresh)
    except (CentralUnavailable, CentralError):
        pass  # the next sync brings the new due dates
    return [
        RenewalOutcome(
            loan_id=r["loan_id"],
            title=titles.get(r["loan_id"], ""),
            renewed=r["renewed"],
            new_due_date=dt.date.fromisoformat(r["new_due_date"]) if r["new_due_date"] else None,
            reason=r["reason"],
            message=r["message"],
        )
        for r in results
    ]


# --- PIN, lockouts, letters, receipts, calls for staff (issue 3: the patron screens) ---

@dataclass(frozen=True)
class PinResult:
    ok: bool
    attempts_left: int = 0
    locked_until: dt.datetime | None = None  # UTC, naive


def _kiosk_config() -> dict:
    return current_app.config["KIOSK"]["kiosk"]


def pin_locked_until(primary_id: str) -> dt.datetime | None:
    """When the card's lock at this kiosk ends (UTC), or None when it is not locked."""
    from kiosk import lockout

    return lockout.locked_until(primary_id)


def check_pin(account: Account, pin: str) -> PinResult:
    """Verify ``pin`` against the account's slow hash, counting failures at this kiosk.

    The last allowed failure locks the card here for ``pin_lockout_minutes`` and
    reports the lockout to the central store (``record_lockout``).
    """
    from domain.hashing import verify_secret
    from kiosk import lockout

    config = _kiosk_config()
    until = lockout.locked_until(account.primary_id)
    if until:
        return PinResult(False, 0, until)
    if verify_secret(account.pin_hash, pin):
        lockout.clear(account.primary_id)
        return PinResult(True, config["pin_max_attempts"])
    left, locked = lockout.failure(account.primary_id, config["pin_max_attempts"], config["pin_lockout_minutes"])
    if locked:
        until = lockout.locked_until(account.primary_id)
        record_lockout(account.primary_id, until)
        return PinResult(False, 0, until)
    return PinResult(False, left)


def record_lockout(primary_id: str, locked_until: dt.datetime | None = None) -> bool:
    """Tell the central store (staff audit log) that this kiosk locked a card; False if it was not reached."""
    body = {"device": _kiosk_config()["device_name"],
            "locked_until": locked_until.isoformat() + "Z" if locked_until else ""}
    try:
        _central()._call("POST", f"/api/v1/patrons/{primary_id}/pin-lockouts", json=body)
        return True
    except (CentralUnavailable, CentralError) as exc:
        current_app.logger.warning("PIN lockout of a card not reported to the central store: %s", exc)
        return False


def call_staff(reason: str, primary_id: str = "") -> bool:
    """Ask for staff (the staff station lists open calls); False when the central store was not reached."""
    body = {"device": _kiosk_config()["device_name"], "reason": reason, "primary_id": primary_id or ""}
    try:
        _central()._call("POST", "/api/v1/staff-calls", json=body)
        return True
    except (CentralUnavailable, CentralError) as exc:
        current_app.logger.warning("call for staff not delivered: %s", exc)
        return False


@dataclass(frozen=True)
class LetterOutcome:
    sent: bool
    error: str = ""


def email_letter(primary_id: str, letter_type: str, context: dict | None = None) -> LetterOutcome:
    """Have the central store email the patron a letter (requests report, loans receipt).

    Raises ``CentralUnavailable`` when the central store does not answer.
    """
    body = {"letter_type": letter_type, "channel": "email", "device": _kiosk_config()["device_name"],
            "context": context or {}}
    try:
        answer = _central()._call("POST", f"/api/v1/patrons/{primary_id}/letters", json=body)
    except CentralError as exc:  # 422: no usable address, or the mail server refused
        return LetterOutcome(False, exc.message)
    return LetterOutcome(answer.get("status") == "sent")


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
    except (CentralUnavailable, CentralError):
        pass
    current_app.extensions["kiosk_capabilities"] = (time.monotonic(), found)
    return found
