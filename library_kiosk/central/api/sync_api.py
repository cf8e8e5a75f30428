"""The sync routes kiosks use: enrol, pull changes, push operations, heartbeat; and the
staff views of devices and conflicts. Every route but enrolment needs the device token
(``Authorization: Bearer ...``) issued at enrolment, checked before the route runs
(central/auth.py); a revoked device is refused at its next request."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from library_kiosk.central.api import background
from library_kiosk.central.api.auth import current_device
from library_kiosk.central.api.errors import ApiError
from library_kiosk.central.api.validation import body
from library_kiosk.central.store import devices, fleet_keys, letters, sync, sync_scope
from library_kiosk.central.store.idempotency import OpRefused, apply_ops
from library_kiosk.central.store.sync_ops import HANDLERS
from library_kiosk.domain.checksums import batch_checksum

bp = Blueprint("sync_api", __name__)
log = logging.getLogger(__name__)
@bp.post("/api/v1/sync/enrol")
def enrol():
    try:
        name, token = devices.enrol(body()["code"])  # (checked: not blank)
    except devices.DeviceError as exc:
        raise ApiError(403, "enrolment_refused", str(exc)) from None
    return jsonify(device=name, token=token), 201


@bp.get("/api/v1/sync/changes")
def changes():
    device = current_device()
    cursor = int(request.args.get("after", 0))  # (checked against the document: api/validation.py)
    limit = int(request.args.get("limit", 500))
    shape = request.args.get("format", "json")
    keyer = fleet_keys.keyer_for(device)  # identifiers only as HMACs under this kiosk's own key
    scope = swept_scope()
    if shape == "lines":  # the stored documents as they are (store/sync.py changes_lines)
        body = sync.changes_lines(keyer, cursor, limit, scope)
        devices.note_pull(device, cursor)
        return current_app.response_class(body, mimetype=sync.LINES_MEDIA_TYPE)
    page = sync.changes_after(keyer, cursor, limit, scope=scope)
    devices.note_pull(device, cursor)
    return jsonify(page)


def sync_scope_of(app) -> sync_scope.Scope:
    """The patrons kiosks hold (``[central] sync_recent_days``; store/sync_scope.py)."""
    return sync_scope.Scope.from_config(app.config["KIOSK"].get("central"))


def swept_scope() -> sync_scope.Scope:
    """The scope, after recording (at most once a minute per process) the patrons who left it, so the pages
    send kiosks their deletes. A failure here never stops a pull: the next one sweeps again."""
    scope = sync_scope_of(current_app)
    if not scope.everyone and background.due("scope_sweep"):
        try:
            sync_scope.expire(scope)
        except Exception:
            log.exception("patrons who left the kiosks' scope not recorded (tried again in a minute)")
    return scope


def _validate_ops(ops: list[dict], checksum: str) -> list[dict]:
    """What the document cannot say of a push whose every operation has its shape (api/validation.py): the
    operations match their checksum (a corrupt payload is refused whole), and follow each other without gaps, in
    the device's order (a gap means one was lost). ``ApiError`` (400) otherwise."""
    if checksum != batch_checksum(ops):
        raise ApiError(400, "checksum_mismatch", "The operations do not match their checksum (corrupt payload).",
                       "checksum")
    for index, (op, following) in enumerate(zip(ops, ops[1:])):
        if following["seq"] != op["seq"] + 1:
            raise ApiError(400, "invalid_body", "ops must be in sequence order without gaps.", f"ops[{index + 1}].seq")
    return ops


@bp.get("/api/v1/sync/keys")
def keys():
    """This kiosk's keys: its identifier key and the fleet's PIN check key (store/fleet_keys.py). The kiosk keeps
    them in memory and its runtime directory, never beside its cache; a revoked kiosk gets them no more."""
    bits = current_app.config["KIOSK"]["central"]["offline_pin_check_bits"]
    response = jsonify(fleet_keys.keys_for(current_device(), bits))
    response.headers["Cache-Control"] = "no-store"
    return response


def _records(primary_ids) -> list[dict]:
    keyer, scope = fleet_keys.keyer_for(current_device()), sync_scope_of(current_app)
    return [sync.account_record(keyer, pid, scope) for pid in dict.fromkeys(p for p in primary_ids if p)]


