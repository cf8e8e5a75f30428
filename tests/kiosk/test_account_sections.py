"""The account in sections (issue 15): loans, requests, fines and fees as tabs with their counts; a tab switch
swaps the sections only, is kept for the session, and an unknown section shows nothing of the account."""
import re

from tests.kiosk.helpers import HX, login


def selected(html: str) -> list[str]:
    """The tabs marked selected, and the panels shown (not hidden), in the page's order."""
    tabs = re.findall(r'<button type="button" role="tab" id="tab-(\w+)"[^>]*aria-selected="true"', html)
    panels = re.findall(r'role="tabpanel" id="panel-(\w+)" aria-labelledby="tab-\w+" >', html)
    return tabs + panels


def test_the_account_opens_at_the_loans_tab(kiosk):
    login(kiosk)
    assert selected(kiosk.get("/account").get_data(as_text=True)) == ["loans", "loans"]


def test_tabs_show_their_counts(kiosk):
    login(kiosk)
    html = kiosk.get("/account").get_data(as_text=True)
    assert re.findall(r'(\w[\w ]*) <span class="count">\((\d+)\)</span>', html) == [
        ("Loans", "5"), ("Requests", "2"), ("Fines and fees", "1")]


def test_a_tab_swaps_the_sections_only(kiosk):
    login(kiosk)
    html = kiosk.get("/account/section/fees", headers=HX).get_data(as_text=True)
    assert (html.lstrip().startswith('<div id="sections"'), 'id="patron-name"' in html, selected(html)) == (
        True, False, ["fees", "fees"])


def test_the_tab_chosen_is_kept_for_the_session(kiosk):
    login(kiosk)
    kiosk.get("/account/section/requests", headers=HX)
    assert selected(kiosk.get("/account").get_data(as_text=True)) == ["requests", "requests"]


def test_an_unknown_section_is_refused(kiosk):
    login(kiosk)
    assert kiosk.get("/account/section/secrets", headers=HX).status_code == 404


def test_no_section_before_the_pin(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    html = kiosk.get("/account/section/loans", headers=HX).get_data(as_text=True)
    assert ("Middlemarch" in html, "Tap your card or scan your barcode" in html) == (False, True)


def test_a_loan_claimed_returned_says_why_it_cannot_be_renewed(kiosk):
    """Its row has no Renew button; it says why, as a refused renewal would (found by a stranger: the row said
    nothing, so a patron could not tell why Ulysses alone had no button)."""
    login(kiosk)
    html = kiosk.get("/account").get_data(as_text=True)
    row = re.search(r'<tr class="[^"]*" data-loan="\d+" data-page-item>(?:(?!</tr>).)*Ulysses.*?</tr>', html, re.S)
    assert row, html
    reason = "This item is recorded as claimed returned. Please ask at the desk."
    assert re.sub(r"\s+", " ", row.group(0)).count(reason) == 1
