"""Find a patron (any part of a name, an identifier, an email address or a phone number), open the record,
register a member."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, url_for
from htmx_flask import request as htmx_request

from library_kiosk.central.store import accounts, fees, letters, patron_search, registration, staff
from library_kiosk.central.store.desk import actions_for, all_loans
from library_kiosk.central.store.models import UserGroup
from library_kiosk.central.store.records import EXTERNAL_NOTICE, is_external, row_editable
from library_kiosk.domain.membership import expiry_from_card
from provisioning.views import (
    check_card_barcode,
    cleared_secrets,
    done,
    operator,
    or_404,
    render,
    requires,
    today,
    upstream_writer,
)

bp = Blueprint("patrons", __name__)
TABS = ("general", "contact", "identifiers", "fees", "statistics", "notes", "loans", "requests", "letters")


@bp.get("/")
def find():
    """The station's search (library_kiosk/central/store/patron_search.py); an identifier or primary id that names
    one record exactly (a scanned barcode, a tapped card) opens that record. Control characters in the query (a
    NUL, a tab) are spaces (``patron_search.clean_query``)."""
    query = patron_search.clean_query(request.args.get("q", ""))
    page = request.args.get("page", "")
    exact = accounts.find_user(query) if query and not page else None
    if exact is not None:
        target = url_for("patrons.patron", primary_id=exact.primary_id)
        return ("", 204, {"HX-Redirect": target}) if htmx_request.htmx else redirect(target)
    found = patron_search.search(query, int(page) if page.isdigit() else 1) if query else None
    return render("find.html", query=query, found=found, searched=bool(query))


@bp.get("/patrons/<primary_id>")
def patron(primary_id):
    return patron_page(primary_id)


def patron_page(primary_id: str, status: int = 200, **context):
    user = or_404(accounts.get_user(primary_id))
    tab = context.pop("tab", None) or request.args.get("tab", "general")
    tab = tab if tab in TABS else "general"
    account = accounts.build_account(user)
    fee_type, fee_status = request.args.get("fee_type", ""), request.args.get("fee_status", "")
    return render(
        "patron.html", status, user=user, account=account, tab=tab, tabs=TABS, external=is_external(user),
        external_notice=EXTERNAL_NOTICE.format(source=user.external_id or "another system"),
        editable=lambda kind, row=None, id_type="": row_editable(user, kind, row, id_type),
        group_options=[(g.code, f"{g.code} {g.description}") for g in UserGroup.select().order_by(UserGroup.code)],
        loans=all_loans(user), actions_for=actions_for,
        fees=fees.fees_of(user, fee_type, fee_status), fee_type=fee_type, fee_status=fee_status,
        letters=letters.letters_of(user), audit=staff.audit_log(user.primary_id, 20),
        form=context.pop("form", {}), errors=context.pop("errors", {}), **context)


@bp.route("/register", methods=["GET", "POST"])
@requires("user_manager")
def register():
    groups = list(UserGroup.select().order_by(UserGroup.code))
    libraries = rs_libraries()
    if request.method == "GET":
        return render("register.html", groups=groups, rs_libraries=[(n, n) for n in libraries], form={}, errors={})
    try:
        check_card_barcode(request.form)
        user = registration.register(request.form, today(), operator(), libraries, writer=upstream_writer())
    except registration.Invalid as exc:
        return render("register.html", 422, groups=groups, rs_libraries=[(n, n) for n in libraries],
                      form=request.form, errors=exc.errors,
                      error=" ".join(filter(None, ("The record was not saved: correct the fields marked below.",
                                                   cleared_secrets(request.form)))))
    return done(url_for("patrons.patron", primary_id=user.primary_id),
                f"{user.first_name} {user.last_name} is registered as {user.primary_id}.")


def rs_libraries() -> list[str]:
    """The configured resource sharing libraries (``[provisioning] rs_libraries``)."""
    return [str(name) for name in current_app.config["KIOSK"]["provisioning"].get("rs_libraries") or []]


@bp.get("/register/group")
@requires("user_manager")
def group_policy():
    """What the chosen group asks for: PIN, registration fee, statistics."""
    group = UserGroup.get_or_none(UserGroup.code == request.args.get("user_group", ""))
    return render("_group_policy.html", group=group)


@bp.get("/register/expiry")
@requires("user_manager")
def expiry():
    card_expiry = registration.parse_date(request.args.get("card_expiry", ""))
    return render("_expiry.html", card_expiry=card_expiry,
                  expiry=expiry_from_card(card_expiry) if card_expiry else None)

