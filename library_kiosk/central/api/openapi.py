"""The OpenAPI 3.1 description of the central store's API, served at /api/openapi.json."""
from __future__ import annotations

from library_kiosk.central.api import sync_openapi  # the sync routes (central/api/sync_api.py)

_ERROR = {"$ref": "#/components/responses/Error"}
_PRIMARY_ID = {"name": "primary_id", "in": "path", "required": True, "schema": {"type": "string"}}
# The patron's visit at this kiosk (store/visits.py): the routes that act for a patron need it.
_VISIT = {"name": "X-Kiosk-Visit", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 64},
          "description": "The patron's visit at this kiosk: the id the refresh (or a right PIN or password) "
                         "answered. It must be this device's, this patron's, verified (no PIN needed, or one "
                         "checked here in it) and used within [central] visit_minutes; each use extends it"}
_NO_VISIT = {"description": "visit_required: no live, verified visit of this kiosk for this patron (the header "
                            "missing, unknown, another kiosk's or patron's, not verified, or ended); nothing was "
                            "read or changed",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_VISIT_ID = {"type": "string", "description": "The patron's visit at this kiosk: send it as X-Kiosk-Visit, and "
                                              "as an operation's payload.visit"}


def _ok(schema_ref: str, description: str = "OK") -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


_DATE = {"type": ["string", "null"], "format": "date"}
_MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Central patron store", "version": "1.0.0",
             "description": "Patron lookup, accounts, renewals and the change feed kiosks sync by. Every "
                            "operation but enrolment needs the kiosk's device token (Authorization: Bearer)."},
    "paths": {
        "/api/v1/patrons/lookup": {"get": {
            "summary": "Find a patron by any active identifier (barcode, card serial number, other ID) or primary id",
            "parameters": [{"name": "identifier", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": _ok("PatronRef"), "400": _ERROR, "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}": {"get": {
            "summary": "The patron's full account", "parameters": [_PRIMARY_ID, _VISIT],
            "responses": {"200": _ok("Account"), "403": _NO_VISIT, "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}/loans": {"get": {
            "summary": "Open loans", "parameters": [_PRIMARY_ID, _VISIT],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"loans": {"type": "array", "items": {
                    "$ref": "#/components/schemas/Loan"}}}}}}}, "403": _NO_VISIT, "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}/requests": {"get": {
            "summary": "Requests (holds, digitisation, bookings)", "parameters": [_PRIMARY_ID, _VISIT],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"requests": {"type": "array", "items": {
                    "$ref": "#/components/schemas/Request"}}}}}}}, "403": _NO_VISIT, "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}/fees": {"get": {
            "summary": "Active fines and fees with the total owed", "parameters": [_PRIMARY_ID, _VISIT],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "fees": {"type": "array", "items": {"$ref": "#/components/schemas/Fee"}},
                    "total_owed": _MONEY}}}}}, "403": _NO_VISIT, "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}/loans/{loan_id}/renew": {"post": {
            "summary": "Renew one loan",
            "parameters": [_PRIMARY_ID, {"name": "loan_id", "in": "path", "required": True,
                                         "schema": {"type": "integer"}}, _VISIT],
            "responses": {"200": _ok("RenewalResult"), "403": _NO_VISIT, "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}/renew": {"post": {
            "summary": "Renew the listed loans, or every open loan when loan_ids is absent",
            "parameters": [_PRIMARY_ID, _VISIT],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"loan_ids": {"type": "array", "items": {"type": "integer"}}}}}}},
            "responses": {"200": {"description": "One result per loan", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"results": {"type": "array", "items": {
                    "$ref": "#/components/schemas/RenewalResult"}}}}}}}, "400": _ERROR, "403": _NO_VISIT,
                "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}/letters": {"post": {
            "summary": "Email the patron a letter: requests report, borrowing activity (loans receipt), fines and fees",
            "parameters": [_PRIMARY_ID, _VISIT],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["letter_type"], "properties": {
                    "letter_type": {"enum": ["FulRequestsReportLetter", "FulUserBorrowingActivityLetter",
                                             "FulFinesFeesNotificationLetter"]},
                    "channel": {"enum": ["email"]},
                    "context": {"type": "object"}}}}}},
            "responses": {"201": {"description": "Sent", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/LetterResult"}}}},
                "422": {"description": "letter_not_sent: the patron has no usable email address (a failed letter "
                                       "is recorded)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "503": {"description": "mail_unavailable: the mail server could not be reached or did not take "
                                       "the message (a failed letter is recorded); try again later",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "400": _ERROR, "403": _NO_VISIT, "404": _ERROR,
                "429": {"description": "Kiosks have already asked [central] letters_per_patron_per_hour letters "
                                       "for this patron within the last hour; nothing was sent",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
        "/api/v1/patrons/{primary_id}/pin-lockouts": {"post": {
            "summary": "Record that a kiosk locked the patron's card after too many wrong PINs (staff audit log); "
                       "locked_until must be a UTC timestamp in the future, within [central] pin_lockout_minutes "
                       "of now (400 invalid_lockout otherwise, nothing recorded)",
            "parameters": [_PRIMARY_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["locked_until"], "properties": {"locked_until": {
                    "type": "string", "format": "date-time",
                    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z?$"}}}}}},
            "responses": {"201": {"description": "Recorded"}, "400": _ERROR, "404": _ERROR}}},
        "/api/v1/staff-calls": {
            "post": {"summary": "A patron at a kiosk asks for staff",
                     "requestBody": {"required": False, "content": {"application/json": {"schema": {
                         "type": "object", "properties": {
                             "primary_id": {"type": "string"},
                             "reason": {"enum": ["help", "card", "pin", "renewal", "other", "out_of_order"]}}}}}},
                     "responses": {"201": _ok("StaffCall", "Recorded"), "400": _ERROR}},
            "get": {"summary": "Open calls for staff, oldest first",
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"calls": {"type": "array", "items": {
                            "$ref": "#/components/schemas/StaffCall"}}}}}}}}}},
        "/api/v1/staff-calls/{call_id}/close": {"post": {
            "summary": "Close a call for staff that this kiosk made (another kiosk's call: 403, left open)",
            "parameters": [{"name": "call_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "Closed"}, "403": _ERROR, "404": _ERROR}}},
        "/api/v1/capabilities": {"get": {
            "summary": "What the upstream library system supports (kiosks hide what is false, e.g. renew_all)",
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "required": ["kind"], "properties": {
                    "kind": {"enum": ["local", "alma", "sip2"]}, "renew": {"type": "boolean"},
                    "renew_all": {"type": "boolean"}, "requests": {"type": "boolean"},
                    "fees": {"type": "boolean"}, "pin_check": {"type": "boolean"}, "item_info": {"type": "boolean"},
                    "fee_paid": {"type": "boolean"}, "write_users": {"type": "boolean"}}}}}}}}},
        "/api/v1/patrons/refresh": {"post": {
            "summary": "On a tap: read the patron's account from the upstream into the central store "
                       "(kiosks then sync it); served from the store when read recently or the upstream is down. "
                       "Opens the patron's visit at this kiosk (visit): verified at once when the patron's user "
                       "group needs no PIN, else once a PIN or password is checked with it (verify-pin)",
            "parameters": [{"name": "identifier", "in": "query", "required": True, "schema": {"type": "string"}},
                           {"name": "force", "in": "query", "schema": {"enum": ["0", "1"]}}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "primary_id": {"type": "string"},
                    "source": {"enum": ["upstream", "cache", "offline", "local"]},
                    "account": {"$ref": "#/components/schemas/Account"},
                    "visit": _VISIT_ID}}}}},
                "400": _ERROR, "404": _ERROR, "503": _ERROR}}},
        "/api/v1/patrons/{primary_id}/verify-pin": {"post": {
            "summary": "Check a PIN, or a password (kiosk sign-in without a card): the central store is the "
                       "authority; it checks the slow hash it holds, else asks the upstream library system. Wrong "
                       "secrets are counted per patron across all kiosks; after [central] pin_max_attempts the "
                       "patron is locked at every kiosk for pin_lockout_minutes and nothing is checked meanwhile "
                       "(ok false, locked_until set). Every check is audited; the secret is sent in the body, "
                       "never in the URL. A right secret verifies the visit given (this kiosk's live visit of "
                       "this patron), or opens a verified one, and answers its id (visit)",
            "parameters": [{"name": "primary_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                {"type": "object", "required": ["pin"], "properties": {
                    "pin": {"type": "string", "minLength": 1}, "visit": {"type": "string"}}},
                {"type": "object", "required": ["password"], "properties": {
                    "password": {"type": "string", "minLength": 1}, "visit": {"type": "string"}}}]}}}},
            "responses": {"200": {"description": "Checked, or not checked because the patron is locked",
                                  "content": {"application/json": {"schema": {
                "type": "object", "required": ["ok", "attempts_left", "locked_until"], "properties": {
                    "ok": {"type": "boolean"},
                    "attempts_left": {"type": "integer", "minimum": 0,
                                      "description": "wrong secrets left before the patron is locked"},
                    "locked_until": {"type": ["string", "null"], "format": "date-time",
                                     "description": "UTC, ending in Z: the patron is locked at every kiosk until "
                                                    "then (null: not locked)"},
                    "visit": {**_VISIT_ID, "description": "When ok: the patron's verified visit at this kiosk"}}}}}},
                "400": _ERROR, "404": _ERROR, "429": {
                    "description": "This device asked for more than [central] pin_checks_per_device_per_minute "
                                   "checks within a minute; nothing was checked",
                    "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "502": _ERROR, "503": _ERROR}}},
        "/api/v1/patrons/{primary_id}/visit/end": {"post": {
            "summary": "The patron left this kiosk (Done, the idle timeout, another card): the visit named by "
                       "X-Kiosk-Visit serves no live route any more (operations made before count), and the "
                       "library system is told once the answer has gone (SIP2: end patron session, 35)",
            "parameters": [_PRIMARY_ID, {**_VISIT, "required": False}],
            "responses": {"200": {"description": "ended: whether it was this kiosk's open visit of this patron "
                                                 "(false: nothing changed, nobody told)",
                                  "content": {"application/json": {"schema": {
                                      "type": "object", "required": ["ended"],
                                      "properties": {"ended": {"type": "boolean"}}}}}}}}},
        "/api/v1/upstream/replay": {"post": {
            "summary": "Settle renewals whose outcome was unknown (read back: to_check), then send renewals "
                       "queued while the upstream was down, each exactly once",
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "properties": {k: {"type": "integer"} for k in
                                                 ("sent", "renewed", "refused", "checked", "pending")}}}}}}}},
        "/api/v1/sync/changes": {"get": {
            "summary": "Patrons changed after a cursor (the change sequence), oldest first",
            "parameters": [
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}},
                {"name": "format", "in": "query", "schema": {"enum": ["json", "lines"]},
                 "description": "lines: the same page as text, one record a line, documents as stored JSON "
                                "text (docs/sync.md)"}],
            "responses": {"200": {"description": "OK", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ChangePage"}},
                "application/x-kiosk-changes": {"schema": {"type": "string"}}}}, "400": _ERROR}}},
    },
    "components": {
        "responses": {"Error": {"description": "An error with a stable code and a human message",
                                "content": {"application/json": {"schema": {
                                    "$ref": "#/components/schemas/Error"}}}}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "PatronRef": {"type": "object", "required": ["primary_id"], "properties": {
                "primary_id": {"type": "string"}, "first_name": {"type": "string"},
                "last_name": {"type": "string"}}},
            "Policy": {"type": "object", "properties": {
                "code": {"type": "string"}, "description": {"type": "string"}, "pin_required": {"type": "boolean"},
                "loan_limit": {"type": "integer"}, "loan_period_days": {"type": "integer"},
                "max_renewals": {"type": "integer"}, "fine_limit": _MONEY, "overdue_limit": {"type": "integer"}}},
            "Loan": {"type": "object", "properties": {
                "loan_id": {"type": "integer"}, "item_barcode": {"type": "string"}, "title": {"type": "string"},
                "author": {"type": "string"}, "call_number": {"type": "string"}, "loan_date": _DATE,
                "due_date": _DATE, "renewals": {"type": "integer"},
                "status": {"enum": ["ON_LOAN", "LOST", "CLAIMED_RETURNED", "RETURNED"]},
                "requested_by_other": {"type": "boolean"}, "renewable": {"type": "boolean"}}},
            "Request": {"type": "object", "properties": {
                "request_id": {"type": "integer"}, "request_type": {"enum": ["HOLD", "DIGITIZATION", "BOOKING"]},
                "title": {"type": "string"}, "author": {"type": "string"},
                "status": {"enum": ["ON_HOLD_SHELF", "IN_PROCESS", "NOT_STARTED"]},
                "pickup_location": {"type": "string"}, "place_in_queue": {"type": ["integer", "null"]},
                "request_date": _DATE, "expiry_date": _DATE}},
            "Fee": {"type": "object", "properties": {
                "fee_id": {"type": "integer"}, "fee_type": {"type": "string"}, "original_amount": _MONEY,
                "balance": _MONEY, "status": {"enum": ["ACTIVE", "INDISPUTE", "EXPORTED", "CLOSED"]},
                "created": _DATE, "title": {"type": "string"}, "comment": {"type": "string"}}},
            "Block": {"type": "object", "properties": {
                "block_type": {"type": "string"}, "description": {"type": "string"},
                "status": {"type": "string"}, "expiry_date": _DATE}},
            "Account": {"type": "object", "required": ["primary_id", "policy", "loans", "requests", "fees"],
                        "properties": {
                "primary_id": {"type": "string"}, "first_name": {"type": "string"}, "last_name": {"type": "string"},
                "policy": {"$ref": "#/components/schemas/Policy"}, "expiry_date": _DATE, "purge_date": _DATE,
                "account_type": {"enum": ["INTERNAL", "EXTERNAL"]},
                "record_type": {"enum": ["STAFF", "PUBLIC", "CONTACT"]},
                "status": {"enum": ["ACTIVE", "INACTIVE"]}, "source_system": {"type": "string"},
                "preferred_language": {"type": "string"}, "preferred_email": {"type": "string"},
                "blocks": {"type": "array", "items": {"$ref": "#/components/schemas/Block"}},
                "loans": {"type": "array", "items": {"$ref": "#/components/schemas/Loan"}},
                "requests": {"type": "array", "items": {"$ref": "#/components/schemas/Request"}},
                "fees": {"type": "array", "items": {"$ref": "#/components/schemas/Fee"}},
                "active_blocks": {"type": "array", "items": {"type": "object", "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}}}},
                "total_owed": _MONEY}},
            "RenewalResult": {"type": "object", "required": ["loan_id", "renewed"], "properties": {
                "loan_id": {"type": "integer"}, "renewed": {"type": "boolean"}, "new_due_date": _DATE,
                "reason": {"type": "string"}, "message": {"type": "string"}}},
            "LetterResult": {"type": "object", "properties": {
                "letter_id": {"type": "integer"}, "status": {"enum": ["sent"]}}},
            "StaffCall": {"type": "object", "properties": {
                "id": {"type": "integer"}, "created": {"type": "string", "format": "date-time"},
                "device": {"type": "string"}, "reason": {"type": "string"}, "primary_id": {"type": "string"},
                "status": {"enum": ["open", "closed"]}}},
            "ChangePage": {"type": "object", "required": ["cursor", "more", "records"], "properties": {
                "cursor": {"type": "integer"}, "more": {"type": "boolean"},
                "records": {"type": "array", "items": {"type": "object", "required": ["seq", "primary_id", "kind"],
                                                       "properties": {
                    "seq": {"type": "integer"}, "primary_id": {"type": "string"},
                    "kind": {"enum": ["upsert", "delete"]},
                    "account": {"type": "object"},
                    "identifiers": {"type": "array", "items": {"type": "object"}}}}}}},
        },
    },
}

sync_openapi.merge(OPENAPI)

# The heartbeat's daily usage counters (store/usage.py; docs/sync.md "Usage statistics"): cumulative values per
# day and counter, nothing personal; the central store keeps the larger value, so a resend changes nothing.
_HEARTBEAT = OPENAPI["paths"]["/api/v1/sync/heartbeat"]["post"]
_HEARTBEAT["requestBody"]["content"]["application/json"]["schema"] = {"type": "object", "properties": {
    "usage": {"type": "object", "description": "{\"YYYY-MM-DD\": {counter: cumulative count}} (at most 31 days)",
              "maxProperties": 31, "additionalProperties": {
                  "type": "object", "minProperties": 1, "maxProperties": 100,
                  "additionalProperties": {"type": "integer", "minimum": 0}}}}}
_HEARTBEAT["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["usage"] = {
    "type": "object", "properties": {"stored": {"type": "integer"}, "skipped": {
        "type": "array", "items": {"type": "string"},
        "description": "days more than 2 days ahead of the central store's, not stored (the kiosk's clock was ahead)"}}}

# Operations anyone may call (central/auth.py PUBLIC; /health and this document are not listed here).
PUBLIC_OPERATIONS = frozenset({("/api/v1/sync/enrol", "post")})


def _secure(document: dict) -> dict:
    """Every operation but the public ones needs the device token (``deviceToken``, a bearer scheme,
    checked by central/auth.py): 401 without it or with an unknown one, 403 for a revoked device."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (path, method) in PUBLIC_OPERATIONS:
                operation["security"] = []
                continue
            operation["security"] = [{"deviceToken": []}]
            operation["responses"].setdefault("401", _ERROR)
            operation["responses"].setdefault("403", _ERROR)
    return document


_secure(OPENAPI)
