"""Upstream connectors: the central store in front of a library system.

``from_config(config)`` builds the configured back end (``[upstream] kind``:
``local``, ``alma`` or ``sip2``), importing only that one. ``init_app`` wires it
into the central app: the account cache and the renewal forwarding (the API's routes for
the upstream are library_kiosk/central/api/upstream_routes.py).
"""
from __future__ import annotations

from library_kiosk.central.upstream.base import (
    Capabilities,
    LoanRef,
    PatronNotFound,
    PatronRef,
    Upstream,
    UpstreamError,
    UpstreamUnavailable,
    load_backend,
)
from library_kiosk.central.upstream.config import UpstreamConfigError, upstream_settings

__all__ = ["Capabilities", "LoanRef", "PatronNotFound", "PatronRef", "Upstream", "UpstreamError",
           "UpstreamUnavailable", "UpstreamConfigError", "from_config", "init_app"]


def from_config(config: dict) -> Upstream:
    values = upstream_settings(config)
    return load_backend(values["kind"])(values)


def init_app(app, config: dict, upstream: Upstream | None = None) -> Upstream:
    """Attach the configured upstream to the central ``app``: ``app.extensions["upstream"]``, and the renewal
    forwarding the API passes to the store (``app.extensions["renewal_forward"]``, None when local)."""
    from library_kiosk.central.upstream import cache

    upstream = upstream or from_config(config)
    app.extensions["upstream"] = upstream
    app.extensions["renewal_forward"] = cache.renewal_forward(
        upstream, fresh_seconds=float(upstream.settings.get("fresh_seconds", 30)))
    return upstream
