"""The kiosk's HTTP client for the central store.

Every call carries the device token from enrolment (``Authorization: Bearer``):
the central store asks for it on every route but /health, its OpenAPI document and
enrolment (central/auth.py). The token is read from the kiosk's credential file
(kiosk/devices.py), never from the code or the repository.

Transport (docs/tls.md): the central store is reached over HTTPS, or over plain HTTP on this machine only (an
``http://`` URL to another host is refused before anything is sent). The server's certificate must chain to
``[kiosk] central_ca`` (empty: the system's trust store), and to what the kiosk pinned at enrolment: the CA's
SHA-256 fingerprint when it trusts a CA file, else the server certificate's own. Anything else is refused with
``CentralUntrusted`` before the token or a PIN is sent.
"""
from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from kiosk.pages import PageError, parse_lines
from kiosk.trusted_clock import HEADER, Sample, parse_header
from library_kiosk import settings
from library_kiosk.domain import clock
from library_kiosk.domain.checksums import batch_checksum

# 5xx answers that are the central store's definite word, not its absence: its mail server is down (a letter
# was attempted and recorded as failed). They raise CentralError like a refusal: nothing is queued to send again.
DEFINITE_SERVER_ERRORS = frozenset({"mail_unavailable"})
VISIT_HEADER = "X-Kiosk-Visit"  # the patron's visit at this kiosk, which the central store opened (docs/sync.md)


def visit_headers(visit: str) -> dict:
    """The header naming the patron's visit, for a call that acts for the patron (none without a visit)."""
    return {VISIT_HEADER: visit} if visit else {}


class CentralUnavailable(Exception):
    """The central store did not answer (network down, server stopped, timeout, cut-off answer).

    ``not_sent`` is True when the request certainly never reached the server (the connection
    could not be made), so nothing can have been applied there.
    """

    def __init__(self, message: str, not_sent: bool = False):
        super().__init__(message)
        self.not_sent = not_sent


def _error_code(response: requests.Response) -> str:
    """The ``error.code`` of a JSON error answer ("" for anything else)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _not_sent(exc: Exception) -> bool:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class CentralUntrusted(CentralUnavailable):
    """The central store's certificate is not trusted, or is not the one this kiosk enrolled with: the connection
    was closed before anything (token, PIN) was sent."""

    def __init__(self, message: str):
        super().__init__(message, not_sent=True)


# How an SSL error reads when the other end closed the connection before the handshake ended (OpenSSL 3, and 1.1)
HANDSHAKE_CLOSED = ("unexpected eof", "eof occurred in violation of protocol", "connection reset by peer")


class InsecureCentralURL(settings.SettingsError):
    """An ``http://`` central store URL whose host is not this machine (the message says what to do)."""


Pin = dict  # {"kind": "ca" | "certificate", "sha256": hex, "certificate_sha256": hex}: what enrolment observed


def _configured_trust() -> tuple[str, Callable[[], Pin | None]]:
    """``[kiosk] central_ca`` and the pin in the credential file, of the configuration in effect."""
    config = settings.load()
    path = config["kiosk"].get("credential_file") or os.path.join(config["data_dir"], "device.json")

    def pin() -> Pin | None:
        try:
            with open(path) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        return data.get("central_pin") if isinstance(data, dict) else None

    return str(config["kiosk"]["central_ca"]), pin


class _PinnedAdapter(HTTPAdapter):
    """HTTPS connections that must show exactly the certificate with this SHA-256 fingerprint (checked by urllib3
    right after the handshake, before the request is written)."""

    def __init__(self, fingerprint: str):
        self.fingerprint = fingerprint
        super().__init__()

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block, assert_fingerprint=self.fingerprint, **pool_kwargs)


