"""Borrowing and returning through Alma (issue 18), against Stoplight Prism serving the vendor's API description
(``alma``: tests/upstream/conftest.py) with recorded examples behind it (tests/upstream/alma_fake.py).

A loan is ``POST /users/{id}/loans?item_barcode=`` (Users API: Prism validates it). A return finds the item by its
barcode and scans it in (``GET /items?item_barcode=``, ``POST /bibs/.../items/{item_pid}?op=scan``): the Bibs API,
whose description shared/vendor/alma/ does not hold, so Prism cannot check those two calls (the fake checks the
scan-in's required parameters itself, and logs them ``validated: False``). A 504 after the write (done, answer
lost) is settled by reading Alma back, never by sending the write again blindly.
"""
import pytest

from library_kiosk.central.upstream import cache
from library_kiosk.central.upstream.alma.backend import AlmaUpstream, scan_route
from tests.helpers import TODAY

ON_SHELF, REFERENCE, REQUESTED, OTHER_LIBRARY = "39000000030", "39000000031", "39000000032", "39000000033"


@pytest.fixture
def library(alma):
    """The example patron AL1 and four items: on the shelf, for reference only, requested by someone, of
    another library; the last two on loan to AL1."""
    from tests.upstream.alma_fake import example_user

    fake, _ = alma
    fake.add_user(example_user())
    fake.add_item(ON_SHELF, "Mrs Dalloway")
    fake.add_item(REFERENCE, "Oxford English Dictionary", loanable=False)
    fake.add_item(REQUESTED, "Orlando", requested=True)
    fake.add_item(OTHER_LIBRARY, "The Waves", library="BRANCH")
    fake.add_loan("AL1", REQUESTED, "Orlando")
    fake.add_loan("AL1", OTHER_LIBRARY, "The Waves")
    return fake


def _calls(fake, method, path_end):
    return [e for e in fake.log if e["method"] == method and e["path"].endswith(path_end)]


def test_a_checkout_is_a_loan_request_valid_for_the_vendors_description(library, alma_upstream):
    decision = alma_upstream.checkout("AL1", ON_SHELF, TODAY, "k-1")
    assert (decision.borrowed, decision.due_date.isoformat(), decision.title) == (True, "2026-12-16", "Mrs Dalloway")
    [call] = _calls(library, "POST", "/users/AL1/loans")
    assert call["validated"] and call["prism_status"] < 400 and not call["violations"]
    assert call["args"]["item_barcode"] == ON_SHELF
    assert library.loan_of(ON_SHELF)[0] == "AL1"


def test_prism_refuses_a_loan_request_without_its_body(library, alma_upstream):
    """The description requires the loan object: the check that passes above is one that can fail."""
    response = alma_upstream.client.session.post(f"{alma_upstream.client.base_url}/almaws/v1/users/AL1/loans",
                                                 params={"item_barcode": ON_SHELF, "apikey": "l7xx-test"})
    assert response.status_code in (400, 422)
    assert library.log[-1]["violations"]
    assert library.loan_of(ON_SHELF) is None


def test_the_loan_is_made_at_the_configured_desk_and_library(library, alma):
    _fake, url = alma
    upstream = AlmaUpstream({"alma_base_url": url, "alma_api_key": "l7xx-test", "alma_max_per_second": 200,
                             "alma_circ_desk": "SELF_CHECK", "alma_library": "SCIENCE"})
    try:
        upstream.checkout("AL1", ON_SHELF, TODAY, "k-2")
    finally:
        upstream.close()
    loan = library.loan_of(ON_SHELF)[1]
    assert (loan["circ_desk"], loan["library"]) == ({"value": "SELF_CHECK"}, {"value": "SCIENCE"})


def test_a_refused_loan_gets_our_reason_and_keeps_almas_for_staff(library, alma_upstream):
    decision = alma_upstream.checkout("AL1", REFERENCE, TODAY, "k-3")
    assert (decision.borrowed, decision.reason) == (False, "not_circulating")
    assert decision.upstream_message.startswith("401651")


def test_the_upstream_says_it_lends_and_takes_back(alma_upstream):
    capabilities = alma_upstream.capabilities()
    assert (capabilities.checkout, capabilities.checkin) == (True, True)


# ---- returns (scan-in) ------------------------------------------------------------------

@pytest.mark.parametrize(("item", "route"), [(REQUESTED, "hold_shelf"), (OTHER_LIBRARY, "transit")])
def test_a_return_is_scanned_in_and_routed_by_almas_answer(library, alma_upstream, item, route):
    outcome = alma_upstream.checkin(item, TODAY, "k-4")
    assert (outcome.returned, outcome.route) == (True, route)
    assert library.loan_of(item) is None


