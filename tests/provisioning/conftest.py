"""Fixtures for the provisioning station: the real reader service in a subprocess, and the station served
over HTTP for Chromium through Playwright. The station itself with its staff users (``station``,
``manager``, ``desk``) is in tests/conftest.py, as the upstream tests use it too; the logged-in client that
carries CSRF tokens and the staff passwords are in tests/provisioning/helpers.py."""
from __future__ import annotations

import pytest

from tests.helpers import LiveServer, reader_service_process


@pytest.fixture
def reader_service(tmp_path):
    """The real reader service with a simulated desk reader."""
    with reader_service_process(tmp_path, "Desk reader") as url:
        yield url


@pytest.fixture
def station_url(station):
    """The station served over HTTP (threads) for a browser test; its base URL."""
    server = LiveServer(station)
    yield server.url
    server.stop()
