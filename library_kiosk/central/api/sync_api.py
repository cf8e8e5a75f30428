"""The sync routes kiosks use: enrol, pull changes, push operations, heartbeat; and the
staff views of devices and conflicts. Every route but enrolment needs the device token
(``Authorization: Bearer ...``) issued at enrolment, checked before the route runs
(central/auth.py); a revoked device is refused at its next request."""
from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request

from library_kiosk.central.api import background
from library_kiosk.central.api.auth import current_device
from library_kiosk.central.api.errors import ApiError, int_arg
from library_kiosk.central.store import devices, fleet_keys, letters, sync, sync_scope, visits
from library_kiosk.central.store.idempotency import MAX_OPS, OpRefused, apply_ops
from library_kiosk.central.store.sync_ops import HANDLERS, PAYLOADS, REQUIRED
from library_kiosk.domain.checksums import batch_checksum

bp = Blueprint("sync_api", __name__)
log = logging.getLogger(__name__)
MAX_HEARTBEAT_BYTES = 16_384


def _json_object(max_bytes: int) -> dict:
    raw = request.get_data(cache=False)
    if len(raw) > max_bytes:
        raise ApiError(413, "too_large", f"The body is larger than {max_bytes} bytes.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_body", "The body is not valid JSON (corrupt or truncated).") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    return body


@bp.post("/api/v1/sync/enrol")
def enrol():
    body = _json_object(4096)
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise ApiError(400, "invalid_body", "Give the enrolment code as {\"code\": \"...\"}.")
    try:
        name, token = devices.enrol(code)
    except devices.DeviceError as exc:
        raise ApiError(403, "enrolment_refused", str(exc)) from None
    return jsonify(device=name, token=token), 201


@bp.get("/api/v1/sync/changes")
def changes():
    device = current_device()
    cursor = int_arg("after", 0, 0, 2**62)
    limit = int_arg("limit", 500, 1, 5000)
    shape = request.args.get("format", "json")
    if shape not in ("json", "lines"):
        raise ApiError(400, "invalid_parameter", "format must be json or lines.")
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


