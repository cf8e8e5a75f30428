"""Fixtures for the upstream connectors: Prism in front of the vendor's Alma document,
recorded Alma examples behind it, and SIP2 servers from PyPI (pysip2, invenio-sip2).

Prism is installed from tests/upstream/package.json (``npm ci --prefix tests/upstream``);
the vendor's document is in tests/upstream/alma_spec (its README says where it comes from).
A missing part fails.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import reaper
from tests.helpers import free_port, wait_for_port
from tests.upstream.sip2_servers import SERVER_KINDS

HERE = Path(__file__).resolve().parent
ALMA_SPEC = HERE / "alma_spec/specs/local/users.json"  # Ex Libris's Users API description (alma_spec/README.md)


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory):
    prism = HERE / "node_modules/.bin/prism"
    if not prism.exists():
        raise RuntimeError("Stoplight Prism is not installed: run `npm ci --prefix tests/upstream`")
    port = free_port()
    log = open(tmp_path_factory.mktemp("prism") / "prism.log", "w")
    process = subprocess.Popen([str(prism), "mock", "-p", str(port), "-h", "127.0.0.1", str(ALMA_SPEC)],
                               cwd=HERE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        reaper.stop(process)  # the whole process group: Prism's CLI runs the server in a child of its own
        log.close()


@pytest.fixture
def alma(prism_url):
    """(fake, url): the recorded-example layer behind Prism's validation, on a live port."""
    from tests.upstream.alma_fake import serve

    fake, server = serve(prism_url)
    yield fake, server.url
    server.stop()


@pytest.fixture
def alma_upstream(alma):
    from library_kiosk.central.upstream.alma.backend import AlmaUpstream

    fake, url = alma
    upstream = AlmaUpstream({"alma_base_url": url, "alma_api_key": "l7xx-test-key-0123456789",
                             "alma_max_per_second": 200, "alma_timeout_seconds": 5, "alma_quota_reserve": 50})
    yield upstream
    upstream.close()


@pytest.fixture(autouse=True)
def _close_sip2_pools():
    yield
    from library_kiosk.central.upstream.sip2.client import close_all

    close_all()


@pytest.fixture
def alma_central(central_db, config, alma):
    """The central store in front of Alma (Prism) with its example patron AL1 (PIN 2468, one loan), not yet
    read into the store; test modules make it their ``central_app`` (the kiosk fixtures build on that)."""
    from library_kiosk.central import api as central
    from tests.helpers import TODAY
    from tests.upstream.alma_fake import example_user

    fake, url = alma
    fake.add_user(example_user(), pin="2468")
    fake.add_loan("AL1", "39000000001", "Middlemarch")
    config["upstream"].update({"kind": "alma", "alma_base_url": url, "alma_api_key": "l7xx-test",
                               "alma_max_per_second": 200, "alma_max_retries": 0, "fresh_seconds": 0})
    return central.create_app(config, today=lambda: TODAY)


@pytest.fixture(params=SERVER_KINDS)
def server(request):
    """Each SIP2 server nobody on this team wrote, with the test library behind it (sip2_servers.start_server)."""
    from tests.upstream.sip2_servers import start_server

    started = start_server(request.param)
    yield started
    started.stop()


@pytest.fixture
def proxy(server):
    """A ``FaultyProxy`` in front of ``server``."""
    from tests.upstream.sip2_servers import FaultyProxy

    relay = FaultyProxy(server.port)
    yield relay
    relay.stop()
