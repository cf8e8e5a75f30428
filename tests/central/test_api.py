import datetime as dt
import re

from library_kiosk.central.store.models import Loan, User
from tests.helpers import NO_TOKEN, visiting
from tests.store.factories import TODAY, fine, hold, loan, patron


def test_lookup_by_any_identifier(api):
    patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    for identifier in ("20000000000011", "04A1B2C3D4E5F6", "P1"):
        response = api.get("/api/v1/patrons/lookup", query_string={"identifier": identifier})
        assert response.status_code == 200
        assert response.json["primary_id"] == "P1"


def test_lookup_errors_are_json_with_stable_codes(api):
    missing = api.get("/api/v1/patrons/lookup", query_string={"identifier": "nope"})
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "identifier_not_found"
    empty = api.get("/api/v1/patrons/lookup")
    assert empty.status_code == 400 and empty.json["error"]["code"] == "identifier_required"
    unknown_route = api.get("/api/v1/nothing-here")
    assert unknown_route.status_code == 404 and unknown_route.json["error"]["code"] == "not_found"
    wrong_method = api.delete("/api/v1/patrons/P1")
    assert wrong_method.status_code == 405 and "message" in wrong_method.json["error"]


def test_full_account(api):
    user = patron()
    loan(user, due=TODAY - dt.timedelta(days=1))
    hold(user, status="ON_HOLD_SHELF", place=None)
    fine(user, "12.00")
    visiting(api, "P1")  # reading a patron needs their visit at this kiosk (tests/central/test_visits.py)
    body = api.get("/api/v1/patrons/P1").json
    assert body["first_name"] == "Zoë"
    assert "pin_hash" not in body  # the API never hands out PIN hashes to callers of the account
    assert body["total_owed"] == "12.00"
    assert [b["code"] for b in body["active_blocks"]] == ["fines"]
    assert body["loans"][0]["due_date"] == (TODAY - dt.timedelta(days=1)).isoformat()
    assert api.get("/api/v1/patrons/P1/requests").json["requests"][0]["status"] == "ON_HOLD_SHELF"
    fees = api.get("/api/v1/patrons/P1/fees").json
    assert fees["total_owed"] == "12.00" and len(fees["fees"]) == 1
    assert len(api.get("/api/v1/patrons/P1/loans").json["loans"]) == 1


def test_unknown_patron_is_refused_and_a_patron_gone_during_the_visit_is_404(api):
    response = api.get("/api/v1/patrons/NOBODY")  # no visit can name a patron who does not exist
    assert response.status_code == 403 and response.json["error"]["code"] == "visit_required"
    patron()
    visiting(api, "P1")
    User.delete().where(User.primary_id == "P1").execute()  # deleted (purged, merged) while the patron is here
    response = api.get("/api/v1/patrons/P1")
    assert response.status_code == 404 and response.json["error"]["code"] == "patron_not_found"


def test_renew_one(api):
    user = patron()
    item = loan(user)
    response = visiting(api, "P1").post(f"/api/v1/patrons/P1/loans/{item.id}/renew")
    assert response.status_code == 200
    assert response.json["renewed"] is True
    assert response.json["new_due_date"] == (TODAY + dt.timedelta(days=21)).isoformat()
    assert Loan.get_by_id(item.id).renewals == 1


def test_renew_unknown_loan_is_404_and_changes_nothing(api):
    patron()
    response = visiting(api, "P1").post("/api/v1/patrons/P1/loans/999/renew")
    assert response.status_code == 404 and response.json["error"]["code"] == "loan_not_found"


def test_renew_all_with_mixed_outcomes(api):
    user = patron()
    loan(user, "A")
    loan(user, "B", renewals=2)
    results = visiting(api, "P1").post("/api/v1/patrons/P1/renew", json={}).json["results"]
    assert [(r["renewed"], r["reason"]) for r in results] == [(True, ""), (False, "limit")]
    assert results[1]["message"] == "This item has been renewed the maximum number of times."


def test_invalid_renew_bodies_change_nothing(api):
    user = patron()
    item = loan(user)
    visiting(api, "P1")
    for body in ([1, 2], {"loan_ids": "all"}, {"loan_ids": [True]}, {"loan_ids": ["1"]}):
        response = api.post("/api/v1/patrons/P1/renew", json=body)
        assert response.status_code == 400, body
        assert response.json["error"]["code"] == "invalid_body"
    garbage = api.post("/api/v1/patrons/P1/renew", data="{not json", content_type="application/json")
    assert garbage.status_code == 400 and garbage.json["error"]["code"] == "invalid_body"
    assert Loan.get_by_id(item.id).renewals == 0


def test_sync_changes_validation(api, device_token):
    patron()
    auth = {"Authorization": f"Bearer {device_token}"}  # sync routes need an enrolled device (docs/sync.md)
    assert api.get("/api/v1/sync/changes", headers=NO_TOKEN).status_code == 401
    assert api.get("/api/v1/sync/changes", query_string={"after": -1}, headers=auth).status_code == 400
    assert api.get("/api/v1/sync/changes", query_string={"limit": 0}, headers=auth).status_code == 400
    assert api.get("/api/v1/sync/changes", query_string={"limit": "x"},
                   headers=auth).json["error"]["code"] == "invalid_parameter"
    page = api.get("/api/v1/sync/changes", query_string={"after": 0, "limit": 10}, headers=auth).json
    assert page["records"][0]["primary_id"] == "P1"


def test_openapi_document_describes_every_route(api, central_app):
    spec = api.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = set(spec["paths"])
    served = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(rule))
        for rule in central_app.url_map.iter_rules() if str(rule).startswith("/api/v1/")
    }
    assert served == documented