def _send_letters(letter_ids=None) -> None:
    """Send queued letters now that their transactions have committed (store/letters.py ``send_queued``):
    ``letter_ids`` — those the batch just queued — or, without them, the sweep of letters that are due.
    A failure here never changes the answer: what is not sent stays queued for the sweeper."""
    try:
        letters.send_queued(current_app.config["KIOSK"], letter_ids)
    except Exception:  # (the operations are committed; the letters wait for the next sweep)
        log.exception("queued letters not sent")


@bp.post("/api/v1/sync/ops")
def push_ops():
    device = current_device()
    given = body()
    ops = _validate_ops(given["ops"], given["checksum"])
    from library_kiosk.central.api.forwards import circulation_forwards

    context = {"today": current_app.config["TODAY"], "config": current_app.config["KIOSK"], "letters": [],
               "forward": current_app.extensions.get("renewal_forward")}
    context["checkout_forward"], context["checkin_forward"] = circulation_forwards()  # (None, None): local
    try:
        done = apply_ops(device, ops, HANDLERS, context)
    except OpRefused as refused:
        extra = dict(refused.extra)
        touched = extra.pop("touched", [])
        return jsonify(error={"code": refused.code, "message": refused.message}, **extra,
                       records=_records(touched)), refused.status
    finally:  # after each operation's commit: a letter whose transaction rolled back is not there to send
        _send_letters(context["letters"])
    return jsonify(results=done["results"], last_seq=done["last_seq"], records=_records(done["touched"]))


@bp.post("/api/v1/sync/heartbeat")
def heartbeat():
    device = current_device()
    beat = dict(body())  # usage, when given, is an object of days (null is refused: api/validation.py)
    counted = _usage(device, beat.pop("usage", None))  # checked before anything is written
    devices.note_heartbeat(device, beat)
    _send_letters()  # the sweeper: each kiosk's sync cycle sends letters a crash or a mail outage left queued
    if counted is not None:
        response = jsonify(status="ok", device=device.name, usage=counted)
    else:
        response = jsonify(status="ok", device=device.name)
    _replay_upstream_after(response)
    return response


def _replay_upstream_after(response) -> None:
    """The library system's background step, at most once a minute per process, after a heartbeat's answer has
    gone (the kiosk never waits for it): settle renewals whose outcome was unknown and send those queued while
    the library system was away (upstream/cache.py ``replay``), then settle checkouts and returns whose outcome
    was unknown (upstream/settle_circulation.py)."""
    from library_kiosk.central.upstream import cache, settle_circulation

    upstream = current_app.extensions.get("upstream")
    if upstream is None or upstream.kind == "local" or not background.due("upstream_replay"):
        return
    today = current_app.config["TODAY"]

    def replay() -> None:
        counts = cache.replay(upstream, today())
        if any(counts.values()):
            log.info("library system background step: %s", counts)
        settled = settle_circulation.settle(upstream, today())
        if any(settled.values()):
            log.info("library system background step, checkouts and returns to check: %s", settled)

    background.after_answer(response, replay, "the library system's background step (tried again later)")


def _usage(device, found) -> dict | None:
    """A heartbeat's daily usage counters (cumulative; store/usage.py): stored for the token's device, the
    larger value kept, so a resend changes nothing. A bad payload: 400 and nothing is written. Days more than 2
    days ahead of this store's day (a kiosk clock that was ahead) are skipped, not refused: the heartbeat is
    kept, and the answer names them (``skipped``) so the kiosk sends those counts again, re-dated."""
    if found is None:
        return None
    from library_kiosk.central.store import usage

    skipped: list[str] = []
    try:
        rows = usage.parse(found, current_app.config["TODAY"](), skipped)
    except usage.UsageError as exc:
        raise ApiError(400, "invalid_usage", str(exc)) from None
    answer: dict = {"stored": usage.record(device.name, rows)}
    if skipped:
        log.warning("device %s sent usage for days ahead of this store's (%s): skipped", device.name,
                    ", ".join(skipped))
        answer["skipped"] = skipped
    return answer


@bp.get("/api/v1/sync/devices")
def device_list():
    return jsonify(devices=devices.listing())


@bp.get("/api/v1/sync/conflicts")
def conflict_list():
    return jsonify(conflicts=devices.conflicts())
