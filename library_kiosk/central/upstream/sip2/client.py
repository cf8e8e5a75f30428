"""A SIP2 2.00 client over TCP (optionally TLS), with a connection pool.

- Framing: messages end with CR (or CRLF, per configuration); the character set is
  configurable (UTF-8 or the ILS's code page). With error detection on, each
  message carries ``AY`` (sequence number 0-9) and ``AZ`` (checksum: the two's
  complement of the byte sum, four hex digits); an answer with a bad checksum is
  asked for again with 97; a 96 from the ILS makes us send the message again. 96 and 97
  carry no sequence number (the specification's "97AZFEF5"). A server that answers our 97
  without AY/AZ has switched error detection off: from then on its answers are taken
  without a checksum on that connection (``sip2_error_detection = false`` for a server
  that never uses it).
- Connections log in (93) when a login user is configured, are reused from a pool
  (one pool per central process), are dropped after ``idle_seconds`` unused, and
  one dropped by the ILS is reconnected and the message sent once more, unless it is a write (29, 65, 11, 09):
  then a lost or garbled answer raises ``OutcomeUnknown`` and the caller reads the patron back.
- Every failure to reach the ILS becomes ``UpstreamUnavailable``.
"""
from __future__ import annotations

import datetime as dt
import queue
import select
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from library_kiosk.central.upstream.base import OutcomeUnknown, UpstreamError, UpstreamUnavailable
from library_kiosk.domain import clock

# fixed-length header of each response: command -> [(name, width)]
FIXED = {
    "94": [("ok", 1)],
    "98": [("online", 1), ("checkin_ok", 1), ("checkout_ok", 1), ("renewal_policy", 1), ("status_update_ok", 1),
           ("offline_ok", 1), ("timeout", 3), ("retries", 3), ("date", 18), ("version", 4)],
    "24": [("patron_status", 14), ("language", 3), ("date", 18)],
    "64": [("patron_status", 14), ("language", 3), ("date", 18), ("hold_count", 4), ("overdue_count", 4),
           ("charged_count", 4), ("fine_count", 4), ("recall_count", 4), ("unavailable_hold_count", 4)],
    "18": [("circulation_status", 2), ("security_marker", 2), ("fee_type", 2), ("date", 18)],
    "30": [("ok", 1), ("renewal_ok", 1), ("magnetic", 1), ("desensitize", 1), ("date", 18)],
    "12": [("ok", 1), ("renewal_ok", 1), ("magnetic", 1), ("desensitize", 1), ("date", 18)],
    "10": [("ok", 1), ("resensitize", 1), ("magnetic", 1), ("alert", 1), ("date", 18)],
    "66": [("ok", 1), ("renewed_count", 4), ("unrenewed_count", 4), ("date", 18)],
    "36": [("end_session", 1), ("date", 18)],
    "38": [("payment_accepted", 1), ("date", 18)],
    "96": [],
}
# the supported-messages field (BX) of 98, position by position
SUPPORTED = ["patron_status", "checkout", "checkin", "block_patron", "sc_status", "resend", "login",
             "patron_information", "end_session", "fee_paid", "item_information", "item_status_update",
             "patron_enable", "hold", "renew", "renew_all"]


class Sip2Error(UpstreamError):
    def __init__(self, message: str):
        super().__init__("upstream_error", message)


def checksum(data: bytes) -> str:
    return f"{(-sum(data)) & 0xFFFF:04X}"


def sip_date(when: dt.datetime | None = None) -> str:
    return (when or clock.local_now().replace(tzinfo=None)).strftime("%Y%m%d    %H%M%S")


@dataclass
class Response:
    command: str
    fixed: dict
    fields: dict = field(default_factory=dict)  # id -> list of values (repeatable fields keep every one)

    def get(self, field_id: str, default: str = "") -> str:
        values = self.fields.get(field_id)
        return values[0] if values else default

    def all(self, field_id: str) -> list[str]:
        return self.fields.get(field_id, [])


def parse(text: str) -> Response:
    command = text[:2]
    if command not in FIXED:
        raise Sip2Error(f"unexpected SIP2 message {command!r}")
    position, fixed = 2, {}
    for name, width in FIXED[command]:
        fixed[name] = text[position:position + width]
        position += width
    fields: dict[str, list[str]] = {}
    for part in text[position:].split("|"):
        if len(part) >= 2:
            fields.setdefault(part[:2], []).append(part[2:])
    return Response(command, fixed, fields)


