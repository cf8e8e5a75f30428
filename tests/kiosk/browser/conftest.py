"""The kiosk in real Chromium: the kiosk and the central store served over HTTP (threads),
the real reader service in a subprocess with its simulator, axe-core injected by the tests."""
from __future__ import annotations

import pytest

from tests.helpers import LiveServer, reader_service_process
from tests.kiosk.helpers import fill_cache, make_patrons


@pytest.fixture(scope="session")
def reader_service(tmp_path_factory):
    """The real reader service with a simulated reader, for the whole session."""
    with reader_service_process(tmp_path_factory.mktemp("readers"), "Simulated reader") as url:
        yield url


@pytest.fixture
def kiosk_url(kiosk_app, central_db, kiosk_config, reader_service):
    kiosk_app.config["KIOSK"]["readers"]["service_url"] = reader_service
    make_patrons()
    fill_cache(kiosk_app)
    server = LiveServer(kiosk_app)
    yield server.url
    server.stop()
