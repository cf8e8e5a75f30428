"""Answer only from allowed networks: ``[kiosk|provisioning|central] allowed_networks``.

Each app lists the address ranges (CIDR) it answers; an empty list answers any address.
A request from elsewhere gets 403 and a plain reason, before any route or login runs.
Behind a reverse proxy every request comes from the proxy's address: restrict there.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from flask import Flask, request
from flask.typing import ResponseReturnValue

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NetworkSettingError(ValueError):
    """A configured range is not a network; the message names the setting and the value."""


def parse_networks(values: str | Iterable[object] | None, setting: str) -> list[Network]:
    """The ranges of a setting: a list (TOML), or one string with the ranges separated by commas or spaces."""
    if isinstance(values, str):
        values = [v for v in values.replace(",", " ").split() if v]
    networks: list[Network] = []
    for value in values or []:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise NetworkSettingError(f"{setting}: {value!r} is not an address range such as 192.168.1.0/24 "
                                      "or 127.0.0.1") from None
    return networks


def is_allowed(address: str | None, networks: list[Network]) -> bool:
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:  # a Unix socket or no address: only an open list lets it in
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def restrict(app: Flask, values: str | Iterable[object] | None, setting: str,
             refuse: Callable[[str], ResponseReturnValue]) -> list[Network]:
    """Refuse requests from outside ``values`` with ``refuse(address)`` (a Flask response, 403)."""
    networks = parse_networks(values, setting)

    @app.before_request
    def _only_allowed_networks() -> ResponseReturnValue | None:
        if not is_allowed(request.remote_addr, networks):
            return refuse(request.remote_addr or "unknown")
        return None

    app.before_request_funcs.setdefault(None, [])
    funcs = app.before_request_funcs[None]
    funcs.insert(0, funcs.pop())  # first of all: before sessions, logins and database connections
    return networks
