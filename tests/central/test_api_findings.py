"""The API findings of issue 17 that were concrete bugs: each test is one finding, as it was found."""
import socket

from library_kiosk.central.store.kiosk_calls import StaffCall
from library_kiosk.central.store.letters import Letter
from library_kiosk.central.store.models import Email
from library_kiosk.central.store.staff import AuditEntry
from library_kiosk.central.store.usage import KioskUsage
from tests.helpers import visiting
from tests.store.factories import patron

RFC3339_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"


def test_replay_in_the_local_configuration_answers_nothing_to_replay(api):
    answer = api.post("/api/v1/upstream/replay")  # was 500: no such table: pending_renewal
    assert (answer.status_code, answer.json) == (
        200, {"sent": 0, "renewed": 0, "refused": 0, "checked": 0, "pending": 0})


def test_a_staff_call_whose_reason_is_an_object_is_refused(api):
    answer = api.post("/api/v1/staff-calls", json={"reason": {"a": 1}})  # was 500: unhashable type
    assert (answer.status_code, answer.json["error"]["code"], StaffCall.select().count()) == (
        400, "invalid_reason", 0)


def test_a_staff_call_whose_reason_is_a_list_is_refused(api):
    answer = api.post("/api/v1/staff-calls", json={"reason": ["help"]})
    assert (answer.status_code, answer.json["error"]["code"], StaffCall.select().count()) == (
        400, "invalid_reason", 0)


def test_closing_a_staff_call_with_an_id_beyond_64_bits_is_not_found(api):
    made = api.post("/api/v1/staff-calls", json={"reason": "pin"})
    answer = api.post(f"/api/v1/staff-calls/{2**63}/close")  # was 500: OverflowError
    assert (answer.status_code, answer.json["error"]["code"], StaffCall.get_by_id(made.json["id"]).status) == (
        404, "call_not_found", "open")


def test_staff_call_timestamps_carry_a_zone(api):
    import re

    made = api.post("/api/v1/staff-calls", json={"reason": "help"}).json["created"]
    listed = api.get("/api/v1/staff-calls").json["calls"][0]["created"]
    assert all(re.fullmatch(RFC3339_UTC, stamp) for stamp in (made, listed))


def test_a_405_names_the_allowed_methods(api):
    answer = api.delete("/api/v1/staff-calls")
    assert (answer.status_code, set(answer.headers.get("Allow", "").replace(" ", "").split(","))
            >= {"GET", "POST"}) == (405, True)


def _audit_count(primary_id: str) -> int:
    return AuditEntry.select().where(AuditEntry.primary_id == primary_id).count()


def test_a_lockout_until_not_a_date_is_refused(api):
    patron("P1")
    answer = api.post("/api/v1/patrons/P1/pin-lockouts", json={"locked_until": "not a date\x07"})
    assert (answer.status_code, answer.json["error"]["code"], _audit_count("P1")) == (400, "invalid_lockout", 0)


def test_a_lockout_until_a_list_is_refused(api):
    patron("P1")
    answer = api.post("/api/v1/patrons/P1/pin-lockouts", json={"locked_until": [1, 2]})
    assert (answer.status_code, answer.json["error"]["code"], _audit_count("P1")) == (400, "invalid_lockout", 0)


def test_loan_ids_null_is_not_renew_all(api):
    user = patron("P1")
    from tests.store.factories import loan

    loan(user, "B1")
    answer = visiting(api, "P1").post("/api/v1/patrons/P1/renew", json={"loan_ids": None})
    assert (answer.status_code, answer.json["error"]["code"]) == (400, "invalid_body")


def test_a_heartbeat_with_usage_null_is_refused(api):
    answer = api.post("/api/v1/sync/heartbeat", json={"usage": None, "version": "x"})
    assert (answer.status_code, answer.json["error"]["code"], KioskUsage.select().count()) == (
        400, "invalid_usage", 0)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


def _letter_with(api, central_app, context):
    central_app.config["KIOSK"]["mail"].update(host="127.0.0.1", port=_closed_port())
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    return visiting(api, "P1").post("/api/v1/patrons/P1/letters",
                                    json={"letter_type": "FulRequestsReportLetter", "context": context})


def test_a_letter_context_of_zero_is_refused_and_not_attempted(api, central_app):
    answer = _letter_with(api, central_app, 0)
    assert (answer.status_code, answer.json["error"]["code"], Letter.select().count()) == (400, "invalid_body", 0)


def test_a_letter_context_of_false_is_refused_and_not_attempted(api, central_app):
    answer = _letter_with(api, central_app, False)
    assert (answer.status_code, answer.json["error"]["code"], Letter.select().count()) == (400, "invalid_body", 0)


def test_a_letter_with_the_mail_server_down_is_a_503(api, central_app):
    answer = _letter_with(api, central_app, {})  # was 422 letter_not_sent: a server-side fault as a client error
    assert (answer.status_code, answer.json["error"]["code"]) == (503, "mail_unavailable")


def test_every_new_status_is_in_the_document(api):
    paths = api.get("/api/openapi.json").json["paths"]
    assert "503" in paths["/api/v1/patrons/{primary_id}/letters"]["post"]["responses"]



def test_a_nul_character_in_a_parameter_or_a_body_is_refused(api):
    """Found by schemathesis on PostgreSQL (its text cannot hold U+0000): an identifier with one was a 500."""
    refresh = api.post("/api/v1/patrons/refresh?identifier=20%00000")
    call = api.post("/api/v1/staff-calls", json={"device": "kiosk-1", "reason": "help", "primary_id": "P\u00001"})
    assert [(refresh.status_code, refresh.json["error"]["field"]), call.status_code] == [(400, "identifier"), 400]
    assert StaffCall.select().count() == 0
