"""Central API routes for the upstream: capabilities, refresh on tap, replay of queued renewals."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from central.errors import ApiError
from domain.blocks import active_blocks
from store.accounts import build_account
from upstream import cache

bp = Blueprint("upstream", __name__)


def _upstream():
    return current_app.extensions["upstream"]


@bp.get("/api/v1/capabilities")
def capabilities():
    return jsonify(_upstream().capabilities().to_dict())


@bp.post("/api/v1/patrons/refresh")
def refresh():
    identifier = request.args.get("identifier", "").strip()
    if not identifier:
        raise ApiError(400, "identifier_required", "Give an identifier: a barcode, card serial number or other ID.")
    today = current_app.config["TODAY"]()
    user, source = cache.refresh(_upstream(), identifier, today, force=request.args.get("force") == "1")
    if user is None:
        if source == "offline":
            raise ApiError(503, "upstream_unavailable",
                           "The library system cannot be reached and this card is not known here yet.")
        raise ApiError(404, "identifier_not_found", "No patron holds this identifier.")
    account = build_account(user)
    data = account.to_dict()
    data.pop("pin_hash", None)
    data["active_blocks"] = [{"code": b.code, "message": b.message} for b in active_blocks(account, today)]
    data["total_owed"] = str(account.total_owed())
    return jsonify(primary_id=user.primary_id, source=source, account=data)


@bp.post("/api/v1/upstream/replay")
def replay():
    counts = cache.replay(_upstream(), current_app.config["TODAY"]())
    return jsonify(**counts, pending=cache.pending_count())
