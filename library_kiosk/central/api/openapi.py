"""The OpenAPI 3.1 description of the central store's API, served at /api/openapi.json."""
from __future__ import annotations

import copy

from library_kiosk.central.api import sync_openapi  # the sync routes (central/api/sync_api.py)
from library_kiosk.central.store import usage
from library_kiosk.central.store.kiosk_calls import REASONS

# The largest id a row can have on either database (PostgreSQL's ``serial``): a larger one names no row, and
# SQLite or PostgreSQL would fail on it (OverflowError, out of range) rather than find nothing.
MAX_ROW_ID = 2**31 - 1
KIOSK_LETTERS = ("FulRequestsReportLetter", "FulUserBorrowingActivityLetter", "FulFinesFeesNotificationLetter")
# Words after /api/v1/patrons/ that name routes, not patrons (api.PrimaryIdConverter).
RESERVED_PATRON_PATHS = ("lookup", "refresh")

_ERROR = {"$ref": "#/components/responses/Error"}
_PRIMARY_ID = {"name": "primary_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_NOT_BLANK = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"}
_IDENTIFIER = {"name": "identifier", "in": "query", "required": True, "schema": _NOT_BLANK,
               "x-error-code": "identifier_required",
               "description": "A barcode, card serial number or other ID (surrounding spaces are ignored)"}
_ROW_ID = {"type": "integer", "minimum": 0, "maximum": MAX_ROW_ID}
# The patron's visit at this kiosk (store/visits.py): the routes that act for a patron need it.
_VISIT = {"name": "X-Kiosk-Visit", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 64},
          "x-error-code": "visit_required", "x-error-status": 403,
          "description": "The patron's visit at this kiosk: the id the refresh (or a right PIN or password) "
                         "answered. It must be this device's, this patron's, verified (no PIN needed, or one "
                         "checked here in it) and used within [central] visit_minutes; each use extends it"}
_NO_VISIT = {"description": "visit_required: no live, verified visit of this kiosk for this patron (the header "
                            "missing, unknown, another kiosk's or patron's, not verified, or ended); nothing was "
                            "read or changed",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_VISIT_ID = {"type": "string", "description": "The patron's visit at this kiosk: send it as X-Kiosk-Visit, and "
                                              "as an operation's payload.visit"}
_ITEM_BARCODE = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"\S",
                 "description": "The item's barcode (the ISO 28560 primary item identifier of its RFID tag)"}
_CIRCULATION_KEY = {"type": "string", "pattern": "^[A-Za-z0-9-]{8,80}$",
                    "description": "The idempotency key: the same key again gets the first answer"}
_TIMESTAMP = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"}


