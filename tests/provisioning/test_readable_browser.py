"""Readable values at the station in real Chromium (issue 16, item 4): a fee's type by its description with the
code on hover and its amount in pounds, a due date written out with its ISO day for machines, the audit log's
filters (date pickers included) and pager, a job report's table and its CSV download, and a date message that
matches the date picker. Screenshots go to test-artifacts/station-readable/."""
import csv
import datetime as dt

import pytest
from playwright.sync_api import expect

from library_kiosk.central.store.models import User
from library_kiosk.central.store.staff import AuditEntry
from provisioning import paging
from tests.helpers import TODAY, screenshot
from tests.provisioning.helpers import REGISTRATION, log_in
from tests.store import factories

pytestmark = pytest.mark.browser


def test_a_fee_reads_as_its_description_and_shows_its_code_on_hover(page, station_url):
    fee = factories.fine(factories.patron("P1"), "45.00", fee_type="LOSTITEMREPLACEMENTFEE")
    log_in(page, station_url, "manager")
    page.goto(f"{station_url}/patrons/P1?tab=fees")
    kind = page.get_by_test_id(f"fee-{fee.id}").locator("[data-code]").first
    expect(kind).to_have_text("Lost item replacement fee")
    expect(kind).to_have_attribute("title", "Code: LOSTITEMREPLACEMENTFEE")
    screenshot(page, "station-readable", "01-fees")


def test_a_fee_balance_is_in_pounds(page, station_url):
    fee = factories.fine(factories.patron("P1"), "45.00", fee_type="LOSTITEMREPLACEMENTFEE")
    log_in(page, station_url, "manager")
    page.goto(f"{station_url}/patrons/P1?tab=fees")
    expect(page.get_by_test_id(f"balance-{fee.id}")).to_have_text("£45.00")


def test_an_overdue_loan_and_its_due_day(page, station_url):
    loan = factories.loan(factories.patron("P1"), due=TODAY - dt.timedelta(days=2))
    log_in(page, station_url, "manager")
    page.goto(f"{station_url}/patrons/P1?tab=loans")
    row = page.get_by_test_id(f"loan-{loan.id}")
    expect(row.locator("time")).to_have_attribute("datetime", "2026-11-23")
    expect(row.locator("time")).to_have_text("23 November 2026")
    expect(page.get_by_test_id(f"loan-status-{loan.id}")).to_have_text("Overdue")
    screenshot(page, "station-readable", "02-loans")


def _entries():
    AuditEntry.delete().execute()
    base = dt.datetime(2026, 11, 20, 9, 0)
    rows = [{"operator": "desk", "action": "fee.add", "primary_id": "P1", "detail": f"fee {n}",
             "created": base + dt.timedelta(hours=n)} for n in range(paging.PAGE_SIZE + 3)]
    rows.append({"operator": "manager", "action": "note.add", "primary_id": "P2", "detail": "note",
                 "created": base + dt.timedelta(days=3)})
    AuditEntry.insert_many(rows).execute()


def test_the_audit_log_filters_with_its_date_pickers_and_pages_keeping_them(page, station_url):
    _entries()
    log_in(page, station_url, "admin")
    page.goto(f"{station_url}/audit")
    page.get_by_test_id("audit-who").select_option("desk")
    page.get_by_test_id("audit-from").fill("2026-11-20")
    page.get_by_test_id("audit-to").fill("2026-11-22")
    page.get_by_test_id("audit-show").click()
    expect(page.get_by_test_id("audit-count")).to_contain_text(f"{paging.PAGE_SIZE + 3} entries")
    screenshot(page, "station-readable", "03-audit-filtered")
    page.get_by_test_id("next-page").click()
    expect(page.get_by_test_id("audit-row")).to_have_count(3)
    expect(page.get_by_test_id("audit-who")).to_have_value("desk")
    screenshot(page, "station-readable", "04-audit-page-2")


def test_the_audit_log_filters_by_action_description(page, station_url):
    _entries()
    log_in(page, station_url, "admin")
    page.goto(f"{station_url}/audit")
    page.get_by_test_id("audit-action").select_option(label="Note added")
    page.get_by_test_id("audit-show").click()
    expect(page.get_by_test_id("audit-row")).to_have_count(1)


def test_a_purge_report_is_a_table_with_names_and_downloads_as_csv(page, station_url):
    gone = factories.patron("OLD1", first_name="Ada", last_name="Lovelace")
    User.update(purge_date=TODAY - dt.timedelta(days=3)).where(User.id == gone.id).execute()
    factories.fine(gone, "2.00")
    log_in(page, station_url, "admin")
    page.goto(f"{station_url}/admin/")
    page.get_by_test_id("dry-run-purge").click()
    table = page.locator("#result-purge").get_by_test_id("report-purged")
    expect(table.locator("tbody tr").first).to_contain_text("Ada Lovelace")
    screenshot(page, "station-readable", "05-purge-report")
    with page.expect_download() as download:
        page.locator("#result-purge").get_by_test_id("report-csv").click()
    with open(download.value.path(), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["Primary ID"], r["Name"], r["Owed"]) for r in rows] == [("OLD1", "Ada Lovelace", "£2.00")]


def test_an_empty_card_expiry_is_asked_for_as_the_date_picker_takes_it(page, station_url):
    log_in(page, station_url, "manager")
    page.goto(f"{station_url}/register")
    for name, value in REGISTRATION.items():
        if name in ("user_group", "email_type", "address_type"):
            page.select_option(f"#{name}", value)
        elif name != "card_expiry":
            page.fill(f"#{name}", value)
    page.locator("form button[type=submit]").last.click()
    expect(page.get_by_test_id("error-card_expiry")).to_have_text(
        "Choose the expiry date printed on the card in the date field.")
    screenshot(page, "station-readable", "06-register-date-message")
