"""SIP2 fields as the 2.00 specification defines them (issue 14), against SIP2 servers nobody on this team wrote:
pysip2's ACS server and invenio-sip2's own socket server (``tests/upstream/sip2_servers.py``, ``invenio_ils.py``).

- Patron information (64): the lists AS, AT, AU, AV, BU, CD, each asked for at its own summary position and only
  when its count is not 0; BV the patron's total, never added to fine items that state their amounts; BE the
  preferred email; BL = N no such patron; CQ decides a PIN.
- ``kiosk upstream check`` reports an institution id (AO) other than ``[upstream] sip2_institution_id``.
- Renew all (65): each loan's reason is the one renewing it alone (29) gives. Only pysip2's server has a 65
  (invenio-sip2 1.0's renew all is a stub), so those run against it alone.

What the library holds is in ``sip2_servers.LIBRARY_PATRONS``: patron 21000000003 has every list (an overdue item
listed under AT only, a recalled loan, a hold under AS and CD both, fines that state amounts), 21000000004 fine
items without amounts.
"""
import argparse
import re
from dataclasses import dataclass
from decimal import Decimal

import pytest

from library_kiosk.central.upstream.base import LoanRef, OutcomeUnknown
from library_kiosk.central.upstream.sip2.backend import Sip2Upstream, fees_from
from tests.helpers import TODAY
from tests.upstream.sip2_servers import Library, PysipILS, pysip2_app
from tests.upstream.sip2_servers import sip2_settings as settings

EVERY_LIST, UNPRICED_FINES, PLAIN = "21000000003", "21000000004", "21000000001"


@pytest.fixture
def sip(server):
    upstream = Sip2Upstream(settings(server.port))
    yield upstream
    upstream.close()


def summary_positions(requests: bytes) -> list[int]:
    """The summary position each patron information request (63) sent through the proxy asked for."""
    positions = []
    for message in requests.decode("utf-8").split("\r"):
        if message.startswith("63"):
            summary = message[2 + 3 + 18:2 + 3 + 18 + 10]  # after the language and the transaction date
            positions.append(summary.index("Y") if "Y" in summary else -1)
    return positions


# ---- patron information (63/64): the lists ----------------------------------------------------------------

def test_charged_and_overdue_items_are_loans_even_one_listed_under_overdue_only(sip):
    loans = sip.fetch(EVERY_LIST, TODAY).account.loans
    assert [loan.item_barcode for loan in loans] == ["39000000010", "39000000011"]  # AU, then AT alone


def test_a_recall_item_marks_its_loan_requested_by_another_patron(sip):
    loans = sip.fetch(EVERY_LIST, TODAY).account.loans
    assert [(loan.item_barcode, loan.requested_by_other) for loan in loans] == [
        ("39000000010", True), ("39000000011", False)]  # BU lists 39000000010, whose hold queue is empty


def test_hold_items_are_ready_and_unavailable_hold_items_are_not(sip):
    requests = sip.fetch(EVERY_LIST, TODAY).account.requests
    assert [(request.title, request.ready_for_pickup) for request in requests] == [
        ("39000000012", True), ("39000000013", False)]  # 39000000013 is under AS and CD: unavailable


def test_each_list_is_asked_for_at_its_own_summary_position(proxy):
    upstream = Sip2Upstream(settings(proxy.port))
    try:
        upstream.fetch(EVERY_LIST, TODAY)
    finally:
        upstream.close()
    # charged (with the counts), unavailable holds, holds, fines, recalls, then overdue (not all among charged)
    assert summary_positions(proxy.requests) == [2, 5, 0, 3, 4, 1]


def test_lists_whose_count_is_zero_and_overdue_items_among_the_charged_ones_are_not_asked_for(proxy):
    upstream = Sip2Upstream(settings(proxy.port))
    try:
        upstream.fetch(PLAIN, TODAY)  # its overdue item is charged and past due: no AT request
    finally:
        upstream.close()
    assert summary_positions(proxy.requests) == [2, 0, 3]


# ---- a long list sent in parts (start item BP, end item BQ) ----------------------------------------------

MANY_LOANS = "21000000009"


