"""Pulling the central store's changes into the kiosk cache, page by page."""
from __future__ import annotations

from kiosk.cache import PatronCache
from kiosk.central_client import CentralClient


def pull(client: CentralClient, cache: PatronCache, page_size: int = 1000, progress=None) -> int:
    """Apply every change after the cache's cursor; return how many records were applied.

    Each page is applied in one transaction together with its cursor, so a crash
    leaves the cache at a page boundary and the next pull resumes from there.
    """
    applied = 0
    while True:
        page = client.changes(cache.cursor(), page_size)
        applied += cache.apply_page(page)
        if progress:
            progress(applied, page["cursor"])
        if not page["more"]:
            return applied
