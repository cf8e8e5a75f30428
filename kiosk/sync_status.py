"""GET /sync/status: the kiosk's sync state as JSON, for staff and monitoring (kiosk/sync.py ``status``).

It shows no patron data: counts, times, cursor, and the rejected operations' reasons.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from kiosk import sync

bp = Blueprint("sync_status", __name__)


@bp.get("/sync/status")
def sync_status():
    data = sync.status(current_app.extensions["patron_cache"],
                       current_app.config["KIOSK"]["kiosk"]["trusted_time_hours"])
    data["device"] = current_app.extensions.get("device_name", "")
    return jsonify(data)
