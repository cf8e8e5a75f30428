"""Checkout and check-in at the desk (issue 18 item 6): staff scan items, each goes through the kiosk's decision
(``circulation.checkout`` / ``checkin``: the domain's rules in the central store, or the library system behind
it, exactly once per key) and its outcome is written to the audit log with the operator, then shown in a list
as it happens.

Check out is on the patron's Loans tab (``_desk_checkout.html``); its outcomes go on the desk slip (printed or
emailed, ``desk.slip``). Check in is a page of its own in the Desk menu: each item with where it goes next
(shelf, the hold shelf and whose hold it is, transit, the desk) and any late fee. Each scan answers with
post/redirect/get: the page again, the entries done so far named in its address (``slip=`` / ``entry=``), so a
refresh shows them and never scans twice. A scan refused before it reaches the rules (no barcode, a control
character) shows the page again with the entries it was posted with, so it drops none from the list or the slip; an
item the rules refuse is announced as an error, not a success.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import Blueprint, current_app, request, url_for

from library_kiosk.central.store import accounts, circulation, lending, staff
from library_kiosk.central.store.desk import CHECKOUT_ACTION, CHECKOUT_REFUSED_ACTION
from library_kiosk.domain.checkout import CHECKIN_ROUTES, CheckinOutcome, CheckoutDecision, first_hold
from provisioning import formats
from provisioning.patrons import patron_page
from provisioning.views import done, operator, or_404, render, today

bp = Blueprint("desk_circulation", __name__)

MAX_BARCODE = 60  # as an item's barcode (store/items.py) and the central API's checkout
MAX_SHOWN = 200  # entries named in a page's address
CHECKIN_REFUSED_ACTION = "loan.checkin_refused"
CHECKIN_ACTIONS = {route: f"loan.checkin_{route}" for route in CHECKIN_ROUTES}  # returned: the route it took
UNAVAILABLE = "The library system cannot be reached just now. Try again later; nothing was changed."
ROUTE_LABELS = {"shelf": "To the shelf", "hold_shelf": "To the hold shelf", "transit": "In transit (another library)",
                "desk": "Keep at the desk"}


def _barcode() -> tuple[str, str]:
    """The scanned barcode, and what is wrong with it ("" when nothing)."""
    barcode = (request.form.get("item_barcode") or "").strip()
    if not barcode:
        return barcode, "Scan or type the item's barcode."
    if len(barcode) > MAX_BARCODE or not barcode.isprintable():
        return barcode, f"This is not an item barcode: at most {MAX_BARCODE} letters and digits."
    return barcode, ""


def _key() -> str:
    """A fresh idempotency key for one scan (the central store answers a repeated key with the first answer)."""
    return f"station-{uuid.uuid4().hex}"


def _earlier(name: str) -> list[int]:
    """The entries already on the page (``name`` values posted back by its form), newest last."""
    return [int(value) for value in request.form.getlist(name) if value.isdigit()][-(MAX_SHOWN - 1):]


def _library() -> str:
    """Where the desk takes items back: the library code of this installation (``[kiosk] library_code``)."""
    return str((current_app.config["KIOSK"].get("kiosk") or {}).get("library_code", ""))


def _forwards():
    """(checkout, checkin) through the library system when the central store sits in front of one (``[upstream]
    kind`` alma or sip2), as the central API passes them for kiosks; (None, None): the store's own rules."""
    extensions = current_app.extensions
    if "desk_circulation_forwards" not in extensions:
        config = current_app.config["KIOSK"]
        found: tuple = (None, None)
        if (config.get("upstream") or {}).get("kind", "local") != "local":
            from library_kiosk.central import upstream
            from library_kiosk.central.upstream import cache

            backend = upstream.from_config(config)
            found = (lambda primary_id, barcode, day, key: cache.checkout_through(backend, primary_id, barcode, day,
                                                                                  key),
                     lambda barcode, day, key, library: cache.checkin_through(backend, barcode, day, key, library))
        extensions["desk_circulation_forwards"] = found
    return extensions["desk_circulation_forwards"]


# --- check out, on the patron's Loans tab -------------------------------------------------------------------------

def lend(user, barcode: str, who: str) -> tuple[CheckoutDecision, staff.AuditEntry]:
    """Lend ``barcode`` to ``user`` by the kiosk's rules (lent at the desk: an item kept from kiosks may go), and
    record the outcome, with the operator ``who``, in the audit log. A library system that cannot be reached or
    fails is a refusal with its reason: nothing was lent."""
    from library_kiosk.central.upstream.base import UpstreamError, UpstreamUnavailable

    try:
        decision = circulation.checkout(user, barcode, today(), _key(), _forwards()[0], at_desk=True)
    except UpstreamUnavailable:
        decision = CheckoutDecision(barcode, False, None, "upstream_unavailable")
    except UpstreamError as exc:
        decision = CheckoutDecision(barcode, False, None, "upstream_refused", upstream_message=exc.message)
    item = f"{decision.title} ({barcode})" if decision.title else barcode
    if decision.borrowed:
        due = f" until {formats.long_date(decision.due_date)}" if decision.due_date else ""
        line = f"Checked out {item}{due}."
    else:
        said = f" The library system said: {decision.upstream_message}" if decision.upstream_message else ""
        line = f"Not checked out: {item}. {decision.message}{said}"
    entry = staff.audit(who, CHECKOUT_ACTION if decision.borrowed else CHECKOUT_REFUSED_ACTION, user.primary_id, line)
    return decision, entry


