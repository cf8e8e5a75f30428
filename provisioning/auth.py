"""Staff login, logout, session timeout, role checks, staff accounts and the audit log."""
from __future__ import annotations

import time

from flask import Blueprint, g, redirect, request, session, url_for
from htmx_flask import request as htmx_request

from store import staff
from provisioning.views import render, requires

bp = Blueprint("auth", __name__)
PUBLIC = {"auth.login", "static"}


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


def _current_user(app):
    username, last_seen = session.get("staff"), session.get("last_seen", 0)
    if not username:
        return None
    if staff.session_expired(last_seen, time.time(), app.config["SESSION_TIMEOUT_MINUTES"]):
        session.clear()
        session["expired"] = True
        return None
    user = staff.StaffUser.get_or_none(staff.StaffUser.username == username)
    if user is None or not user.active:
        session.clear()
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
    expired = session.pop("expired", False)
    if request.method == "POST":
        user = staff.authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            return render("login.html", 401, error="The user name or password is not right.")
        session.clear()
        session.permanent = True
        session.update(staff=user.username, last_seen=time.time())
        return redirect(url_for("patrons.find"))
    return render("login.html", expired=expired)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/staff", methods=["GET", "POST"])
@requires("administrator")
def staff_users():
    error = notice = ""
    if request.method == "POST":
        try:
            made = staff.create_staff(request.form.get("username", ""), request.form.get("password", ""),
                                      request.form.get("role", ""), request.form.get("full_name", ""))
            notice = f"Staff user {made.username} created."
        except staff.StaffError as exc:
            error = str(exc)
    users = staff.StaffUser.select().order_by(staff.StaffUser.username)
    return render("staff.html", users=users, roles=staff.ROLES, error=error, notice=notice)


@bp.get("/audit")
@requires("administrator")
def audit_log():
    return render("audit.html", entries=staff.audit_log(request.args.get("primary_id") or None))

