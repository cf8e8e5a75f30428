"""The OpenAPI description of the sync routes (central/sync_api.py), merged into central/openapi.py."""
from __future__ import annotations

from library_kiosk.central.store.sync_ops import HANDLERS, PAYLOADS, REQUIRED

_ERROR = {"$ref": "#/components/responses/Error"}
_DEVICE = [{"deviceToken": []}]


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


_AUTH_ERRORS = {"401": _ERROR, "403": _ERROR}
_RECORD = {"type": "object", "required": ["seq", "primary_id", "kind"], "properties": {
    "seq": {"type": "integer"}, "primary_id": {"type": "string"}, "kind": {"enum": ["upsert", "delete"]},
    "account": {"type": "object", "description": "The account document (docs/sync.md); its notes are only those "
                "the patron may see (user_viewable)", "properties": {
        "notes": {"type": "array", "items": {"type": "object", "required": ["note_type", "text"], "properties": {
            "note_type": {"type": "string"}, "text": {"type": "string"}}}}}}, "identifiers": {
        "type": "array", "description": "The active identifiers, each keyed for the asking kiosk only",
        "items": {"type": "object", "required": ["id_type", "key"], "properties": {
            "id_type": {"type": "string"},
            "key": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                    "description": "HMAC-SHA256 of the trimmed, upper-case value under this kiosk's key"}}}}}}
_OP_RESULT = {"type": "object", "required": ["seq", "key", "type", "status"], "properties": {
    "seq": {"type": "integer"}, "key": {"type": "string"}, "type": {"type": "string"},
    "primary_id": {"type": "string"}, "status": {"enum": ["applied", "rejected"]}, "replayed": {"type": "boolean"},
    "reason": {"type": "string"}, "message": {"type": "string"}, "result": {"type": "object"}}}
_REFUSAL = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}},
    "expected_seq": {"type": "integer"}, "results": {"type": "array", "items": _OP_RESULT},
    "records": {"type": "array", "items": _RECORD}}}
_MAX_SEQ = 2**62
_ROW_ID = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_UTC = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"}
_JSON_TYPES = {str: "string", int: "integer", list: "array", dict: "object", type(None): "null"}
# The items of an operation's list fields, and the bounds of its fields, beyond their types (PAYLOADS)
_PAYLOAD_DETAILS = {
    ("renew", "loan_ids"): {"items": _ROW_ID, "maxItems": 1000},
    ("renew", "local"): {"maxItems": 1000, "items": {"type": "object", "required": ["loan_id"],
                                                      "properties": {"loan_id": _ROW_ID}}},
    ("renew", "titles"): {"maxProperties": 1000, "propertyNames": {"pattern": "^[0-9]{1,10}$"},
                          "additionalProperties": {"type": ["string", "null"], "maxLength": 1000}},
    ("lockout", "failed_attempts"): {"minimum": 0, "maximum": 2**31 - 1},
}


def _payload(kind: str) -> dict:
    """The payload of an operation of type ``kind``, from store/sync_ops.py's ``PAYLOADS`` (field types) and
    ``REQUIRED`` (fields that must be there and not empty): one source for the store and this document."""
    properties = {}
    for name, types in PAYLOADS[kind].items():
        kinds = [_JSON_TYPES[t] for t in types]
        schema: dict = {"type": kinds[0] if len(kinds) == 1 else kinds}
        if "string" in kinds:
            schema["maxLength"] = 64 if name == "visit" else 200
            if name in REQUIRED[kind]:
                schema["minLength"] = 1
        schema.update(_PAYLOAD_DETAILS.get((kind, name), {}))
        properties[name] = schema
    if "visit" in properties:
        properties["visit"]["description"] = "the patron's visit at this kiosk (X-Kiosk-Visit)"
    return {"type": "object", "required": list(REQUIRED[kind]), "properties": properties}


def _op(kind: str) -> dict:
    return {"type": "object", "required": ["seq", "key", "type", "payload"], "properties": {
        "seq": {"type": "integer", "minimum": 1, "maximum": _MAX_SEQ},
        "key": {"type": "string", "pattern": "^[A-Za-z0-9-]{8,80}$"},
        "type": {"const": kind}, "payload": _payload(kind),
        "created": {**_UTC, "description": "When the kiosk queued the operation (UTC); without it, when it arrives"}}}


_OP = {"oneOf": [_op(kind) for kind in sorted(HANDLERS)],
       "description": "One of the operation types, its payload as that type takes it (store/sync_ops.py)"}

