"""Kiosk checkouts and returns in the usage statistics (issue 18 item 6): the kiosk's services count the items
lent and given back (kiosk/usage.py ``checkouts`` / ``returns``, refusals not counted), the heartbeat takes the
counts to the central store, and the station's Kiosk usage report shows them per day, in its page and its CSV."""
from __future__ import annotations

import csv
import io
import re

import pytest

from kiosk import services, sync, usage
from kiosk.cache_db import cache_db
from library_kiosk.central.store import items
from tests.kiosk.helpers import identify
from tests.store.factories import TODAY

RANGE = {"from": TODAY.isoformat(), "to": TODAY.isoformat(), "group": "day"}


@pytest.fixture
def reported(kiosk, kiosk_app, station):
    """At the kiosk, P1 borrows two items and is refused a third; one item and an unknown barcode are given back;
    then one sync round (its heartbeat carries the counts)."""
    for barcode in ("39201", "39202"):
        items.Item.create(barcode=barcode, title=f"Book {barcode}", library="MAIN")
    items.Item.create(barcode="39203", title="Reference", library="MAIN", circulates=False)
    with kiosk_app.test_request_context(), cache_db.connection_context():
        account, visit = identify("20000000000011")
        lent = [services.checkout(account, barcode, visit).borrowed for barcode in ("39201", "39202", "39203")]
        back = [services.checkin(barcode).returned for barcode in ("39201", "39999")]
        usage.flush()  # (a request's counts are written once its view is done; this one has no response)
    assert (lent, back) == ([True, True, False], [True, False])
    with kiosk_app.app_context(), cache_db.connection_context():
        assert sync.cycle(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])["error"] == ""


def _cells(html: str, counter: str) -> list[str]:
    row = re.search(rf'<tr data-counter="{counter}">(.*?)</tr>', html, re.S)
    return re.findall(r'<td class="number[^"]*">(\d+)</td>', row.group(1)) if row else []


def test_the_kiosk_counts_items_lent_and_given_back_not_refusals(kiosk_app, reported):
    with kiosk_app.app_context(), cache_db.connection_context():
        counts = usage.counts(TODAY)[TODAY.isoformat()]
    assert (counts.get("checkouts"), counts.get("returns")) == (2, 1)


def test_the_usage_report_shows_checkouts_and_returns_per_day(reported, desk):
    html = desk.get("/usage", query_string=RANGE).get_data(as_text=True)
    assert (_cells(html, "checkouts"), _cells(html, "returns"), "Items borrowed" in html, "Items returned" in html) \
        == (["2", "2"], ["1", "1"], True, True)


def test_the_usage_csv_has_the_checkouts_and_returns(reported, desk):
    rows = list(csv.reader(io.StringIO(desk.get("/usage/csv", query_string=RANGE).get_data(as_text=True))))
    found = {row[0]: row[2:] for row in rows[1:]}
    assert (rows[0][2], found["checkouts"], found["returns"]) == (TODAY.isoformat(), ["2", "2"], ["1", "1"])
