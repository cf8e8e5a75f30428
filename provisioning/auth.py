"""Staff login, logout, session timeout, role checks, staff accounts and the audit log."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, g, redirect, request, session, url_for
from htmx_flask import request as htmx_request

from library_kiosk.central.store import staff, staff_logins
from provisioning.views import cleared_secrets, done, operator, render, requires

bp = Blueprint("auth", __name__)
# health: the watchdog's probe (kiosk/serving.py); the static files (the station's own, the vendored htmx and
# the shared page script, the favicon) hold nothing private and the login page needs them before anyone logs in
PUBLIC = {"auth.login", "static", "vendor.static", "shared.static", "favicon", "health.health"}


def init_app(app) -> None:
    @app.before_request
    def _require_staff():
        g.staff = None
        if request.endpoint in PUBLIC or request.endpoint is None:
            return None
        user = _current_user(app)
        if user is None:
            return _to_login()
        g.staff = user
        view = app.view_functions.get(request.endpoint)
        role = getattr(view, "required_role", "circulation")
        if not user.has_role(role):
            return render("_message.html", 403, title="Not allowed",
                          text="Your staff role does not allow this. Ask an administrator.")
        return None


def _limits(app) -> staff_logins.LoginLimits:
    return staff_logins.LoginLimits.from_config(app.config["KIOSK"]["provisioning"])


def _current_user(app):
    username, last_seen = session.get("staff"), session.get("last_seen", 0)
    if not username:
        return None
    if staff.session_expired(last_seen, time.time(), app.config["SESSION_TIMEOUT_MINUTES"]) \
            or staff_logins.session_user(session.get("sid", ""), _limits(app)) != username:
        staff_logins.end_session(session.get("sid", ""))
        session.clear()  # idle too long, logged out (a copied cookie), or older than session_max_hours
        session["expired"] = True
        return None
    user = staff.StaffUser.get_or_none(staff.StaffUser.username == username)
    if user is None or not user.active or session.get("stamp") != staff.session_stamp(user):
        ended = "deactivated" if user is not None and not user.active else "password" if user is not None else ""
        session.clear()
        if ended:
            session["ended"] = ended  # the login page says why
        return None
    if request.endpoint != "events.events" and not getattr(app.view_functions.get(request.endpoint), "passive", False):
        session["last_seen"] = time.time()  # polling (views marked passive) is not activity
    return user


def _to_login():
    target = url_for("auth.login")
    if htmx_request.htmx:
        return "", 401, {"HX-Redirect": target}
    if request.method == "GET" and request.endpoint != "events.events":
        return redirect(target)
    return render("_message.html", 401, title="Please log in", text="Your session has ended. Log in again.")


@bp.route("/login", methods=["GET", "POST"])
def login():
    expired, ended = session.pop("expired", False), session.pop("ended", "")
    if request.method == "POST":
        try:
            user = staff.log_in(request.form.get("username", ""), request.form.get("password", ""),
                                request.remote_addr or "", _limits(current_app))
        except staff.LoginRefused as exc:
            return render("login.html", 401, error=str(exc))
        staff_logins.end_session(session.get("sid", ""))
        session.clear()
        session.permanent = True
        session.update(staff=user.username, last_seen=time.time(), stamp=staff.session_stamp(user),
                       sid=staff_logins.start_session(user.username))
        return redirect(url_for("patrons.find"))
    return render("login.html", expired=expired, ended=ended)


@bp.post("/logout")
def logout():
    staff_logins.end_session(session.get("sid", ""))  # the cookie, even copied, no longer opens a session
    if g.staff is not None:
        staff.audit(g.staff.username, "logout")
    session.clear()
    return redirect(url_for("auth.login"))


def _staff_page(status: int = 200, notice: str = "", error: str = "", editing: str = "", errors: dict | None = None):
    users = staff.StaffUser.select().order_by(staff.StaffUser.username)
    return render("staff.html", status, users=users, roles=staff.ROLES, error=error, notice=notice,
                  editing=editing, errors=errors or {})


@bp.route("/staff", methods=["GET", "POST"])
@requires("administrator")
def staff_users():
    error = ""
    if request.method == "POST":
        try:
            made = staff.create_staff(request.form.get("username", ""), request.form.get("password", ""),
                                      request.form.get("role", ""), request.form.get("full_name", ""))
            return done(url_for("auth.staff_users"), f"Staff user {made.username} created.")
        except staff.StaffError as exc:
            error = " ".join(filter(None, (str(exc), cleared_secrets(request.form))))
    return _staff_page(422 if error else 200, error=error)


@bp.post("/staff/active")
@requires("administrator")
def staff_active():
    """Deactivate or reactivate another staff account (``active`` is "1" or "0")."""
    username = request.form.get("username", "")
    try:
        user = staff.set_active(username, request.form.get("active") == "1", operator())
    except staff.StaffError as exc:
        return _staff_page(409, error=str(exc))
    return done(url_for("auth.staff_users"), f"{user.username} is {'active again' if user.active else 'deactivated'}."
                + ("" if user.active else " Their open sessions end at their next request."))


@bp.post("/staff/role")
@requires("administrator")
def staff_role():
    """An administrator changes another staff account's role (never their own)."""
    username = request.form.get("username", "")
    try:
        user = staff.set_role(username, request.form.get("role", ""), operator())
    except staff.StaffError as exc:
        return _staff_page(409, error=str(exc))
    return done(url_for("auth.staff_users"), f"{user.username} is now {staff.ROLES[user.role]}. Their open sessions "
                                              f"have the new role's rights from their next request.")


@bp.post("/staff/password")
@requires("administrator")
def staff_password():
    """An administrator sets a new password for another staff account."""
    username = request.form.get("username", "")
    try:
        user = staff.set_password(username, request.form.get("new_password", ""),
                                  request.form.get("confirm_password", ""), operator())
    except staff.PasswordError as exc:
        return _staff_page(422, editing=username, errors=exc.fields)
    except staff.StaffError as exc:
        return _staff_page(409, error=str(exc))
    return done(url_for("auth.staff_users"),
                f"New password set for {user.username}. Their open sessions end at their next request.")


@bp.route("/password", methods=["GET", "POST"])
@requires("circulation")
def own_password():
    """Every staff user changes their own password (the current one is required)."""
    if request.method == "GET":
        return render("password.html", errors={}, notice="")
    try:
        user = staff.change_own_password(operator(), request.form.get("current_password", ""),
                                         request.form.get("new_password", ""), request.form.get("confirm_password", ""))
    except staff.PasswordError as exc:
        return render("password.html", 422, errors=exc.fields, notice="")
    session["stamp"] = staff.session_stamp(user)  # this session goes on; others end at their next request
    return done(url_for("auth.own_password"), "Your password is changed.")


@bp.get("/audit")
@requires("administrator")
def audit_log():
    """The audit log, filtered by who, what action, which patron and a range of days; paged (provisioning/audit.py)."""
    from provisioning import audit, paging

    args = request.args.to_dict()
    if "patron" not in args and args.get("primary_id"):  # the older link from a patron's record
        args["patron"] = args["primary_id"]
    filters = audit.read_filters(args)
    who, actions = audit.choices(filters.action)
    sort, descending = audit.sort_of(args)
    return render("audit.html", 422 if filters.errors else 200,
                  found=audit.page(filters, paging.page_number(args), sort, descending), filters=filters,
                  who_choices=who, action_choices=actions, describe_action=audit.describe_action, sort=sort,
                  descending=descending, sort_words=audit.SORT_WORDS)

