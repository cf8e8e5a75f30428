"""The borrow tray and the return screen (issue 18): what each item scanned or put on the item pad did.

Plain functions under the routes of ``kiosk/circulation.py``. The tray lives in the session (kept on the server,
kiosk/sessions.py) as rows of plain values, never as translated text: each row's words are chosen when the
screen is drawn, in the language shown then. A row is one item: its barcode, its title (when known), and the
outcome (borrowed until a date, refused with a reason of ``domain.checkout.CHECKOUT_REASONS``; returned, with
where it goes next, ``CHECKIN_ROUTES``, and any late fee). The borrower of a returned item is never named.

RFID items: the pad's ``item_tags`` events list every tag there now (hardware/events.py); each tag is taken
once per screen (``session["pad_seen"]``). A set of several parts not all on the pad is refused ("partial_set")
until the missing parts come. After a loan the item's tags are made ready to leave (security cleared through
the reader service, read back); a tag whose write did not take undoes the loan and says ``security_not_set``.
A returned item's tags are secured again.
"""
from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from flask import current_app, session
from flask_babel import gettext as _

from kiosk import services

log = logging.getLogger(__name__)

BORROW, RETURN = "borrow", "return"
TRAY_MOST = 60  # rows kept on a screen (the oldest goes first): a patron's armful, many times over
BARCODE_LONGEST = 60  # as services.checkout / checkin take

CHECKOUT_REASONS = {
    "expired": lambda: _("Your membership has expired, so you cannot borrow items. Please ask at the desk."),
    "blocked": lambda: _("Your account is blocked, so you cannot borrow items. Please ask at the desk."),
    "loan_limit": lambda: _("You have borrowed as many items as your membership allows."),
    "material_limit": lambda: _("You have borrowed as many items of this kind as your membership allows."),
    "unknown_item": lambda: _("This item was not found. Please take it to the desk."),
    "not_circulating": lambda: _("This item cannot be borrowed. It is for use in the library only."),
    "not_at_kiosk": lambda: _("This item cannot be borrowed here. Please take it to the desk."),
    "on_loan_to_other": lambda: _("This item is on loan to someone else. Please take it to the desk."),
    "already_yours": lambda: _("You already have this item on loan."),
    "on_hold_for_other": lambda: _("This item is waiting for another patron. Please take it to the desk."),
    "partial_set": lambda: _("This item has several parts and not all of them are on the reader. Place every "
                             "part on it."),
    "security_not_set": lambda: _("This item could not be made ready to leave the library. Please take it to "
                                  "the desk."),
    "upstream_refused": lambda: _("The library system did not allow this loan. Please ask at the desk."),
    "upstream_unavailable": lambda: _("The library system cannot be reached just now. Please try again later."),
    "offline_refused": lambda: _("Items cannot be borrowed while the kiosk is offline. Please ask at the desk."),
    "offline_limit": lambda: _("You have borrowed as many items as can be lent while the kiosk is offline."),
    "unconfirmed": lambda: _("Your loan was sent, but the library system did not confirm it. Staff will check "
                             "it."),
    "no_visit": lambda: _("This item cannot be borrowed here. Please ask at the desk."),
    "unreadable": lambda: _("This item's tag could not be read. Please take it to the desk."),
}

CHECKIN_ROUTES = {  # what to do with the item now (the row's badge says "Returned")
    "shelf": lambda: _("Thank you."),
    "hold_shelf": lambda: _("Please put this item on the hold shelf."),
    "desk": lambda: _("Please take this item to the desk."),
    "transit": lambda: _("This item belongs to another library: please leave it at the desk."),
}

CHECKIN_REASONS = {
    "unknown_item": lambda: _("This item was not found. Please take it to the desk."),
    "not_on_loan": lambda: _("This item was not on loan. Please take it to the desk."),
    "partial_set": CHECKOUT_REASONS["partial_set"],
    "upstream_refused": lambda: _("The library system did not accept this return. Please take the item to the "
                                  "desk."),
    "queued": lambda: _("The library system will be told as soon as it can be reached."),
    "unreadable": CHECKOUT_REASONS["unreadable"],
}


