"""The kiosk app factory: configuration, cache, central client, routes."""
from __future__ import annotations

import os

from flask import Flask
from htmx_flask import Htmx
from markupsafe import escape

from kiosk import trusted_clock
from kiosk.cache import PatronCache, cache_db, open_cache
from kiosk.central_client import CentralClient
from library_kiosk import settings
from library_kiosk.database import connect_per_request
from library_kiosk.domain.barcodes import card_barcode_rules
from library_kiosk.settings.secret_files import made_once


def create_app(config: dict | None = None, today=None) -> Flask:
    """Build the kiosk app from a loaded settings dict (defaults if None).

    ``today`` is a callable returning the current date; tests pin it. By default the trusted clock's day: this
    kiosk's clock corrected by the central store's time (kiosk/trusted_clock.py), so blocks, expiry, overdue
    loans and offline renewals are decided on the library's day even when this box's clock is wrong.
    """
    config = config or settings.load()
    kiosk_config = config["kiosk"]
    app = Flask(__name__)
    app.config["KIOSK"] = config
    app.config["TODAY"] = today or trusted_clock.today
    app.config["MAX_CONTENT_LENGTH"] = int(config["kiosk"]["max_request_kib"]) * 1024
    app.config["CARD_BARCODES"] = card_barcode_rules(config)  # [readers.barcode]; a bad rule stops the start
    session_key = os.path.join(config["data_dir"], "session", "identifier.key")  # (its name from older versions)
    app.secret_key = kiosk_config["secret_key"] or made_once(session_key)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    from library_kiosk.web.network import restrict

    restrict(app, kiosk_config.get("allowed_networks"), "[kiosk] allowed_networks",
             lambda address: (f"<!doctype html><title>Not available</title><h1>Not available</h1><p>This kiosk "
                              f"only answers its own screen; {escape(address)} is not in [kiosk] allowed_networks."
                              f"</p>", 403))
    Htmx(app)

    open_cache(kiosk_config["cache_url"])
    from kiosk.devices import load_credential

    credential = load_credential(config) or {}  # the device token from enrolment (kiosk/devices.py)
    app.extensions["device_name"] = credential.get("device", "")
    app.extensions["central"] = CentralClient(kiosk_config["central_url"], kiosk_config["central_timeout_seconds"],
                                              token=lambda: (load_credential(config) or {}).get("token", ""))
    from kiosk.device_keys import KeyRing, keys_path

    # The identifier and PIN check keys come from the central store and stay off the cache's disk (device_keys.py).
    app.extensions["patron_cache"] = PatronCache(KeyRing(keys_path(config), app.extensions["central"]))

    connect_per_request(app, cache_db)

    @app.after_request
    def _no_store(response):
        # Nothing personal may come back from the browser's cache or history.
        response.headers["Cache-Control"] = "no-store, max-age=0"
        response.headers["Pragma"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    from kiosk import events, filters, i18n, routes, screens

    if kiosk_config.get("templates_dir"):  # the library's own versions of templates (help text, ...) first
        import jinja2

        app.jinja_loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(kiosk_config["templates_dir"]),
                                                app.jinja_loader])
    i18n.init_app(app)
    filters.init_app(app)
    screens.init_look(app)  # [kiosk] logo, accent_colour, attract_image, tap_sound, currency: checked, then shown
    app.add_template_global(screens.renewal_message, "renewal_message")  # why a loan cannot be renewed now
    app.register_blueprint(routes.bp)
    from kiosk.device_keys import KeysUnavailable

    app.register_error_handler(KeysUnavailable, routes.no_keys_yet)  # started while the central store was away
    from kiosk import signin

    app.register_blueprint(signin.bp)  # "No card? Sign in" (docs/kiosk.md)
    from kiosk import circulation

    app.register_blueprint(circulation.bp)  # Borrow and Return (issue 18, docs/kiosk.md)
    app.register_blueprint(events.bp)
    from kiosk import sync_status

    app.register_blueprint(sync_status.bp)  # GET /sync/status (issue 5)
    from library_kiosk.web import health

    app.register_blueprint(health.bp)  # GET /health, the watchdog's probe (kiosk/serving.py)
    from kiosk import screen_seen

    screen_seen.init_app(app)  # the page says it is alive; the browser's supervisor asks (appliance/screen.py)
    return app
