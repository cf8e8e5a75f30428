"""The kiosk's HTTP client for the central store.

Every call carries the device token from enrolment (``Authorization: Bearer``):
the central store asks for it on every route but /health, its OpenAPI document and
enrolment (central/auth.py). The token is read from the kiosk's credential file
(kiosk/devices.py), never from the code or the repository.
"""
from __future__ import annotations

import requests
import urllib3

from kiosk.pages import PageError, parse_lines
from library_kiosk.domain.checksums import batch_checksum


class CentralUnavailable(Exception):
    """The central store did not answer (network down, server stopped, timeout, cut-off answer).

    ``not_sent`` is True when the request certainly never reached the server (the connection
    could not be made), so nothing can have been applied there.
    """

    def __init__(self, message: str, not_sent: bool = False):
        super().__init__(message)
        self.not_sent = not_sent


def _not_sent(exc: Exception) -> bool:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class CentralError(Exception):
    def __init__(self, status: int, code: str, message: str, body: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.body = body or {}


class CentralClient:
    def __init__(self, base_url: str, timeout: float = 3.0, token=""):
        """``token`` is the device token, or a callable returning it (read when needed, so an
        enrolment or a new credential takes effect without a restart)."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self.session = requests.Session()

    @property
    def token(self) -> str:
        return self._token() if callable(self._token) else self._token

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, headers=headers,
                                            **kwargs)
        except requests.RequestException as exc:
            raise CentralUnavailable(str(exc), not_sent=_not_sent(exc)) from exc
        if response.status_code >= 500:
            raise CentralUnavailable(f"central store answered {response.status_code}")
        return response

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

    def enrol(self, code: str) -> dict:
        return self._call("POST", "/api/v1/sync/enrol", json={"code": code})

    def health(self) -> bool:
        try:
            return self.session.get(self.base_url + "/health", timeout=self.timeout).status_code == 200
        except requests.RequestException:
            return False

    def renew(self, primary_id: str, loan_ids: list[int] | None) -> list[dict]:
        body = {} if loan_ids is None else {"loan_ids": loan_ids}
        return self._call("POST", f"/api/v1/patrons/{primary_id}/renew", json=body)["results"]

    def account(self, primary_id: str) -> dict:
        return self._call("GET", f"/api/v1/patrons/{primary_id}")
