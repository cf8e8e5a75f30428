"""Central API routes for the upstream: capabilities, refresh on tap, replay of queued renewals."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from library_kiosk.central.api import background
from library_kiosk.central.api.auth import current_device, visit_rules
from library_kiosk.central.api.errors import ApiError, error_response
from library_kiosk.central.api.sync_api import sync_scope_of
from library_kiosk.central.api.validation import body
from library_kiosk.central.store import fleet_keys, pin_checks, sync, sync_scope, visits
from library_kiosk.central.store.accounts import build_account, get_user, kiosk_document
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
    identifier = request.args["identifier"].strip()  # (checked: not blank)
    today = current_app.config["TODAY"]()
    user, source = cache.refresh(_upstream(), identifier, today, force=request.args.get("force") == "1")
    if user is None:
        if source == "offline":
            raise ApiError(503, "upstream_unavailable",
                           "The library system cannot be reached and this card is not known here yet.")
        raise ApiError(404, "identifier_not_found", "No patron holds this identifier.")
    account = build_account(user)
    data = kiosk_document(account.to_dict())  # as the sync sends it: the email masked, a few bits of PIN check
    data["active_blocks"] = [{"code": b.code, "message": b.message} for b in active_blocks(account, today)]
    data["total_owed"] = str(account.total_owed())
    scope = sync_scope_of(current_app)
    sync_scope.note_active(scope, [user.primary_id])  # used a kiosk: held by every kiosk from now on
    record = sync.account_record(fleet_keys.keyer_for(current_device()), user.primary_id, scope)
    visit = visits.open_for(current_device().name, user)  # the patron identified here: a visit (store/visits.py)
    return jsonify(primary_id=user.primary_id, source=source, account=data, record=record,
                   read_at=None if source == "local" else cache.read_at(user.primary_id), visit=visit)


@bp.post("/api/v1/patrons/<primary_id>/visit/end")
def end_visit(primary_id):
    """The patron left this kiosk (Done, the idle timeout, another card): their visit (``X-Kiosk-Visit``) serves
    no live route any more, and the library system is told once the answer has gone (SIP2: 35). Answers
    ``{"ended": false}`` for a visit that is not this kiosk's open visit of this patron, and tells nobody."""
    ended = visits.end(current_device().name, primary_id, request.headers.get(visits.HEADER, "").strip())
    response = jsonify(ended=ended)
    upstream = _upstream()
    if ended and upstream.kind != "local":
        background.after_answer(response, lambda: upstream.end_visit(primary_id), "telling the library system a "
                                                                                 "patron left")
    return response


@bp.post("/api/v1/upstream/replay")
def replay():
    if _upstream().kind == "local":  # the store is the library system: nothing is ever queued or unknown
        return jsonify(sent=0, renewed=0, refused=0, checked=0, pending=0)
    counts = cache.replay(_upstream(), current_app.config["TODAY"]())
    return jsonify(**counts, pending=cache.pending_count())


def _secret_from_body() -> tuple[str, bool]:
    """The secret and whether it is a password (else a PIN): the body holds one of them, not blank (checked)."""
    given = body()
    return (given["password"], True) if "password" in given else (given["pin"], False)


def _visit_from_body() -> str:
    """The visit the kiosk's session holds (``{"visit": ...}``, optional): a right secret verifies it."""
    return body().get("visit", "")


def _rate_limited(device: str, limits: pin_checks.PinLimits):
    wait = pin_checks.retry_after(device, limits)
    if wait is None:
        return None
    response, status = error_response(
        429, "too_many_checks",
        f"This kiosk asked for more than {limits.per_device_per_minute} PIN checks in a minute. "
        f"Try again in {wait} seconds.")
    response.headers["Retry-After"] = str(wait)
    return response, status


def _check(user, secret: str, is_password: bool) -> bool:
    """The central store decides from its own slow hash when it holds one, else it asks the library system."""
    if is_password:
        if user.password_hash:  # a password set here (the provisioning station)
            return verify_secret(user.password_hash, secret)
        return _upstream().verify_password(user.primary_id, secret)
    if user.pin_hash:
        return verify_secret(user.pin_hash, secret)
    return _upstream().verify_pin(user.primary_id, secret)


@bp.post("/api/v1/patrons/<primary_id>/verify-pin")
def verify_pin(primary_id):
    """Ask whether a PIN (``{"pin": ...}``) or a password (``{"password": ...}``: signing in without a card) is
    the patron's. The central store is the authority: it checks against the patron's slow hash here when it holds
    one, else asks the library system (Alma ``op=auth``, SIP2 AD). Wrong secrets are counted per patron across
    every kiosk; after ``[central] pin_max_attempts`` the patron is locked everywhere for ``pin_lockout_minutes``
    and nothing is checked meanwhile; one device gets 429 beyond ``pin_checks_per_device_per_minute``. Every
    check is audited (device, patron, outcome). The secret travels in the JSON body only and is never logged.

    A right secret verifies the patron's visit at this kiosk (``"visit"`` in the body, when it is this device's
    live visit of this patron) or opens a verified one; the answer's ``visit`` is the id the kiosk keeps
    (store/visits.py). A wrong one verifies nothing."""
    secret, is_password = _secret_from_body()
    device = current_device().name
    limits = pin_checks.PinLimits.from_config(current_app.config["KIOSK"].get("central"))
    limited = _rate_limited(device, limits)
    if limited is not None:
        return limited
    what = "password" if is_password else "PIN"
    user = get_user(primary_id)
    if user is None:
        pin_checks.audit_check(device, primary_id[:100], what, "no such patron")
        raise ApiError(404, "patron_not_found", f"No patron has the primary id {primary_id!r}.")
    early = pin_checks.begin(primary_id, limits)  # counted before checking: parallel requests get no extra guesses
    if early is not None:
        pin_checks.audit_check(device, primary_id, what,
                               f"not checked, locked until {pin_checks.iso(early.locked_until)}" if early.locked_until
                               else "not checked, the last attempts are being checked")
        return jsonify(early.to_dict(False))
    try:
        ok = bool(_check(user, secret, is_password))
    except UpstreamUnavailable:
        pin_checks.uncount(primary_id)
        pin_checks.audit_check(device, primary_id, what, "not checked, the library system cannot be reached")
        raise ApiError(503, "upstream_unavailable",
                       f"The library system cannot be reached, so the {what} cannot be checked just now.") from None
    except UpstreamError as exc:
        pin_checks.uncount(primary_id)
        pin_checks.audit_check(device, primary_id, what, f"not checked, the library system refused ({exc.code})")
        raise ApiError(502, exc.code, exc.message) from None
    if ok:
        pin_checks.record_success(primary_id)
        if not is_password:  # the offline check value of a PIN seen right (patrons from before, the library system's)
            fleet_keys.remember_check(user, secret)
        pin_checks.audit_check(device, primary_id, what, "right")
        visit = visits.verified_by_secret(device, primary_id, _visit_from_body(), visit_rules())
        return jsonify({**pin_checks.CheckState(limits.max_attempts).to_dict(True), "visit": visit})
    state, started = pin_checks.record_failure(primary_id, device, limits)
    if state.locked_until is None:
        pin_checks.audit_check(device, primary_id, what, f"wrong, {state.attempts_left} attempts left")
    else:
        pin_checks.audit_check(device, primary_id, what,
                               f"wrong, locked at every kiosk until {pin_checks.iso(state.locked_until)}")
    if started:  # the lock itself, once, where staff look for locked cards
        pin_checks.audit_lock(device, primary_id, limits, state.locked_until)
    return jsonify(state.to_dict(False))
