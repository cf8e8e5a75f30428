from hardware.debounce import Debouncer
from hardware.events import ReaderEvent


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def ev(kind, value="04A1B2C3", reader="Desk"):
    return ReaderEvent(kind, reader, value)


def test_held_card_fast_retap_and_slow_retap():
    clock = Clock()
    debounce = Debouncer(2.0, clock)
    assert debounce.accept(ev("card"))
    assert not debounce.accept(ev("card"))              # still held: same tap
    clock.now += 5
    assert debounce.accept(ev("removed"))
    clock.now += 1
    assert not debounce.accept(ev("card"))              # back within 2 s: ignored
    assert not debounce.accept(ev("removed"))           # ... and so is its removal
    clock.now += 2.5
    assert debounce.accept(ev("card"))                  # a new tap
    assert debounce.accept(ev("card", "DEADBEEF"))      # another card is always a tap
    assert debounce.accept(ev("card", reader="Other"))  # so is another reader
    assert debounce.accept(ev("barcode", "12345"))
    assert debounce.accept(ev("barcode", "12345"))      # barcodes are not debounced


def test_zero_window_still_counts_a_held_card_once():
    debounce = Debouncer(0.0, Clock())
    assert debounce.accept(ev("card"))
    assert not debounce.accept(ev("card"))
    assert debounce.accept(ev("removed"))
    assert debounce.accept(ev("card"))
