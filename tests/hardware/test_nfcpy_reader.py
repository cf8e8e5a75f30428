"""NfcpyReader through nfcpy's UDP driver with an emulated ISO 14443-A Type 2 tag."""
import pytest

from hardware.nfcpy_reader import NfcpyReader
from tests.hardware.felica_card import FelicaCard
from tests.hardware.reader_harness import ManualClock, RunningReader, free_udp_port
from tests.hardware.udp_type2_tag import UdpType2Tag


def make_reader(port, **options):
    return NfcpyReader(f"udp:localhost:{port}", name="NFC desk", targets=("106A",),
                       retry_initial=0.2, retry_max=0.5, **options)


@pytest.mark.parametrize("uid", ["DEADBEEF", "04A1B2C3D4E5F6", "0102030405060708090A"])
def test_tap_and_removal_of_4_7_10_byte_uids(uid):
    port = free_udp_port()
    with RunningReader(make_reader(port)) as run:
        run.expect("reader_back")
        with UdpType2Tag(uid, port):
            event = run.expect("card", uid)
            assert (event.raw, event.technology) == (uid, "iso14443a")
        run.expect("removed", uid)


def test_held_card_is_one_tap_and_fast_retap_is_ignored():
    port = free_udp_port()
    clock = ManualClock()                               # the debounce window passes when the test says
    with RunningReader(make_reader(port), debounce_seconds=2.0, clock=clock) as run:
        run.expect("reader_back")
        tag = UdpType2Tag("04112233445566", port).tap()
        run.expect("card", "04112233445566")
        run.expect_nothing(1.0)                         # held: presence checks, no new tap
        tag.remove()
        run.expect("removed")
        with UdpType2Tag("04112233445566", port):       # back within the window: seen, and ignored
            run.expect_ignored("card", "04112233445566")
        run.expect_ignored("removed", "04112233445566")  # ... and so is its removal
        clock.advance(2.0)                              # the window has passed
        with UdpType2Tag("04112233445566", port):
            run.expect("card", "04112233445566")
        run.expect("removed")


def test_reader_that_goes_away_and_comes_back():
    port = free_udp_port()
    reader = make_reader(port)
    with RunningReader(reader) as run:
        run.expect("reader_back")
        reader.path = "usb:ffff:ffff"                   # no such device while it is away
        reader.frontend.close()                         # what an unplug does to nfcpy
        assert "usb:ffff:ffff" in run.expect("reader_lost").value
        run.expect_nothing(0.6)                         # retried with backoff, still away
        reader.path = f"udp:localhost:{port}"
        run.expect("reader_back", timeout=3)
        with UdpType2Tag("CAFEBABE", port):
            run.expect("card", "CAFEBABE")


def test_an_unknown_target_is_refused():
    with pytest.raises(ValueError, match="unsupported nfcpy targets"):
        NfcpyReader("usb", targets=("424B",))


def test_felica_card():
    port = free_udp_port()
    reader = NfcpyReader(f"udp:localhost:{port}", name="NFC desk", targets=("106A", "212F"))
    with RunningReader(reader) as run:
        run.expect("reader_back")
        with FelicaCard("03FEFFE011223344", port):
            event = run.expect("card", "03FEFFE011223344")
            assert event.technology == "felica"
        run.expect("removed", "03FEFFE011223344", timeout=8)
