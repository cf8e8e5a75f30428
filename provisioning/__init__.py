"""The staff provisioning station: register patrons and cards, update records, fees,
loans and letters, talking directly to the central store (``store``).

``create_app(config, today=None)`` builds it. Staff log in (roles in ``library_kiosk.central.store.staff``);
every form carries a CSRF token (Flask-WTF), htmx requests send it as a header. A patron database that cannot be
reached at start does not stop the station: every page answers 503 saying so until it answers
(``library_kiosk.central.store.reachable``).
"""
from __future__ import annotations

import datetime as dt
import os

from flask import Flask, g
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from markupsafe import escape

from library_kiosk import settings
from library_kiosk.central.store import schema
from library_kiosk.central.store.db import database
from library_kiosk.central.store.reachable import RETRY_SECONDS, DatabaseGate, open_gate
from library_kiosk.database import connect_per_request
from library_kiosk.domain import clock
from library_kiosk.domain.barcodes import card_barcode_rules
from library_kiosk.settings.secret_files import made_once
from library_kiosk.web.database_away import refuse_while_away


def _secret_key(config: dict) -> str:
    return config["provisioning"].get("secret_key") or made_once(os.path.join(config["data_dir"], "station-secret.key"))


# What the station serves while its database is away: the styles and scripts of the page that says so, and the
# health probe (the app is alive, and the systemd watchdog must keep seeing it: a restart cannot bring a database)
SERVED_WITHOUT_DATABASE = frozenset({"static", "vendor.static", "shared.static", "favicon", "health.health"})


def _open_database(app: Flask, url: str) -> DatabaseGate:
    """The patron database, opened (and its schema made) now if it answers, else in the background once it does;
    while it is away the log says once which database, why, and what to do."""
    gate = open_gate(url, lambda: schema.init(url), app.logger, "station",
                     "every page answers 503 saying which database is away")
    app.extensions["database_gate"] = gate
    return gate


def _refuse_pages_without_database(app: Flask, gate: DatabaseGate) -> None:
    """Until the database is open, every page (the login page too) is the station's 503 page saying which database
    is away and what to do. Registered before every other step that reads the database or a form."""

    def refusal():
        from provisioning.views import render

        g.staff = None  # (no staff user can be read: the page shows no menu)
        body, status, headers = render("database_unavailable.html", 503, where=gate.where, problem=gate.problem,
                                       retry_seconds=RETRY_SECONDS)
        return body, status, {**headers, "Retry-After": str(int(RETRY_SECONDS))}

    refuse_while_away(app, gate, SERVED_WITHOUT_DATABASE, refusal)


def create_app(config: dict | None = None, today=None) -> Flask:
    config = config or settings.load()
    app = Flask(__name__)
    app.config["KIOSK"] = config
    app.config["TODAY"] = today or clock.today
    app.config["MAX_CONTENT_LENGTH"] = int(float(config["provisioning"]["max_request_mib"]) * 1024 * 1024)
    app.config["CARD_BARCODES"] = card_barcode_rules(config)  # [readers.barcode]; a bad rule stops the start
    app.secret_key = _secret_key(config)
    minutes = int(config["provisioning"].get("session_timeout_minutes", 15))
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict", WTF_CSRF_TIME_LIMIT=None,
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=minutes), SESSION_TIMEOUT_MINUTES=minutes,
                      # behind TLS the browser sends the session cookie over HTTPS only (docs/tls.md)
                      SESSION_COOKIE_SECURE=bool(config["provisioning"].get("tls_cert")
                                                 or config["provisioning"].get("secure_cookies")))
    from library_kiosk.web.network import restrict

    restrict(app, config["provisioning"].get("allowed_networks"), "[provisioning] allowed_networks",
             lambda address: (f"<!doctype html><title>Not on the library network</title><h1>Not on the library "
                              f"network</h1><p>This staff station only answers computers on the library's own "
                              f"network. This computer's address, {escape(address)}, is not in "
                              f"[provisioning] allowed_networks. Ask your library's IT team.</p>", 403))
    _refuse_pages_without_database(app, _open_database(app, config["central"]["database_url"]))
    Htmx(app)
    CSRFProtect(app)
    from library_kiosk.central.upstream import (
        writes,  # staff writes go to the library system too ([upstream] kind = "alma")
    )

    app.extensions["upstream_writer"] = writes.writer_for(config)

    connect_per_request(app, database)

    @app.after_request
    def _no_store(response):
        response.headers["Cache-Control"] = "no-store, max-age=0"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    from provisioning import admin, auth, cards, desk, events, patrons, records, views

    views.init_app(app)
    auth.init_app(app)
    from library_kiosk.web import health

    for module in (auth, patrons, records, cards, desk, events, admin, health):
        app.register_blueprint(module.bp)
    from flask import Blueprint

    # htmx and its extensions are vendored once, in kiosk/static/vendor (no CDN); the station serves that copy
    vendor = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kiosk", "static", "vendor")
    app.register_blueprint(Blueprint("vendor", __name__, static_folder=vendor, static_url_path="/static/vendor"))
    # ... and so is the page script both apps share (the "still working" / "try again" banner)
    shared = os.path.join(os.path.dirname(vendor), "shared")
    app.register_blueprint(Blueprint("shared", __name__, static_folder=shared, static_url_path="/static/shared"))
    from provisioning import calls, conflicts, desk_circulation, fleet  # calls and lockouts, conflicts, fleet

    for module in (calls, conflicts, fleet, desk_circulation):  # desk_circulation: check out and check in
        app.register_blueprint(module.bp)
    from provisioning import usage  # kiosk usage statistics (counts only)

    app.register_blueprint(usage.bp)
    from provisioning import demo_mail  # the demo mail sink's messages ([mail] demo_sink_dir, kiosk demo only)

    app.register_blueprint(demo_mail.bp)
    # browsers and tools ask for /favicon.ico whatever the page's <link rel="icon"> says
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.svg"))
    return app
