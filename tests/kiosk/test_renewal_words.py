"""The words for a renewal that would not move the due date (the stranger's trial): a loan renewed just now is
"renewed as far as it can be for now", never "your membership ends too soon" for a member of years to come. P1 of
``make_patrons``: "Middlemarch" and "Les Misérables" can be renewed; her membership runs a year."""
from library_kiosk.central.store.models import Loan
from tests.kiosk.helpers import login

HX = {"HX-Request": "true"}
FOR_NOW = "This item was renewed as far as it can be for now. Please try again nearer the due date."


def test_after_renew_all_the_account_says_a_renewed_loan_was_renewed_as_far_as_it_can_be(kiosk):
    login(kiosk)
    kiosk.post("/renew", headers=HX)
    html = kiosk.get("/account").get_data(as_text=True)
    loan_id = Loan.get(Loan.title == "Middlemarch").id
    assert f'data-testid="why-not-{loan_id}">{FOR_NOW}<' in html


def test_renewing_again_the_same_day_is_refused_as_renewed_as_far_as_it_can_be(kiosk):
    login(kiosk)
    kiosk.post("/renew", headers=HX)
    loan_id = Loan.get(Loan.title == "Middlemarch").id
    html = kiosk.post("/renew", data={"loan_id": str(loan_id)}, headers=HX).get_data(as_text=True)
    assert FOR_NOW in html and "membership ends too soon" not in html
