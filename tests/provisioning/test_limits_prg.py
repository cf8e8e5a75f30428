"""The station's forms: input limits refused with the field's message and nothing stored; post/redirect/get after a
form that succeeded (303 to the page, the notice shown once); a failed save says which secret fields it cleared."""
import pytest

from library_kiosk.central.store.models import Fee, User
from tests.provisioning.helpers import REGISTRATION
from tests.store import factories

CLEARED_BOTH = "For your security the PIN and password were cleared; enter them again."


def test_a_ten_thousand_character_first_name_is_refused_beside_the_field_and_nothing_is_stored(manager):
    response = manager.post("/register", dict(REGISTRATION, first_name="A" * 10_000))
    page = response.get_data(as_text=True)
    assert (response.status_code, "First name is too long: at most 100 characters (this one has 10,000)." in page,
            User.select().count()) == (422, True, 0)


def test_an_over_long_note_from_the_record_page_is_refused(manager):
    factories.patron("P1")
    response = manager.post("/patrons/P1/rows/note", {"note_text": "n" * 2001, "note_type": "OTHER"})
    assert (response.status_code, "Note is too long: at most 2,000 characters (this one has 2,001)."
            in response.get_data(as_text=True)) == (422, True)


def test_a_registration_answers_303_to_the_patron_page(manager):
    response = manager.post("/register", REGISTRATION, see_other=False)
    user = User.get(User.last_name == "Quillfeather")
    assert (response.status_code, response.headers["Location"]) == (303, f"/patrons/{user.primary_id}")


def test_the_page_after_a_registration_says_so_once(manager):
    response = manager.post("/register", REGISTRATION, see_other=False)
    first = manager.get(response.headers["Location"]).get_data(as_text=True)
    again = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert ("is registered as L0000001" in first, "is registered as" in again) == (True, False)


def test_an_htmx_registration_pushes_the_patron_page_into_the_history(manager):
    headers = {"HX-Request": "true"}
    response = manager.post("/register", REGISTRATION, see_other=False, headers=headers)
    followed = manager.get(response.headers["Location"], headers=headers)
    assert (response.status_code, followed.headers.get("HX-Push-Url"),
            "is registered as" in followed.get_data(as_text=True)) == (303, "/patrons/L0000001", True)


def test_a_fee_added_at_the_desk_answers_303_to_the_fees_tab(desk):
    factories.patron("P1")
    response = desk.post("/patrons/P1/fees", {"fee_type": "OTHER", "amount": "2.00"}, see_other=False)
    assert (response.status_code, response.headers["Location"], Fee.select().count()) == (
        303, "/patrons/P1?tab=fees", 1)


def test_a_new_staff_user_answers_303_to_the_staff_page(station):
    from tests.provisioning.helpers import StaffClient

    admin = StaffClient(station, "admin")
    response = admin.post("/staff", {"username": "desk2", "password": "Circulation-pass-8", "role": "circulation"},
                          see_other=False)
    assert (response.status_code, response.headers["Location"]) == (303, "/staff")


@pytest.mark.parametrize("secrets, sentence", [
    ({"pin": "4826", "password": "Orchid-lantern-73", "password_confirm": "Orchid-lantern-73"}, CLEARED_BOTH),
    ({"pin": "", "user_group": "58", "password": "Orchid-lantern-73", "password_confirm": "Orchid-lantern-73"},
     "For your security the password was cleared; enter it again."),
])
def test_a_failed_registration_says_which_secret_fields_were_cleared(manager, secrets, sentence):
    response = manager.post("/register", dict(REGISTRATION, email="not-an-address", **secrets))
    assert (response.status_code, sentence in response.get_data(as_text=True)) == (422, True)


def test_a_failed_registration_without_secrets_says_nothing_of_them(manager):
    response = manager.post("/register", dict(REGISTRATION, pin="", password="", password_confirm="", email="x"))
    assert "For your security" not in response.get_data(as_text=True)


def test_a_failed_update_with_a_new_pin_says_it_was_cleared(manager):
    factories.patron("P1")
    form = {"first_name": "", "last_name": "Ólafsdóttir", "user_group": "25", "expiry_date": "2027-06-30",
            "status": "ACTIVE", "pin": "4826"}
    response = manager.post("/patrons/P1/general", form)
    assert (response.status_code, "For your security the PIN was cleared; enter it again."
            in response.get_data(as_text=True)) == (422, True)