@pytest.fixture
def capped():
    """pysip2's server behind a library that sends at most 10 items of a list in one 64 (as some library systems
    do), with a patron of 23 loans and 12 fines."""
    yield from _with_many_loans(Library(part_size=10))


def _with_many_loans(library):
    charged = [f"3900000{n:04d}" for n in range(100, 123)]
    library.items.update({item: {"title": f"Title {item}", "due": "20261220    235900", "holds": 0}
                          for item in charged})
    library.patrons[MANY_LOANS] = {"name": "Woolf, Virginia", "pin": "3333", "status": " " * 14,
                                   "charged": charged, "overdue": [], "holds": [], "unavailable": [],
                                   "fines": [f"0.10 Overdue: fine {n}" for n in range(12)], "fee_amount": "1.20",
                                   "email": ""}
    server = PysipILS(pysip2_app(library))
    upstream = Sip2Upstream(settings(server.port))
    yield library, upstream
    upstream.close()
    server.stop()


def test_a_list_sent_in_parts_is_read_whole(capped):
    library, upstream = capped
    account = upstream.fetch(MANY_LOANS, TODAY).account
    assert [loan.item_barcode for loan in account.loans] == library.patrons[MANY_LOANS]["charged"]


def test_each_further_part_starts_after_the_last_item_received(capped):
    library, upstream = capped
    upstream.fetch(MANY_LOANS, TODAY)
    # charged: 1–10 (no range asked), 11–23, 21–23; fines: 1–10, 11–12
    assert library.ranges == [(None, None), ("11", "23"), ("21", "23"), (None, None), ("11", "12")]


def test_fine_items_sent_in_parts_are_every_fee(capped):
    library, upstream = capped
    assert upstream.fetch(MANY_LOANS, TODAY).account.total_owed() == Decimal("1.20")
    assert len(upstream.fetch(MANY_LOANS, TODAY).account.fees) == 12


def test_a_server_that_ignores_the_range_is_asked_once_more_and_its_first_part_kept(caplog):
    for library, upstream in _with_many_loans(Library(part_size=10, reads_range=False)):
        loans = upstream.fetch(MANY_LOANS, TODAY).account.loans
        assert len(loans) == 10
        assert library.ranges == [(None, None), ("11", "23"), (None, None), ("11", "12")]
    assert "counts 23 items in list AU but sent 10" in caplog.text


def test_fine_items_stating_their_amounts_are_not_counted_again_in_the_fee_amount(sip):
    assert sip.fetch(EVERY_LIST, TODAY).account.total_owed() == Decimal("1.50")  # AV 1.00 + 0.50, BV 1.50


def test_fine_items_are_shown_with_their_own_amounts(sip):
    fees = sip.fetch(EVERY_LIST, TODAY).account.fees
    assert [(fee.title, fee.balance) for fee in fees] == [("1.00 Overdue: Emma", Decimal("1.00")),
                                                          ("0.50 Damaged: Walden", Decimal("0.50"))]


def test_the_fee_amount_is_the_total_when_fine_items_state_no_amount(sip):
    assert sip.fetch(UNPRICED_FINES, TODAY).account.total_owed() == Decimal("4.00")  # not an item barcode's worth


def test_the_email_address_is_the_preferred_email(sip):
    assert sip.fetch(EVERY_LIST, TODAY).account.preferred_email == "jane@example.org"


def test_valid_patron_n_is_no_such_patron(sip):
    assert sip.fetch("21000000999", TODAY) is None


def test_valid_patron_password_y_accepts_the_pin(sip):
    assert sip.verify_pin(EVERY_LIST, "1111") is True


def test_valid_patron_password_n_refuses_the_pin(sip):
    assert sip.verify_pin(EVERY_LIST, "9999") is False


