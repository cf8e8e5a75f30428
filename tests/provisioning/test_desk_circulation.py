"""Checkout and check-in at the desk (issue 18 item 6, provisioning/desk_circulation.py): the patron's Loans tab
lends scanned items and the Desk menu's Check in page takes them back, both through the central store's checkout
and checkin (the kiosk's rules and reasons, domain/checkout.py), each outcome listed as it happens and written to
the audit log with the operator; the checkouts go on the desk slip (printed, or emailed through a real SMTP
server); bad input, a missing CSRF token and a missing login change nothing."""
from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal

import pytest

from library_kiosk.central.store import items, staff
from library_kiosk.central.store.letters import Letter
from library_kiosk.central.store.models import Block, Email, Fee, Loan, Request, UserGroup
from library_kiosk.domain.checkout import CHECKIN_REASONS, CHECKOUT_REASONS
from tests.helpers import mail_received
from tests.kiosk.helpers import mail_text
from tests.provisioning.helpers import not_logged_in
from tests.store.factories import TODAY, hold, loan, patron

HX = {"HX-Request": "true"}


def book(barcode: str, title: str = "", **policy):
    return items.Item.create(barcode=barcode, title=title or f"Book {barcode}", library="MAIN", **policy)


@pytest.fixture
def shelf(station):
    """P1 (email on file) and Ada Quillfeather (P2); four books on the shelf (one kept from kiosks, one for
    library use only), and one first in Ada's queue."""
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    ada = patron("P2", barcode="20000000000022", card="04FFFFFFFFFFFF", first_name="Ada", last_name="Quillfeather")
    for barcode in ("39001", "39002"):
        book(barcode)
    book("39003", kiosk_checkout=False)
    book("39004", circulates=False)
    book("39005", "Beloved")
    hold(ada, item_barcode="39005", title="Beloved")
    return user


def _open_loan(barcode: str):
    return Loan.get_or_none((Loan.item_barcode == barcode) & Loan.still_out())


def _outcomes(page: str, prefix: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", text).strip()
            for text in re.findall(rf'data-testid="{prefix}-\d+">(.*?)</(?:li|td)>', page, re.S)]


def _scan_out(desk, barcode: str, page: str = "", primary_id: str = "P1", **kwargs):
    """Scan one item at the patron's Loans tab, carrying the entries already shown (as the form does)."""
    earlier = re.findall(r'name="slip" value="(\d+)"', page)
    return desk.post(f"/patrons/{primary_id}/checkout", data={"item_barcode": barcode, "slip": earlier}, **kwargs)


def _scan_in(desk, barcode: str, page: str = "", **kwargs):
    earlier = re.findall(r'name="entry" value="(\d+)"', page)
    return desk.post("/desk/checkin", data={"item_barcode": barcode, "entry": earlier}, **kwargs)


# --- check out ------------------------------------------------------------------------------------------------

def test_a_scanned_item_is_lent_by_the_groups_loan_period(shelf, desk):
    _scan_out(desk, "39001")
    assert (_open_loan("39001").user.primary_id, _open_loan("39001").due_date) == ("P1", TODAY + dt.timedelta(days=21))


def test_the_outcome_is_listed_on_the_loans_tab(shelf, desk):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    assert _outcomes(page, "checkout-outcome") == ["Checked out Book 39001 (39001) until 16 December 2026."]


def test_each_scan_adds_its_outcome_above_the_earlier_ones(shelf, desk):
    first = _scan_out(desk, "39001").get_data(as_text=True)
    page = _scan_out(desk, "39002", first).get_data(as_text=True)
    assert [line.split(" until")[0] for line in _outcomes(page, "checkout-outcome")] == \
        ["Checked out Book 39002 (39002)", "Checked out Book 39001 (39001)"]


def test_an_item_waiting_for_another_patron_is_refused_with_the_kiosks_reason(shelf, desk):
    page = _scan_out(desk, "39005").get_data(as_text=True)
    assert (_outcomes(page, "checkout-outcome"), _open_loan("39005")) == \
        ([f"Not checked out: Beloved (39005). {CHECKOUT_REASONS['on_hold_for_other']}"], None)


def test_a_blocked_patron_is_refused_and_nothing_is_lent(shelf, desk):
    Block.create(user=shelf, block_type="GENERAL", block_description="Owes books")
    page = _scan_out(desk, "39001").get_data(as_text=True)
    assert (CHECKOUT_REASONS["blocked"] in _outcomes(page, "checkout-outcome")[0], _open_loan("39001")) == \
        (True, None)


def test_an_item_for_library_use_only_is_refused(shelf, desk):
    page = _scan_out(desk, "39004").get_data(as_text=True)
    assert CHECKOUT_REASONS["not_circulating"] in _outcomes(page, "checkout-outcome")[0]


