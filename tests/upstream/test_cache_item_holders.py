"""central.upstream.cache.store_account replaces a patron's requests with the upstream's: when that removes (or
adds) an open request for an item another patron has on loan, the holder gets a change too, so kiosks sync the
loan's new "requested by another patron"."""
import dataclasses

from library_kiosk.central.store import changes, sync
from library_kiosk.central.store.accounts import build_account, get_user
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Change, Request
from library_kiosk.central.upstream import cache
from library_kiosk.central.upstream.base import Fetched
from library_kiosk.central.upstream.models import create_tables
from tests.store import factories
from tests.store.factories import KEYER

TODAY = factories.TODAY
X = "3100000000001"


def _holder_flag(cursor):
    page = sync.changes_after(KEYER, cursor, 100)
    return {r["primary_id"]: [l["requested_by_other"] for l in r["account"]["loans"]]
            for r in page["records"] if r.get("account")}


def test_requests_replaced_from_the_upstream_record_a_change_for_the_holders(central_db):
    create_tables(database)
    holder = factories.patron("A", barcode="B1", card="C1")
    factories.loan(holder, barcode=X)
    requester = factories.patron("R", barcode="B2", card="C2")
    factories.hold(requester, item_barcode=X)  # a hold on A's loan, then the upstream says R has no requests
    sync.refresh_documents()
    assert build_account(get_user("A")).loans[0].requested_by_other
    cursor = changes.latest_seq()

    upstream = dataclasses.replace(build_account(get_user("R")), requests=())
    cache.store_account(Fetched(upstream, identifiers=(("BARCODE", "B2"),)), TODAY)
    assert not Request.select().exists()
    assert _holder_flag(cursor) == {"A": [False], "R": []}

    cursor = changes.latest_seq()
    cache.store_account(Fetched(upstream, identifiers=(("BARCODE", "B2"),)), TODAY)  # the same again: no change
    assert changes.latest_seq() == cursor and not Change.select().where(Change.seq > cursor).exists()
