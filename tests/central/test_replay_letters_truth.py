"""The letter after a renewal refused at replay says what actually happened to the loan (issue 21, finding 6).

A kiosk that renewed a loan offline promised the patron a new due date; when the central store refuses the
replayed renewal, the patron is written to. In the two-kiosk conflict (the same loan renewed offline at two
kiosks) the second replay is refused because the first already renewed it: the letter used to say "Your
membership ends too soon" (the domain's ``no_extension``) although the loan had been renewed. Each reason
the replay can give now gets a letter that is true to the loan as it is.
"""
import datetime as dt
import uuid

import pytest

from library_kiosk.central.store import devices, letters
from library_kiosk.central.store.devices import SyncConflict
from library_kiosk.central.store.models import Email, Loan, User, UserGroup
from library_kiosk.domain.checksums import batch_checksum
from tests.helpers import TODAY, device_client, open_visit
from tests.store.factories import hold, loan, patron

PROMISED = TODAY + dt.timedelta(days=21)  # the group's loan period from today: what an offline kiosk promises
MEMBERSHIP_TOO_SOON = "Your membership ends too soon"


def _renewal(client, item, seq=1, seen=0):
    """A kiosk's offline renewal of ``item`` as it is pushed: decided there (renewed until PROMISED, having seen
    ``seen`` renewals; None: a kiosk from before the count was sent), within the patron's visit at that kiosk."""
    told = {"loan_id": item.id, "renewed": True, "new_due_date": PROMISED.isoformat()}
    if seen is not None:
        told["renewals"] = seen
    return {"seq": seq, "key": uuid.uuid4().hex, "type": "renew",
            "payload": {"primary_id": "P1", "loan_ids": [item.id], "titles": {str(item.id): "Middlemarch"},
                        "visit": open_visit(client, "P1"), "local": [told]}}


def _push(client, op):
    answer = client.post("/api/v1/sync/ops", json={"ops": [op], "checksum": batch_checksum([op])})
    assert answer.status_code == 200, answer.json
    return answer.json["results"][0]


@pytest.fixture
def borrower(central_db):
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    return user, loan(user, "Middlemarch", barcode="3000000000001")


def _letter_text() -> str:
    letter = letters.Letter.get(letters.Letter.letter_type == "RenewalRefusedLetter")
    return letter.subject + "\n" + letter.body_text


def test_the_second_kiosk_s_letter_says_the_loan_was_renewed_once(api, central_app, borrower):
    _user, item = borrower
    other = device_client(central_app, devices.enrol(devices.add("kiosk-2"))[1])
    first = _push(api, _renewal(api, item))
    assert first["result"]["results"][0]["renewed"]
    second = _push(other, _renewal(other, item))  # the same loan, renewed offline at the second kiosk too
    assert second["result"]["pending_refused"] == [item.id]
    text = _letter_text()
    assert MEMBERSHIP_TOO_SOON not in text
    assert "renewed once" in text and f"{PROMISED:%d %B %Y}" in text
    assert Loan.get_by_id(item.id).renewals == 1
    assert "renewed once" in SyncConflict.get().detail  # staff read the same truth


def test_a_kiosk_that_sent_no_renewal_count_is_judged_by_the_due_date(api, central_app, borrower):
    _user, item = borrower
    Loan.update(due_date=PROMISED, renewals=1).where(Loan.id == item.id).execute()  # renewed at the desk meanwhile
    assert _push(api, _renewal(api, item, seen=None))["result"]["pending_refused"] == [item.id]
    text = _letter_text()
    assert "renewed once" in text and MEMBERSHIP_TOO_SOON not in text


def _shorten_membership(user, item):
    User.update(expiry_date=TODAY + dt.timedelta(days=4)).where(User.id == user.id).execute()  # last day: +3


def _limit_lowered(user, item):
    UserGroup.update(max_renewals=0).where(UserGroup.code == "25").execute()


def _requested(user, item):
    hold(patron("P2", barcode="B2", card="C2"), item_barcode="3000000000001")


def _returned(user, item):
    Loan.update(status="RETURNED", return_date=TODAY).where(Loan.id == item.id).execute()


def _due_later_already(user, item):
    Loan.update(due_date=TODAY + dt.timedelta(days=40)).where(Loan.id == item.id).execute()


@pytest.mark.parametrize("meanwhile, says, not_said", [
    (_shorten_membership, f"membership ends on {TODAY + dt.timedelta(days=3):%d %B %Y}", "renewed once"),
    (_limit_lowered, "maximum number of times", MEMBERSHIP_TOO_SOON),
    (_requested, "Another patron requested this item", MEMBERSHIP_TOO_SOON),
    (_returned, "has been returned", MEMBERSHIP_TOO_SOON),
    (_due_later_already, f"already due on {TODAY + dt.timedelta(days=40):%d %B %Y}", MEMBERSHIP_TOO_SOON),
], ids=["membership", "limit", "requested", "returned", "no_extension_without_membership"])
def test_each_refusal_reason_gets_a_true_letter(api, borrower, meanwhile, says, not_said):
    user, item = borrower
    meanwhile(user, item)
    assert _push(api, _renewal(api, item))["result"]["pending_refused"] == [item.id]
    text = _letter_text()
    assert says in text and not_said not in text and "could not be renewed" in text
