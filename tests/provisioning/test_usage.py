"""The station's Kiosk usage page (provisioning/usage.py): counters by kiosk or by day, week or month over a
date range, with totals, and the same table as a CSV download; circulation desk and up."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from playwright.sync_api import expect

from library_kiosk.central.store import usage
from tests.helpers import screenshot
from tests.provisioning.helpers import StaffClient, log_in
from tests.store.factories import TODAY

D1, D2, D3 = TODAY - dt.timedelta(days=8), TODAY - dt.timedelta(days=1), TODAY  # weeks 47, 48, 48


def _seed():
    usage.record("lobby", [(D1, "sessions_tap", 4), (D2, "sessions_tap", 6), (D3, "renewals_granted", 5),
                           (D3, "language_fr", 2)])
    usage.record("basement", [(D2, "sessions_barcode", 3), (D3, "sessions_tap", 1), (D3, "pins_wrong", 2)])
    usage.record("science", [(TODAY - dt.timedelta(days=60), "sessions_tap", 99)])  # outside the ranges below


def _cells(html: str, counter: str) -> list[str]:
    import re

    row = re.search(rf'<tr data-counter="{counter}">(.*?)</tr>', html, re.S)
    return re.findall(r'<td class="number[^"]*">(\d+)</td>', row.group(1)) if row else []


def _range(**more):
    return {"from": D1.isoformat(), "to": TODAY.isoformat(), **more}


def test_the_desk_sees_usage_by_kiosk_with_totals(desk):
    _seed()
    home = desk.get("/").get_data(as_text=True)
    assert 'href="/usage"' in home and "Kiosk usage" in home  # in the station's navigation
    page = desk.get("/usage", query_string=_range())
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    head = html[html.index("<thead>"):html.index("</thead>")]
    assert head.index(">basement<") < head.index(">lobby<") < head.index(">Total<") and "science" not in head
    assert "Sessions started by card tap" in html and "Language chosen: fr" in html
    assert _cells(html, "sessions_tap") == ["1", "10", "11"]  # basement, lobby, total
    assert _cells(html, "sessions_barcode") == ["3", "0", "3"]
    assert _cells(html, "renewals_granted") == ["0", "5", "5"]
    assert _cells(html, "language_fr") == ["0", "2", "2"]
    assert 'href="/usage/csv?' in html


@pytest.mark.parametrize("group, columns, taps", [
    ("day", [D1.isoformat(), D2.isoformat(), D3.isoformat()], ["4", "6", "1", "11"]),
    ("week", ["2026-W47", "2026-W48"], ["4", "7", "11"]),
    ("month", ["2026-11"], ["11", "11"]),
])
def test_usage_by_day_week_and_month(desk, group, columns, taps):
    _seed()
    html = desk.get("/usage", query_string=_range(group=group)).get_data(as_text=True)
    for column in columns:
        assert f'<th scope="col">{column}</th>' in html
    assert _cells(html, "sessions_tap") == taps


def test_one_kiosk_and_a_narrow_range(desk):
    _seed()
    html = desk.get("/usage", query_string={"from": D2.isoformat(), "to": D2.isoformat(), "kiosk": "lobby",
                                            "group": "day"}).get_data(as_text=True)
    assert _cells(html, "sessions_tap") == ["6", "6"] and not _cells(html, "sessions_barcode")
    empty = desk.get("/usage", query_string={"from": "2020-01-01", "to": "2020-01-31"}).get_data(as_text=True)
    assert "No kiosk usage was reported for this range." in empty


def test_the_default_range_is_this_month(desk):
    _seed()
    html = desk.get("/usage").get_data(as_text=True)
    assert 'value="2026-11-01"' in html and f'value="{TODAY.isoformat()}"' in html
    assert _cells(html, "sessions_tap") == ["1", "10", "11"]


@pytest.mark.parametrize("query, message", [
    ({"from": "25/11/2026", "to": "2026-11-25"}, "The From date is not a date: choose one in the date field."),
    ({"from": "2026-11-25", "to": "2026-11-31"}, "The To date is not a date: choose one in the date field."),
    ({"from": "2026-11-25", "to": "2026-11-01"}, "From must not be after To"),
    ({"from": "1990-01-01", "to": "2026-11-01"}, "The range may be at most"),
    ({"from": "2026-11-01", "to": "2026-11-25", "group": "year"}, "Group by kiosk, day, week or month"),
])
def test_a_bad_range_is_told_plainly(desk, query, message):
    page = desk.get("/usage", query_string=query)
    assert page.status_code == 400 and message in page.get_data(as_text=True)
    download = desk.get("/usage/csv", query_string=query)
    assert download.status_code == 400 and message in download.get_data(as_text=True)


def test_the_csv_is_the_same_table(desk):
    _seed()
    usage.record("=HYPERLINK(1)", [(D3, "staff_calls", 1)])  # a kiosk name a spreadsheet would run
    download = desk.get("/usage/csv", query_string=_range())
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == \
        f'attachment; filename="kiosk-usage-{D1.isoformat()}-to-{TODAY.isoformat()}-by-kiosk.csv"'
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0] == ["counter", "label", "'=HYPERLINK(1)", "basement", "lobby", "total"]
    found = {row[0]: row[2:] for row in rows[1:]}
    assert found["sessions_tap"] == ["0", "1", "10", "11"]
    assert found["staff_calls"] == ["1", "0", "0", "1"]
    assert found["language_fr"] == ["0", "0", "2", "2"]
    assert rows[1][0] == "sessions_tap"  # the page's order: the known counters first
    weekly = list(csv.reader(io.StringIO(desk.get("/usage/csv", query_string=_range(group="week", kiosk="lobby"))
                                         .get_data(as_text=True))))
    assert weekly[0] == ["counter", "label", "2026-W47", "2026-W48", "total"]
    assert {row[0]: row[2:] for row in weekly[1:]}["sessions_tap"] == ["4", "6", "10"]


def test_usage_needs_a_staff_login(station):
    client = station.test_client()
    for path in ("/usage", "/usage/csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location
    assert StaffClient(station, "manager").get("/usage").status_code == 200
    assert StaffClient(station, "admin").get("/usage/csv").status_code == 200


@pytest.mark.browser
def test_the_usage_page_in_a_browser(page, station_url):
    _seed()
    page.set_default_timeout(15000)
    log_in(page, station_url, "desk")
    page.click("a:text('Kiosk usage')")
    expect(page.locator("h1")).to_have_text("Kiosk usage")
    page.get_by_test_id("usage-from").fill(D1.isoformat())
    page.get_by_test_id("usage-to").fill(TODAY.isoformat())
    page.get_by_test_id("usage-group").select_option("week")
    page.get_by_test_id("usage-show").click()
    table = page.get_by_test_id("usage-table")
    expect(table.locator("thead")).to_contain_text("2026-W47")
    expect(table.locator('tr[data-counter="sessions_tap"] td.total')).to_have_text("11")
    screenshot(page, "provisioning", "usage")
    with page.expect_download() as info:
        page.get_by_test_id("usage-csv").click()
    download = info.value
    assert download.suggested_filename == f"kiosk-usage-{D1.isoformat()}-to-{TODAY.isoformat()}-by-week.csv"
    with open(download.path(), encoding="utf-8") as handle:
        text = handle.read()
    assert text.splitlines()[0] == "counter,label,2026-W47,2026-W48,total"
