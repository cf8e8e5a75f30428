"""The ``kiosk reader`` / ``kiosk readers`` subcommands against an in-process service."""
import argparse

import pytest

from hardware.cli import add_subcommands, describe
from hardware.config import ReaderSettings
from hardware.events import ReaderEvent, ReaderStatus, StatusEvent
from hardware.service import ReaderService


@pytest.fixture
def service():
    service = ReaderService(ReaderSettings.from_mapping({"service_url": "http://127.0.0.1:0",
                                                         "devices": [{"type": "simulator"}]}))
    service.start()
    yield service
    service.stop()


def run_cli(argv, settings):
    parser = argparse.ArgumentParser(prog="kiosk")
    add_subcommands(parser.add_subparsers(dest="command", required=True), lambda: settings)
    args = parser.parse_args(argv)
    return args.func(args)


def test_tap_and_scan_reach_the_service(service, capsys):
    settings = ReaderSettings.from_mapping({"service_url": service.url})
    subscriber = service.hub.subscribe()
    assert run_cli(["reader", "tap", "255", "--format", "decimal"], settings) == 0
    assert run_cli(["reader", "scan", "31234000567890"], settings) == 0
    assert "sent card 000000FF" in capsys.readouterr().out
    published = [subscriber.get(timeout=2) for _ in range(4)]
    assert [name for name, _ in published] == ["status", "reader", "reader", "reader"]
    kinds = [ReaderEvent.from_json(data).kind for _, data in published[1:]]
    assert kinds == ["card", "removed", "barcode"]


def test_tap_without_a_service_fails_cleanly(capsys):
    settings = ReaderSettings.from_mapping({"service_url": "http://127.0.0.1:9"})
    assert run_cli(["reader", "tap", "04A1B2C3"], settings) == 1
    assert "not reachable" in capsys.readouterr().err


def test_readers_lists_every_kind(capsys):
    assert run_cli(["readers", "--no-follow"], ReaderSettings()) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()][:1] == ["pcsc"]
    for kind in ("nfcpy", "serial", "evdev"):
        assert kind in out


def test_describe():
    status = StatusEvent((ReaderStatus("Desk", False, "iso14443a"),))
    assert describe(status) == "status: Desk OFFLINE"
    event = ReaderEvent("card", "Desk", "000000FF", "iso14443a", 0, formatted="255")
    assert describe(event) == "card         Desk: 255 iso14443a"