def test_an_unknown_item_is_refused(shelf, desk):
    page = _scan_out(desk, "39999").get_data(as_text=True)
    assert _outcomes(page, "checkout-outcome") == [f"Not checked out: 39999. {CHECKOUT_REASONS['unknown_item']}"]


def test_an_item_kept_from_kiosks_is_lent_at_the_desk(shelf, desk):
    _scan_out(desk, "39003")
    assert _open_loan("39003").user.primary_id == "P1"


def test_the_patron_whose_hold_it_is_borrows_it_and_the_hold_is_fulfilled(shelf, desk):
    _scan_out(desk, "39005", primary_id="P2")
    assert (_open_loan("39005").user.primary_id, Request.select().where(Request.item_barcode == "39005").count()) \
        == ("P2", 0)


def test_each_checkout_is_in_the_audit_log_with_the_operator(shelf, desk):
    _scan_out(desk, "39001")
    _scan_out(desk, "39004")
    entries = [(e.operator, e.action, e.primary_id) for e in staff.audit_log("P1")]
    assert entries[:2] == [("desk", "loan.checkout_refused", "P1"), ("desk", "loan.checkout", "P1")]


def test_through_htmx_the_scan_answers_the_patron_page_alone_with_the_outcome(shelf, desk):
    response = _scan_out(desk, "39001", headers=HX)
    html = response.get_data(as_text=True)
    assert ("<html" in html, len(_outcomes(html, "checkout-outcome")), response.headers.get("HX-Push-Url", "")) \
        == (False, 1, f"/patrons/P1?tab=loans&slip={staff.audit_log('P1')[0].id}")


def test_the_checkouts_are_on_the_slip_emailed_to_the_patron(shelf, desk, smtp_server):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    page = _scan_out(desk, "39005", page).get_data(as_text=True)
    form = re.search(r'data-testid="email-slip-form">(.*?)</form>', page, re.S).group(1)
    desk.post("/patrons/P1/slip", data={"channel": "email", "entry": re.findall(r'name="entry" value="(\d+)"', form)})
    [message] = mail_received(smtp_server)
    text = mail_text(message)
    assert ("Checked out Book 39001 (39001) until 16 December 2026." in text,
            f"Not checked out: Beloved (39005). {CHECKOUT_REASONS['on_hold_for_other']}" in text) == (True, True)


def test_the_printed_slip_lists_the_checkouts(shelf, desk):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    form = re.search(r'data-testid="print-slip-form">(.*?)</form>', page, re.S).group(1)
    printed = desk.post("/patrons/P1/slip", data={"channel": "print",
                                                   "entry": re.findall(r'name="entry" value="(\d+)"', form)})
    letter = Letter.select().where(Letter.letter_type == "DeskSlipLetter").get()
    assert ("Checked out Book 39001 (39001)" in printed.get_data(as_text=True), letter.channel) == (True, "print")


@pytest.mark.parametrize("barcode, message", [
    ("", "Scan or type the item's barcode."),
    ("   ", "Scan or type the item's barcode."),
    ("3" * 61, "This is not an item barcode"),
    ("39001\x07", "This is not an item barcode"),
], ids=["empty", "blank", "too-long", "control-character"])
def test_bad_input_is_refused_with_a_message_and_nothing_changes(shelf, desk, barcode, message):
    before = staff.AuditEntry.select().count()
    response = desk.post("/patrons/P1/checkout", data={"item_barcode": barcode})
    assert (response.status_code, message in html.unescape(response.get_data(as_text=True)), Loan.select().count(),
            staff.AuditEntry.select().count()) == (422, True, 0, before)


def test_without_the_csrf_token_nothing_is_lent(shelf, desk):
    response = desk.post("/patrons/P1/checkout", data={"item_barcode": "39001"}, csrf=False)
    assert (response.status_code, _open_loan("39001")) == (400, None)


def test_without_a_login_nothing_is_lent(shelf, station):
    response = not_logged_in(station).post("/patrons/P1/checkout", data={"item_barcode": "39001"})
    assert (response.status_code, _open_loan("39001")) == (401, None)


def test_an_unknown_patron_is_not_found(shelf, desk):
    response = desk.post("/patrons/NOBODY/checkout", data={"item_barcode": "39001"})
    assert (response.status_code, _open_loan("39001")) == (404, None)


@pytest.mark.parametrize("username", ["desk", "manager", "admin"])
def test_every_staff_role_sees_the_checkout_field(shelf, station, username):
    from tests.provisioning.helpers import StaffClient

    page = StaffClient(station, username).get("/patrons/P1?tab=loans").get_data(as_text=True)
    assert 'data-testid="checkout-barcode"' in page


# --- check in -------------------------------------------------------------------------------------------------

