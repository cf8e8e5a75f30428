"""The central store boots for real: its image (deploy/install.sh --role central) under QEMU, systemd as PID 1, as
the box comes up the first time after the installer ran on it (SQLite in its state directory, HTTPS with the
certificate the installer made)."""
from __future__ import annotations

import pytest

from tests.vm.roles import booted, every_unit_active_and_none_failed, health

HEALTH = "https://127.0.0.1:8082/health"


@pytest.fixture(scope="module")
def central_box(tmp_path_factory):
    with booted("central", tmp_path_factory.mktemp("vm-central")) as machine:
        yield machine


def test_every_unit_of_the_central_store_is_active_and_none_failed(central_box):
    every_unit_active_and_none_failed(central_box, "central")


def test_the_central_store_answers_over_https_on_the_guests_loopback(central_box):
    assert health(central_box, HEALTH)["status"] == "ok"
