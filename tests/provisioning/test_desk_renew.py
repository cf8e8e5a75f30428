"""Renewing at the desk (issue 16, item 3): the patron's Loans tab renews one loan, the ticked ones or all, by the
kiosk's rules and in the kiosk's words (domain/renewal.py through store/circulation.py), each outcome beside its
loan; bad input changes nothing; a slip of what was done is printed from the browser or emailed (a real SMTP
server, aiosmtpd)."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from library_kiosk.central.store.letters import Letter
from library_kiosk.central.store.models import Block, Change, Email, Loan
from library_kiosk.domain.renewal import REASONS
from tests.kiosk.helpers import mail_text
from tests.store.factories import TODAY, loan, patron


@pytest.fixture
def loans(station):
    """P1 with two loans: one renewable, one at the group's limit of 2 renewals; P2 with a loan of her own."""
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    other = patron("P2", barcode="20000000000022", card="04FFFFFFFFFFFF")
    return {"open": loan(user, "Middlemarch", due=TODAY + dt.timedelta(days=3)),
            "limit": loan(user, "The Second Sex", renewals=2),
            "others": loan(other, "Beloved")}


def _outcome(page: str, loan_id: int) -> str:
    cell = re.search(rf'data-testid="renew-outcome-{loan_id}">(.*?)</td>', page, re.S).group(1)
    return re.sub(r"<[^>]+>", "", cell).strip()


def _due(row) -> dt.date:
    return Loan.get_by_id(row.id).due_date


def test_renewing_one_ticked_loan_renews_it_by_the_groups_loan_period(loans, desk):
    desk.post("/patrons/P1/renew", data={"loan_id": str(loans["open"].id)})
    assert (_due(loans["open"]), Loan.get_by_id(loans["open"].id).renewals) == (TODAY + dt.timedelta(days=21), 1)


def test_the_outcome_is_shown_beside_the_loan(loans, desk):
    page = desk.post("/patrons/P1/renew", data={"loan_id": str(loans["open"].id)}).get_data(as_text=True)
    barcode = loans["open"].item_barcode
    assert _outcome(page, loans["open"].id) == f"Renewed Middlemarch ({barcode}) until 16 December 2026."


def test_renew_all_gives_each_loan_its_own_outcome_and_a_refusal_its_plain_reason(loans, desk):
    page = desk.post("/patrons/P1/renew", data={"which": "all"}).get_data(as_text=True)
    assert (_outcome(page, loans["open"].id).startswith("Renewed Middlemarch"),
            _outcome(page, loans["limit"].id)) == \
        (True, f"Not renewed: The Second Sex ({loans['limit'].item_barcode}). {REASONS['limit']}")


def test_a_blocked_patron_is_refused_with_the_kiosks_reason_and_nothing_changes(loans, desk):
    Block.create(user=loans["open"].user, block_type="GENERAL", block_description="Owes books")
    page = desk.post("/patrons/P1/renew", data={"loan_id": str(loans["open"].id)}).get_data(as_text=True)
    assert (REASONS["blocked"] in _outcome(page, loans["open"].id), _due(loans["open"])) == \
        (True, loans["open"].due_date)


def test_a_renewal_is_recorded_for_the_kiosks_to_pull(loans, desk):
    before = Change.select().where(Change.primary_id == "P1").count()
    desk.post("/patrons/P1/renew", data={"loan_id": str(loans["open"].id)})
    assert Change.select().where(Change.primary_id == "P1").count() == before + 1


@pytest.mark.parametrize("form, message", [
    ({}, "Tick the loans to renew"),
    ({"loan_id": "abc"}, "A ticked loan is not a loan"),
    ({"loan_id": "OTHERS"}, "is no longer on this patron"),
], ids=["nothing-ticked", "not-a-number", "another-patrons-loan"])
def test_bad_input_is_refused_with_a_message_and_nothing_is_renewed(loans, desk, form, message):
    if form.get("loan_id") == "OTHERS":
        form = {"loan_id": [str(loans["open"].id), str(loans["others"].id)]}
    response = desk.post("/patrons/P1/renew", data=form)
    assert (response.status_code, message in response.get_data(as_text=True), _due(loans["open"]),
            _due(loans["others"])) == (422, True, loans["open"].due_date, loans["others"].due_date)


def _slip_entries(page: str) -> list[str]:
    form = re.search(r'data-testid="email-slip-form">(.*?)</form>', page, re.S).group(1)
    return re.findall(r'name="entry" value="(\d+)"', form)


def test_the_slip_is_emailed_to_the_patrons_preferred_address(loans, desk, smtp_server):
    page = desk.post("/patrons/P1/renew", data={"which": "all"}).get_data(as_text=True)
    desk.post("/patrons/P1/slip", data={"channel": "email", "entry": _slip_entries(page)})
    [message] = smtp_server.handler.messages
    text = mail_text(message)
    assert (message["To"], "Renewed Middlemarch" in text, REASONS["limit"] in text) == \
        ("zoe@example.org", True, True)


def test_the_printed_slip_is_a_page_of_its_own_for_the_browsers_print(loans, desk):
    page = desk.post("/patrons/P1/renew", data={"loan_id": str(loans["open"].id)}).get_data(as_text=True)
    printed = desk.post("/patrons/P1/slip", data={"channel": "print", "entry": _slip_entries(page)})
    html = printed.get_data(as_text=True)
    assert ("Renewed Middlemarch" in html, 'id="screen"' in html, 'id="print-slip"' in html,
            Letter.get(Letter.letter_type == "DeskSlipLetter").channel) == (True, False, True, "print")


def test_a_slip_of_another_patrons_entries_is_refused(loans, desk):
    page = desk.post("/patrons/P1/renew", data={"loan_id": str(loans["open"].id)}).get_data(as_text=True)
    refused = desk.post("/patrons/P2/slip", data={"channel": "email", "entry": _slip_entries(page)})
    assert (refused.status_code, Letter.select().count()) == (422, 0)