def checkout_message(reason: str) -> str:
    found = CHECKOUT_REASONS.get(reason)
    return found() if found else _("This item cannot be borrowed here. Please take it to the desk.")


def checkin_message(row: dict) -> str:
    """What a return row says: where the item goes now, or why it was not taken back."""
    if row["returned"] and row["reason"] != "queued":
        return CHECKIN_ROUTES.get(row["route"], CHECKIN_ROUTES["shelf"])()
    found = CHECKIN_REASONS.get(row["reason"])
    return found() if found else _("This item could not be returned here. Please take it to the desk.")


def missing_parts_text(row: dict) -> str:
    """'Missing: part 2 of 3.' for a set refused because parts are not on the pad ("" for anything else)."""
    missing = row.get("missing") or []
    if not missing:
        return ""
    return _("Missing: %(parts)s of %(total)s.", parts=", ".join(str(p) for p in missing), total=row["parts"])


# --- the session's screen ------------------------------------------------------------------------------------

def at(screen: str) -> bool:
    return session.get("screen") == screen


def open_screen(screen: str) -> None:
    """Start the borrow tray or the return screen afresh (what was on it before is gone)."""
    session["screen"] = screen
    session["tray"] = []
    session["pad_seen"] = []
    session.pop("undo", None)
    session.pop("finished", None)
    session.pop("receipt_given", None)


def rows() -> list[dict]:
    return list(session.get("tray", []))


def _keep(found: list[dict]) -> None:
    session["tray"] = found[-TRAY_MOST:]


def _add(row: dict) -> None:
    found = [r for r in rows() if not (r.get("partial") and r["barcode"] == row["barcode"])]  # a set now whole
    found.append(row)
    _keep(found)


def valid_barcode(code: str) -> str:
    """The item barcode as typed or scanned ("" when there is none, or it is too long to be one)."""
    code = (code or "").strip()
    return code if 0 < len(code) <= BARCODE_LONGEST and code.isprintable() else ""


# --- borrowing ---------------------------------------------------------------------------------------------------

def borrow(account, barcode: str, uids: tuple[str, ...] = ()) -> dict:
    """Lend one item (``uids``: its tags on the pad) and add its row to the tray."""
    outcome = services.checkout(account, barcode, session.get("visit", ""))
    row = {"barcode": barcode, "title": outcome.title, "ok": outcome.borrowed, "pending": outcome.pending,
           "due": outcome.due_date.isoformat() if outcome.due_date else "", "reason": outcome.reason,
           "uids": list(uids), "undone": False}
    # (a library system that says not to clear it keeps it secured: SIP2's desensitize "N")
    if outcome.borrowed and uids and outcome.desensitize is not False and not _set_security(uids, False):
        _take_back(barcode, uids)  # it would set off the gate: the loan is taken back
        row.update(ok=False, pending=False, due="", reason="security_not_set")
    _add(row)
    if row["ok"]:
        session["undo"] = barcode
        session["lent"] = session.get("lent", 0) + 1  # items borrowed this session (the receipt at its end)
        session.pop("receipt_taken", None)  # a receipt taken before this loan does not show it:
        session.pop("receipt_given", None)  # the next Finish offers (or, "always", gives) one that does
    return row


def undo_last(account) -> bool:
    """Give back the item borrowed last in this visit (the last only, once); whether it was taken back."""
    barcode = session.pop("undo", None)
    if not barcode:
        return False
    found = rows()
    row = next((r for r in reversed(found) if r["barcode"] == barcode and r["ok"] and not r["undone"]), None)
    if row is None:
        return False
    result = services.checkin(barcode)
    if not result.returned:
        log.warning("undo of a loan at the kiosk refused: %s", result.reason)
        return False
    if row.get("uids"):
        _set_security(tuple(row["uids"]), True)
    row["undone"] = True
    session["lent"] = max(0, session.get("lent", 0) - 1)
    _keep(found)
    return True


def _take_back(barcode: str, uids: tuple[str, ...]) -> None:
    result = services.checkin(barcode)
    if not result.returned:
        log.warning("a loan whose tag could not be cleared was not taken back: %s (%s)", barcode, result.reason)
    _set_security(uids, True)  # whatever was cleared before the failure is secured again


