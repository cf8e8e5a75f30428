"""What the central store serves kiosks after a cursor, paged through as a kiosk's sync pages."""
from library_kiosk.central.store import sync
from tests.store.factories import KEYER


def served(cursor: int = 0, page: int = 1000) -> dict:
    """{primary id: the account dict served, or None for a delete}: the last record of each patron after
    ``cursor``, read page by page with ``library_kiosk.central.store.sync.changes_after``."""
    view = {}
    while True:
        found = sync.changes_after(KEYER, cursor, page)
        for record in found["records"]:
            view[record["primary_id"]] = record.get("account")
        cursor = found["cursor"]
        if not found["more"]:
            return view
