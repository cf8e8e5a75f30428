"""PcscReader against a private pcscd with vpcd virtual readers and virtual cards."""
import pytest

from hardware.pcsc_reader import PcscReader, technology_from_atr
from tests.hardware.reader_harness import ManualClock, RunningReader
from tests.hardware.vpcd_card import VirtualCard, wait_card_state

pytestmark = pytest.mark.pcsc
READER, PORT = "Kiosk Test Reader 00 00", 36100       # slot 0 of the pcscd fixture


def make_reader():
    return PcscReader(name="Desk", match=READER, retry_initial=0.2, retry_max=0.5)


@pytest.mark.parametrize("uid", ["DEADBEEF", "04A1B2C3D4E5F6", "0102030405060708090A"])
def test_tap_and_removal_of_4_7_10_byte_uids(pcscd, uid):
    with RunningReader(make_reader()) as run:
        run.expect("reader_back")
        with VirtualCard(uid, PORT):
            event = run.expect("card", uid)
            assert event.raw == uid and event.technology == "iso14443a"
        run.expect("removed", uid)


def test_held_card_is_one_tap_and_fast_retap_is_ignored(pcscd):
    uid = "04112233445566"
    name = READER
    clock = ManualClock()                               # the debounce window passes when the test says
    with RunningReader(make_reader(), debounce_seconds=2.0, clock=clock) as run:
        run.expect("reader_back")
        card = VirtualCard(uid, PORT).insert()
        run.expect("card", uid)
        run.expect_nothing(1.2)                         # held for more than a poll or two
        card.remove()
        run.expect("removed", uid)
        wait_card_state(name, False)
        with VirtualCard(uid, PORT):                    # second tap within the window: seen, and ignored
            wait_card_state(name, True)
            run.expect_ignored("card", uid)
        wait_card_state(name, False)
        run.expect_ignored("removed", uid)              # ... and so is its removal
        clock.advance(2.0)                              # the window has passed
        with VirtualCard(uid, PORT):                    # a tap after the window counts
            run.expect("card", uid)
        run.expect("removed", uid)


def test_pcscd_going_away_and_coming_back(pcscd):
    with RunningReader(make_reader()) as run:
        run.expect("reader_back")
        pcscd.stop()
        try:
            lost = run.expect("reader_lost")
            assert lost.value
        finally:
            pcscd.start()
        run.expect("reader_back", timeout=8)
        with VirtualCard("CAFEBABE", PORT):
            run.expect("card", "CAFEBABE")
        run.expect("removed", "CAFEBABE")


def test_a_missing_reader_is_reported_lost(pcscd):
    reader = PcscReader(name="Nowhere", match="No Such Reader", retry_initial=0.1)
    with RunningReader(reader) as run:
        assert "No Such Reader" in run.expect("reader_lost").value
        run.expect_nothing(0.5)                         # retried quietly, still offline


def test_technology_from_atr():
    assert technology_from_atr(bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")) == "iso14443a"
    assert technology_from_atr(bytes.fromhex("3B8F8001804F0CA00000030611003B0000000042")) == "felica"
    assert technology_from_atr(bytes.fromhex("3B8180018080")) == "iso14443"
