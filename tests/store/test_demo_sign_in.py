"""The demo's patrons for signing in without a card (store/demo.py ``SIGN_IN_PATRONS``): their passwords are right
at the central store (the kiosk's password sign-in asks it), one has a very long hyphenated name with accents that
keeps the input limits, and adding them twice adds nothing."""
from library_kiosk.central.store import demo, limits
from library_kiosk.central.store.models import Loan, User
from tests.helpers import TODAY


def test_each_sign_in_patron_signs_in_with_the_printed_password(api):
    shown = demo.add_sign_in_patrons(TODAY)
    answers = [api.post(f"/api/v1/patrons/{p['primary_id']}/verify-pin", json={"password": p["password"]}).json["ok"]
               for p in shown]
    assert answers == [True] * len(demo.SIGN_IN_PATRONS)


def test_a_wrong_password_is_refused(api):
    demo.add_sign_in_patrons(TODAY)
    answer = api.post("/api/v1/patrons/DEMO-READER/verify-pin", json={"password": "Reading-room-2025"}).json
    assert answer["ok"] is False


def test_the_long_name_is_long_hyphenated_accented_and_within_the_limits(central_db):
    demo.add_sign_in_patrons(TODAY)
    user = User.get(User.primary_id == "DEMO-LONGNAME")
    problem = limits.first_problem("User", {"first_name": user.first_name, "last_name": user.last_name})
    assert (len(user.last_name) >= 60, "-" in user.last_name, not user.last_name.isascii(), problem) == (
        True, True, True, None)


def test_adding_them_again_adds_nothing(central_db):
    demo.add_sign_in_patrons(TODAY)
    counts = (User.select().count(), Loan.select().count())
    demo.add_sign_in_patrons(TODAY)
    assert (User.select().count(), Loan.select().count()) == counts
