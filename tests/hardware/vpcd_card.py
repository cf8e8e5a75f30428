"""A virtual contactless card for pcscd's vsmartcard-vpcd driver, and a private pcscd.

vpcd protocol: every message is a 2-byte big-endian length and a payload. One-byte
payloads are control codes (0 power off, 1 power on, 2 reset, 4 send the ATR); longer
ones are command APDUs to answer. Connecting to the vpcd port is a tap, closing it a
removal.
"""
from __future__ import annotations

import pathlib
import signal
import socket
import struct
import subprocess
import threading
import time

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
# PC/SC part 3 ATR of a MIFARE Classic 1K (standard byte 03: ISO 14443-A part 3)
MIFARE_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")


class VirtualCard:
    """A card with a chosen UID; ``insert()`` taps it on the vpcd reader at ``port``."""

    def __init__(self, uid: bytes | str, port: int, atr: bytes = MIFARE_ATR):
        self.uid = bytes.fromhex(uid) if isinstance(uid, str) else bytes(uid)
        self.atr, self.port = atr, port
        self.apdus: list[bytes] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def answer(self, apdu: bytes) -> bytes:
        if apdu[:3] == b"\xff\xca\x00":                       # GET DATA: UID
            return self.uid + b"\x90\x00"
        return b"\x6d\x00"                                    # INS not supported

    def insert(self) -> VirtualCard:
        self._sock = socket.create_connection(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._serve, args=(self._sock,), daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        if self._sock:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            self._sock = None
        if self._thread:
            self._thread.join(2)
            self._thread = None

    __enter__ = insert

    def __exit__(self, *exc):
        self.remove()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                (size,) = struct.unpack("!H", _recv_exactly(sock, 2))
                message = _recv_exactly(sock, size) if size else b""
                if size == 1:
                    if message[0] == 4:
                        _send(sock, self.atr)
                else:
                    self.apdus.append(message)
                    _send(sock, self.answer(message))
        except OSError:
            pass


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("vpcd closed the connection")
        data += chunk
    return data


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack("!H", len(payload)) + payload)


def reader_has_card(reader: str) -> bool:
    from smartcard import scard
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        hresult, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(context)


def wait_card_state(reader: str, present: bool, timeout: float = 3.0) -> None:
    """Wait until pcscd itself reports the card there (or gone)."""
    deadline = time.monotonic() + timeout
    while reader_has_card(reader) != present:
        if time.monotonic() > deadline:
            raise TimeoutError(f"pcscd never reported present={present} on {reader}")
        time.sleep(0.02)


class PrivatePcscd:
    """``pcscd --foreground`` with its own configuration holding one vpcd reader.

    vpcd gives that reader two slots: ``"<name> 00 00"`` takes cards on ``port`` and
    ``"<name> 00 01"`` on ``port + 1``. (Several vpcd configuration files in one pcscd
    did not work: no card was ever seen.)
    """

    def __init__(self, folder: pathlib.Path, name: str, port: int):
        self.folder, self.name, self.port = folder, name, port
        self.proc: subprocess.Popen | None = None
        # pcscd reads every file of its --config folder as a reader's configuration: the log must live outside it
        # (a log inside was parsed at each restart, its errors appended to itself, until a start took minutes)
        self.config = folder / "readers"
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / "vpcd").write_text(
            f'FRIENDLYNAME "{name}"\nDEVICENAME /dev/null:{port}\n'
            f"LIBPATH {VPCD_DRIVER}\nCHANNELID {port}\n")

    def slot(self, index: int) -> tuple[str, int]:
        """(PC/SC reader name, vpcd port) of slot 0 or 1."""
        return f"{self.name} 00 {index:02d}", self.port + index

    def start(self, timeout: float = 30.0) -> None:
        """Start pcscd and wait for both slots. A pcscd that exits at once (a restart right after a stop,
        on a loaded machine, can find its socket or vpcd's port not yet free) is started again."""
        assert pathlib.Path(VPCD_DRIVER).exists(), f"vsmartcard-vpcd is not installed ({VPCD_DRIVER})"
        assert not pathlib.Path("/run/pcscd/pcscd.comm").exists() or not _pcscd_answers(), \
            "another pcscd is already running on this machine; stop it first"
        deadline = time.monotonic() + timeout
        wanted = {self.slot(0)[0], self.slot(1)[0]}
        for port in (self.port, self.port + 1):
            _wait_until_free(port, PORT_FREE_TIMEOUT)
        self._launch()
        while not wanted <= set(_list_readers()):
            if time.monotonic() > deadline:
                self.stop()
                log = (self.folder / "pcscd.log").read_text(errors="replace")[-2000:]
                raise AssertionError(f"pcscd did not list {wanted} within {timeout} s; its log ends:\n{log}")
            if self.proc.poll() is not None:
                time.sleep(0.5)
                for port in (self.port, self.port + 1):
                    _wait_until_free(port, PORT_FREE_TIMEOUT)
                self._launch()
            time.sleep(0.05)

    def _launch(self) -> None:
        with open(self.folder / "pcscd.log", "ab") as log:
            self.proc = subprocess.Popen(["pcscd", "--foreground", "--config", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        elif self.proc:
            self.proc.wait()
        self.proc = None


PORT_FREE_TIMEOUT = 90.0  # how long another listener on vpcd's port may take to go


def _wait_until_free(port: int, timeout: float) -> None:
    """Wait until nothing listens on ``port`` any more (the last pcscd not yet gone, or another process's listener,
    makes the new pcscd exit with "Address already in use"). The probe sets SO_REUSEADDR, so connections of a
    stopped pcscd left in TIME_WAIT do not count: a pcscd that exits at once for them is started again."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("0.0.0.0", port))
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"vpcd's port {port} is still taken after {timeout:g} s ({exc}); "
                                         f"another pcscd or test run? (ss -ltnp 'sport = :{port}')") from exc
        time.sleep(0.5)


def _list_readers() -> list[str]:
    from smartcard import scard
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return []
    try:
        hresult, names = scard.SCardListReaders(context, [])
        return list(names or [])
    finally:
        scard.SCardReleaseContext(context)


def _pcscd_answers() -> bool:
    from smartcard import scard
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult == scard.SCARD_S_SUCCESS:
        scard.SCardReleaseContext(context)
        return True
    return False
