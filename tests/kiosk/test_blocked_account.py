"""A patron the checkout rules refuse anyway (blocked, membership ended) is not offered Borrow items, and the
loans of a blocked account say once, plainly, why none can be renewed (the stranger's trial)."""
import pytest

from tests.kiosk.helpers import login
from tests.store.factories import fine, loan, patron

HX = {"HX-Request": "true"}


@pytest.fixture
def blocked(kiosk):
    """P5: fines over the group's limit, and a loan."""
    user = patron("P5", barcode="20000000000055", card="04DDDDDDDDDD55")
    fine(user, "25.00")
    loan(user, "Nostromo")
    kiosk.post("/identify", data={"identifier": "20000000000055"})
    return kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)


def test_a_blocked_patron_is_not_offered_borrow(blocked):
    assert 'data-testid="borrow"' not in blocked


def test_an_expired_patron_is_not_offered_borrow(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000022"})
    assert 'data-testid="borrow"' not in kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)


def test_a_patron_in_good_standing_is_offered_borrow(kiosk):
    login(kiosk)
    assert 'data-testid="borrow"' in kiosk.get("/account").get_data(as_text=True)


def test_the_loans_of_a_blocked_account_say_once_why_they_cannot_be_renewed(blocked):
    assert blocked.count("Your account is blocked, so loans cannot be renewed.") == 1
