"""Fixtures for the hardware tests: a private pcscd with virtual readers, free ports.

These tests drive the real stacks (pcscd + pyscard, nfcpy's UDP driver, pyserial on a
pseudo-terminal); they fail, never skip, when a piece is missing.
"""
from __future__ import annotations

import pytest

from tests.hardware.vpcd_card import PrivatePcscd

VPCD_PORT = 36100       # slot 0 (port 36100): test_pcsc_reader; slot 1 (36101): service test


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory):
    """The one pcscd of this machine, with a two-slot virtual reader (session-wide)."""
    daemon = PrivatePcscd(tmp_path_factory.mktemp("pcscd"), "Kiosk Test Reader", VPCD_PORT)
    daemon.start()
    yield daemon
    daemon.stop()