@pytest.mark.parametrize(("pin", "accepted"), [("2468", True), ("0000", False)])
def test_valid_patron_password_decides_when_the_server_sends_no_valid_patron_field(pin, accepted):
    """BL is optional in a 64: a server that leaves it out is not saying "no such patron"; CQ decides."""
    from pysip2 import LOGIN, PATRON_INFORMATION, LoginResponse, PatronInformationResponse, SIP2Server

    library = Library()
    app = SIP2Server(institution_id="MAIN", error_detection="required", login_required=True)

    @app.route(LOGIN)
    async def _login(req, ctx):
        return LoginResponse(ok="1" if (req.login_user_id, req.login_password) == ("kiosk", "s3cret") else "0")

    @app.route(PATRON_INFORMATION)
    async def _info(req, ctx):
        right = req.patron_password == library.patrons[req.patron_identifier]["pin"]
        return PatronInformationResponse(
            patron_status=" " * 14, language="001", transaction_date=ctx.now_18(), hold_items_count="0000",
            overdue_items_count="0000", charged_items_count="0000", fine_items_count="0000",
            recall_items_count="0000", unavailable_holds_count="0000", institution_id="MAIN",
            patron_identifier=req.patron_identifier, personal_name="Ólafsdóttir, Zoë",
            valid_patron_password="Y" if right else "N")

    server = PysipILS(app)
    upstream = Sip2Upstream(settings(server.port))
    try:
        assert upstream.verify_pin(PLAIN, pin) is accepted
    finally:
        upstream.close()
        server.stop()


@pytest.mark.parametrize(("fine_items", "fee_amount", "total"), [
    (["1.00 Overdue: Emma", "0.50 Damaged: Walden"], "1.50", "1.50"),  # itemised: BV is not added on top
    (["Overdue: Emma", "39000000011 damaged"], "4.00", "4.00"),  # no amounts (nor a barcode taken for one)
    (["1.00 Overdue: Emma", "Lost card"], "3.00", "3.00"),  # BV beyond the itemised amounts: one more fee
    (["Charge-Number: 7, Amount-Due: 2.50, Fine-Type: overdue"], "2.50", "2.50"),
    (["5.00 Overdue: Emma"], "2.00", "2.00"),  # items before payments add up to more than BV: BV is owed
    (["1.00 Overdue: Emma", "0.25 Print"], None, "1.25"),  # no BV: the itemised amounts
    ([], "£2.00", "2.00"),  # fees not tied to items
    ([], "2,50", "2.50"),  # a decimal comma
    (["1.00 Overdue: Emma"], "0.00", "0.00"),  # paid: nothing owed
    (["1.00 Overdue: Emma"], "-1.00", "0.00"),  # a credit: nothing owed
])
def test_the_total_owed_is_the_fee_amount_whatever_the_fine_items_state(fine_items, fee_amount, total):
    owed = sum((fee.balance for fee in fees_from("p", fine_items, fee_amount) if fee.balance > 0), Decimal("0"))
    assert owed == Decimal(total)


# ---- kiosk upstream check: the institution id (AO) ---------------------------------------------------------

def _ao_row(rows):
    return next(row for row in rows if row[0] == "institution id (AO)")


def test_check_reports_an_institution_id_other_than_the_configured_one(server):
    upstream = Sip2Upstream(settings(server.port, sip2_institution_id="BRANCH"))
    try:
        row = _ao_row(upstream.check(PLAIN, "2468", TODAY))
    finally:
        upstream.close()
    assert row == ("institution id (AO)", False, "the server answers with institution id 'MAIN' (98, 64), not "
                                                 "'BRANCH' as configured: set [upstream] sip2_institution_id = "
                                                 '"MAIN"')


def test_check_passes_the_institution_id_the_server_answers(sip):
    assert _ao_row(sip.check(PLAIN, "2468", TODAY)) == ("institution id (AO)", True, "'MAIN', as the server answers")


def test_kiosk_upstream_check_fails_on_another_institution_id(monkeypatch, capsys, central_url):
    from library_kiosk.central.upstream.cli import cmd_check
    from tests.upstream.sip2_servers import PysipServer

    server = PysipServer()
    try:
        monkeypatch.delenv("KIOSK_CONFIG", raising=False)
        for key, value in {"KIND": "sip2", "SIP2_PORT": str(server.port), "SIP2_LOGIN_USER": "kiosk",
                           "SIP2_LOGIN_PASSWORD": "s3cret", "SIP2_INSTITUTION_ID": "BRANCH",
                           "TEST_PATRON": PLAIN, "TEST_PIN": "2468"}.items():
            monkeypatch.setenv(f"KIOSK_UPSTREAM_{key}", value)
        monkeypatch.setenv("KIOSK_CENTRAL_DATABASE_URL", central_url)
        code = cmd_check(argparse.Namespace(identifier=None, pin_stdin=False))
    finally:
        server.stop()
    failed = re.findall(r"^  FAIL  (.*)$", capsys.readouterr().out, re.M)
    assert (code, failed) == (1, ["institution id (AO): the server answers with institution id 'MAIN' (98, 64), "
                                  "not 'BRANCH' as configured: set [upstream] sip2_institution_id = \"MAIN\""])


