"""Borrow and Return at the kiosk (issue 18): thin routes over ``kiosk/tray.py`` and ``kiosk/services.py``.

**Borrow** (a button on the account screen, after identification and the PIN, shown when the central store's
upstream lends: ``capabilities()["checkout"]``): the tray. Each item scanned (the USB scanner types into the
screen's field; a scanner of the reader service comes as a tap, routes.identify hands it here), typed, or put on
the item pad appears as a row with its title and its outcome; "Undo the last" gives back the item borrowed last;
"Finish" offers the receipt the loans receipt's rules allow ([kiosk] receipts, receipt_when: at once, offered,
or emailed when the session ends): the items borrowed, with their barcodes and due dates; Done ends the visit.
**Return** (on the attract screen, nobody identified): each item scanned or put on the pad is taken back and its
row says where it goes; a late fee is mentioned without naming anyone. Done, or the idle timeout, clears
either screen (``visit.end_visit``).
"""
from __future__ import annotations

import json

from flask import Blueprint, current_app, render_template, request, session, url_for
from flask_babel import gettext as _

from kiosk import services, tray
from kiosk.events import read_item_token
from kiosk.visit import (
    current_patron,
    fresh_start,
    give_receipt,
    message,
    receipt_ways,
    receipt_when,
    render,
)

bp = Blueprint("circulation", __name__)


def borrow_offered() -> bool:
    """Borrow is offered where the central store's upstream lends; while it cannot be asked, where this kiosk
    lends offline (``[kiosk] offline_checkout = "allow"``)."""
    return bool(services.capabilities().get("checkout", services.offline_checkout_allowed()))


def return_offered() -> bool:
    """Return is offered where the upstream takes items back, and while the central store cannot be asked
    (returns are queued: the item is physically back)."""
    return bool(services.capabilities().get("checkin", True))


@bp.record_once
def _template_globals(state) -> None:
    state.app.add_template_global(borrow_offered, "borrow_offered")
    state.app.add_template_global(return_offered, "return_offered")


def borrow_screen(status: int = 200, notice: tuple[bool, str] | None = None):
    return render("_borrow.html", rows=tray.rows(), tray=tray, notice=notice,
                  undo=bool(session.get("undo"))), status


def return_screen(status: int = 200, notice: tuple[bool, str] | None = None):
    return render("_return.html", rows=tray.rows(), tray=tray, notice=notice, personal=True), status


def current_circulation_screen():
    """The borrow tray or the return screen this session is at (after help, a language switch), or None."""
    if tray.at(tray.BORROW) and current_patron() is not None:
        if session.get("finished"):
            return finish_screen()
        return borrow_screen()
    if tray.at(tray.RETURN) and "patron" not in session:
        return return_screen()
    return None


def at_tray() -> bool:
    """Whether this session is at the borrow tray (identified) or the return screen (nobody identified)."""
    return (tray.at(tray.BORROW) and "patron" in session and not session.get("finished")) \
        or (tray.at(tray.RETURN) and "patron" not in session)


def tray_back_url() -> str:
    """Where help's Back goes from the borrow tray or the return screen ("" elsewhere)."""
    if tray.at(tray.BORROW) and "patron" in session:
        return url_for("circulation.borrow")
    if tray.at(tray.RETURN) and "patron" not in session:
        return url_for("circulation.give_back")
    return ""


def _signed_out():
    return render("_attract.html", personal=False)


@bp.route("/borrow", methods=["GET", "POST"])
def borrow():
    account = current_patron()
    if account is None:
        return _signed_out()
    if not borrow_offered():
        return message(_("Borrowing is not available"), _("Items cannot be borrowed at this kiosk just now. Please "
                                                           "ask at the desk."), 403, "warning", back="account")
    if request.method == "POST" or not tray.at(tray.BORROW):
        tray.open_screen(tray.BORROW)
    session.pop("finished", None)
    return borrow_screen()


@bp.post("/borrow/item")
def borrow_item():
    account = current_patron()
    if account is None or not tray.at(tray.BORROW):
        return _signed_out() if account is None else borrow()
    return item_scanned(request.form.get("barcode", ""))


