"""A small client for Alma's REST API (``/almaws/v1/...``) with ``requests``.

- The API key travels as the ``apikey`` query parameter (the vendor document's
  security scheme); it is never logged: every message leaving this module is
  redacted, and requests' own exceptions (which quote the URL) are not re-raised.
- Throttling: calls are spaced to stay under ``max_per_second``; an HTTP 429
  ``PER_SECOND_THRESHOLD`` is retried with exponential back-off; ``DAILY_THRESHOLD``
  makes the upstream unavailable (the central store serves from its cache).
- Quota: ``X-Exl-Api-Remaining`` is watched; below ``quota_reserve`` reads are
  refused locally (``UpstreamUnavailable``) so the last of the daily quota is kept
  for renewals and staff writes.
- Errors: the ``errorList`` envelope becomes ``AlmaError`` with the Alma code.
- Writes (``write=True``: renewals, staff writes) are never sent twice: once a write may have reached Alma
  (anything but a failure to connect), a lost answer, a server error (5xx but 503, which says it was not
  taken in) or a body that is not JSON raises
  ``OutcomeUnknown``, and the caller reads back (``upstream/cache.py`` ``reconcile``).
- Lists page with ``limit`` (at most 100) and ``offset`` until ``total_record_count``.
"""
from __future__ import annotations

import logging
import re
import threading
import time

import requests

from library_kiosk.central.upstream.base import OutcomeUnknown, UpstreamUnavailable

log = logging.getLogger(__name__)
# the API key, and the patron's PIN or password that op=auth sends as a query parameter
_KEY_IN_URL = re.compile(r"((?:apikey|password)=)[^&\s\"']+", re.IGNORECASE)