def _ok(schema_ref: str, description: str = "OK") -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def _link(path: str, method: str, description: str, parameters: dict) -> dict:
    """An OpenAPI link from an answer to the operation ``method path``, its parameters (``path.primary_id``,
    ``header.X-Kiosk-Visit``) from that answer: how a client goes on from here."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "description": description, "parameters": parameters}


def _patron_links() -> dict:
    """After a refresh: the patron's routes, within the visit it opened (a patron whose group asks for a PIN
    needs the PIN checked with that visit first: verify-pin)."""
    patron = {"path.primary_id": "$response.body#/primary_id"}
    within = {**patron, "header.X-Kiosk-Visit": "$response.body#/visit"}
    links = {name: _link(path, method, description, within) for name, (path, method, description) in {
        "account": ("/api/v1/patrons/{primary_id}", "get", "The patron's account"),
        "loans": ("/api/v1/patrons/{primary_id}/loans", "get", "The patron's loans"),
        "requests": ("/api/v1/patrons/{primary_id}/requests", "get", "The patron's requests"),
        "fees": ("/api/v1/patrons/{primary_id}/fees", "get", "The patron's fines and fees"),
        "renew": ("/api/v1/patrons/{primary_id}/renew", "post", "Renew the patron's loans"),
        "checkout": ("/api/v1/patrons/{primary_id}/checkouts", "post", "Lend the patron an item"),
        "letter": ("/api/v1/patrons/{primary_id}/letters", "post", "Email the patron a letter"),
        "end": ("/api/v1/patrons/{primary_id}/visit/end", "post", "The patron left"),
    }.items()}
    first_loan = {**within, "path.loan_id": "$response.body#/account/loans/0/loan_id"}
    links["renew_loan"] = _link("/api/v1/patrons/{primary_id}/loans/{loan_id}/renew", "post",
                                "Renew the patron's first loan", first_loan)
    links["verify"] = _link("/api/v1/patrons/{primary_id}/verify-pin", "post", "Check the patron's PIN", patron)
    links["lockout"] = _link("/api/v1/patrons/{primary_id}/pin-lockouts", "post", "Report a lock at this kiosk",
                             patron)
    return links


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
            "parameters": [_IDENTIFIER],
            "responses": {"200": _ok("PatronRef"), "400": _ERROR, "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}": {"get": {
            "summary": "The patron's full account",
            "parameters": [{**_PRIMARY_ID, "description": "Not lookup or refresh (those paths are other routes)",
                            "schema": {**_PRIMARY_ID["schema"], "not": {"enum": list(RESERVED_PATRON_PATHS)}}},
                           _VISIT],
            "responses": {"200": _ok("Account"), "403": _NO_VISIT, "404": _ERROR, "405": {
                "description": "primary_id lookup or refresh: those paths are other routes (Allow names their "
                               "methods)",
                "headers": {"Allow": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
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
                                         "schema": {"type": "integer", "minimum": 0}}, _VISIT],
            "responses": {"200": _ok("RenewalResult"), "403": _NO_VISIT, "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}/renew": {"post": {
            "summary": "Renew the listed loans, or every open loan when loan_ids is absent",
            "parameters": [_PRIMARY_ID, _VISIT],
            "requestBody": {"required": False, "x-body-limit": 65_536, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"loan_ids": {
                    "type": "array", "maxItems": 1000, "items": _ROW_ID,
                    "description": "The loans to renew (null is refused: it never means every loan)"}}}}}},
            "responses": {"200": {"description": "One result per loan", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"results": {"type": "array", "items": {
                    "$ref": "#/components/schemas/RenewalResult"}}}}}}}, "400": _ERROR, "403": _NO_VISIT,
                "404": _ERROR}}},
        "/api/v1/patrons/{primary_id}/checkouts": {"post": {
            "summary": "Lend an item to the patron (docs/circulation.md): the central store's rules, or the library "
                       "system behind it. Once per key: the same key again answers as the first time and lends "
                       "nothing more (a client whose answer was lost sends it again); a refusal is a 200 answer "
                       "with borrowed false and its reason",
            "parameters": [_PRIMARY_ID, _VISIT],
            "requestBody": {"required": True, "x-body-limit": 4096, "content": {"application/json": {"schema": {
                "type": "object", "required": ["item_barcode", "key"], "properties": {
                    "item_barcode": _ITEM_BARCODE, "key": _CIRCULATION_KEY}}}}},
            "responses": {"200": _ok("CheckoutResult"), "400": _ERROR, "403": _NO_VISIT, "404": _ERROR,
                          "422": {"description": "key_reused: the key was used before for another item or "
                                                 "operation; nothing was lent",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                          "503": _ERROR}}},
        "/api/v1/checkins": {"post": {
            "summary": "Take an item back (no patron, no visit: whoever brings it), with where it goes next (shelf, "
                       "hold_shelf, desk, transit) and any late fee. Once per key, as checkouts",
            "requestBody": {"required": True, "x-body-limit": 4096, "content": {"application/json": {"schema": {
                "type": "object", "required": ["item_barcode", "key"], "properties": {
                    "item_barcode": _ITEM_BARCODE, "key": _CIRCULATION_KEY,
                    "library": {"type": "string", "maxLength": 40,
                                "description": "The kiosk's library code ([kiosk] library_code): an item of "
                                               "another library goes to transit"}}}}}},
            "responses": {"200": _ok("CheckinResult"), "400": _ERROR,
                          "422": {"description": "key_reused: the key was used before for another item or "
                                                 "operation; nothing was returned",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                          "503": _ERROR}}},
        "/api/v1/patrons/{primary_id}/letters": {"post": {
            "summary": "Email the patron a letter: requests report, borrowing activity (loans receipt), fines and fees",
            "parameters": [_PRIMARY_ID, _VISIT],
            "x-error-codes": {"letter_type": "invalid_letter_type", "channel": "invalid_channel"},
            "requestBody": {"required": True, "x-body-limit": 65_536, "content": {"application/json": {"schema": {
                "type": "object", "required": ["letter_type"], "properties": {
                    "letter_type": {"enum": list(KIOSK_LETTERS)},
                    "channel": {"enum": ["email"], "description": "Letters from a kiosk go by email only"},
                    "context": {"type": "object", "properties": {"renewals": {
                        "type": "array", "maxItems": 1000,
                        "description": "The session's renewals for the loans receipt: loan id, renewed, new due "
                                       "date, reason, pending",
                        "items": {"type": "array", "maxItems": 5, "prefixItems": [
                            _ROW_ID, {"type": "boolean"}, {"type": "string", "maxLength": 40},
                            {"type": ["string", "null"], "maxLength": 100}, {"type": "boolean"}]}}}}}}}}},
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
            "x-error-codes": {"": "invalid_lockout", "locked_until": "invalid_lockout"},
            "requestBody": {"required": True, "x-body-limit": 4096, "content": {"application/json": {"schema": {
                "type": "object", "required": ["locked_until"],
                "properties": {"locked_until": _TIMESTAMP}}}}},
            "responses": {"201": {"description": "Recorded", "content": {"application/json": {"schema": {
                "type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}}},
                "400": {"description": "invalid_lockout: not a UTC timestamp, already past, or further than "
                                       "[central] pin_lockout_minutes from now (the window is checked against the "
                                       "central store's clock, so no schema can say it); nothing recorded",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "404": _ERROR}}},
        "/api/v1/staff-calls": {
            "post": {"summary": "A patron at a kiosk asks for staff",
                     "x-error-codes": {"reason": "invalid_reason"},
                     "requestBody": {"required": False, "x-body-limit": 4096, "content": {"application/json": {
                         "schema": {"type": "object", "properties": {
                             "primary_id": {"type": "string", "maxLength": 100},
                             "reason": {"enum": list(REASONS), "default": "help"}}}}}},
                     "responses": {"201": {**_ok("StaffCall", "Recorded"), "links": {"close": _link(
                         "/api/v1/staff-calls/{call_id}/close", "post", "Close the call",
                         {"path.call_id": "$response.body#/id"})}}, "400": _ERROR}},
            "get": {"summary": "Open calls for staff, oldest first",
                    "parameters": [{"name": "limit", "in": "query",
                                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}],
                    "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"calls": {"type": "array", "items": {
                            "$ref": "#/components/schemas/StaffCall"}}}}}}}}}},
        "/api/v1/staff-calls/{call_id}/close": {"post": {
            "summary": "Close a call for staff that this kiosk made (another kiosk's call: 403, left open)",
            "parameters": [{"name": "call_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                            "description": "An id beyond any row's is no open call (404)"}],
            "responses": {"200": {"description": "Closed"}, "403": _ERROR, "404": _ERROR}}},
        "/api/v1/capabilities": {"get": {
            "summary": "What the upstream library system supports (kiosks hide what is false, e.g. renew_all)",
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {
                "type": "object", "required": ["kind"], "properties": {
                    "kind": {"enum": ["local", "alma", "sip2"]}, "renew": {"type": "boolean"},
                    "renew_all": {"type": "boolean"}, "requests": {"type": "boolean"},
                    "fees": {"type": "boolean"}, "pin_check": {"type": "boolean"}, "item_info": {"type": "boolean"},
                    "fee_paid": {"type": "boolean"}, "write_users": {"type": "boolean"},
                    "checkout": {"type": "boolean"}, "checkin": {"type": "boolean"}}}}}}}}},
        "/api/v1/patrons/refresh": {"post": {
            "summary": "On a tap: read the patron's account from the upstream into the central store "
                       "(kiosks then sync it); served from the store when read recently or the upstream is down. "
                       "Opens the patron's visit at this kiosk (visit): verified at once when the patron's user "
                       "group needs no PIN, else once a PIN or password is checked with it (verify-pin)",
            "parameters": [_IDENTIFIER, {"name": "force", "in": "query", "schema": {"enum": ["0", "1"]}}],
            "responses": {"200": {"description": "OK", "links": _patron_links(),
                                  "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "primary_id": {"type": "string"},
                    "source": {"enum": ["upstream", "cache", "offline", "local"]},
                    "account": {"$ref": "#/components/schemas/Account"},
                    "record": {"type": "object", "description": "The patron as a change page carries it"},
                    "read_at": {"type": ["string", "null"], "format": "date-time",
                                "description": "When the library system was last read for this patron (null: "
                                               "local, never read)"},
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
            "x-error-codes": {"": "pin_required", "pin": "pin_required", "password": "password_required"},
            "requestBody": {"required": True, "x-body-limit": 4096, "content": {"application/json": {"schema": {
                "description": "A PIN or a password, not both",
                "oneOf": [
                    {"type": "object", "required": ["pin"], "not": {"required": ["password"]}, "properties": {
                        "pin": {**_NOT_BLANK, "maxLength": 100}, "visit": {"type": "string", "maxLength": 64}}},
                    {"type": "object", "required": ["password"], "not": {"required": ["pin"]}, "properties": {
                        "password": {**_NOT_BLANK, "maxLength": 200},
                        "visit": {"type": "string", "maxLength": 64}}}]}}}},
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
    },
    "components": {
        "responses": {"Error": {"description": "An error with a stable code and a human message",
                                "content": {"application/json": {"schema": {
                                    "$ref": "#/components/schemas/Error"}}}}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "field": {"type": "string", "description": "the input at fault, e.g. ops[0].seq, "
                                                                         "or an empty string for the whole body"}}}}},
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
                "max_renewals": {"type": ["integer", "null"], "minimum": 0,
                                 "description": "The item's own renewal limit (items feed: renewals); null: none, the "
                                                "user group's applies. The stricter of the two counts"},
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
                "total_owed": _MONEY,
                "notes": {"type": "array", "description": "Only the notes the patron may see (user_viewable)",
                          "items": {"type": "object", "required": ["note_type", "text"], "properties": {
                              "note_type": {"type": "string"}, "text": {"type": "string"}}}}}},
            "CheckoutResult": {"type": "object", "required": ["item_barcode", "borrowed", "reason", "message"],
                               "properties": {
                "item_barcode": {"type": "string"}, "borrowed": {"type": "boolean"}, "due_date": _DATE,
                "reason": {"type": "string", "description": "domain/checkout.py CHECKOUT_REASONS; empty when lent"},
                "message": {"type": "string"}, "title": {"type": "string"},
                "desensitize": {"type": ["boolean", "null"],
                                "description": "The library system says clear the item's security (null: not said)"}}},
            "CheckinResult": {"type": "object", "required": ["item_barcode", "returned", "route", "reason", "message"],
                              "properties": {
                "item_barcode": {"type": "string"}, "returned": {"type": "boolean"},
                "route": {"enum": ["shelf", "hold_shelf", "desk", "transit"]},
                "late_fee": {"type": ["string", "null"], "description": "The late fine charged (decimal text)"},
                "reason": {"type": "string", "description": "domain/checkout.py CHECKIN_REASONS; empty when returned"},
                "message": {"type": "string"}, "title": {"type": "string"},
                "resensitize": {"type": ["boolean", "null"],
                                "description": "The library system says set the item's security again"}}},
            "RenewalResult": {"type": "object", "required": ["loan_id", "renewed"], "properties": {
                "loan_id": {"type": "integer"}, "renewed": {"type": "boolean"}, "new_due_date": _DATE,
                "reason": {"type": "string"}, "message": {"type": "string"}}},
            "LetterResult": {"type": "object", "properties": {
                "letter_id": {"type": "integer"}, "status": {"enum": ["sent"]}}},
            "StaffCall": {"type": "object", "properties": {
                "id": {"type": "integer"}, "created": _TIMESTAMP,
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
_HEARTBEAT["x-error-codes"] = {"usage": "invalid_usage"}
_HEARTBEAT["requestBody"]["content"]["application/json"]["schema"] = {"type": "object", "properties": {
    "usage": {"type": "object", "description": "{\"YYYY-MM-DD\": {counter: cumulative count}} (at most 31 days, "
                                               "from 2000; a day more than 2 days ahead is skipped, not stored)",
              "maxProperties": usage.MAX_DAYS,
              "propertyNames": {"format": "date",
                                "pattern": r"^2\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"},
              "additionalProperties": {
                  "type": "object", "minProperties": 1, "maxProperties": usage.MAX_COUNTERS,
                  "propertyNames": {"pattern": usage.NAME.pattern},
                  "additionalProperties": {"type": "integer", "minimum": 0, "maximum": usage.MAX_VALUE}}}}}
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

_UNAVAILABLE = {"description": "database_unavailable, upstream_unavailable (the library system), mail_unavailable: a "
                               "part behind the central store cannot be reached just now; try again later",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_UPSTREAM_REFUSED = {"description": "The library system answered, but not with what the central store asked for "
                                    "(its own code, or upstream_error)",
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _complete(document: dict) -> dict:
    """What every operation can answer besides its own statuses: 400 for a parameter or body the document refuses
    (api/validation.py checks every request against it), 413 ``too_large`` for a body over the operation's limit
    (``x-body-limit``; an operation without a request body takes none), 502/503 for the parts behind the central
    store (errors.py). Every request body's description gives its limit."""
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            if operation.get("parameters") or "requestBody" in operation:
                responses.setdefault("400", _ERROR)
            body = operation.get("requestBody")
            if body is not None:
                body.setdefault("x-body-limit", 16_384)
                body["description"] = f"At most {body['x-body-limit']:,} bytes (larger: 413 too_large)"
            responses.setdefault("413", {
                "description": "too_large: " + (f"the body is larger than {body['x-body-limit']:,} bytes"
                                                if body is not None else "this operation takes no body")
                               + "; request_entity_too_large: larger than [central] max_request_mib",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
            responses.setdefault("502", _UPSTREAM_REFUSED)
            responses.setdefault("503", _UNAVAILABLE)
    return document


_complete(OPENAPI)

# What the request validation refuses in any text (api/validation.py NUL_FAULT), said in the document so a schema-valid
# request is never refused: U+0000 in no parameter, body text or body key (PostgreSQL's text cannot hold one).
NO_NUL = "^[^\\u0000]*$"
_NOT_BLANK_NO_NUL = "^[^\\u0000]*[^\\u0000\\s][^\\u0000]*$"  # r"\S" without U+0000


def _without_nul(schema: object) -> None:
    """Give every string in a request schema a pattern that leaves U+0000 out (a pattern that already refuses it is
    kept), and every object's property names the same; nested schemas too. References are left alone: the
    components are shared with the answers."""
    if isinstance(schema, list):
        for value in schema:
            _without_nul(value)
        return
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types and "enum" not in schema and "const" not in schema:
        pattern = schema.get("pattern")
        if pattern is None:
            schema["pattern"] = NO_NUL
        elif pattern == r"\S":
            schema["pattern"] = _NOT_BLANK_NO_NUL
    if "object" in types and "propertyNames" not in schema:
        schema["propertyNames"] = {"pattern": NO_NUL}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs"):
            for nested in value.values():
                _without_nul(nested)
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf", "prefixItems",
                     "propertyNames", "contains"):
            _without_nul(value)


def _refuse_nul(document: dict) -> dict:
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if "schema" in parameter and parameter.get("in") != "header":  # HTTP headers cannot hold U+0000
                    parameter["schema"] = copy.deepcopy(parameter["schema"])  # shared dicts (_PRIMARY_ID...)
                    _without_nul(parameter["schema"])
            for media in operation.get("requestBody", {}).get("content", {}).values():
                media["schema"] = copy.deepcopy(media["schema"])
                _without_nul(media["schema"])
    return document


_refuse_nul(OPENAPI)