def item_scanned(code: str):
    """An item's barcode scanned or typed on the borrow tray or the return screen (a reader's scan comes here from
    routes.identify); bad input changes nothing and says so."""
    barcode = tray.valid_barcode(code)
    at_return = tray.at(tray.RETURN)
    if not barcode:
        notice = (False, _("Nothing was scanned. Scan the item's barcode, or put the item on the reader.")
                  if not code.strip() else _("This is not an item's barcode. Scan the barcode on the item."))
        return return_screen(400, notice) if at_return else borrow_screen(400, notice)
    services.check_storage()  # nothing lent or taken back on a cache that cannot record it: out of order
    if at_return:
        tray.give_back(barcode)
        return return_screen()
    account = current_patron()
    if account is None:
        return _signed_out()
    tray.borrow(account, barcode)
    return borrow_screen()


@bp.post("/borrow/undo")
def undo():
    account = current_patron()
    if account is None:
        return _signed_out()
    if not tray.at(tray.BORROW) or not session.get("undo"):
        return borrow_screen(400, (False, _("There is nothing to undo.")))
    services.check_storage()
    if tray.undo_last(account):
        return borrow_screen(notice=(True, _("The last item has been given back.")))
    return borrow_screen(409, (False, _("The last item could not be given back here. Please take it to the desk.")))


def finish_screen():
    account = current_patron()
    if account is None:
        return _signed_out()
    lent = tray.borrowed()
    ways = receipt_ways(account) if lent else []
    given = None
    when = receipt_when()
    if when == "always" and ways and not session.get("receipt_given"):
        fresh = services.get_patron(account.primary_id) or account  # with the loans just made
        given = give_receipt(fresh, "borrowed", ways[0])
        session["receipt_given"] = True
    choices = ways if when in ("ask", "on_timeout") else []
    at_end = when == "on_timeout" and "email" in ways and not session.get("receipt_taken")
    return render("_borrow_finish.html", lent=lent, tray=tray, receipts=choices, given=given, at_end=at_end)


@bp.post("/borrow/finish")
def finish():
    if current_patron() is None:
        return _signed_out()
    if not tray.at(tray.BORROW):
        return borrow()
    session["finished"] = True
    return finish_screen()


@bp.post("/borrow/receipt")
def borrow_receipt():
    """The receipt of this visit's loans, by ``how`` (email or print): the printed slip lists the items borrowed
    here (title, barcode, due date); the email is the loans receipt, which lists the items borrowed today first."""
    account = current_patron()
    if account is None:
        return _signed_out()
    how = request.form.get("how", "")
    if not tray.at(tray.BORROW) or not tray.borrowed() or how not in receipt_ways(account):
        return render_template("_notice.html", ok=False, text=_("This receipt cannot be given here.")), 400
    fresh = services.get_patron(account.primary_id) or account
    ok, text = give_receipt(fresh, "borrowed", how)
    return render_template("_notice.html", ok=ok, text=text)


@bp.route("/return", methods=["GET", "POST"])
def give_back():
    if not return_offered():
        return message(_("Returns are not available"), _("Items cannot be returned at this kiosk just now. Please "
                                                          "take them to the desk."), 403, "warning")
    if request.method == "POST" or "patron" in session or not tray.at(tray.RETURN):
        _chosen, kept = fresh_start()  # nobody is identified on the return screen; language and contrast stay
        session.update(kept)
        tray.open_screen(tray.RETURN)
    return return_screen()


@bp.post("/return/item")
def return_item():
    if not tray.at(tray.RETURN) or "patron" in session:
        return give_back()
    return item_scanned(request.form.get("barcode", ""))


@bp.post("/items/pad")
def pad():
    """The item pad's tags now (a one-time token from the event stream, kiosk/events.py): taken on the borrow tray or
    the return screen; anywhere else nothing happens (204)."""
    found = read_item_token(current_app, request.form.get("tags", ""))
    if found is None:
        return ("", 204)
    tags = json.loads(found)
    if tray.at(tray.BORROW) and not session.get("finished"):
        account = current_patron()
        if account is None:
            return ("", 204)
        services.check_storage()
        if tray.pad_changed(tags, account):
            return borrow_screen()
        return ("", 204)
    if tray.at(tray.RETURN) and "patron" not in session:
        services.check_storage()
        if tray.pad_changed(tags):
            return return_screen()
    return ("", 204)