def test_a_return_with_nothing_waiting_goes_to_the_shelf(library, alma_upstream):
    alma_upstream.checkout("AL1", ON_SHELF, TODAY, "k-5")
    outcome = alma_upstream.checkin(ON_SHELF, TODAY, "k-6")
    assert (outcome.returned, outcome.route, outcome.title) == (True, "shelf", "Mrs Dalloway")


def test_the_scan_in_is_made_at_the_desk_with_the_parameters_alma_asks_for(library, alma_upstream):
    alma_upstream.checkin(REQUESTED, TODAY, "k-7")
    [find] = _calls(library, "GET", "/almaws/v1/items")
    assert find["args"]["item_barcode"] == REQUESTED
    [scan] = [e for e in library.log if e["args"].get("op") == "scan"]
    item = library.items[REQUESTED]
    assert scan["path"] == (f"/almaws/v1/bibs/{item['bib_data']['mms_id']}/holdings/"
                            f"{item['holding_data']['holding_id']}/items/{item['item_data']['pid']}")
    assert (scan["args"]["library"], scan["args"]["circ_desk"]) == ("MAIN", "DEFAULT_CIRC_DESK")
    assert scan["args"]["register_in_house_use"] == "false"  # a return machine is no in-house use
    assert not scan["validated"]  # no vendor description of the Bibs API here (see the module's docstring)


@pytest.mark.parametrize(("answer", "route"), [
    ({"item_data": {"process_type": {"value": "WORK_ORDER_DEPARTMENT"}}}, "desk"),
    ({"item_data": {"process_type": {"value": "TRANSIT_TO_REMOTE_STORAGE"}}}, "transit"),
    ({"item_data": {"process_type": {"value": ""}},
      "additional_info": "Item's destination is: Hold Shelf. Request ID: 3"}, "hold_shelf"),
    ({"item_data": {"process_type": {"value": ""}, "requested": False}}, "shelf"),
])
def test_the_scan_in_answer_routes_the_item(answer, route):
    assert scan_route(answer) == route


def test_an_item_not_on_loan_is_not_returned(library, alma_upstream):
    outcome = alma_upstream.checkin(ON_SHELF, TODAY, "k-8")
    assert (outcome.returned, outcome.reason) == (False, "not_on_loan")


def test_an_unknown_item_is_not_returned(library, alma_upstream):
    outcome = alma_upstream.checkin("39999999999", TODAY, "k-9")
    assert (outcome.returned, outcome.reason) == (False, "unknown_item")
    assert not [e for e in library.log if e["args"].get("op") == "scan"]


# ---- lost answers -----------------------------------------------------------------------

def test_a_loan_whose_answer_is_lost_is_read_back_and_not_sent_twice(library, alma_upstream):
    library.lose_next_write_answer = True
    decision = cache.checkout_through(alma_upstream, "AL1", ON_SHELF, TODAY, "k-10")
    assert not library.lose_next_write_answer  # the loan was made, and its answer lost
    assert (decision.borrowed, decision.due_date.isoformat()) == (True, "2026-12-16")  # read back from Alma
    assert len(_calls(library, "POST", "/users/AL1/loans")) == 1
    assert [loan["item_barcode"] for loan in library.loans["AL1"]].count(ON_SHELF) == 1
    assert all(e["validated"] and not e["violations"] for e in library.log)  # the read-back too


def test_a_refused_loan_whose_answer_is_lost_gets_its_real_reason(library, alma_upstream):
    library.lose_next_write_answer = True
    decision = cache.checkout_through(alma_upstream, "AL1", REFERENCE, TODAY, "k-11")
    assert (decision.borrowed, decision.reason) == (False, "not_circulating")  # known not lent: asked again
    assert len(_calls(library, "POST", "/users/AL1/loans")) == 2


def test_a_return_whose_answer_is_lost_is_read_back_and_not_sent_twice(library, alma_upstream):
    library.lose_next_write_answer = True
    outcome = cache.checkin_through(alma_upstream, REQUESTED, TODAY, "k-12")
    assert not library.lose_next_write_answer
    assert (outcome.returned, outcome.route) == (True, "desk")  # its route was in the lost answer: the desk sorts it
    assert len([e for e in library.log if e["args"].get("op") == "scan"]) == 1
    assert library.loan_of(REQUESTED) is None
