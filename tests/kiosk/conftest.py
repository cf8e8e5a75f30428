"""Kiosk fixtures: a real SMTP server (aiosmtpd), a file printer, and the kiosk with the patrons for every
path of the patron screens in its cache (tests/kiosk/helpers.py: ``make_patrons``, ``fill_cache``)."""
from __future__ import annotations

import pytest

from tests.kiosk.helpers import fill_cache, make_patrons


@pytest.fixture
def printer_file(tmp_path):
    return str(tmp_path / "printer.bin")


@pytest.fixture
def kiosk_config(config, smtp_server, printer_file):
    config["mail"].update(host="127.0.0.1", port=smtp_server.port, from_address="library@example.org")
    config["kiosk"]["printer"].update(kind="file", path=printer_file)
    config["kiosk"]["pin_lockout_minutes"] = 15
    return config


@pytest.fixture
def kiosk(kiosk_app, central_db, kiosk_config):
    """A test client of the kiosk with the patrons of ``make_patrons`` in its cache."""
    make_patrons()
    fill_cache(kiosk_app)
    return kiosk_app.test_client()
