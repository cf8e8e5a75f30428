"""Strict input at every write (issue 17): each schema violation schemathesis can make (its negative data
generation, ``GenerationMode.NEGATIVE``) is sent to each write route of the central API, and the whole database is
dumped before and after: a refused request changes nothing (SQLite: ``iterdump()``; PostgreSQL, in the ``db`` run
on it: every row of every table).

Everything the violation leaves alone is made as real as it can be, so a request the validation layer let through
would act: the patron P2 (no PIN needed), the visit a refresh opened for P2 at this kiosk, P2's loan, an open call
for staff of this kiosk. What each request gets back is a 4xx in the API's error shape."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from library_kiosk.central.store import kiosk_calls
from library_kiosk.central.store.models import Email
from tests.helpers import BACKEND, open_visit
from tests.store.factories import group, loan, patron

WRITES = [  # every operation that can write, by method and path (upstream/replay takes no input to violate)
    ("POST", "/api/v1/patrons/refresh"),
    ("POST", "/api/v1/patrons/{primary_id}/verify-pin"),
    ("POST", "/api/v1/patrons/{primary_id}/visit/end"),
    ("POST", "/api/v1/patrons/{primary_id}/loans/{loan_id}/renew"),
    ("POST", "/api/v1/patrons/{primary_id}/renew"),
    ("POST", "/api/v1/patrons/{primary_id}/letters"),
    ("POST", "/api/v1/patrons/{primary_id}/pin-lockouts"),
    ("POST", "/api/v1/staff-calls"),
    ("POST", "/api/v1/staff-calls/{call_id}/close"),
    ("POST", "/api/v1/sync/enrol"),
    ("POST", "/api/v1/sync/ops"),
    ("POST", "/api/v1/sync/heartbeat"),
]
CASES = 40  # negative cases per operation


def dump(db) -> list[str]:
    """The whole central database as text."""
    db.connect(reuse_if_open=True)
    if BACKEND == "sqlite":
        return list(db.connection().iterdump())
    rows = []
    for table in sorted(db.get_tables()):
        rows += sorted(f"{table} {row!r}" for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall())
    return rows


@pytest.fixture
def library(central_db, api):
    """P2 with a loan and an email address, this kiosk's verified visit of P2, an open call for staff of this
    kiosk, and a pending enrolment code: what a request that got through would act on."""
    from library_kiosk.central.store import devices

    group("58", description="Library Guest", pin_required=False)
    user = patron("P2", barcode="20000000000029", card="04A1B2C3D4E5F7", group_code="58", pin=None)
    Email.create(user=user, email_address="p2@example.org", preferred=True)
    return {"visit": open_visit(api, "P2"), "loan_id": loan(user).id,
            "call_id": kiosk_calls.create_call("kiosk-1", "help", "P2").id,
            "code": devices.add("kiosk-9", replace=True)}


def _headers(mutation) -> set[str]:
    """The headers a mutation of the headers changes (lower case): its parameter, or those it stops requiring."""
    if mutation.parameter:
        return {mutation.parameter.lower()}
    if "required" in mutation.keywords and isinstance(mutation.original_value, list):
        return {str(name).lower() for name in mutation.original_value}
    return {"?"}  # (the headers as a whole: kept)


def _violations(case) -> list:
    """The case's schema violations (schemathesis' mutations) that survive ``_made_real``: not the device token's,
    which is always set right (a request without one is refused before it is read, tests/central/test_auth.py)."""
    mutations = getattr(case.meta.phase.data, "mutations", ()) if case.meta is not None else ()
    return [m for m in mutations
            if m.parameter_location != ParameterLocation.HEADER or _headers(m) - {"authorization"}]


def _made_real(case, violations: list, library: dict, token: str) -> None:
    """What the violations leave alone, set to this library's real values; the device token always."""
    headers = set().union(*(_headers(m) for m in violations if m.parameter_location == ParameterLocation.HEADER))
    case.headers = {name: value for name, value in (case.headers or {}).items() if name.lower() != "authorization"}
    case.headers["Authorization"] = f"Bearer {token}"
    if "x-kiosk-visit" not in headers:
        case.headers["X-Kiosk-Visit"] = library["visit"]
    if not any(m.parameter_location == ParameterLocation.PATH for m in violations):
        real = {"primary_id": "P2", "loan_id": library["loan_id"], "call_id": library["call_id"]}
        case.path_parameters = {name: real[name] for name in (case.path_parameters or {})}


@pytest.mark.parametrize("method, path", WRITES)
def test_each_schema_violation_is_refused_and_changes_nothing(central_app, central_db, device_token, library,
                                                               method, path):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", central_app)
    operation = schema[path][method]
    sent = []

    @hsettings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
               derandomize=True)
    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def check(case):
        violations = _violations(case)
        assume(violations)  # (a case whose only violation was the token's is valid once the token is set)
        _made_real(case, violations, library, device_token)
        before = dump(central_db)
        answer = case.call()
        after = dump(central_db)
        sent.append(answer.status_code)
        refused = 400 <= answer.status_code < 500 and "code" in answer.json().get("error", {})
        assert (refused, after == before) == (True, True), (answer.status_code, answer.text, case.as_curl_command(),
                                                            violations)

    check()
    assert len(sent) >= 5, sent  # (the test's own guard: violations were really sent)
