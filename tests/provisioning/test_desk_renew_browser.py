"""Renewing at the desk in real Chromium (issue 16, item 3): tick a loan and renew it, renew all with one refused,
each outcome beside its loan, then email the slip (a real SMTP server, aiosmtpd). Screenshots go to
test-artifacts/station/."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from library_kiosk.central.store.models import Email, Loan
from library_kiosk.domain.renewal import REASONS
from tests.helpers import screenshot
from tests.kiosk.helpers import mail_text
from tests.provisioning.helpers import log_in
from tests.store.factories import TODAY, loan, patron

pytestmark = pytest.mark.browser


@pytest.fixture
def loans(station):
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    return loan(user, "Middlemarch", due=TODAY + dt.timedelta(days=3)), loan(user, "The Second Sex", renewals=2)


def test_renew_a_ticked_loan(page, station_url, loans):
    middlemarch, _limit = loans
    page.set_default_timeout(15000)
    log_in(page, station_url, "desk")
    page.goto(station_url + "/patrons/P1?tab=loans")
    page.get_by_test_id(f"renew-tick-{middlemarch.id}").check()
    page.get_by_test_id("renew-selected").click()
    expect(page.get_by_test_id(f"renew-outcome-{middlemarch.id}")).to_contain_text("until 16 December 2026")
    assert Loan.get_by_id(middlemarch.id).renewals == 1


def test_renew_all_shows_the_refusal_beside_its_loan_and_emails_the_slip(page, station_url, loans, smtp_server):
    middlemarch, limit = loans
    page.set_default_timeout(15000)
    log_in(page, station_url, "desk")
    page.goto(station_url + "/patrons/P1?tab=loans")
    page.get_by_test_id("renew-all").click()
    expect(page.get_by_test_id(f"renew-outcome-{limit.id}")).to_contain_text(REASONS["limit"])
    expect(page.get_by_test_id(f"renew-outcome-{middlemarch.id}")).to_contain_text("Renewed Middlemarch")
    screenshot(page, "station", "desk-renew-1-outcomes")
    page.get_by_test_id("email-slip").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Slip sent to zoe@example.org")
    [message] = smtp_server.handler.messages  # the station answered after the mail server took it
    assert REASONS["limit"] in mail_text(message)
