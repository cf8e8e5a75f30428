"""The Renew button and the renewal rules agree (issue 15): over generated accounts (Hypothesis), every Renew
button the account screen shows leads to a renewal when tapped, and every loan shown without one is refused when
its renewal is asked all the same; through the kiosk's own path (the Flask test client: POST /identify, the
account screen, POST /renew as a tap sends it, the central store deciding), not the rule called directly.

The accounts vary what the rules look at: renewals used against the group's maximum (0 to 3), another patron's
request for the item, the due date against the membership's end (so that a renewal might not move it later),
overdue loans and the group's overdue limit, fines over the limit, a staff block, an expired membership, and loans
claimed returned or lost."""
from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from library_kiosk.central.store.models import Block, Loan
from tests.kiosk.helpers import HX, fill_cache
from tests.store.factories import TODAY, fine, group, hold, loan, patron

NUMBERS = itertools.count(1)

LOANS = st.lists(st.fixed_dictionaries({
    "due": st.one_of(st.integers(-12, 6), st.integers(7, 40)),  # days from today: overdue, soon, later
    "renewals": st.sampled_from([0, 0, 1, 2, 3]),
    "status": st.sampled_from(["ON_LOAN", "ON_LOAN", "ON_LOAN", "CLAIMED_RETURNED", "LOST"]),
    "requested": st.sampled_from([False, False, True]),         # another patron has asked for the item
}), min_size=1, max_size=4)
ACCOUNTS = st.fixed_dictionaries({
    "max_renewals": st.sampled_from([2, 3, 1, 0, 2, 3]),
    "loan_period_days": st.sampled_from([7, 14, 21]),
    # (the blocks, each in about one account in six or seven, so that most accounts can renew something)
    "overdue_limit": st.sampled_from([5, 5, 5, 1, 5, 0]),
    "expiry": st.one_of(st.none(), st.integers(-20, 60), st.integers(2, 60)),  # the membership's end (None: none)
    "owed": st.sampled_from(["0", "0", "0", "4.00", "4.00", "12.50"]),  # the group's limit is 10.00
    "staff_block": st.sampled_from([False] * 6 + [True]),
    "loans": LOANS,
})


def _make(account: dict) -> tuple[str, dict[int, str]]:
    """The generated patron in the central store (no PIN asked, so the card opens the account); their barcode,
    and each loan's id with a description for the failure message."""
    number = next(NUMBERS)
    code = f"G{number}"
    group(code, pin_required=False, max_renewals=account["max_renewals"],
          loan_period_days=account["loan_period_days"], overdue_limit=account["overdue_limit"],
          fine_limit=Decimal("10.00"))
    barcode = f"2999{number:010d}"
    expiry = None if account["expiry"] is None else TODAY + dt.timedelta(days=account["expiry"])
    user = patron(f"H{number}", barcode=barcode, card=f"05{number:012X}", group_code=code, expiry=expiry)
    if account["owed"] != "0":
        fine(user, account["owed"])
    if account["staff_block"]:
        Block.create(user=user, block_description="Please see staff")
    other = patron(f"O{number}", barcode=f"2888{number:010d}", card=f"06{number:012X}", group_code=code)
    loans = {}
    for index, spec in enumerate(account["loans"]):
        item = f"37{number:08d}{index:02d}"
        row = loan(user, f"Book {index}", due=TODAY + dt.timedelta(days=spec["due"]), renewals=spec["renewals"],
                   status=spec["status"], barcode=item)
        if spec["requested"]:
            hold(other, item_barcode=item, title=f"Book {index}", place=1)
        loans[row.id] = f"{spec} in {account}"
    return barcode, loans


def _renewed(html: str, loan_id: int) -> bool:
    found = re.search(rf'<li class="(\w+)" data-outcome="{loan_id}"', html)
    assert found, html
    return found.group(1) == "ok"


@pytest.fixture
def app(kiosk_app, central_db, kiosk_config):
    return kiosk_app


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(account=ACCOUNTS)
def test_every_renew_button_shown_renews_and_every_one_hidden_would_be_refused(app, account):
    barcode, loans = _make(account)
    fill_cache(app)
    kiosk = app.test_client()  # a new patron at the kiosk: a fresh session
    screen = kiosk.post("/identify", data={"identifier": barcode}).get_data(as_text=True)
    assert 'data-testid="account"' in screen, screen
    shown = {loan_id for loan_id in loans if f'data-testid="renew-{loan_id}"' in screen}
    event(f"Renew shown on {len(shown)} of {len(loans)} loans")  # (--hypothesis-show-statistics)
    disagree = []
    for loan_id, about in loans.items():
        before = Loan.get_by_id(loan_id).due_date
        tapped = kiosk.post("/renew", data={"loan_id": str(loan_id)}, headers=HX).get_data(as_text=True)
        renewed = _renewed(tapped, loan_id)
        moved = Loan.get_by_id(loan_id).due_date != before
        if (loan_id in shown) != renewed or renewed != moved:
            disagree.append(f"loan {loan_id}: button {'shown' if loan_id in shown else 'hidden'}, renewal "
                            f"{'granted' if renewed else 'refused'} (due date moved: {moved}); {about}")
    assert not disagree, "\n".join(disagree)