class Connection:
    """One TCP (or TLS) connection to the ILS."""

    def __init__(self, settings: dict):
        self.s = settings
        self.host, self.port = settings.get("sip2_host", "127.0.0.1"), int(settings.get("sip2_port", 6001))
        self.timeout = float(settings.get("sip2_timeout_seconds", 10.0))
        self.encoding = settings.get("sip2_encoding", "utf-8")
        self.terminator = "\r\n" if str(settings.get("sip2_line_ending", "CR")).upper() == "CRLF" else "\r"
        self.error_detection = bool(settings.get("sip2_error_detection", True))
        self.server_checks = self.error_detection  # whether the server's answers must carry a valid AZ
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.sequence = 0
        self.last_used = 0.0
        self.sent = 0

    def open(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            if self.s.get("sip2_tls"):
                context = ssl.create_default_context(cafile=self.s.get("sip2_ca_file") or None)
                if not self.s.get("sip2_tls_verify", True):
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(sock, server_hostname=self.host)
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamUnavailable(f"the SIP2 server {self.host}:{self.port} cannot be reached "
                                      f"({type(exc).__name__}).") from None
        sock.settimeout(self.timeout)
        self.sock, self.buffer, self.sequence = sock, b"", 0
        self.server_checks = self.error_detection
        self.last_used = time.monotonic()
        if self.s.get("sip2_login_user"):
            try:
                    reply = self.exchange("9300CN{}|CO{}|CP{}|".format(self.s["sip2_login_user"],
                                                                   self.s.get("sip2_login_password", ""),
                                                                   self.s.get("sip2_location_code", "")))
            except (OSError, ConnectionError) as exc:
                self.close()
                raise UpstreamUnavailable(f"the SIP2 server dropped the connection during login "
                                          f"({type(exc).__name__}).") from None
            except Sip2Error:
                self.close()  # garbled during login: never left open for the garbage collector
                raise
            if reply.fixed["ok"] != "1":
                self.close()
                raise UpstreamUnavailable("the SIP2 server refused our login (93): check sip2_login_user and "
                                          "the password.", "93")

    def dropped(self) -> bool:
        """Whether the server has closed this idle connection (or sent something unasked): checked before each
        use without waiting, so a message is never written into a connection the server had already left, where
        a renewal's fate would be unknown."""
        if self.sock is None:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            return bool(readable)  # an idle connection has nothing to read: this is its end, or stray bytes
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def _frame(self, message: str) -> bytes:
        if not self.error_detection:
            return (message + self.terminator).encode(self.encoding)
        if message in ("96", "97"):  # resend requests carry no sequence number
            body = f"{message}AZ".encode("ascii")
            return body + checksum(body).encode("ascii") + self.terminator.encode("ascii")
        body = f"{message}AY{self.sequence}AZ".encode(self.encoding)
        self.sequence = (self.sequence + 1) % 10
        return body + checksum(body).encode("ascii") + self.terminator.encode("ascii")

    def _read_message(self, unterminated_ok: bool = False) -> bytes:
        """The next message. With ``unterminated_ok`` (the answer to a 97), a message that ends with a
        valid checksum is taken without waiting for its CR: some servers (invenio-sip2 1.0) resend the
        last answer without the line terminator. A CR arriving later is an empty line, skipped."""
        while True:
            end = self.buffer.find(b"\r")
            if end >= 0:
                line, self.buffer = self.buffer[:end], self.buffer[end + 1:]
                if self.buffer.startswith(b"\n"):
                    self.buffer = self.buffer[1:]
                line = line.lstrip(b"\n")
                if line:
                    return line
                continue
            if unterminated_ok and self.error_detection:
                line = self.buffer.lstrip(b"\n")
                if len(line) > 6 and line[-6:-4] == b"AZ" and self._valid(line):
                    self.buffer = b""
                    return line
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionResetError("the SIP2 server closed the connection")
            self.buffer += chunk

    def _valid(self, raw: bytes) -> bool:
        at = raw.rfind(b"AZ")
        if at < 0 or len(raw) - at != 6:
            return not self.server_checks  # error detection on: an answer without a checksum is suspect
        return checksum(raw[:at + 2]) == raw[at + 2:].decode("ascii", "replace").upper()

    @staticmethod
    def _unchecked(raw: bytes) -> bool:
        """An answer with no error-detection fields at all (``...|AY1AZ....`` gone): not a garbled one."""
        return b"AZ" not in raw[-12:] and b"AY" not in raw[-12:]

    def exchange(self, message: str) -> Response:
        """Send one message and read its answer (OSError / ConnectionError propagate to the pool)."""
        frame = self._frame(message)
        self.sock.sendall(frame)
        self.sent += 1
        resend_asked = False
        for _attempt in range(3):
            raw = self._read_message(unterminated_ok=resend_asked)
            resend_was_asked, resend_asked = resend_asked, False
            if raw.startswith(b"96"):  # the ILS saw a bad checksum: send it again
                self.sock.sendall(frame)
                self.sent += 1
                continue
            if resend_was_asked and self.server_checks and self._unchecked(raw):
                self.server_checks = False  # it resent without AY/AZ: it switched error detection off
            if self.server_checks and not self._valid(raw):
                self.sock.sendall(self._frame("97"))  # ask for the answer again
                self.sent += 1
                resend_asked = True
                continue
            self.last_used = time.monotonic()
            text = raw.decode(self.encoding, errors="replace")
            if self.error_detection and "|AY" in text:
                text = text[:text.rfind("|AY") + 1]
            elif self.error_detection and "AY" in text[-9:]:
                text = text[:text.rfind("AY")]
            return parse(text)
        raise Sip2Error("the SIP2 server kept answering with transmission errors")


class Pool:
    """Connections shared by the threads of one central process."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.size = max(1, int(settings.get("sip2_pool_size", 2)))
        self.idle_seconds = float(settings.get("sip2_idle_seconds", 120.0))
        self.idle: queue.LifoQueue[Connection] = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(self.size)
        self.sent = 0
        self._lock = threading.Lock()

    @contextmanager
    def connection(self):
        if not self.slots.acquire(timeout=float(self.settings.get("sip2_timeout_seconds", 10.0))):
            raise UpstreamUnavailable("all SIP2 connections are busy.")
        conn = None
        try:
            try:
                conn = self.idle.get_nowait()
            except queue.Empty:
                conn = None
            if conn is not None and (time.monotonic() - conn.last_used > self.idle_seconds or conn.dropped()):
                conn.close()  # the ILS has dropped it (or likely has): never send a renewal into it
                conn = None
            if conn is None:
                conn = Connection(self.settings)
                conn.open()
            yield conn
            if conn.sock is not None:
                self.idle.put(conn)
        finally:
            if conn is not None:
                with self._lock:
                    self.sent += conn.sent
                conn.sent = 0
            self.slots.release()

    def exchange(self, message: str, write: bool = False) -> Response:
        """Send ``message`` on a pooled connection; a dropped connection is reopened and the message sent once
        more. Not a ``write`` (a renewal): once it may have reached the server, a lost or garbled answer raises
        ``OutcomeUnknown`` and nothing is sent again (a resent 29 would renew twice); the caller reads back."""
        for attempt in range(2):
            with self.connection() as conn:  # connecting or logging in fails before anything is sent
                try:
                    return conn.exchange(message)
                except Sip2Error as exc:
                    conn.close()  # garbled beyond repair: never hand this connection to the next request
                    if write:
                        raise OutcomeUnknown(f"the SIP2 server's answer to a {message[:2]} was garbled: "
                                             f"{exc.message}") from None
                    raise
                except (OSError, ConnectionError) as exc:
                    conn.close()
                    if write:
                        raise OutcomeUnknown(f"the SIP2 server's answer to a {message[:2]} was lost "
                                             f"({type(exc).__name__}).") from None
                    if attempt == 1 or isinstance(exc, socket.timeout):
                        raise UpstreamUnavailable(f"the SIP2 server stopped answering ({type(exc).__name__}).") \
                            from None
        raise UpstreamUnavailable("the SIP2 server cannot be reached.")  # not reached

    def close(self) -> None:
        while True:
            try:
                self.idle.get_nowait().close()
            except queue.Empty:
                return


_POOLS: dict[tuple, Pool] = {}
_POOLS_LOCK = threading.Lock()


def close_all() -> None:
    """Close every pool of this process (tests; shutdown)."""
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()


def pool_for(settings: dict) -> Pool:
    """The one pool of this process for these settings."""
    key = tuple(sorted((k, str(v)) for k, v in settings.items() if k.startswith("sip2_")))
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = Pool(settings)
        return _POOLS[key]
