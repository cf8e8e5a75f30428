"""Find a patron (identifier, or surname and initial), open the record, register a member."""
from __future__ import annotations

from flask import Blueprint, current_app, request, url_for
from htmx_flask import request as htmx_request

from library_kiosk.central.store import accounts, fees, letters, registration, staff
from library_kiosk.central.store.desk import actions_for, all_loans
from library_kiosk.central.store.models import User, UserGroup
from library_kiosk.central.store.records import EXTERNAL_NOTICE, is_external, row_editable
from library_kiosk.domain.membership import expiry_from_card
from provisioning.views import check_card_barcode, operator, or_404, render, requires, today, upstream_writer

bp = Blueprint("patrons", __name__)
TABS = ("general", "contact", "identifiers", "fees", "statistics", "notes", "loans", "requests", "letters")


def search(query: str) -> list[User]:
    """An identifier match, else surname with optional initial: ``Smith J`` or ``Smith, J``."""
    found = accounts.find_user(query)
    if found is not None:
        return [found]
    parts = query.replace(",", " ").split()
    if not parts:
        return []
    where = User.last_name ** f"{parts[0]}%"
    if len(parts) > 1:
        where &= User.first_name ** f"{parts[1][0]}%"
    return list(User.select().where(where).order_by(User.last_name, User.first_name).limit(50))


@bp.get("/")
def find():
    query = request.args.get("q", "").strip()
    results = search(query) if query else []
    if query and len(results) == 1 and not htmx_request.htmx:
        return patron_page(results[0].primary_id)
    return render("find.html", query=query, results=results, searched=bool(query))


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
                      error="The record was not saved: correct the fields marked below.")
    return patron_page(user.primary_id, notice=f"{user.first_name} {user.last_name} is registered as "
                                               f"{user.primary_id}.", push=url_for("patrons.patron",
                                                                                   primary_id=user.primary_id))


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

