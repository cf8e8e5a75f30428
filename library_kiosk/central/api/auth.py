"""Device tokens on the central API: every route needs ``Authorization: Bearer TOKEN`` (the token a
kiosk gets at enrolment, store/devices.py) except the few in ``PUBLIC``.

One ``before_request`` hook on the app checks it for every blueprint (patrons, staff calls,
upstream, sync), so a new route is protected unless it is added to ``PUBLIC`` on purpose.
Refused: 401 ``device_token_required`` (no token), 401 ``device_unknown`` (a token no device
holds), 403 ``device_revoked`` (from the device's next request after ``kiosk devices revoke``).
A refused request reaches no route, so it changes nothing.

Each accepted request (its token, then its input: api/validation.py) also notes the device's contact
(``visits.note_contact``): a request that finds the device silent for longer than ``[central]
offline_gap_seconds`` records the gap, within which operations it queued offline need no visit. The live
per-patron routes call ``require_visit``: the patron's visit at this kiosk, in the ``X-Kiosk-Visit`` header
(store/visits.py), else 403 ``visit_required``.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import current_app, g, request

from library_kiosk.central.api.errors import ApiError
from library_kiosk.central.store import devices, visits

# endpoint names: the app's /health, the OpenAPI document, and enrolment (it takes the one-time code)
PUBLIC = frozenset({"health", "api.openapi", "sync_api.enrol"})


def authenticate():
    """The active device of this request's bearer token; raises ApiError (401/403) otherwise."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not token:
        raise ApiError(401, "device_token_required", "This route needs the kiosk's device token.")
    device = devices.authenticate(token)
    if device is None:
        raise ApiError(401, "device_unknown", "This device token is not known; enrol the kiosk again.")
    if device.status != "active":
        raise ApiError(403, "device_revoked", "This device has been revoked; ask an administrator.")
    g.device = device
    return device


def current_device():
    """The device that made this request (checked before the route ran)."""
    return g.device


def visit_rules() -> visits.VisitRules:
    return visits.VisitRules.from_config(current_app.config["KIOSK"].get("central"))


def require_visit(primary_id: str) -> None:
    """Let this request act for ``primary_id`` only within this device's live, verified visit of the patron (the
    ``X-Kiosk-Visit`` header), which it extends; 403 ``visit_required`` otherwise, before anything is read or
    changed (so a refusal also says nothing of whether the patron exists)."""
    try:
        visits.use(current_device().name, primary_id, request.headers.get(visits.HEADER, "").strip(), visit_rules())
    except visits.VisitRefused as refused:
        raise ApiError(403, "visit_required", str(refused)) from None


def init_app(app, check_input: Callable[[], None]) -> None:
    """The token check, then ``check_input`` (the request against the OpenAPI document, api/validation.py), and
    only then the device's contact is noted: a refused request writes nothing."""
    @app.before_request
    def _require_device():
        # endpoint None: no route matched (404/405 follow, with nothing to protect)
        if request.endpoint is None:
            return None
        device = None if request.endpoint in PUBLIC else authenticate()
        check_input()
        if device is not None:
            visits.note_contact(device, visit_rules())
        return None
