"""Client side of the reader service's HTTP contract (see :mod:`hardware.service`).

``secret`` is the reader service's shared secret (``hardware.auth.client_secret(settings.secret_file)``),
sent as ``Authorization: Bearer``; without it a service that has one answers 401 (``ServiceError``).
"""
from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from hardware.auth import header
from hardware.base import SecurityNotSet
from hardware.events import ItemTag, ReaderEvent, StatusEvent


class ServiceError(RuntimeError):
    """The reader service answered with an error (or not at all)."""


def subscribe(base_url: str, timeout: float | None = None,
              secret: str = "") -> Iterator[ReaderEvent | StatusEvent]:
    """Yield reader events and status updates from ``GET /events`` as they come.

    ``timeout`` is how long to wait for anything (including the 15 s keepalive) before
    raising ``TimeoutError``; None waits forever. Ends when the service closes the stream.
    """
    connection = _connect(base_url, timeout)
    try:
        connection.request("GET", "/events", headers={"Accept": "text/event-stream", **header(secret)})
        response = connection.getresponse()
        if response.status != 200:
            raise ServiceError(f"GET /events answered {response.status}: {response.read()!r}")
        data: list[str]
        name, data = "message", []
        while True:
            raw = response.readline()
            if not raw:
                return                                  # the service closed the stream
            line = raw.decode().rstrip("\r\n")
            if not line:                                # blank line: end of one event
                if data:
                    yield _parse(name, "\n".join(data))
                name, data = "message", []
            elif line.startswith(":"):
                continue                                # comment, e.g. keepalive
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
    finally:
        connection.close()


def simulate(base_url: str, kind: str, value: str, secret: str = "", **options: object) -> dict[str, Any]:
    """Inject a card (``kind="card"``, UID hex) or barcode through ``POST /simulate``.

    ``options`` go into the request body too, e.g. ``format="decimal"`` or ``hold=True``.
    """
    return _request(base_url, "POST", "/simulate", {"kind": kind, "value": value, **options}, secret)


def set_item_security(base_url: str, uid: str, secured: bool, secret: str = "") -> ItemTag:
    """Mark an item's tag for the exit gate (``POST /items/security``): ``secured=False`` at checkout, True on
    return. Raises :class:`SecurityNotSet` when the tag's write did not take (the kiosk refuses the checkout
    with ``security_not_set``), :class:`ServiceError` otherwise (the tag is not on a pad: code 404)."""
    connection = _connect(base_url, 10)
    try:
        connection.request("POST", "/items/security", body=json.dumps({"uid": uid, "secured": secured}).encode(),
                           headers={"Content-Type": "application/json", **header(secret)})
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read() or b"{}")
    except OSError as exc:
        raise ServiceError(f"reader service at {base_url} is not reachable: {exc}") from exc
    finally:
        connection.close()
    if response.status == 409 and answer.get("code") == SecurityNotSet.code:
        raise SecurityNotSet(answer.get("error", "the tag's security was not set"))
    if response.status != 200:
        raise ServiceError(f"POST /items/security answered {response.status}: {answer.get('error', answer)}")
    fields = ItemTag.__dataclass_fields__
    return ItemTag(**{k: v for k, v in answer["tag"].items() if k in fields})


def status(base_url: str) -> StatusEvent:
    """The online state of every configured reader (``GET /status``)."""
    return StatusEvent.from_json(json.dumps(_request(base_url, "GET", "/status")))


def _parse(name: str, data: str) -> ReaderEvent | StatusEvent:
    if name == "status":
        return StatusEvent.from_json(data)
    return ReaderEvent.from_json(data)


def _request(base_url: str, method: str, path: str, body: Mapping[str, object] | None = None,
             secret: str = "") -> dict[str, Any]:
    connection = _connect(base_url, 10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", **header(secret)} if payload else header(secret)
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        answer: dict[str, Any] = json.loads(response.read() or b"{}")  # the service answers JSON objects
    except OSError as exc:
        raise ServiceError(f"reader service at {base_url} is not reachable: {exc}") from exc
    finally:
        connection.close()
    if response.status >= 400:
        raise ServiceError(f"{method} {path} answered {response.status}: "
                           f"{answer.get('error', answer)}")
    return answer


def _connect(base_url: str, timeout: float | None) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 8083,
                                      timeout=timeout)
