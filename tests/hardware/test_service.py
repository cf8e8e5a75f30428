"""The reader service as a real subprocess: HTTP contract, PC/SC taps, systemd notify."""
import json
import re
import socket

import pytest

from hardware import client
from hardware.events import ReaderEvent, StatusEvent
from tests.hardware.service_process import PCSC_PORT, PCSC_SLOT, ServiceProcess
from tests.hardware.vpcd_card import VirtualCard


def next_reader_event(stream, kind):
    for item in stream:
        if isinstance(item, ReaderEvent) and item.kind == kind:
            return item
    raise AssertionError("event stream ended")


def next_status(stream, reader, online):
    for item in stream:
        if isinstance(item, StatusEvent) and item.reader(reader).online == online:
            return item
    raise AssertionError("event stream ended")


@pytest.mark.pcsc
def test_simulated_and_pcsc_taps_reach_subscribers(pcscd, tmp_path):
    service = ServiceProcess(tmp_path, f"""
uid_format = "decimal"
uid_width = 12
devices = [{{type = "simulator", name = "Simulated reader"}},
           {{type = "pcsc", name = "Desk reader", match = "{PCSC_SLOT}"}}]
""")
    try:
        stream = client.subscribe(service.url, timeout=10)
        first = next(stream)
        assert isinstance(first, StatusEvent)
        assert {r.name for r in first.readers} == {"Simulated reader", "Desk reader"}
        if not first.reader("Desk reader").online:
            next_status(stream, "Desk reader", True)      # online once pcscd answered

        client.simulate(service.url, "card", "04a1b2c3d4e5f6")
        card = next_reader_event(stream, "card")
        assert (card.reader, card.value, card.raw) == ("Simulated reader", "04A1B2C3D4E5F6",
                                                        "04A1B2C3D4E5F6")
        assert card.formatted == str(0x04A1B2C3D4E5F6).zfill(12)
        assert next_reader_event(stream, "removed").value == "04A1B2C3D4E5F6"

        client.simulate(service.url, "barcode", "31234000567890")
        assert next_reader_event(stream, "barcode").value == "31234000567890"

        with VirtualCard("0102030405060708090A", PCSC_PORT):
            card = next_reader_event(stream, "card")
            assert (card.reader, card.value, card.technology) == (
                "Desk reader", "0102030405060708090A", "iso14443a")
        assert next_reader_event(stream, "removed").reader == "Desk reader"

        status = client.status(service.url)
        assert [(r.name, r.online) for r in status.readers] == [
            ("Simulated reader", True), ("Desk reader", True)]
    finally:
        assert service.terminate() == 0


def test_http_contract_details(tmp_path):
    service = ServiceProcess(tmp_path, """
devices = [{type = "simulator", name = "Sim"}]
""")
    try:
        with pytest.raises(client.ServiceError, match="400"):
            client.simulate(service.url, "card", "not hex")
        with pytest.raises(client.ServiceError, match="400"):
            client.simulate(service.url, "wave", "x")
        answer = client.simulate(service.url, "card", "255", format="decimal", hold=True)
        assert answer["accepted"]["value"] == "000000FF"
        stream = client.subscribe(service.url, timeout=10)
        assert isinstance(next(stream), StatusEvent)
        client.simulate(service.url, "card", "000000FF", hold=True)   # still held: ignored
        client.simulate(service.url, "barcode", "12345")
        assert next_reader_event(stream, "barcode").value == "12345"
        # the raw stream format the kiosk reads
        with socket.create_connection(("127.0.0.1", int(service.url.rsplit(":", 1)[1]))) as raw:
            raw.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            head = raw.recv(4096).decode()
            while "event: status" not in head:
                head += raw.recv(4096).decode()
        assert "Content-Type: text/event-stream" in head
        status = json.loads(re.search(r"event: status\ndata: (.*)\n\n", head).group(1))
        assert status == {"readers": [{"name": "Sim", "online": True, "technology": "iso14443a"}]}
    finally:
        assert service.terminate() == 0


def test_offline_reader_no_simulator_and_systemd_notify(tmp_path):
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(5)
    service = ServiceProcess(tmp_path, f"""
devices = [{{type = "serial", name = "Scanner", path = "{tmp_path}/no-such-tty"}}]
""", env={"NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "200000"})
    try:
        assert notify.recv(100) == b"READY=1"
        assert notify.recv(100) == b"WATCHDOG=1"
        status = client.status(service.url)
        assert [(r.name, r.online, r.technology) for r in status.readers] == [
            ("Scanner", False, "barcode")]
        with pytest.raises(client.ServiceError, match="404.*no simulator"):
            client.simulate(service.url, "card", "04A1B2C3")
    finally:
        assert service.terminate() == 0
        messages = []
        while True:
            try:
                messages.append(notify.recv(100))
            except TimeoutError:
                break
        notify.close()
    assert b"STOPPING=1" in messages
