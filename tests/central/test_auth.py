"""Device tokens on the central API (central/auth.py): every route but /health, the OpenAPI document
and enrolment refuses a request without a device token (401), with an unknown one (401) or from a
revoked device (403), and such a request changes nothing."""
import pytest

from library_kiosk.central.api.auth import PUBLIC
from library_kiosk.central.api.openapi import PUBLIC_OPERATIONS
from library_kiosk.central.store import devices, kiosk_calls
from library_kiosk.central.store.db import database
from library_kiosk.domain.checksums import batch_checksum
from tests.helpers import NO_TOKEN, visiting
from tests.store.factories import fine, hold, loan, patron

OP = {"seq": 1, "key": "auth-test-0001", "type": "call_staff", "payload": {"reason": "help", "primary_id": "P1"}}


@pytest.fixture
def library(central_db):
    """A patron with a loan, a request and a fee, an open call for staff, and a revoked kiosk's token."""
    user = patron("P1")
    item = loan(user)
    hold(user)
    fine(user)
    call = kiosk_calls.create_call("kiosk-1", "help", "P1")
    _name, revoked = devices.enrol(devices.add("kiosk-gone"))
    devices.revoke("kiosk-gone")
    return {"loan": item.id, "call": call.id, "revoked": revoked}


def protected_requests(library) -> list[tuple[str, str, str, dict | None]]:
    """(method, Flask rule, URL, JSON body) for every protected route: bodies a kiosk would send."""
    loan_id, call_id = library["loan"], library["call"]
    return [
        ("GET", "/api/v1/patrons/lookup", "/api/v1/patrons/lookup?identifier=20000000000011", None),
        ("GET", "/api/v1/patrons/<primary_id>", "/api/v1/patrons/P1", None),
        ("GET", "/api/v1/patrons/<primary_id>/loans", "/api/v1/patrons/P1/loans", None),
        ("GET", "/api/v1/patrons/<primary_id>/requests", "/api/v1/patrons/P1/requests", None),
        ("GET", "/api/v1/patrons/<primary_id>/fees", "/api/v1/patrons/P1/fees", None),
        ("POST", "/api/v1/patrons/<primary_id>/loans/<int:loan_id>/renew",
         f"/api/v1/patrons/P1/loans/{loan_id}/renew", None),
        ("POST", "/api/v1/patrons/<primary_id>/renew", "/api/v1/patrons/P1/renew", {}),
        ("POST", "/api/v1/patrons/<primary_id>/letters", "/api/v1/patrons/P1/letters",
         {"letter_type": "FulRequestsReportLetter"}),
        ("POST", "/api/v1/patrons/<primary_id>/pin-lockouts", "/api/v1/patrons/P1/pin-lockouts",
         {"device": "kiosk-1"}),
        ("POST", "/api/v1/patrons/refresh", "/api/v1/patrons/refresh?identifier=20000000000011", None),
        ("POST", "/api/v1/patrons/<primary_id>/verify-pin", "/api/v1/patrons/P1/verify-pin", {"pin": "2468"}),
        ("POST", "/api/v1/staff-calls", "/api/v1/staff-calls", {"device": "kiosk-1", "reason": "help"}),
        ("GET", "/api/v1/staff-calls", "/api/v1/staff-calls", None),
        ("POST", "/api/v1/staff-calls/<int:call_id>/close", f"/api/v1/staff-calls/{call_id}/close", None),
        ("GET", "/api/v1/capabilities", "/api/v1/capabilities", None),
        ("POST", "/api/v1/upstream/replay", "/api/v1/upstream/replay", None),
        ("POST", "/api/v1/patrons/<primary_id>/checkouts", "/api/v1/patrons/P1/checkouts",
         {"item_barcode": "39990000000001", "key": "auth-checkout-1"}),
        ("POST", "/api/v1/patrons/<primary_id>/visit/end", "/api/v1/patrons/P1/visit/end", None),
        ("POST", "/api/v1/checkins", "/api/v1/checkins", {"item_barcode": "39990000000001", "key": "auth-checkin-1"}),
        ("GET", "/api/v1/sync/changes", "/api/v1/sync/changes?after=0", None),
        ("GET", "/api/v1/sync/keys", "/api/v1/sync/keys", None),
        ("POST", "/api/v1/sync/ops", "/api/v1/sync/ops", {"ops": [OP], "checksum": batch_checksum([OP])}),
        ("POST", "/api/v1/sync/heartbeat", "/api/v1/sync/heartbeat", {}),
        ("GET", "/api/v1/sync/devices", "/api/v1/sync/devices", None),
        ("GET", "/api/v1/sync/conflicts", "/api/v1/sync/conflicts", None),
    ]


