"""No route of the central store answers 500 for any failure of the library system behind it (issue 14).

The sweep: every route of the central API, called as a kiosk calls it (with the patron's visit), while the library
system fails in each way it can: SIP2 (a real server behind ``FaultyProxy``) down, garbling every answer, or
cutting every connection as its answer comes back; Alma (Prism and the recorded examples) down, answering 500,
refusing with an error code nobody knows, or out of its daily API limit. Every answer must be JSON, and an error
must be one of ours (a code and a message), never a 500.
"""
import uuid

import pytest

from library_kiosk.central import api as central
from library_kiosk.central.store.models import Loan
from library_kiosk.domain.checksums import batch_checksum
from tests.helpers import TODAY, device_client, open_visit, visit_header
from tests.upstream.sip2_servers import FaultyProxy, start_server

SIP2_FAULTS = ("down", "garbled", "cut")
ALMA_FAULTS = ("down", "server_error", "unknown_error", "daily_limit")
ALMA_ERROR = {"errorsExist": True, "errorList": {"error": [{"errorCode": "NEVER_SEEN_BEFORE",
                                                           "errorMessage": "Something nobody expected."}]}}


def _body(rule: str, primary_id: str, loan_id: int, visit: str):
    """A plausible JSON body for each route that takes one (None: none)."""
    if rule.endswith("/verify-pin"):
        return {"pin": "2468", "visit": visit}
    if rule.endswith("/letters"):
        return {"letter_type": "FulRequestsReportLetter"}
    if rule.endswith("/renew"):
        return {}
    if rule.endswith("/pin-lockouts"):
        return {"failed_attempts": 1}
    if rule == "/api/v1/staff-calls":
        return {"reason": "help", "primary_id": primary_id}
    if rule == "/api/v1/sync/enrol":
        return {"code": "not-a-code"}
    if rule == "/api/v1/sync/heartbeat":
        return {}
    if rule == "/api/v1/sync/ops":
        ops = [{"seq": 1, "key": uuid.uuid4().hex, "type": "renew",
                "payload": {"primary_id": primary_id, "loan_ids": [loan_id], "visit": visit}}]
        return {"ops": ops, "checksum": batch_checksum(ops)}
    return None


def _sweep(app, client, primary_id: str, visit: str) -> list[tuple[str, str, int]]:
    """(method, path, status) of every route that answered 500 or not JSON."""
    loan_id = Loan.select(Loan.id).order_by(Loan.id).scalar()
    wrong = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = (rule.rule.replace("<primary_id>", primary_id).replace("<int:loan_id>", str(loan_id))
                .replace("<int:call_id>", "1"))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            query = {"identifier": primary_id} if rule.rule.endswith(("/refresh", "/lookup")) else None
            answer = client.open(path, method=method, json=_body(rule.rule, primary_id, loan_id, visit),
                                 query_string=query, headers=visit_header(visit))
            body = answer.get_json(silent=True)
            ours = isinstance(body, dict) and (answer.status_code < 400 or {"code", "message"} <= set(
                body.get("error", {})))
            if answer.status_code == 500 or not ours:
                wrong.append((method, path, answer.status_code))
    return wrong


@pytest.mark.parametrize("fault", SIP2_FAULTS)
def test_no_route_answers_500_whatever_the_sip2_server_does(central_db, config, device_token, fault):
    server = start_server("pysip2")
    proxy = FaultyProxy(server.port)
    try:
        config["upstream"].update({"kind": "sip2", "sip2_port": proxy.port, "sip2_login_user": "kiosk",
                                   "sip2_login_password": "s3cret", "sip2_institution_id": "MAIN",
                                   "sip2_timeout_seconds": 1, "fresh_seconds": 0})
        app = central.create_app(config, today=lambda: TODAY)
        client = device_client(app, device_token)
        visit = open_visit(client, "21000000001")  # while the library system answers
        if fault == "down":
            server.stop()
            proxy.drop_all()
        elif fault == "garbled":
            proxy.corrupt_every_answer = True
        else:
            proxy.cut_every_answer = True
        assert _sweep(app, client, "21000000001", visit) == []
    finally:
        proxy.stop()
        server.stop()


@pytest.mark.parametrize("fault", ALMA_FAULTS)
def test_no_route_answers_500_whatever_alma_does(alma_central, alma, device_token, fault):
    fake, _url = alma
    client = device_client(alma_central, device_token)
    visit = open_visit(client, "AL1")  # while Alma answers
    if fault == "down":
        fake.down = True
    elif fault == "server_error":
        fake.inject = [(500, ALMA_ERROR, {})] * 500
    elif fault == "unknown_error":
        fake.inject = [(400, ALMA_ERROR, {})] * 500
    else:
        fake.inject = [(429, {"errorsExist": True, "errorList": {"error": [
            {"errorCode": "DAILY_THRESHOLD", "errorMessage": "Daily threshold reached."}]}}, {})] * 500
    assert _sweep(alma_central, client, "AL1", visit) == []