# ---- renew all (65): each loan's reason as renewing it alone gives it -----------------------------------------

REASONS_PATRON = "21000000009"
LOANS = [LoanRef(1, "39000000001"), LoanRef(2, "39000000002"), LoanRef(3, "39000000020"), LoanRef(4, "39000000021")]


@dataclass
class ReasonedLibrary(Library):
    """The test library with more reasons to refuse a renewal, and a patron with one loan for each: renewable,
    requested by another patron (a hold), at the renewal limit, lost."""

    def __post_init__(self):
        self.items["39000000020"] = {"title": "Emma", "due": "20261130    235900", "holds": 0, "renewals_left": 0}
        self.items["39000000021"] = {"title": "Walden", "due": "20261130    235900", "holds": 0, "lost": True}
        self.patrons[REASONS_PATRON] = {"name": "Eliot, George", "pin": "3333", "status": " " * 14,
                                        "charged": [loan.item_barcode for loan in LOANS], "overdue": [],
                                        "holds": [], "unavailable": [], "fines": [], "email": ""}

    def renew(self, patron: str, item: str) -> tuple[bool, str]:
        found = self.items.get(item, {})
        if patron in self.patrons and item in self.patrons[patron]["charged"]:
            if found.get("lost"):
                return False, "Item is lost and cannot be renewed"
            if found.get("renewals_left") == 0:
                return False, "Renewal limit reached"
        return super().renew(patron, item)


@pytest.fixture
def two_libraries():
    """Two identical libraries behind pysip2's server (with renew all): one renews all, one loan by loan."""
    started = []
    for _ in range(2):
        library = ReasonedLibrary()
        started.append((library, PysipILS(pysip2_app(library))))
    upstreams = [Sip2Upstream(settings(server.port)) for _library, server in started]
    yield [(library, upstream) for (library, _server), upstream in zip(started, upstreams)]
    for (_library, server), upstream in zip(started, upstreams):
        upstream.close()
        server.stop()


def _outcomes(decisions):
    return [(d.loan_id, d.renewed, d.new_due_date, d.reason) for d in decisions]


def test_renew_all_gives_each_loan_the_reason_renewing_it_alone_gives(two_libraries):
    (_all_library, all_at_once), (_one_library, one_by_one) = two_libraries
    through_65 = all_at_once.renew_all(REASONS_PATRON, LOANS, TODAY)  # a 65 (the cost test shows it)
    assert _outcomes(through_65) == _outcomes(one_by_one.renew(REASONS_PATRON, LOANS, TODAY))


def test_renew_all_reasons_are_the_plain_ones(two_libraries):
    (_library, upstream), _other = two_libraries
    decisions = upstream.renew_all(REASONS_PATRON, LOANS, TODAY)
    assert [(d.renewed, d.reason) for d in decisions] == [
        (True, ""), (False, "requested"), (False, "limit"), (False, "lost")]


def test_renew_all_costs_a_65_a_17_per_renewed_loan_and_a_29_per_unrenewed_one(two_libraries):
    (library, upstream), _other = two_libraries
    upstream.supported()
    before = len(library.received)
    upstream.renew_all(REASONS_PATRON, LOANS, TODAY)
    assert library.received[before:] == ["65", "17", "29", "29", "29"]


def test_one_unrenewed_loan_with_its_own_message_costs_no_29(two_libraries):
    (library, upstream), _other = two_libraries
    upstream.supported()
    before = len(library.received)
    upstream.renew_all(PLAIN, [LoanRef(1, "39000000001"), LoanRef(2, "39000000002")], TODAY)  # Ulysses is held
    assert library.received[before:] == ["65", "17"]  # its reason, "requested": test_sip2.py renew all