class RedactApiKey(logging.Filter):
    """urllib3 logs request lines (with the query string) at DEBUG: keep the key and PINs out of them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_KEY_IN_URL.sub(r"\1***", a) if isinstance(a, str) else a
                                for a in (record.args if isinstance(record.args, tuple) else (record.args,)))
        if isinstance(record.msg, str):
            record.msg = _KEY_IN_URL.sub(r"\1***", record.msg)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(RedactApiKey())


class AlmaError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"Alma error {code} (HTTP {status}): {message}")
        self.status, self.code, self.message = status, code, message


class AlmaClient:
    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0, max_per_second: float = 20.0,
                 max_retries: int = 3, quota_reserve: int = 500, page_size: int = 100,
                 session: requests.Session | None = None):
        if not api_key:
            raise ValueError("no Alma API key: set KIOSK_UPSTREAM_ALMA_API_KEY or alma_api_key in the secrets file")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.interval = 1.0 / max_per_second if max_per_second > 0 else 0.0
        self.max_retries = max_retries
        self.quota_reserve = quota_reserve
        self.page_size = max(1, min(100, page_size))
        self.session = session or requests.Session()
        self.remaining: int | None = None  # X-Exl-Api-Remaining, as last seen
        self.calls = 0
        self.throttled = 0
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def __repr__(self) -> str:  # never shows the key
        return f"AlmaClient({self.base_url!r})"

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***")

    def _wait_for_slot(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)

    def request(self, method: str, path: str, params: dict | None = None, json=None, write: bool = False):
        """One call; returns the decoded JSON body (None when empty). ``write`` calls may spend the quota
        reserve; reads may not."""
        if not write and self.remaining is not None and self.remaining <= self.quota_reserve:
            raise UpstreamUnavailable("Alma's daily API quota is nearly spent; serving from the central store.",
                                      "QUOTA_RESERVE")
        query = dict(params or {}, apikey=self._api_key)
        headers = {"Accept": "application/json"}
        if json is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(self.max_retries + 1):
            response = self._send(method, path, query, json, headers, attempt, write)
            if response is None or self._backed_off(method, response, attempt, write):
                continue
            try:
                return self._decoded(response)
            except UpstreamUnavailable as exc:  # a body that is not JSON
                if write:
                    raise OutcomeUnknown(f"Alma's answer to a write could not be read: {exc.message}") from None
                raise
        raise UpstreamUnavailable("Alma could not be reached.")  # only with a negative max_retries: no attempt

    def _send(self, method: str, path: str, query: dict, json, headers: dict, attempt: int, write: bool = False):
        """One exchange in its throttle slot; the response, or None when the connection failed and another
        attempt is due (after a pause). Requests' own exception quotes the URL: only its type is told. A write
        is tried again only if it never left (no connection was made)."""
        self._wait_for_slot()
        try:
            response = self.session.request(method, self.base_url + path, params=query, json=json,
                                            headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            detail = self._redact(type(exc).__name__)
            if write and not _never_sent(exc):
                raise OutcomeUnknown(f"Alma's answer to a write was lost ({detail}).") from None
            if attempt < self.max_retries and isinstance(exc, requests.ConnectionError):
                _pause(attempt)
                return None
            raise UpstreamUnavailable(f"Alma cannot be reached ({detail}).") from None
        finally:
            self.calls += 1
        remaining = response.headers.get("X-Exl-Api-Remaining")
        if remaining is not None and remaining.strip().isdigit():
            self.remaining = int(remaining)
        return response

    def _backed_off(self, method: str, response, attempt: int, write: bool = False) -> bool:
        """Whether the answer asks for another attempt, having waited for it: a per-second throttle, or a
        server error on a read (a write is not repeated: a server error on a write may or may not have done it,
        ``OutcomeUnknown``). ``UpstreamUnavailable`` when no attempt is left."""
        status = response.status_code
        if status == 429:
            self._throttled(response, attempt)
            return True
        if status >= 500 and status != 503 and write:  # 503: not taken in (down, maintenance)
            raise OutcomeUnknown(f"Alma answered HTTP {status} to a write: it may or may not be done.", str(status))
        if status >= 500:
            if attempt < self.max_retries and method == "GET":
                _pause(attempt)
                return True
            raise UpstreamUnavailable(f"Alma answered HTTP {status}.", str(status))
        return False

    def _throttled(self, response, attempt: int) -> None:
        """Wait as an HTTP 429 asks; ``UpstreamUnavailable`` for the daily limit or when no attempt is left."""
        code = _first_error(response)[0]
        if code == "DAILY_THRESHOLD" or attempt >= self.max_retries:
            raise UpstreamUnavailable("Alma's API limit is reached; serving from the central store.", code or "429")
        self.throttled += 1
        delay = float(response.headers.get("Retry-After") or 0) or 0.2 * 2 ** attempt
        log.info("Alma per-second threshold: retrying in %.1f s", delay)
        time.sleep(min(delay, 5.0))

    def _decoded(self, response):
        """The JSON body of a final answer (None when empty); ``AlmaError`` for a refusal, with Alma's code."""
        if response.status_code >= 400:
            code, message = _first_error(response)
            raise AlmaError(response.status_code, code, self._redact(message))
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise UpstreamUnavailable("Alma answered with a body that is not JSON.") from None

    def get(self, path: str, params: dict | None = None):
        return self.request("GET", path, params)

    def get_all(self, path: str, key: str, params: dict | None = None, limit: int | None = None) -> list[dict]:
        """Every record of a paged list (``key`` is the list's name, e.g. ``item_loan``)."""
        records, offset = [], 0
        page = min(self.page_size, limit) if limit else self.page_size
        while True:
            body = self.get(path, dict(params or {}, limit=page, offset=offset)) or {}
            batch = body.get(key) or []
            records.extend(batch)
            total = int(body.get("total_record_count") or 0)
            offset += len(batch)
            if not batch or offset >= total or (limit and len(records) >= limit):
                return records


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether a request failed before anything reached Alma: the connection was never made (refused, no route,
    name not resolved, connect timeout). Anything else (read timeout, reset, a cut answer) may have arrived."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    reason = exc.args[0] if exc.args else None
    reason = reason.reason if isinstance(reason, MaxRetryError) else reason
    return isinstance(reason, NewConnectionError)


def _pause(attempt: int) -> None:
    """The back-off before another attempt after a failed connection or a server error."""
    time.sleep(min(2.0, 0.1 * 2 ** attempt))


def _first_error(response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.reason or f"HTTP {response.status_code}"
    errors = ((body or {}).get("errorList") or {}).get("error") or []
    if isinstance(errors, dict):
        errors = [errors]
    if not errors:
        return "", f"HTTP {response.status_code}"
    return str(errors[0].get("errorCode", "")), str(errors[0].get("errorMessage", ""))
