"""What the central store is told to do for a library system behind it, built on ``app.extensions["upstream"]``
above the store (which may not import the connectors): the checkout and return forwards
(store/circulation.py ``CheckoutForward`` / ``CheckinForward``), as ``renewal_forward`` is for renewals."""
from __future__ import annotations

from flask import current_app

from library_kiosk.central.store.circulation import CheckinForward, CheckoutForward


def circulation_forwards() -> tuple[CheckoutForward | None, CheckinForward | None]:
    """(checkout, checkin) through the configured upstream; (None, None) with ``kind = "local"``: the store's own
    rules (store/lending.py)."""
    upstream = current_app.extensions.get("upstream")
    if upstream is None or upstream.kind == "local":
        return None, None
    from library_kiosk.central.upstream import cache

    def checkout(primary_id, item_barcode, today, key):
        return cache.checkout_through(upstream, primary_id, item_barcode, today, key)

    def checkin(item_barcode, today, key, library):
        return cache.checkin_through(upstream, item_barcode, today, key, library)

    return checkout, checkin
