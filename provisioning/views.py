"""Helpers every station view shares: the page-or-partial render, role marks, money."""
from __future__ import annotations

from decimal import Decimal

from flask import abort, current_app, g, render_template
from flask_wtf.csrf import CSRFError
from htmx_flask import request as htmx_request

from library_kiosk.central.store.registration import Invalid
from library_kiosk.domain import codes
from library_kiosk.domain.barcodes import BarcodeError, validate_barcode


def requires(role: str):
    """Mark a view with the least role that may use it (checked in ``auth``)."""
    def mark(view):
        view.required_role = role
        return view
    return mark


# The pages with a field the desk reader fills (data-reader): only these open the reader's event stream.
READER_PAGES = frozenset({"find.html", "register.html", "patron.html", "batch.html", "whose.html"})


def render(partial: str, status: int = 200, **context):
    """The partial alone for an htmx swap, or the whole page around it."""
    if htmx_request.htmx:
        return render_template(partial, **context), status
    return render_template("page.html", partial=partial, uses_reader=partial in READER_PAGES, **context), status


def today():
    return current_app.config["TODAY"]()


def upstream_writer():
    """The writer that takes staff writes to the library system too ([upstream] kind = "alma"), or None."""
    return current_app.extensions.get("upstream_writer")


def check_card_barcode(form) -> None:
    """A new card's printed barcode must follow the library's card barcode rules (``[readers.barcode]``):
    ``Invalid`` on the barcode field otherwise, so nothing is saved."""
    value = (form.get("barcode") or "").strip()
    if not value:
        return  # the store says a barcode is required
    try:
        validate_barcode(value, current_app.config["CARD_BARCODES"])
    except BarcodeError as exc:
        raise Invalid({"barcode": f"This is not one of the library's card barcodes: {exc}."}) from None


def operator() -> str:
    return g.staff.username


def setting_amount(name: str) -> Decimal:
    return Decimal(str(current_app.config["KIOSK"]["provisioning"][name]))


def or_404(value):
    if value is None:
        abort(404)
    return value


def init_app(app) -> None:
    app.jinja_env.globals.update(codes=codes, describe=codes.describe)

    @app.errorhandler(CSRFError)
    def _csrf(error):
        return render("_message.html", 400, title="The form has expired",
                      text="This form was not accepted (its security token is missing or out of date). "
                           "Reload the page and try again; nothing was changed.")

    @app.errorhandler(403)
    def _forbidden(error):
        return render("_message.html", 403, title="Not allowed",
                      text="Your staff role does not allow this. Ask an administrator.")

    @app.errorhandler(404)
    def _missing(error):
        return render("_message.html", 404, title="Not found", text="There is no such record or page.")
