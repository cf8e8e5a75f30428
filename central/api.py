"""The /api/v1 routes: parse input, make one call into the store, answer JSON."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from central.errors import ApiError
from central.openapi import OPENAPI
from domain.blocks import active_blocks
from store import circulation, sync
from store.accounts import build_account, find_user, get_user

bp = Blueprint("api", __name__)


def _today():
    return current_app.config["TODAY"]()


def _user_or_404(primary_id: str):
    user = get_user(primary_id)
    if user is None:
        raise ApiError(404, "patron_not_found", f"No patron has the primary id {primary_id!r}.")
    return user


def _account_json(user) -> dict:
    account = build_account(user)
    data = account.to_dict()
    data.pop("pin_hash", None)
    data["active_blocks"] = [{"code": b.code, "message": b.message} for b in active_blocks(account, _today())]
    data["total_owed"] = str(account.total_owed())
    return data


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_parameter", f"{name} must be a whole number.") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {low} and {high}.")
    return value


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(OPENAPI)


@bp.get("/api/v1/patrons/lookup")
def lookup():
    identifier = request.args.get("identifier", "").strip()
    if not identifier:
        raise ApiError(400, "identifier_required", "Give an identifier: a barcode, card serial number or other ID.")
    user = find_user(identifier)
    if user is None:
        raise ApiError(404, "identifier_not_found", "No patron holds this identifier.")
    return jsonify(primary_id=user.primary_id, first_name=user.first_name, last_name=user.last_name)


@bp.get("/api/v1/patrons/<primary_id>")
def account(primary_id):
    return jsonify(_account_json(_user_or_404(primary_id)))


@bp.get("/api/v1/patrons/<primary_id>/loans")
def loans(primary_id):
    return jsonify(loans=_account_json(_user_or_404(primary_id))["loans"])


@bp.get("/api/v1/patrons/<primary_id>/requests")
def requests_(primary_id):
    return jsonify(requests=_account_json(_user_or_404(primary_id))["requests"])


@bp.get("/api/v1/patrons/<primary_id>/fees")
def fees(primary_id):
    data = _account_json(_user_or_404(primary_id))
    return jsonify(fees=data["fees"], total_owed=data["total_owed"])


@bp.post("/api/v1/patrons/<primary_id>/loans/<int:loan_id>/renew")
def renew_one(primary_id, loan_id):
    user = _user_or_404(primary_id)
    decision = circulation.renew(user, [loan_id], _today())[0]
    if decision.reason == "unknown_loan":
        raise ApiError(404, "loan_not_found", decision.message)
    return jsonify(decision.to_dict())


@bp.post("/api/v1/patrons/<primary_id>/renew")
def renew_many(primary_id):
    user = _user_or_404(primary_id)
    body = request.get_json(silent=True) if request.get_data() else {}
    if body is None:
        raise ApiError(400, "invalid_body", "The body is not valid JSON.")
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    loan_ids = body.get("loan_ids")
    if loan_ids is not None and (
        not isinstance(loan_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in loan_ids)
    ):
        raise ApiError(400, "invalid_body", "loan_ids must be a list of loan ids (whole numbers).")
    decisions = circulation.renew(user, loan_ids, _today())
    return jsonify(results=[d.to_dict() for d in decisions])


@bp.get("/api/v1/sync/changes")
def changes():
    cursor = _int_arg("after", 0, 0, 2**62)
    limit = _int_arg("limit", 500, 1, 5000)
    return jsonify(sync.changes_after(cursor, limit))