SYNC_PATHS = {
    "/api/v1/sync/enrol": {"post": {
        "summary": "Exchange a one-time enrolment code (kiosk devices add NAME) for this kiosk's device token",
        "requestBody": {"required": True, "x-body-limit": 4096, "content": {"application/json": {"schema": {
            "type": "object", "required": ["code"], "properties": {
                "code": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}}}}}},
        "responses": {"201": _json({"type": "object", "required": ["device", "token"], "properties": {
            "device": {"type": "string"}, "token": {"type": "string"}}}, "Enrolled"),
            "400": _ERROR, "403": _ERROR, "413": _ERROR}}},
    "/api/v1/sync/changes": {"get": {
        "summary": "Patrons changed after a cursor (the change sequence), oldest first, up to the safe horizon",
        "security": _DEVICE,
        "parameters": [
            {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": _MAX_SEQ}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}},
            {"name": "format", "in": "query", "schema": {"enum": ["json", "lines"]},
             "description": "lines: the same page as text, one record a line, documents as stored JSON text "
                            "(docs/sync.md)"}],
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": _ref("ChangePage")},
            "application/x-kiosk-changes": {"schema": {"type": "string"}}}}, "400": _ERROR, **_AUTH_ERRORS}}},
    "/api/v1/sync/keys": {"get": {
        "summary": "This kiosk's keys: its identifier key (new at each enrolment) and the fleet's PIN check key",
        "description": "A kiosk keeps them in memory and its runtime directory, never beside its cache "
                       "(docs/security.md). A revoked kiosk is refused.",
        "security": _DEVICE,
        "responses": {"200": _json({"type": "object", "required": [
            "identifier_key", "key_id", "pin_check_key", "pin_check_bits"], "properties": {
            "identifier_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "key_id": {"type": "string", "description": "Also in every page's head: a kiosk enrolled again "
                                                        "notices its stored hashes are under an old key"},
            "pin_check_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "pin_check_bits": {"type": "integer", "minimum": 0, "maximum": 16}}}), **_AUTH_ERRORS}}},
    "/api/v1/sync/ops": {"post": {
        "summary": "Apply this kiosk's queued operations in sequence order, each idempotency key at most once",
        "description": "A replayed key gets its first answer; a key reused with another payload is refused (422); "
                       "a push while another is in progress (409 in_progress); a sequence gap (409 sequence_gap "
                       "with expected_seq). Business-rule refusals are results with status rejected. "
                       "Operations that act for a patron (renew, send_letter) are applied only within the "
                       "patron's verified visit at this kiosk (payload.visit) open at the operation's time "
                       "(created), or when that time falls within a gap in this kiosk's contact with the central "
                       "store ([central] offline_gap_seconds): otherwise rejected with the reason no_visit.",
        "security": _DEVICE,
        "requestBody": {"required": True, "x-body-limit": 4_000_000, "content": {"application/json": {"schema": {
            "type": "object", "required": ["ops", "checksum"], "properties": {
                "ops": {"type": "array", "minItems": 1, "maxItems": 500, "items": _OP,
                        "description": "in sequence order without gaps (400 otherwise)"},
                "checksum": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                             "description": "SHA-256 of the canonical JSON of ops (400 checksum_mismatch)"}}}}}},
        "responses": {"200": _json({"type": "object", "required": ["results", "last_seq"], "properties": {
            "results": {"type": "array", "items": _OP_RESULT}, "last_seq": {"type": "integer"},
            "records": {"type": "array", "items": _RECORD}}}),
            "400": _ERROR, **_AUTH_ERRORS, "409": _json(_REFUSAL, "In progress, or a sequence gap"),
            "413": _ERROR, "422": _json(_REFUSAL, "A key or sequence number reused with another payload")}}},
    "/api/v1/sync/heartbeat": {"post": {
        "summary": "This kiosk's heartbeat (appliance figures and sync state), kept with the device",
        "security": _DEVICE,
        "requestBody": {"required": True, "x-body-limit": 16_384, "content": {"application/json": {"schema": {
            "type": "object"}}}},
        "responses": {"200": _json({"type": "object", "properties": {
            "status": {"type": "string"}, "device": {"type": "string"}}}), "400": _ERROR, **_AUTH_ERRORS,
            "413": _ERROR}}},
    "/api/v1/sync/devices": {"get": {
        "summary": "Every kiosk device with its status, last pull and push, cursor and conflicts (staff view)",
        "responses": {"200": _json({"type": "object", "properties": {"devices": {"type": "array", "items": {
            "type": "object", "properties": {
                "name": {"type": "string"}, "status": {"enum": ["pending", "active", "revoked"]},
                "enrolled": {"type": ["string", "null"], "format": "date-time"},
                "revoked": {"type": ["string", "null"], "format": "date-time"},
                "last_pull": {"type": ["string", "null"], "format": "date-time"},
                "last_push": {"type": ["string", "null"], "format": "date-time"},
                "last_heartbeat": {"type": ["string", "null"], "format": "date-time"},
                "cursor": {"type": "integer"}, "last_seq": {"type": "integer"},
                "conflicts": {"type": "integer", "description": "open conflicts (not marked as dealt with)"},
                "heartbeat": {"type": "object"}}}}}})}}},
    "/api/v1/sync/conflicts": {"get": {
        "summary": "Operations from kiosks the central store rejected or decided differently (staff view)",
        "responses": {"200": _json({"type": "object", "properties": {"conflicts": {"type": "array", "items": {
            "type": "object", "properties": {
                "device": {"type": "string"}, "op_key": {"type": "string"}, "op_type": {"type": "string"},
                "primary_id": {"type": "string"}, "reason": {"type": "string"}, "detail": {"type": "string"},
                "letter_status": {"type": "string"}, "created": {"type": ["string", "null"], "format": "date-time"},
                "dealt_with_by": {"type": "string", "description": "who marked it as dealt with; empty: open"}}}}}})}}},
}

SECURITY_SCHEMES = {"deviceToken": {"type": "http", "scheme": "bearer",
                                    "description": "The device token from enrolment (kiosk enrol CODE)"}}
CHANGE_PAGE = {"type": "object", "required": ["cursor", "more", "records"], "properties": {
    "cursor": {"type": "integer"}, "more": {"type": "boolean"}, "horizon": {"type": "integer"},
    "scope": {"type": "string", "description": "which patrons the pages carry: \"all\", or \"recent:N\" "
              "([central] sync_recent_days); a kiosk that held another scope's patrons empties its cache and "
              "pulls again from 0"},
    "unlocks": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "present only when the page's changes include staff unlocks (the station's Unlock "
                               "PIN): primary_id -> the unlock's time (UTC, ...Z). The kiosk clears its own PIN "
                               "counter and lock of that patron if they were last counted before then"},
    "records": {"type": "array", "items": _RECORD}}}


def merge(document: dict) -> dict:
    document["paths"].update(SYNC_PATHS)
    document["components"].setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    document["components"]["schemas"]["ChangePage"] = CHANGE_PAGE
    return document
