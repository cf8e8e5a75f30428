"""The /api/v1 routes: parse input, make one call into the store, answer JSON."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.routing import BaseConverter

from library_kiosk.central.api.auth import current_device, require_visit
from library_kiosk.central.api.errors import ApiError
from library_kiosk.central.api.openapi import MAX_ROW_ID, OPENAPI, RESERVED_PATRON_PATHS
from library_kiosk.central.api.validation import body
from library_kiosk.central.store import circulation, kiosk_calls, letters, mail, pin_checks, staff
from library_kiosk.central.store.accounts import build_account, find_user, get_user, kiosk_document
from library_kiosk.domain.blocks import active_blocks

bp = Blueprint("api", __name__)


class SegmentConverter(BaseConverter):
    """The app's default converter (``<primary_id>``): one path segment, but never a word that names a route of
    its own beside it (``lookup``, ``refresh``), so ``GET /api/v1/patrons/refresh`` is no patron's account and
    that path's methods (``Allow``) are refresh's alone."""

    regex = r"(?!(?:" + "|".join(RESERVED_PATRON_PATHS) + r")$)[^/]+"


def _today():
    return current_app.config["TODAY"]()


def _user_or_404(primary_id: str):
    user = get_user(primary_id)
    if user is None:
        raise ApiError(404, "patron_not_found", f"No patron has the primary id {primary_id!r}.")
    return user


def _account_json(user) -> dict:
    account = build_account(user)
    data = kiosk_document(account.to_dict())  # as the sync sends it: the email masked, a few bits of PIN check
    data["active_blocks"] = [{"code": b.code, "message": b.message} for b in active_blocks(account, _today())]
    data["total_owed"] = str(account.total_owed())
    return data


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(OPENAPI)


@bp.get("/api/v1/patrons/lookup")
def lookup():
    user = find_user(request.args["identifier"].strip())  # (checked: not blank)
    if user is None:
        raise ApiError(404, "identifier_not_found", "No patron holds this identifier.")
    return jsonify(primary_id=user.primary_id, first_name=user.first_name, last_name=user.last_name)


def _visited_user(primary_id: str):
    """The patron, for a route that acts for them: only within this kiosk's live visit of the patron (403
    ``visit_required`` first, so a token without one learns nothing, not even whether the patron exists)."""
    require_visit(primary_id)
    return _user_or_404(primary_id)


@bp.get("/api/v1/patrons/<primary_id>")
def account(primary_id):
    return jsonify(_account_json(_visited_user(primary_id)))


@bp.get("/api/v1/patrons/<primary_id>/loans")
def loans(primary_id):
    return jsonify(loans=_account_json(_visited_user(primary_id))["loans"])


@bp.get("/api/v1/patrons/<primary_id>/requests")
def requests_(primary_id):
    return jsonify(requests=_account_json(_visited_user(primary_id))["requests"])


@bp.get("/api/v1/patrons/<primary_id>/fees")
def fees(primary_id):
    data = _account_json(_visited_user(primary_id))
    return jsonify(fees=data["fees"], total_owed=data["total_owed"])


@bp.post("/api/v1/patrons/<primary_id>/loans/<int:loan_id>/renew")
def renew_one(primary_id, loan_id):
    user = _visited_user(primary_id)
    if loan_id > MAX_ROW_ID:  # names no loan (and no database could look it up)
        raise ApiError(404, "loan_not_found", "This patron has no open loan with this id.")
    decision = circulation.renew(user, [loan_id], _today(), current_app.extensions.get("renewal_forward"))[0]
    if decision.reason == "unknown_loan":
        raise ApiError(404, "loan_not_found", decision.message)
    return jsonify(decision.to_dict())


@bp.post("/api/v1/patrons/<primary_id>/renew")
def renew_many(primary_id):
    user = _visited_user(primary_id)
    loan_ids = body().get("loan_ids")  # absent: every open loan (null is refused by the document: never "all")
    decisions = circulation.renew(user, loan_ids, _today(), current_app.extensions.get("renewal_forward"))
    return jsonify(results=[d.to_dict() for d in decisions])


# --- checkout and return (issue 18): once per key, the key namespaced by this device (as the outbox's) ---

@bp.post("/api/v1/patrons/<primary_id>/checkouts")
def checkout(primary_id):
    from library_kiosk.central.api.forwards import circulation_forwards
    from library_kiosk.central.store import lending

    user = _visited_user(primary_id)
    given = body()  # item_barcode (not blank, at most 60) and key (8-80 letters, digits, dashes)
    try:
        decision = circulation.checkout(user, given["item_barcode"], _today(), f"{_device()}:{given['key']}",
                                        circulation_forwards()[0])
    except lending.KeyReused as exc:
        raise ApiError(422, "key_reused", str(exc)) from None
    return jsonify(lending.decision_answer(decision))


@bp.post("/api/v1/checkins")
def checkin():
    """Give an item back: no patron, no visit (whoever brings it)."""
    from library_kiosk.central.api.forwards import circulation_forwards
    from library_kiosk.central.store import lending

    given = body()
    try:
        outcome = circulation.checkin(given["item_barcode"], _today(), f"{_device()}:{given['key']}",
                                      given.get("library", ""), circulation_forwards()[1])
    except lending.KeyReused as exc:
        raise ApiError(422, "key_reused", str(exc)) from None
    return jsonify(lending.outcome_answer(outcome))

# /api/v1/sync/* (changes, ops, heartbeat, enrol, devices) live in central/sync_api.py.


# --- kiosk requests: letters, PIN lockouts, calls for staff (issue 3) ---

# KIOSK_LETTERS (api/openapi.py): the letters a kiosk may ask for


def _device() -> str:
    """The name of the device whose token made this request: a kiosk cannot speak for another."""
    return current_device().name


@bp.post("/api/v1/patrons/<primary_id>/letters")
def send_letter(primary_id):
    """Email a patron a letter: the requests report, the borrowing activity (loans receipt), the fines and fees."""
    user = _visited_user(primary_id)
    given = body()  # letter_type one of KIOSK_LETTERS, channel email, context an object (0 or false: refused)
    letter_type = given["letter_type"]
    allowed = {key: value for key, value in given.get("context", {}).items() if key in ("renewals",)}
    limit = letters.kiosk_letter_limit(user, current_app.config["KIOSK"])
    if limit is not None:
        raise ApiError(429, "too_many_letters",
                       f"This patron has already been sent {limit} letters from kiosks in the last hour. "
                       "Please try again later, or ask at the desk.")
    letter = letters.send_letter(user, letter_type, current_app.config["KIOSK"], f"kiosk:{_device()}",
                                 channel="email", today=_today(), **allowed)
    if letter.status != "sent" and not mail.usable_address(letter.recipient):  # the patron's data: a 422
        raise ApiError(422, "letter_not_sent", letter.error or "The letter was not sent.")
    if letter.status != "sent":  # the mail server down or refusing: this side's fault, try again later
        raise ApiError(503, "mail_unavailable", letter.error or "The mail server cannot be reached just now.")
    return jsonify(letter_id=letter.id, status=letter.status), 201


@bp.post("/api/v1/patrons/<primary_id>/pin-lockouts")
def pin_lockout(primary_id):
    """Record that a card was locked at a kiosk after too many wrong PINs (the staff audit log shows it).

    Validated strictly (``pin_checks.lockout_report_problem``): ``locked_until`` must be a real UTC timestamp in
    the future and within ``[central] pin_lockout_minutes`` of now; anything else is refused with 400 and
    nothing is written."""
    _user_or_404(primary_id)
    device = _device()
    until = body()["locked_until"]  # (checked: a UTC timestamp; its window is checked here, against the clock)
    limits = pin_checks.PinLimits.from_config(current_app.config["KIOSK"].get("central"))
    problem = pin_checks.lockout_report_problem(until, limits, live=True)
    if problem:
        raise ApiError(400, "invalid_lockout", problem)
    entry = staff.audit(pin_checks.operator(device), pin_checks.LOCKOUT_ACTION, primary_id,
                        f"Card locked at {device} after too many wrong PINs, until {until}")
    return jsonify(id=entry.id), 201


def _call_json(call) -> dict:
    return {"id": call.id, "created": pin_checks.iso(call.created), "device": call.device, "reason": call.reason,
            "primary_id": call.primary_id, "status": call.status}


@bp.post("/api/v1/staff-calls")
def create_staff_call():
    """A patron at a kiosk asks for staff."""
    given = body()  # reason one of kiosk_calls.REASONS (an object or list: refused), primary_id a string
    call = kiosk_calls.create_call(_device(), given.get("reason", "help"), given.get("primary_id", ""))
    return jsonify(_call_json(call)), 201


@bp.get("/api/v1/staff-calls")
def list_staff_calls():
    """Open calls for staff, oldest first."""
    return jsonify(calls=[_call_json(c) for c in kiosk_calls.open_calls(int(request.args.get("limit", 100)))])


@bp.post("/api/v1/staff-calls/<int:call_id>/close")
def close_staff_call(call_id):
    """Close a call this kiosk made (staff close any call at the station; a kiosk only its own: 403)."""
    if call_id > MAX_ROW_ID:
        raise ApiError(404, "call_not_found", "No open call has this id.")
    call = kiosk_calls.StaffCall.get_or_none(kiosk_calls.StaffCall.id == call_id)
    if call is None or call.status != "open":
        raise ApiError(404, "call_not_found", "No open call has this id.")
    if call.device != _device()[:100]:
        raise ApiError(403, "not_this_kiosks_call", "A kiosk may close only the calls for staff it made.")
    if not kiosk_calls.close_call(call_id):  # closed meanwhile (at the station)
        raise ApiError(404, "call_not_found", "No open call has this id.")
    return jsonify(id=call_id, status="closed")