def test_a_loan_in_neither_list_is_reported_not_found_on_the_account(two_libraries):
    (_library, upstream), _other = two_libraries
    decisions = upstream.renew_all(PLAIN, [LoanRef(1, "39000000001"), LoanRef(9, "39000000003")], TODAY)
    assert [(d.loan_id, d.renewed, d.reason) for d in decisions] == [(1, True, ""), (9, False, "unknown_loan")]


def _renew_all_server(library, answer):
    """pysip2's server whose renew all answers ``answer(req, ctx, library)`` (another server's way of answering)."""
    from pysip2 import RENEW_ALL

    app = pysip2_app(library, renew_all=False)  # its own renew all instead of the test library's

    @app.route(RENEW_ALL)
    async def _renew_all(req, ctx):
        library.received.append("65")
        return answer(req, ctx, library)

    return PysipILS(app)


def _counts_only(req, ctx, library):
    """A 66 with its counts and no item lists (BM and BN are optional)."""
    from pysip2 import RenewAllResponse

    charged = library.patrons[req.patron_identifier]["charged"]
    done = [item for item in charged if library.renew(req.patron_identifier, item)[0]]
    return RenewAllResponse(ok="1", renewed_count=f"{len(done):04d}", unrenewed_count=f"{len(charged) - len(done):04d}",
                            transaction_date=ctx.now_18(), institution_id="MAIN")


def test_a_renew_all_refused_as_a_whole_gives_every_loan_its_message():
    """A server that refuses the whole renew all (ok 0, nothing listed, "Renewals not allowed.") when the patron
    may not renew: that message is every loan's reason, as each 29 would have said."""
    from pysip2 import RenewAllResponse

    def refuse(req, ctx, library):
        return RenewAllResponse(ok="0", renewed_count="0000", unrenewed_count="0000", transaction_date=ctx.now_18(),
                                institution_id="MAIN", screen_message=("Renewals not allowed.",))

    library = Library()
    server = _renew_all_server(library, refuse)
    upstream = Sip2Upstream(settings(server.port))
    try:
        decisions = upstream.renew_all("21000000002", [LoanRef(3, "39000000003")], TODAY)
    finally:
        upstream.close()
        server.stop()
    assert [(d.renewed, d.reason) for d in decisions] == [(False, "renewals_denied")]


def test_a_renew_all_answer_that_counts_items_it_does_not_list_is_an_unknown_outcome():
    """66's item lists are optional: counts alone cannot say which loans were renewed, so the caller reads the
    patron back (``OutcomeUnknown``; ``upstream/cache.py`` reconciles) instead of guessing."""
    library = Library()
    server = _renew_all_server(library, _counts_only)
    upstream = Sip2Upstream(settings(server.port))
    try:
        with pytest.raises(OutcomeUnknown):
            upstream.renew_all(PLAIN, [LoanRef(1, "39000000001"), LoanRef(2, "39000000002")], TODAY)
    finally:
        upstream.close()
        server.stop()


def test_a_counts_only_renew_all_is_read_back_and_each_loan_gets_its_own_outcome(central_db):
    """Through the central store: the read-back takes the loan whose due date moved as renewed, and sends the other
    alone (a 29), which the server refuses with its own reason."""
    from library_kiosk.central.store import circulation
    from library_kiosk.central.store.accounts import get_user
    from library_kiosk.central.store.models import Loan
    from library_kiosk.central.upstream import cache
    from library_kiosk.central.upstream.models import create_tables

    create_tables(central_db)
    library = Library()
    server = _renew_all_server(library, _counts_only)
    upstream = Sip2Upstream(settings(server.port, fresh_seconds=0))
    try:
        cache.refresh(upstream, PLAIN, TODAY)
        decisions = circulation.renew(get_user(PLAIN), None, TODAY,
                                      lambda user, ids, today: cache.forward(upstream, user, ids, today))
        outcomes = {Loan.get_by_id(d.loan_id).item_barcode: (d.renewed, d.reason) for d in decisions}
    finally:
        upstream.close()
        server.stop()
    assert outcomes == {"39000000001": (True, ""), "39000000002": (False, "requested")}