def snapshot() -> dict:
    """Every row of every table of the central database."""
    tables = {}
    for table in sorted(database.get_tables()):
        rows = database.execute_sql(f'SELECT * FROM "{table}"').fetchall()
        tables[table] = sorted(map(repr, rows))
    return tables


def test_every_route_but_the_public_ones_is_protected(central_app, library):
    served = {(method, str(rule)) for rule in central_app.url_map.iter_rules() if rule.endpoint not in PUBLIC
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == {(method, rule) for method, rule, _url, _body in protected_requests(library)}
    public = {str(rule) for rule in central_app.url_map.iter_rules() if rule.endpoint in PUBLIC}
    assert public == {"/health", "/api/openapi.json", "/api/v1/sync/enrol"}


@pytest.mark.parametrize("header, status, code", [
    (NO_TOKEN, 401, "device_token_required"),
    ({"Authorization": "Bearer "}, 401, "device_token_required"),
    ({"Authorization": "Basic a2lvc2s6c2VjcmV0"}, 401, "device_token_required"),
    ({"Authorization": "Bearer not-a-token-of-any-device"}, 401, "device_unknown"),
    ("revoked", 403, "device_revoked"),
])
def test_a_request_without_a_good_token_is_refused_and_changes_nothing(api, library, header, status, code):
    if header == "revoked":
        header = {"Authorization": f"Bearer {library['revoked']}"}
    before = snapshot()
    for method, rule, url, body in protected_requests(library):
        answer = api.open(url, method=method, json=body, headers=header)
        assert (answer.status_code, answer.json["error"]["code"]) == (status, code), (method, rule)
    assert snapshot() == before


def test_the_enrolled_kiosk_is_let_through(api, library):
    """The same requests with the fixture's good token reach their routes (whatever those answer); those that act
    for the patron within the patron's visit at this kiosk (tests/central/test_visits.py)."""
    visiting(api, "P1")
    for method, rule, url, body in protected_requests(library):
        answer = api.open(url, method=method, json=body)
        assert answer.status_code not in (401, 403), (method, rule, answer.json)
    assert devices.Device.get(devices.Device.name == "kiosk-1").last_pull  # the pull was noted for kiosk-1


def test_health_openapi_and_enrolment_stay_public(central_app, library):
    anonymous = central_app.test_client()  # no default token
    assert anonymous.get("/health").json == {"status": "ok"}
    assert anonymous.get("/api/openapi.json").json["openapi"].startswith("3.")
    enrolled = anonymous.post("/api/v1/sync/enrol", json={"code": devices.add("kiosk-new")})
    assert enrolled.status_code == 201 and enrolled.json["device"] == "kiosk-new"
    # a kiosk enrolled again after a revocation still sends its old token: enrolment ignores it
    again = anonymous.post("/api/v1/sync/enrol", json={"code": devices.add("kiosk-gone", replace=True)},
                           headers={"Authorization": f"Bearer {library['revoked']}"})
    assert again.status_code == 201
    assert anonymous.get("/api/v1/sync/changes", headers={"Authorization": f"Bearer {again.json['token']}"}) \
        .status_code == 200
    assert anonymous.get("/api/v1/sync/changes").status_code == 401


def test_the_openapi_document_asks_for_the_token_where_the_api_does(api):
    spec = api.get("/api/openapi.json").json
    assert spec["components"]["securitySchemes"]["deviceToken"] == {
        "type": "http", "scheme": "bearer", "description": "The device token from enrolment (kiosk enrol CODE)"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if (path, method) in PUBLIC_OPERATIONS:
                assert operation["security"] == [], path
            else:
                assert operation["security"] == [{"deviceToken": []}], (method, path)
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
    assert {("/api/v1/sync/enrol", "post")} == PUBLIC_OPERATIONS
