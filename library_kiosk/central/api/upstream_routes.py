"""Central API routes for the upstream: capabilities, refresh on tap, replay of queued renewals."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from library_kiosk.central.api.errors import ApiError
from library_kiosk.central.store.accounts import build_account, get_user
from library_kiosk.central.upstream import cache
from library_kiosk.central.upstream.base import UpstreamError, UpstreamUnavailable
from library_kiosk.domain.blocks import active_blocks
from library_kiosk.domain.hashing import verify_secret

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


@bp.post("/api/v1/patrons/<primary_id>/verify-pin")
def verify_pin(primary_id):
    """Ask whether a PIN, or a password, is the patron's. The PIN (``{"pin": ...}``: kiosks use it for patrons
    whose account carries no PIN hash, i.e. upstream patrons) is checked by the library system; a password
    (``{"password": ...}``: signing in at a kiosk without a card) against the patron's password hash here when
    the store holds one, else by the library system (Alma ``op=auth``, SIP2 AD). The secret travels in the
    JSON body only and is never logged."""
    body = request.get_json(silent=True) if request.get_data() else None
    body = body if isinstance(body, dict) else {}
    password = body.get("password") if "password" in body and "pin" not in body else None
    secret = password if password is not None else body.get("pin")
    if not isinstance(secret, str) or not secret.strip():
        if password is not None:
            raise ApiError(400, "password_required", "Give the password in the JSON body: {\"password\": \"...\"}.")
        raise ApiError(400, "pin_required", "Give the PIN in the JSON body: {\"pin\": \"...\"}.")
    user = get_user(primary_id)
    if user is None:
        raise ApiError(404, "patron_not_found", f"No patron has the primary id {primary_id!r}.")
    what = "PIN" if password is None else "password"
    try:
        if password is None:
            ok = _upstream().verify_pin(primary_id, secret)
        elif user.password_hash:  # a password set here (the provisioning station): our own slow hash decides
            ok = verify_secret(user.password_hash, secret)
        else:
            ok = _upstream().verify_password(primary_id, secret)
    except UpstreamUnavailable:
        raise ApiError(503, "upstream_unavailable",
                       f"The library system cannot be reached, so the {what} cannot be checked just now.") from None
    except UpstreamError as exc:
        raise ApiError(502, exc.code, exc.message) from None
    return jsonify(ok=bool(ok))