@bp.post("/patrons/<primary_id>/checkout")
def checkout(primary_id):
    """One scanned item lent to the patron; the Loans tab again with every outcome so far (and its slip)."""
    user = or_404(accounts.get_user(primary_id))
    barcode, wrong = _barcode()
    if wrong:  # said by the field and the form's summary (as at check-in); the slip so far is kept (desk_done)
        return patron_page(primary_id, 422, tab="loans", form={"item_barcode": barcode[:MAX_BARCODE]},
                           errors={"item_barcode": wrong}, summary="Nothing was checked out. Correct the barcode.")
    decision, entry = lend(user, barcode, operator())
    target = url_for("patrons.patron", primary_id=primary_id, tab="loans", slip=_earlier("slip") + [entry.id])
    what = decision.title or barcode
    if decision.borrowed:
        return done(target, f"Checked out {what}.")
    return done(target, f"Not checked out: {what}. The reason is in the list below.", refused=True)


@bp.app_context_processor
def _desk_checkout():
    """For ``_desk_checkout.html``: which of the page's entries are checkouts."""
    return {"desk_checkout_actions": (CHECKOUT_ACTION, CHECKOUT_REFUSED_ACTION)}


# --- check in: a page of its own ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Returned:
    """One scanned item as the check-in list shows it (read back from its audit entry)."""

    entry_id: int
    returned: bool
    route: str  # a key of ROUTE_LABELS ("" when refused)
    line: str  # the outcome in full: the item, where it goes, whose hold, the late fee

    @property
    def route_label(self) -> str:
        return ROUTE_LABELS.get(self.route, "Not checked in")


def _hold_for(barcode: str) -> str:
    """Whose hold the item now waits for, as staff read it ("Ada Quillfeather (P7)"), or ""."""
    state = lending.item_state(barcode)
    hold = first_hold(state.holds) if state is not None else None
    if hold is None:
        return ""
    user = accounts.get_user(hold.primary_id)
    name = f"{user.first_name} {user.last_name}".strip() if user is not None else ""
    return f"{name} ({hold.primary_id})" if name else hold.primary_id


def _checkin_line(outcome: CheckinOutcome, barcode: str) -> str:
    item = f"{outcome.title} ({barcode})" if outcome.title else barcode
    if not outcome.returned:
        said = f" The library system said: {outcome.upstream_message}" if outcome.upstream_message else ""
        return f"Not checked in: {item}. {outcome.message or UNAVAILABLE}{said}"
    where = {"shelf": "back to the shelf", "transit": "in transit to its own library",
             "desk": "keep it at the desk"}.get(outcome.route, "")
    if outcome.route == "hold_shelf":
        holder = _hold_for(barcode)
        where = f"to the hold shelf for {holder}" if holder else "to the hold shelf"
    fee = f" Late fee charged: {formats.money(outcome.late_fee)}." if outcome.late_fee else ""
    return f"Checked in {item}: {where}.{fee}"


def take_back(barcode: str, who: str) -> staff.AuditEntry:
    """Take ``barcode`` back by the kiosk's rules (the late fee charged, the next hold put on the hold shelf)
    and record the outcome, with the operator, in the audit log (under the borrower's primary id)."""
    from library_kiosk.central.upstream.base import UpstreamError, UpstreamUnavailable

    before = lending.item_state(barcode)
    try:
        outcome = circulation.checkin(barcode, today(), _key(), _library(), _forwards()[1])
    except UpstreamUnavailable:
        outcome = CheckinOutcome(barcode, False, "desk", None, "upstream_unavailable")
    except UpstreamError as exc:
        outcome = CheckinOutcome(barcode, False, "desk", None, "upstream_refused", upstream_message=exc.message)
    borrower = before.borrower if before is not None and before.borrower != "?" else ""
    action = CHECKIN_ACTIONS.get(outcome.route, CHECKIN_ACTIONS["desk"]) if outcome.returned else \
        CHECKIN_REFUSED_ACTION
    return staff.audit(who, action, borrower if outcome.returned else "", _checkin_line(outcome, barcode))


def returned_list(entry_ids: list[int], who: str) -> list[Returned]:
    """This operator's check-ins named by ``entry_ids``, newest first."""
    if not entry_ids:
        return []
    routes = {action: route for route, action in CHECKIN_ACTIONS.items()}
    rows = staff.AuditEntry.select().where(
        staff.AuditEntry.id.in_(entry_ids[-MAX_SHOWN:]) & (staff.AuditEntry.operator == who)
        & staff.AuditEntry.action.in_([*CHECKIN_ACTIONS.values(), CHECKIN_REFUSED_ACTION])
    ).order_by(staff.AuditEntry.id.desc())
    return [Returned(row.id, row.action in routes, routes.get(row.action, ""), row.detail) for row in rows]


@bp.route("/desk/checkin", methods=["GET", "POST"])
def checkin():
    """The check-in page: scan an item, see where it goes."""
    if request.method == "GET":
        shown = [int(value) for value in request.args.getlist("entry") if value.isdigit()]
        return render("checkin.html", returned=returned_list(shown, operator()), form={}, errors={})
    barcode, wrong = _barcode()
    if wrong:
        return render("checkin.html", 422, returned=returned_list(_earlier("entry"), operator()),
                      form={"item_barcode": barcode[:MAX_BARCODE]}, errors={"item_barcode": wrong})
    entry = take_back(barcode, operator())
    done_so_far = _earlier("entry") + [entry.id]
    shown = returned_list([entry.id], operator())[0]
    target = url_for("desk_circulation.checkin", entry=done_so_far)
    if shown.returned:
        return done(target, f"Checked in: {barcode}.")
    return done(target, f"Not checked in: {barcode}. The reason is in the list below.", refused=True)