class CentralError(Exception):
    def __init__(self, status: int, code: str, message: str, body: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.body = body or {}


class CentralClient:
    def __init__(self, base_url: str, timeout: float = 3.0, token="", *, ca: str | None = None, pin=None):
        """``token`` is the device token, or a callable returning it (read when needed, so an
        enrolment or a new credential takes effect without a restart).

        Over HTTPS: ``ca`` is the CA file the server's certificate must chain to ("" for the system's trust store;
        None: ``[kiosk] central_ca`` of the configuration in effect); ``pin`` is what enrolment pinned (a dict, or
        a callable returning it; ``{}``: nothing pinned; None: the pin in the configured credential file)."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self.session = requests.Session()
        self.refusal = settings.plain_http_refusal(self.base_url, "the central store's URL")
        self.https = urlsplit(self.base_url).scheme == "https"
        self._ca, self._pin = ca, pin
        self._mounted: str | None = None  # the certificate fingerprint the HTTPS adapter asserts, if any
        self._ca_fingerprint: tuple[str, int, str] | None = None  # (path, mtime, sha256) of the CA file
        self.time_sample: Sample | None = None  # the central store's time at the latest answer (trusted_clock.py)

    def _trust(self) -> tuple[str, Pin | None]:
        if self._ca is None or self._pin is None:
            configured_ca, configured_pin = _configured_trust()
            if self._ca is None:
                self._ca = configured_ca
            if self._pin is None:
                self._pin = configured_pin
        pin = self._pin() if callable(self._pin) else self._pin
        return self._ca, (pin or None)

    def _ca_sha256(self, path: str) -> str:
        from library_kiosk.web.tls import TLSError, file_fingerprint

        try:
            mtime = os.stat(path).st_mtime_ns
            if not self._ca_fingerprint or self._ca_fingerprint[:2] != (path, mtime):
                self._ca_fingerprint = (path, mtime, file_fingerprint(path))
        except (OSError, TLSError) as exc:
            raise CentralUntrusted(f"[kiosk] central_ca {path} cannot be read ({exc}); nothing was sent") from exc
        return self._ca_fingerprint[2]

    def _secure(self) -> None:
        """Before any request: refuse plain HTTP to another machine; over HTTPS, trust ``ca`` and the pin."""
        if self.refusal:
            raise InsecureCentralURL(self.refusal)
        if not self.https:
            return
        ca, pin = self._trust()
        # given with every request: a session's own verify loses to $REQUESTS_CA_BUNDLE, which names the system's
        self.session.verify = ca or True
        fingerprint = None
        if pin and pin.get("kind") == "ca":
            if not ca:
                raise CentralUntrusted(f"this kiosk enrolled trusting the CA with sha256 {pin.get('sha256')}, but "
                                       f"[kiosk] central_ca is empty; nothing was sent (docs/tls.md)")
            actual = self._ca_sha256(ca)
            if actual != pin.get("sha256"):
                raise CentralUntrusted(
                    f"[kiosk] central_ca {ca} (sha256 {actual}) is not the CA this kiosk enrolled with (sha256 "
                    f"{pin.get('sha256')}); nothing was sent. If the fleet CA was replaced on purpose, enrol again "
                    f"(at the central store: kiosk devices add NAME --replace; here: kiosk enrol CODE)")
        elif pin and pin.get("kind") == "certificate":
            fingerprint = str(pin.get("sha256"))
        if fingerprint != self._mounted:
            self.session.mount("https://", _PinnedAdapter(fingerprint) if fingerprint else HTTPAdapter())
            self._mounted = fingerprint

    def _untrusted(self, exc: Exception) -> CentralUnavailable:
        """Why a TLS connection failed. A connection closed in the handshake is no verdict on the certificate (a
        relay or a proxy whose central store is down, a server restarting: seen with the central store away at a
        kiosk's boot, tests/vm), so it is "not reachable"; a refused or unexpected certificate is untrusted."""
        text = str(exc).lower()
        if "certificate" not in text and "fingerprint" not in text and any(
                words in text for words in HANDSHAKE_CLOSED):
            return CentralUnavailable(f"the central store at {self.base_url} closed the connection during the TLS "
                                      f"handshake ({exc}); nothing was sent", not_sent=True)
        if "fingerprint" in text:
            return CentralUntrusted(
                f"the central store at {self.base_url} showed a certificate that is not the one this kiosk enrolled "
                f"with (sha256 {self._mounted}); nothing was sent. If its certificate was replaced on purpose, "
                f"enrol again (kiosk devices add NAME --replace; kiosk enrol CODE)")
        return CentralUntrusted(
            f"the central store at {self.base_url} showed a certificate this kiosk does not trust ({exc}); nothing "
            f"was sent. Set [kiosk] central_ca to the fleet CA's ca.pem, and use a host name the certificate "
            f"names (docs/tls.md)")

    def pin_certificate(self, sha256: str) -> None:
        """From now on, ask exactly the certificate with this fingerprint (enrolment sends its code there)."""
        self._pin = {"kind": "certificate", "sha256": sha256}

    def observe_pin(self) -> Pin:
        """Enrolment: connect, check the certificate against ``ca`` (or the system's trust store) and the host
        name, and return what to pin: the CA's fingerprint when a CA file is trusted, else the certificate's."""
        self._secure()
        if not self.https:
            return {}
        ca, _pin = self._trust()
        parts = urlsplit(self.base_url)
        context = ssl.create_default_context(cafile=ca or None)
        try:
            with socket.create_connection((parts.hostname, parts.port or 443), timeout=self.timeout) as raw, \
                    context.wrap_socket(raw, server_hostname=parts.hostname) as connection:
                der = connection.getpeercert(binary_form=True)
        except ssl.SSLError as exc:
            raise self._untrusted(exc) from exc
        except OSError as exc:
            raise CentralUnavailable(str(exc), not_sent=True) from exc
        from library_kiosk.web.tls import fingerprint

        certificate = fingerprint(der or b"")
        if ca:
            return {"kind": "ca", "sha256": self._ca_sha256(ca), "certificate_sha256": certificate}
        return {"kind": "certificate", "sha256": certificate, "certificate_sha256": certificate}

    @property
    def token(self) -> str:
        return self._token() if callable(self._token) else self._token

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        timeout = kwargs.pop("timeout", self.timeout)
        self._secure()
        token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        sent = clock.now()
        try:
            response = self.session.request(method, self.base_url + path, timeout=timeout, headers=headers,
                                            verify=self.session.verify, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise self._untrusted(exc) from exc
        except requests.RequestException as exc:
            raise CentralUnavailable(str(exc), not_sent=_not_sent(exc)) from exc
        self._note_time(response, sent)
        if response.status_code >= 500 and _error_code(response) not in DEFINITE_SERVER_ERRORS:
            raise CentralUnavailable(f"central store answered {response.status_code}")
        return response

    def _note_time(self, response: requests.Response, sent) -> None:
        """Keep the central store's time from this answer's ``X-Central-Time`` (read as soon as its headers came;
        with this kiosk's clock before and after: kiosk/trusted_clock.py). The sync worker stores it."""
        central = parse_header(response.headers.get(HEADER))
        if central is not None:
            self.time_sample = Sample(central, sent, clock.now())

    def _get_text(self, path: str, params: dict) -> str:
        """A GET whose good answer is text (the line format of pages); errors come as JSON as usual.

        The body is read in one call (not in 10 KiB steps), so a fetch running in a thread beside the
        cache's writes spends its time in the socket, without the interpreter lock."""
        response = self._send("GET", path, params=params, stream=True)
        if response.status_code >= 400:
            return self._json(response)  # raises CentralError
        try:
            body = response.raw.read(decode_content=True)  # urllib3 checks Content-Length: a cut-off body raises
            response.raw.release_conn()
            return body.decode("utf-8")
        except (UnicodeDecodeError, requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            response.close()
            raise CentralUnavailable(f"central store sent an unreadable page: {exc}") from exc

    def _call(self, method: str, path: str, **kwargs) -> dict:
        return self._json(self._send(method, path, **kwargs))

    @staticmethod
    def _json(response: requests.Response) -> dict:
        try:
            body = response.json()
        except ValueError as exc:
            raise CentralUnavailable("central store sent a response that is not JSON (cut off?)") from exc
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise CentralError(response.status_code, error.get("code", "error"), error.get("message", ""),
                               body if isinstance(body, dict) else {})
        if not isinstance(body, dict):
            raise CentralUnavailable("central store sent an unexpected response")
        return body

    def changes(self, after: int, limit: int = 1000) -> dict:
        """A page of changes as JSON (documents as objects)."""
        return self._call("GET", "/api/v1/sync/changes", params={"after": after, "limit": limit})

    def changes_lines(self, after: int, limit: int = 1000) -> dict:
        """A page of changes in the line format, parsed (``kiosk.pages.parse_lines``): its records carry each
        document as the central store's JSON text, stored as is. A cut-off or garbled page raises
        ``CentralUnavailable`` (nothing is applied; the next pull asks again)."""
        return self.parse_changes(self.changes_text(after, limit))

    def changes_text(self, after: int, limit: int = 1000) -> str:
        return self._get_text("/api/v1/sync/changes", {"after": after, "limit": limit, "format": "lines"})

    @staticmethod
    def parse_changes(text: str) -> dict:
        try:
            return parse_lines(text)
        except PageError as exc:
            raise CentralUnavailable(f"central store sent a malformed page: {exc}") from exc

    def push_ops(self, ops: list[dict]) -> dict:
        """Send queued operations; a refusal (gap, reused key, in progress) raises CentralError with the body."""
        return self._call("POST", "/api/v1/sync/ops", json={"ops": ops, "checksum": batch_checksum(ops)})

    def heartbeat(self, data: dict) -> dict:
        return self._call("POST", "/api/v1/sync/heartbeat", json=data)

    def staff_call(self, reason: str, primary_id: str = "") -> dict:
        """A call for staff made at once, not through the outbox (the kiosk's own call when its cache is out of
        order: kiosk/services.py ``call_staff_out_of_order``)."""
        return self._call("POST", "/api/v1/staff-calls", json={"reason": reason, "primary_id": primary_id})

    def enrol(self, code: str) -> dict:
        return self._call("POST", "/api/v1/sync/enrol", json={"code": code})

    def health(self) -> bool:
        try:
            self._secure()
            return self.session.get(self.base_url + "/health", timeout=self.timeout,
                                    verify=self.session.verify).status_code == 200
        except (requests.RequestException, CentralUntrusted):
            return False

    def renew(self, primary_id: str, loan_ids: list[int] | None, visit: str = "") -> list[dict]:
        """Renew at once (not through the outbox), within the patron's ``visit`` at this kiosk."""
        body = {} if loan_ids is None else {"loan_ids": loan_ids}
        return self._call("POST", f"/api/v1/patrons/{quote(primary_id, safe='')}/renew", json=body,
                          headers=visit_headers(visit))["results"]

    def refresh(self, identifier: str, timeout: float | None = None) -> dict:
        """The patron holding ``identifier`` read through the central store from the library system
        (``POST /api/v1/patrons/refresh``): primary id, account and the record as a page carries it."""
        return self._call("POST", "/api/v1/patrons/refresh", params={"identifier": identifier},
                          timeout=timeout or self.timeout)

    def end_visit(self, primary_id: str, visit: str, timeout: float | None = None) -> bool:
        """Tell the central store the patron has left (``POST /api/v1/patrons/{id}/visit/end``)."""
        return bool(self._call("POST", f"/api/v1/patrons/{quote(primary_id, safe='')}/visit/end",
                               headers=visit_headers(visit), timeout=timeout or self.timeout).get("ended"))

    def account(self, primary_id: str, visit: str = "") -> dict:
        """The patron's account as the central store has it now, within the patron's ``visit`` at this kiosk."""
        return self._call("GET", f"/api/v1/patrons/{quote(primary_id, safe='')}", headers=visit_headers(visit))

    def send_letter(self, primary_id: str, letter_type: str, context: dict | None = None, visit: str = "") -> dict:
        """Have the central store email the patron a letter now, within the patron's ``visit`` at this kiosk."""
        body = {"letter_type": letter_type, "channel": "email", "context": context or {}}
        return self._call("POST", f"/api/v1/patrons/{quote(primary_id, safe='')}/letters", json=body,
                          headers=visit_headers(visit))