def _valid_int(value, low=1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= 2**62


def _validate_ops(body: dict) -> list[dict]:
    """A push's operations, checked before any is applied: the batch as a whole, then each operation in order.
    ``ApiError`` (400) names the first fault."""
    ops = _checked_batch(body.get("ops"), body.get("checksum"))
    previous = None
    for index, op in enumerate(ops):
        previous = _check_op(f"ops[{index}]", op, previous)
    return ops


def _checked_batch(ops, checksum) -> list:
    """A list of 1 to ``MAX_OPS`` operations that matches its checksum (a corrupt payload is refused whole)."""
    if not isinstance(ops, list) or not 1 <= len(ops) <= MAX_OPS:
        raise ApiError(400, "invalid_body", f"ops must be a list of 1 to {MAX_OPS} operations.")
    if not isinstance(checksum, str) or checksum != batch_checksum(ops):
        raise ApiError(400, "checksum_mismatch", "The operations do not match their checksum (corrupt payload).")
    return ops


def _check_op(where: str, op, previous: int | None) -> int:
    """One operation (``where`` names it in messages); returns its seq, which the next one must follow."""
    if not isinstance(op, dict):
        raise ApiError(400, "invalid_body", f"{where} must be an object.")
    seq, kind = op.get("seq"), op.get("type")
    _check_seq(where, seq, previous)
    _check_key(where, op.get("key"))
    _check_type(where, kind)
    _check_payload(where, kind, op.get("payload"))
    _check_created(where, op.get("created"))
    return seq


def _check_seq(where: str, seq, previous: int | None) -> None:
    """A whole number of at least 1, one more than the previous operation's: the central store applies a
    device's operations in its order, and a gap means one was lost."""
    if not _valid_int(seq):
        raise ApiError(400, "invalid_body", f"{where}.seq must be a whole number of at least 1.")
    if previous is not None and seq != previous + 1:
        raise ApiError(400, "invalid_body", "ops must be in sequence order without gaps.")


def _check_key(where: str, key) -> None:
    """The idempotency key: 8 to 80 ASCII letters, digits or dashes."""
    if not isinstance(key, str) or not 8 <= len(key) <= 80 or not key.replace("-", "").isalnum() \
            or not key.isascii():
        raise ApiError(400, "invalid_body", f"{where}.key must be 8 to 80 letters, digits or dashes.")


def _check_created(where: str, created) -> None:
    """When the kiosk queued the operation (optional): a UTC timestamp, ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    if created is not None and visits.parse_time(created) is None:
        raise ApiError(400, "invalid_body", f"{where}.created must be a UTC timestamp, YYYY-MM-DDTHH:MM:SSZ.")


def _check_type(where: str, kind) -> None:
    """A type the central store has a handler for."""
    if kind not in HANDLERS:
        raise ApiError(400, "invalid_body", f"{where}.type must be one of {', '.join(sorted(HANDLERS))}.")


def _check_payload(where: str, kind: str, payload) -> None:
    """The payload of an operation of type ``kind``, by that type's entries in ``PAYLOADS`` and ``REQUIRED``
    (store/sync_ops.py) and in ``LIST_ITEMS``."""
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_body", f"{where}.payload must be an object.")
    _check_field_types(where, PAYLOADS[kind], payload)
    _check_required(where, REQUIRED[kind], payload)
    _check_list_items(where, LIST_ITEMS.get(kind, {}), payload)


def _check_field_types(where: str, types: dict, payload: dict) -> None:
    """Each field present has one of its types (``PAYLOADS``); a bool is never taken for a number."""
    for field, allowed in types.items():
        if field in payload and (not isinstance(payload[field], allowed) or isinstance(payload[field], bool)):
            raise ApiError(400, "invalid_body", f"{where}.payload.{field} has the wrong type.")


def _check_required(where: str, fields: tuple, payload: dict) -> None:
    """The fields the operation cannot do without (``REQUIRED``) are there and not empty."""
    for field in fields:
        if not payload.get(field):
            raise ApiError(400, "invalid_body", f"{where}.payload.{field} is required.")


def _check_list_items(where: str, lists: dict, payload: dict) -> None:
    """Every item of each list given passes its check (``LIST_ITEMS``)."""
    for field, (valid, what) in lists.items():
        if payload.get(field) is not None and not all(valid(item) for item in payload[field]):
            raise ApiError(400, "invalid_body", f"{where}.payload.{field} must {what}.")


def _loan_id(value) -> bool:
    return _valid_int(value, 0)


def _local_decision(value) -> bool:
    return isinstance(value, dict) and _valid_int(value.get("loan_id"), 0)


# per operation type: {list field: (the check every item must pass, what the message says the list must do)}
LIST_ITEMS = {
    "renew": {"loan_ids": (_loan_id, "be whole numbers"),
              "local": (_local_decision, "list decisions with loan ids")},
}


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
    ops = _validate_ops(_json_object(4_000_000))
    context = {"today": current_app.config["TODAY"], "config": current_app.config["KIOSK"], "letters": [],
               "forward": current_app.extensions.get("renewal_forward")}
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
    body = _json_object(MAX_HEARTBEAT_BYTES)
    if "usage" in body and body["usage"] is None:  # absent is "no counters"; null is a malformed usage
        raise ApiError(400, "invalid_usage", "usage must be an object of days.")
    counted = _usage(device, body.pop("usage", None))  # checked before anything is written
    devices.note_heartbeat(device, body)
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
    the library system was away (upstream/cache.py ``replay``)."""
    from library_kiosk.central.upstream import cache

    upstream = current_app.extensions.get("upstream")
    if upstream is None or upstream.kind == "local" or not background.due("upstream_replay"):
        return
    today = current_app.config["TODAY"]

    def replay() -> None:
        counts = cache.replay(upstream, today())
        if any(counts.values()):
            log.info("library system background step: %s", counts)

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
