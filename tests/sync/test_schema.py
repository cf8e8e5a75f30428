"""schemathesis against the sync API's OpenAPI document: no server error, no response that breaks the schema."""
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)


def test_sync_api_conforms_to_its_openapi_document(central_app, device_token):
    from tests.store.factories import loan, patron

    loan(patron("P1"))
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", central_app).include(path_regex=r"^/api/v1/sync/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/sync/changes", "/api/v1/sync/ops", "/api/v1/sync/heartbeat",
                                             "/api/v1/sync/enrol", "/api/v1/sync/devices"}
    for operation in operations:
        @hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case):
            if case.path != "/api/v1/sync/enrol":
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {device_token}"}
            # positive_data_acceptance is left out on purpose: a schema-valid ops body still needs the right
            # checksum, which no generator can know, so 400 is the right answer there.
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance,
                                           status_code_conformance, content_type_conformance])

        check()