@pytest.fixture
def lent(shelf):
    """39001 and 39002 lent to P1 (39002 four days overdue), 39005's hold for Ada waiting; 50p a day late."""
    UserGroup.update(fine_per_day=Decimal("0.50")).where(UserGroup.code == "25").execute()
    loan(shelf, "Book 39001", barcode="39001")
    loan(shelf, "Book 39002", barcode="39002", due=TODAY - dt.timedelta(days=4))
    loan(shelf, "Beloved", barcode="39005")
    return shelf


def _route(page: str) -> list[str]:
    return _outcomes(page, "checkin-route")


def test_an_item_with_no_hold_goes_back_to_the_shelf(lent, desk):
    page = _scan_in(desk, "39001").get_data(as_text=True)
    assert (_route(page), _outcomes(page, "checkin-line"), _open_loan("39001")) == \
        (["To the shelf"], ["Checked in Book 39001 (39001): back to the shelf."], None)


def test_an_item_someone_holds_goes_to_the_hold_shelf_with_their_name(lent, desk):
    page = _scan_in(desk, "39005").get_data(as_text=True)
    assert (_route(page), _outcomes(page, "checkin-line")) == \
        (["To the hold shelf"], ["Checked in Beloved (39005): to the hold shelf for Ada Quillfeather (P2)."])


def test_the_hold_is_put_on_the_hold_shelf(lent, desk):
    _scan_in(desk, "39005")
    assert Request.get(Request.item_barcode == "39005").status == "ON_HOLD_SHELF"


def test_a_late_return_shows_the_late_fee_charged_to_the_borrower(lent, desk):
    page = _scan_in(desk, "39002").get_data(as_text=True)
    fee = Fee.get(Fee.fee_type == "OVERDUEFINE")
    assert (fee.user.primary_id, fee.balance, "Late fee charged: £2.00." in _outcomes(page, "checkin-line")[0]) == \
        ("P1", Decimal("2.00"), True)


def test_an_item_of_another_library_goes_in_transit(lent, desk, station):
    station.config["KIOSK"]["kiosk"]["library_code"] = "SCIENCE"
    page = _scan_in(desk, "39001").get_data(as_text=True)
    assert (_route(page), _open_loan("39001")) == (["In transit (another library)"], None)


@pytest.mark.parametrize("barcode, reason", [("39004", "not_on_loan"), ("39999", "unknown_item")])
def test_an_item_not_on_loan_or_unknown_is_refused_with_its_reason(lent, desk, barcode, reason):
    page = _scan_in(desk, barcode).get_data(as_text=True)
    assert (_route(page), CHECKIN_REASONS[reason] in _outcomes(page, "checkin-line")[0]) == (["Not checked in"], True)


def test_each_return_adds_its_outcome_above_the_earlier_ones(lent, desk):
    first = _scan_in(desk, "39001").get_data(as_text=True)
    page = _scan_in(desk, "39005", first).get_data(as_text=True)
    assert _route(page) == ["To the hold shelf", "To the shelf"]


def test_each_return_is_in_the_audit_log_with_the_operator_under_the_borrower(lent, desk):
    _scan_in(desk, "39005")
    entry = staff.audit_log()[0]
    assert (entry.operator, entry.action, entry.primary_id) == ("desk", "loan.checkin_hold_shelf", "P1")


def test_another_operators_returns_are_not_listed_by_address(lent, desk, manager):
    _scan_in(manager, "39001")
    theirs = staff.audit_log()[0].id
    page = desk.get(f"/desk/checkin?entry={theirs}").get_data(as_text=True)
    assert _route(page) == []


@pytest.mark.parametrize("barcode", ["", "3" * 61], ids=["empty", "too-long"])
def test_bad_input_at_check_in_is_refused_and_nothing_changes(lent, desk, barcode):
    before = staff.AuditEntry.select().count()
    response = desk.post("/desk/checkin", data={"item_barcode": barcode})
    assert (response.status_code, "Nothing was checked in." in response.get_data(as_text=True),
            Loan.select().where(Loan.still_out()).count(), staff.AuditEntry.select().count()) == (422, True, 3, before)


def test_check_in_without_the_csrf_token_changes_nothing(lent, desk):
    response = desk.post("/desk/checkin", data={"item_barcode": "39001"}, csrf=False)
    assert (response.status_code, _open_loan("39001") is not None) == (400, True)


def test_check_in_without_a_login_changes_nothing(lent, station):
    response = not_logged_in(station).post("/desk/checkin", data={"item_barcode": "39001"})
    assert (response.status_code, _open_loan("39001") is not None) == (401, True)


def test_the_desk_menu_links_to_check_in(station, desk):
    page = desk.get("/desk/checkin").get_data(as_text=True)
    assert ('href="/desk/checkin"' in page and 'aria-current="page"' in page, "<h1>Check in</h1>" in page) == \
        (True, True)


