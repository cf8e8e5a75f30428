"""The kiosk's HTTP client for the central store."""
from __future__ import annotations

import requests


class CentralUnavailable(Exception):
    """The central store did not answer (network down, server stopped, timeout)."""


class CentralError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class CentralClient:
    def __init__(self, base_url: str, timeout: float = 3.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise CentralUnavailable(str(exc)) from exc
        if response.status_code >= 500:
            raise CentralUnavailable(f"central store answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise CentralUnavailable("central store sent a response that is not JSON") from exc
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise CentralError(response.status_code, error.get("code", "error"), error.get("message", ""))
        return body

    def changes(self, after: int, limit: int = 1000) -> dict:
        return self._call("GET", "/api/v1/sync/changes", params={"after": after, "limit": limit})

    def renew(self, primary_id: str, loan_ids: list[int] | None) -> list[dict]:
        body = {} if loan_ids is None else {"loan_ids": loan_ids}
        return self._call("POST", f"/api/v1/patrons/{primary_id}/renew", json=body)["results"]

    def account(self, primary_id: str) -> dict:
        return self._call("GET", f"/api/v1/patrons/{primary_id}")
