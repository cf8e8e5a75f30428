"""Central routes the kiosk uses: letters by email, PIN lockouts for staff, calls for staff."""
from library_kiosk.central.store.models import Email
from library_kiosk.central.store.staff import AuditEntry
from tests.helpers import visiting
from tests.store.factories import patron


def test_letter_needs_a_known_type_and_an_address(api):
    patron("P1")
    visiting(api, "P1")  # letters only within the patron's visit at this kiosk (tests/central/test_visits.py)
    bad = api.post("/api/v1/patrons/P1/letters", json={"letter_type": "Nope"})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_letter_type"
    printed = api.post("/api/v1/patrons/P1/letters",
                       json={"letter_type": "FulRequestsReportLetter", "channel": "print"})
    assert printed.status_code == 400
    no_address = api.post("/api/v1/patrons/P1/letters", json={"letter_type": "FulRequestsReportLetter"})
    assert no_address.status_code == 422 and no_address.json["error"]["code"] == "letter_not_sent"
    nobody = api.post("/api/v1/patrons/NOBODY/letters", json={"letter_type": "FulRequestsReportLetter"})
    assert nobody.status_code == 403 and nobody.json["error"]["code"] == "visit_required"  # P1's visit only


def test_letter_is_sent_by_smtp(api, central_app):
    import socket

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    class Keep(Message):
        messages = []

        def handle_message(self, message):
            self.messages.append(message)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        central_app.config["KIOSK"]["mail"].update(host="127.0.0.1", port=port)
        user = patron("P1")
        Email.create(user=user, email_address="zoe@example.org", preferred=True)
        answer = visiting(api, "P1").post("/api/v1/patrons/P1/letters",
                          json={"letter_type": "FulUserBorrowingActivityLetter", "device": "kiosk-7"})
        assert answer.status_code == 201 and answer.json["status"] == "sent"
    finally:
        controller.stop()
    assert Keep.messages[0]["To"] == "zoe@example.org"


def test_pin_lockout_goes_to_the_audit_log(api):
    import datetime as dt

    from library_kiosk.domain import clock

    patron("P1")
    until = (clock.now() + dt.timedelta(minutes=15)).replace(microsecond=0).isoformat() + "Z"  # a real, live lock
    answer = api.post("/api/v1/patrons/P1/pin-lockouts", json={"device": "kiosk-2", "locked_until": until})
    assert answer.status_code == 201
    entry = AuditEntry.get_by_id(answer.json["id"])
    assert entry.action == "kiosk.pin_lockout" and entry.primary_id == "P1"
    # the device is the one whose token made the request, whatever the body claims
    assert entry.operator == "kiosk:kiosk-1" and "kiosk-1" in entry.detail and "kiosk-2" not in entry.detail
    # a valid lock for nobody: 404 (an invalid body is refused before anything is read: tests/central/
    # test_strict_input.py)
    assert api.post("/api/v1/patrons/NOBODY/pin-lockouts", json={"locked_until": until}).status_code == 404


def test_staff_calls_open_list_close(api):
    made = api.post("/api/v1/staff-calls", json={"device": "kiosk-3", "reason": "pin", "primary_id": "P1"})
    assert made.status_code == 201 and made.json["status"] == "open"
    assert api.post("/api/v1/staff-calls", json={"reason": "dance"}).status_code == 400
    calls = api.get("/api/v1/staff-calls").json["calls"]
    assert [c["device"] for c in calls] == ["kiosk-1"]  # the token's device, not the body's "kiosk-3"
    assert api.post(f"/api/v1/staff-calls/{made.json['id']}/close").status_code == 200
    assert api.get("/api/v1/staff-calls").json["calls"] == []
    assert api.post(f"/api/v1/staff-calls/{made.json['id']}/close").status_code == 404


def test_openapi_lists_the_kiosk_routes(api):
    paths = api.get("/api/openapi.json").json["paths"]
    for path in ("/api/v1/patrons/{primary_id}/letters", "/api/v1/patrons/{primary_id}/pin-lockouts",
                 "/api/v1/staff-calls"):
        assert path in paths
