"""Helpers every station view shares: the page-or-partial render, role marks, money."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import abort, current_app, flash, g, get_flashed_messages, redirect, render_template, request, session
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
    """The partial alone for an htmx swap, or the whole page around it. A page (not a ``_fragment``) shows the
    notice a form left before redirecting here (``done``), and an htmx swap of it puts its address in the
    browser's history."""
    if context.get("errors") and context.get("form") is not None:
        context["errors"] = for_date_pickers(context["errors"], context["form"])
    headers = {}
    if not partial.startswith("_"):
        if not context.get("notice"):
            context["notice"] = " ".join(get_flashed_messages(category_filter=["notice"]))
        if not context.get("error"):
            context["error"] = " ".join(get_flashed_messages(category_filter=["refused"]))
        if session.pop("prg_push", False) and htmx_request.htmx and request.method == "GET":
            headers["HX-Push-Url"] = request.full_path.rstrip("?")
    if htmx_request.htmx:
        return render_template(partial, **context), status, headers
    return (render_template("page.html", partial=partial, uses_reader=partial in READER_PAGES, **context), status,
            headers)


def done(target: str, notice: str, refused: bool = False):
    """Post/redirect/get after a form was dealt with: 303 to ``target`` (a page), which shows ``notice`` once, as
    a success, or as an error when the action was ``refused`` (a desk scan the rules refused: recorded, nothing
    lent). htmx follows the redirect in place and the page it gets pushes ``target`` into the history, so a
    refresh shows the page, never the form again."""
    flash(notice, "refused" if refused else "notice")
    if htmx_request.htmx:
        session["prg_push"] = True
    return redirect(target, 303)


SECRET_FIELDS = (("pin", "PIN"), ("password", "password"))


def cleared_secrets(form) -> str:
    """After a failed save, the sentence that says which secret fields the form comes back without (they are
    never sent back to the browser), or '' when none was filled in."""
    cleared = [label for name, label in SECRET_FIELDS if form.get(name)]
    if not cleared:
        return ""
    if len(cleared) == 1:
        return f"For your security the {cleared[0]} was cleared; enter it again."
    return f"For your security the {' and '.join(cleared)} were cleared; enter them again."


# A date the store could not read, asked for as the station's date fields take it: the browser's date picker shows
# its own format, so a message beside it never asks for "YYYY-MM-DD" (the store's wording, for API clients).
DATE_PICKER_MESSAGES = {
    "card_expiry": "Choose the expiry date printed on the card in the date field.",
    "expiry_date": "Choose the expiration date (the card's expiry + 1 day) in the date field.",
}


def for_date_pickers(errors: dict, form) -> dict:
    """``errors`` with each date field's "missing or unreadable" message in the words of the date picker; a
    readable date keeps the store's message (too far ahead, already passed, ...)."""
    fixed = dict(errors)
    for name, text in DATE_PICKER_MESSAGES.items():
        if name in fixed and not is_iso_day(str(form.get(name, "") or "")):
            fixed[name] = text
    return fixed


def is_iso_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


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
    from provisioning import formats, job_reports  # days, moments, money and coded values as staff read them

    formats.init_app(app)
    job_reports.init_app(app)

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

    @app.errorhandler(405)
    def _wrong_method(error):
        """An address asked the wrong way (a form's address opened in the browser, a post to a page)."""
        body, status, headers = render(
            "_message.html", 405, title="This page cannot be used that way",
            text="This address is for a form's button, not to be opened on its own (or the other way round). "
                 "Go back to the station and use the page's buttons; nothing was changed.")
        return body, status, {**headers, **dict(error.get_headers())}