def test_the_audit_log_describes_every_desk_circulation_action():
    from library_kiosk.central.store.desk import CHECKOUT_ACTION, CHECKOUT_REFUSED_ACTION
    from provisioning import audit
    from provisioning.desk_circulation import CHECKIN_ACTIONS, CHECKIN_REFUSED_ACTION

    written = {*CHECKIN_ACTIONS.values(), CHECKIN_REFUSED_ACTION, CHECKOUT_ACTION, CHECKOUT_REFUSED_ACTION}
    assert written - set(audit.ACTIONS) == set()


def test_the_audit_log_page_shows_a_desk_checkout_in_words(shelf, desk, station):
    from tests.provisioning.helpers import StaffClient

    _scan_out(desk, "39001")
    page = StaffClient(station, "admin").get("/audit").get_data(as_text=True)
    assert ("Item checked out at the desk" in page, "Checked out Book 39001 (39001)" in page) == (True, True)


# --- a desk session's slip keeps every outcome; refusals are not announced as successes ---------------------------

def _slip_lines(page: str) -> list[str]:
    found = re.search(r'data-testid="slip-lines">(.*?)</ul>', page, re.S)
    return [html.unescape(line) for line in re.findall(r"<li>(.*?)</li>", found.group(1))] if found else []


def test_a_refused_scan_keeps_the_earlier_checkouts_on_the_list(shelf, desk):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    page = _scan_out(desk, "39\t001", page).get_data(as_text=True)
    page = _scan_out(desk, "NOSUCHITEM", page).get_data(as_text=True)
    assert [line.split(" until")[0] for line in _outcomes(page, "checkout-outcome")] == \
        [f"Not checked out: NOSUCHITEM. {CHECKOUT_REASONS['unknown_item']}", "Checked out Book 39001 (39001)"]


def test_a_refused_scan_keeps_the_earlier_checkouts_on_the_slip(shelf, desk):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    page = _scan_out(desk, "39\t001", page).get_data(as_text=True)
    page = _scan_out(desk, "NOSUCHITEM", page).get_data(as_text=True)
    assert [line.split(" until")[0].split(".")[0] for line in _slip_lines(page)] == \
        ["Checked out Book 39001 (39001)", "Not checked out: NOSUCHITEM"]


def test_the_page_refusing_a_bad_scan_still_lists_the_earlier_checkouts(shelf, desk):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    refused = _scan_out(desk, "39\t001", page).get_data(as_text=True)
    assert [line.split(" until")[0] for line in _outcomes(refused, "checkout-outcome")] == \
        ["Checked out Book 39001 (39001)"]


def test_renewing_keeps_the_checkouts_on_the_slip(shelf, desk):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    earlier = re.findall(r'name="slip" value="(\d+)"', page)
    page = desk.post("/patrons/P1/renew", data={"which": "all", "slip": earlier}).get_data(as_text=True)
    assert [line.split(" until")[0].split(". ")[0] for line in _slip_lines(page)] == \
        ["Checked out Book 39001 (39001)", "Not renewed: Book 39001 (39001)"]


def test_the_slip_can_be_started_afresh(shelf, desk):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    link = html.unescape(re.search(r'href="([^"]+)"[^>]*data-testid="new-slip"', page).group(1))
    assert _slip_lines(desk.get(link).get_data(as_text=True)) == []


def test_a_refused_checkout_is_not_announced_as_a_success(shelf, desk):
    page = _scan_out(desk, "NOSUCHITEM").get_data(as_text=True)
    assert ('data-testid="notice"' in page, page.count('data-testid="error"')) == (False, 1)


def test_a_refused_check_in_is_not_announced_as_a_success(lent, desk):
    page = _scan_in(desk, "NOSUCHITEM").get_data(as_text=True)
    assert ('data-testid="notice"' in page, page.count('data-testid="error"')) == (False, 1)


def test_a_checkout_is_announced_as_a_success(shelf, desk):
    page = _scan_out(desk, "39001").get_data(as_text=True)
    assert ('data-testid="notice"' in page, 'data-testid="error"' in page) == (True, False)


def test_a_bad_barcode_at_check_in_is_said_by_the_field_and_the_summary_only(lent, desk):
    page = html.unescape(desk.post("/desk/checkin", data={"item_barcode": "3" * 61}).get_data(as_text=True))
    assert (page.count("This is not an item barcode"), 'data-testid="error"' in page) == (2, False)


def test_a_bad_barcode_at_checkout_is_said_by_the_field_and_the_summary_only(shelf, desk):
    page = html.unescape(desk.post("/patrons/P1/checkout", data={"item_barcode": "3" * 61}).get_data(as_text=True))
    assert (page.count("This is not an item barcode"), 'data-testid="error"' in page) == (2, False)