def borrowed() -> list[dict]:
    """The rows of items borrowed on this visit (and not undone)."""
    return [r for r in rows() if r["ok"] and not r["undone"]]


# --- returning ---------------------------------------------------------------------------------------------------

def give_back(barcode: str, uids: tuple[str, ...] = ()) -> dict:
    """Take one item back (nobody identified) and add its row; a returned item's tags are secured again."""
    result = services.checkin(barcode)
    row = {"barcode": barcode, "title": result.title, "returned": result.returned, "route": result.route,
           "late_fee": str(result.late_fee) if result.late_fee else "", "reason": result.reason,
           "pending": result.pending, "uids": list(uids), "unsecured": False}
    if result.returned and uids and result.resensitize is not False and not _set_security(uids, True):
        row["unsecured"] = True  # the gate may not see it: it goes to the desk
    _add(row)
    return row


def late_fee(row: dict) -> Decimal | None:
    return Decimal(row["late_fee"]) if row.get("late_fee") else None


def due(row: dict) -> dt.date | None:
    return dt.date.fromisoformat(row["due"]) if row.get("due") else None


# --- the item pad ------------------------------------------------------------------------------------------------

def pad_changed(tags: list[dict], account=None) -> int:
    """The pad's tags now (``ItemTag`` fields as dicts): each item not yet taken on this screen is borrowed (with
    ``account``) or returned; a set with parts missing gets a refused row until they come. How many rows."""
    from hardware.events import ItemTag, missing_parts

    fields = ItemTag.__dataclass_fields__
    items = [ItemTag(**{k: v for k, v in tag.items() if k in fields}) for tag in tags if isinstance(tag, dict)]
    seen = set(session.get("pad_seen", []))
    missing = missing_parts(items)
    count = 0
    for tag in items:
        if tag.uid in seen or tag.item_id or not tag.error:
            continue
        seen.add(tag.uid)
        _add({"barcode": "", "title": "", "ok": False, "returned": False, "pending": False, "reason": "unreadable",
              "route": "desk", "due": "", "late_fee": "", "uids": [tag.uid], "undone": False})
        count += 1
    for item_id in dict.fromkeys(t.item_id for t in items if t.item_id):
        uids = tuple(t.uid for t in items if t.item_id == item_id)
        if all(uid in seen for uid in uids):
            continue
        if item_id in missing:
            count += _partial(item_id, missing[item_id], next(t.parts for t in items if t.item_id == item_id))
            continue
        seen.update(uids)
        session["pad_seen"] = sorted(seen)
        if account is not None:
            borrow(account, item_id, uids)
        else:
            give_back(item_id, uids)
        count += 1
    session["pad_seen"] = sorted(seen)
    return count


def _partial(item_id: str, missing: list[int], parts: int) -> int:
    """A refused row for a set with parts missing (one per set, kept up to date); 1 when the screen changes."""
    found = rows()
    for row in found:
        if row.get("partial") and row["barcode"] == item_id:
            if row["missing"] == missing:
                return 0
            row["missing"] = missing
            _keep(found)
            return 1
    _add({"barcode": item_id, "title": "", "ok": False, "returned": False, "pending": False, "reason": "partial_set",
          "route": "desk", "due": "", "late_fee": "", "uids": [], "undone": False, "partial": True,
          "missing": missing, "parts": parts})
    return 1


def _set_security(uids: tuple[str, ...], secured: bool) -> bool:
    """Set (or clear) the gate security of each tag through the reader service, read back; whether every one took."""
    from hardware import client
    from hardware.auth import client_secret
    from hardware.base import SecurityNotSet

    readers = current_app.config["KIOSK"]["readers"]
    secret = client_secret(str(readers.get("secret_file", "")))
    ok = True
    for uid in uids:
        try:
            tag = client.set_item_security(readers["service_url"], uid, secured, secret)
        except (SecurityNotSet, client.ServiceError) as exc:  # the write did not take, or the tag left the pad
            log.warning("item tag %s: security not %s: %s", uid, "set" if secured else "cleared", exc)
            ok = False
            continue
        ok = ok and tag.secured is secured
    return ok
