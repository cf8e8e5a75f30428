"""The central patron store service: a JSON API over the store, versioned under /api/v1/."""
from __future__ import annotations

from flask import Flask, jsonify

from library_kiosk import settings
from library_kiosk.central.store import schema
from library_kiosk.central.store.db import database
from library_kiosk.central.store.reachable import RETRY_SECONDS, DatabaseGate, open_gate
from library_kiosk.database import connect_per_request
from library_kiosk.domain import clock
from library_kiosk.web.database_away import refuse_while_away

# This store's time on every answer: kiosks correct their clocks by it (kiosk/trusted_clock.py).
TIME_HEADER = "X-Central-Time"


# Answered while the database is away: the health probe and the OpenAPI document (neither reads the database)
SERVED_WITHOUT_DATABASE = frozenset({"health", "api.openapi"})


def _open_database(app: Flask, config: dict) -> DatabaseGate:
    """The store's database, opened (its schema made, the offline PIN check set) now if it answers, else in the
    background once it does; while it is away the log says once which database, why, and what to do."""
    url = config["central"]["database_url"]

    def prepare() -> None:
        schema.init(url)
        from library_kiosk.central.store import documents

        with database.connection_context():
            documents.configure(config["central"]["offline_pin_check_bits"])  # the offline PIN check kiosks get
        from library_kiosk.central import (
            upstream,  # the library system behind the store: [upstream] kind (docs/upstream.md); makes its tables
        )

        upstream.init_app(app, config)
        if hasattr(database.obj, "close_all"):
            database.obj.close_all()  # as schema.init: no pooled connection may outlive this call (gunicorn forks)

    return open_gate(url, prepare, app.logger, "central store",
                     "every API request answers 503 database_unavailable")


def _refuse_without_database(app: Flask, gate: DatabaseGate) -> None:
    """Until the database is open every request but those that need none is refused with 503 database_unavailable,
    which kiosks already take as "try again later". Registered before every step that reads the database."""

    def refusal():
        from library_kiosk.central.api.errors import error_response

        response, status = error_response(503, "database_unavailable",
                                          "The central store cannot reach its database just now. Try again later.")
        response.headers["Retry-After"] = str(int(RETRY_SECONDS))
        return response, status

    refuse_while_away(app, gate, SERVED_WITHOUT_DATABASE, refusal)


def create_app(config: dict | None = None, today=None, now=None) -> Flask:
    """Build the central store app. ``config`` is a loaded settings dict (defaults if None);
    ``today`` is a callable returning the current date, ``now`` one returning the current instant (naive UTC)
    that answers carry to the kiosks (``X-Central-Time``); tests pin or move them."""
    config = config or settings.load()
    app = Flask(__name__, static_folder=None)  # a JSON API: no static files (and no unprotected route)
    app.config["KIOSK"] = config
    app.config["TODAY"] = today or clock.today
    app.config["NOW"] = now or clock.now
    app.config["MAX_CONTENT_LENGTH"] = int(float(config["central"]["max_request_mib"]) * 1024 * 1024)
    app.json.sort_keys = False
    from library_kiosk.web.network import restrict

    restrict(app, config["central"].get("allowed_networks"), "[central] allowed_networks",
             lambda address: (jsonify(error={"code": "network_not_allowed", "message": (
                 f"This central store does not answer requests from {address} ([central] allowed_networks).")}), 403))
    gate = _open_database(app, config)
    _refuse_without_database(app, gate)
    connect_per_request(app, database)

    from library_kiosk.central.api import api, auth, errors, sync_api, upstream_routes, validation
    from library_kiosk.central.api.openapi import OPENAPI

    errors.init_app(app)
    app.url_map.converters["default"] = api.SegmentConverter  # (before any route is added)
    app.register_blueprint(api.bp)
    app.register_blueprint(sync_api.bp)
    app.register_blueprint(upstream_routes.bp)
    validation.init_app(app, OPENAPI)  # every route's operation; a route the document lacks stops the start
    # a device token on every route but /health, the OpenAPI document and enrolment; then the request's input
    auth.init_app(app, validation.check_request)

    @app.after_request
    def _central_time(response):
        # Every answer carries this store's time, read as late as possible (docs/sync.md "Trusted time").
        response.headers[TIME_HEADER] = app.config["NOW"]().isoformat(timespec="milliseconds") + "Z"
        return response

    @app.get("/health")
    def health():
        """200 while the app answers, saying so when its database is away (an app waiting for its database is
        alive: a restart would not bring the database back)."""
        if gate.ready():
            return jsonify(status="ok")
        return jsonify(status="ok", database="unreachable", database_problem=gate.problem)

    return app
