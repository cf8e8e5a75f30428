"""Barcode scanners: evdev key decoding with constructed input events; serial scanners
through a real pseudo-terminal, reached by a symlink like /dev/serial/by-id/..."""
import fcntl
import os
import struct
import termios
import time
import tty

from evdev import InputEvent
from evdev import ecodes as e

from hardware.scanner import EvdevScanner, KeyDecoder, SerialScanner
from tests.hardware.reader_harness import RunningReader
from tests.helpers import wait_until

CHAR_KEYS = {**{c: getattr(e, f"KEY_{c.upper()}") for c in "0123456789abcdefghijklmnopqrstuvwxyz"},
             "-": e.KEY_MINUS, ".": e.KEY_DOT, "\n": e.KEY_ENTER}


def keystrokes(text):
    """The input events a keyboard-wedge scanner sends for ``text``."""
    now = time.time()
    sec, usec = int(now), int(now % 1 * 1e6)
    for char in text:
        code = CHAR_KEYS[char.lower()]
        if char.isupper():
            yield InputEvent(sec, usec, e.EV_KEY, e.KEY_LEFTSHIFT, 1)
        yield InputEvent(sec, usec, e.EV_MSC, e.MSC_SCAN, 458792)
        yield InputEvent(sec, usec, e.EV_KEY, code, 1)
        yield InputEvent(sec, usec, e.EV_SYN, e.SYN_REPORT, 0)
        yield InputEvent(sec, usec, e.EV_KEY, code, 0)
        yield InputEvent(sec, usec, e.EV_SYN, e.SYN_REPORT, 0)
        if char.isupper():
            yield InputEvent(sec, usec, e.EV_KEY, e.KEY_LEFTSHIFT, 0)


def test_key_decoder_yields_one_code_per_enter():
    decoded = list(KeyDecoder().decode(keystrokes("31234000567890\nLIB-0042\n\nab.C\n")))
    assert decoded == ["31234000567890", "LIB-0042", "ab.C"]


def test_key_decoder_ignores_key_up_and_autorepeat():
    decoder = KeyDecoder()
    events = [InputEvent(0, 0, e.EV_KEY, e.KEY_1, 1), InputEvent(0, 0, e.EV_KEY, e.KEY_1, 2),
              InputEvent(0, 0, e.EV_KEY, e.KEY_1, 0), InputEvent(0, 0, e.EV_KEY, e.KEY_KP2, 1),
              InputEvent(0, 0, e.EV_KEY, e.KEY_KPENTER, 1)]
    assert list(decoder.decode(events)) == ["12"]


class PipeInputDevice:
    """Stands in for evdev.InputDevice (no /dev/uinput here): a pipe of InputEvents."""

    def __init__(self, read_fd):
        self.fd = read_fd
        self.queue = []

    def fileno(self):
        return self.fd

    def grab(self):
        pass

    def read(self):
        data = os.read(self.fd, 1)
        if not data:
            raise OSError(19, "No such device")
        events, self.queue = self.queue, []
        return events

    def close(self):
        os.close(self.fd)


def test_evdev_scanner_reads_codes_and_survives_unplug(tmp_path):
    devices = []

    class PipeScanner(EvdevScanner):
        def open_device(self):
            if not os.path.exists(self.path):
                raise FileNotFoundError(2, "No such file or directory", self.path)
            read_fd, write_fd = os.pipe()
            devices.append((PipeInputDevice(read_fd), write_fd))
            return devices[-1][0]

    def type_text(text):
        device, write_fd = devices[-1]
        device.queue.extend(keystrokes(text))
        os.write(write_fd, b"x")

    path = tmp_path / "scanner-event-kbd"
    path.touch()
    with RunningReader(PipeScanner(str(path), name="Wedge", retry_initial=0.1)) as run:
        run.expect("reader_back")
        type_text("31234000567890\n")
        assert run.expect("barcode", "31234000567890").technology == "barcode"
        path.unlink()
        os.close(devices[-1][1])                         # unplugged: read fails with ENODEV
        assert "went away" in run.expect("reader_lost").value
        run.expect_nothing(0.4)
        path.touch()
        run.expect("reader_back", timeout=3)
        type_text("LIB-0042\n")
        run.expect("barcode", "LIB-0042")


def test_evdev_scanner_without_the_device_is_lost(tmp_path):
    with RunningReader(EvdevScanner(str(tmp_path / "missing"), retry_initial=0.1)) as run:
        assert "cannot open scanner" in run.expect("reader_lost").value


class Pty:
    """A pseudo-terminal whose slave end is reachable through a stable symlink."""

    def __init__(self, link):
        self.link = link
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(self.slave), link)

    def write(self, data):
        os.write(self.master, data)

    def wait_read(self, seconds: float = 5.0) -> None:
        """Wait until whatever was written has been read from the terminal (its input queue is empty)."""
        def waiting() -> int:
            return struct.unpack("i", fcntl.ioctl(self.slave, termios.FIONREAD, b"\0" * 4))[0]

        wait_until(lambda: waiting() == 0, seconds, "the scanner reads what was written", every=0.01)

    def unplug(self):
        os.unlink(self.link)
        os.close(self.master)
        os.close(self.slave)


def test_serial_scanner_reads_lines_and_survives_unplug(tmp_path):
    link = str(tmp_path / "ttyACM-scanner")
    pty = Pty(link)
    with RunningReader(SerialScanner(link, name="Serial", retry_initial=0.1)) as run:
        run.expect("reader_back")
        pty.write(b"9781234567897\r\n")
        run.expect("barcode", "9781234567897")
        pty.write(b"2123400001234")                      # a line in two pieces:
        pty.wait_read()                                  # the scanner has read the first ...
        pty.write(b"7\r")                                # ... before the second is there
        run.expect("barcode", "21234000012347")
        pty.write(b"LIB-0042\n\n")
        run.expect("barcode", "LIB-0042")
        pty.unplug()
        assert run.expect("reader_lost").value
        run.expect_nothing(0.4)
        pty = Pty(link)                                  # plugged in again (a new pts)
        run.expect("reader_back", timeout=3)
        pty.write(b"12345\n")
        run.expect("barcode", "12345")
    pty.unplug()
