"""Registering a member through the station: every rule of the guide, and the record made."""
import re
from decimal import Decimal

import pytest

from library_kiosk.central.store.models import Change, Fee, Identifier, Statistic, User
from library_kiosk.central.store.staff import AuditEntry
from library_kiosk.domain.hashing import verify_secret
from tests.provisioning.helpers import REGISTRATION
from tests.store import factories


def test_register_makes_an_internal_staff_record_with_card_and_change(manager):
    response = manager.post("/register", REGISTRATION)
    assert response.status_code == 200, response.get_data(as_text=True)
    user = User.get(User.last_name == "Quillfeather")
    assert (user.account_type, user.record_type) == ("INTERNAL", "STAFF")
    assert str(user.expiry_date) == "2027-07-01"  # card expiry + 1 day
    assert verify_secret(user.pin_hash, "4826") and verify_secret(user.password_hash, "Orchid-lantern-73")
    values = {(i.id_type, i.value) for i in Identifier.select().where(Identifier.user == user)}
    assert values == {("BARCODE", "21234567890123"), ("CARD_SERIAL_NUMBER", "04AABBCCDDEE01")}
    assert Change.select().where(Change.primary_id == user.primary_id).exists()
    assert AuditEntry.get(AuditEntry.action == "patron.register").operator == "manager"
    assert "is registered as" in response.get_data(as_text=True)


@pytest.mark.parametrize("changes, field, message", [
    ({"first_name": ""}, "first_name", "Enter the first name"),
    ({"last_name": ""}, "last_name", "Enter the last name"),
    ({"user_group": ""}, "user_group", "Choose a user group"),
    ({"card_expiry": "30/06/2027"}, "card_expiry", "expiry date printed on the card"),
    ({"card_expiry": "2026-01-01"}, "card_expiry", "already passed"),
    ({"pin": ""}, "pin", "borrows with a PIN"),
    ({"pin": "1234"}, "pin", "consecutive"),
    ({"pin": "12a4"}, "pin", "4 to 8 digits"),
    ({"password": "short1", "password_confirm": "short1"}, "password", "at least 8 characters"),
    ({"password": "12345678", "password_confirm": "12345678"}, "password", "too common"),
    ({"password": "quillfeather99", "password_confirm": "quillfeather99"}, "password", "user name"),
    ({"password_confirm": "Orchid-lantern-74"}, "password_confirm", "do not match"),
    ({"email": "ada.example.org"}, "email", "email address"),
    ({"line1": ""}, "line1", "first line of the address"),
    ({"postal_code": ""}, "postal_code", "postal code"),
    ({"second_line1": "2 Malet Place"}, "second_city", "city"),
    ({"barcode": ""}, "barcode", "barcode"),
    ({"card_serial": ""}, "card_serial", "Tap the card"),
    ({"card_serial": "not-hex!"}, "card_serial", "hexadecimal"),
])
def test_each_invalid_field_is_named_and_nothing_is_saved(manager, changes, field, message):
    response = manager.post("/register", {**REGISTRATION, **changes})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'data-testid="error-{field}"' in page and message in page
    assert not User.select().where(User.last_name == "Quillfeather").exists()


def test_duplicate_card_and_barcode_are_refused_naming_the_holder(manager):
    factories.patron("P9", barcode="21234567890123", card="04AABBCCDDEE01", first_name="Bo", last_name="Held")
    page = manager.post("/register", REGISTRATION).get_data(as_text=True)
    beside = re.findall(r'data-testid="error-(barcode|card_serial)">[^<]*Bo Held \(P9\)', page)  # beside each field
    assert sorted(beside) == ["barcode", "card_serial"]
    assert User.select().count() == 1


def test_group_fee_and_statistics_follow_the_group_policy(manager):
    response = manager.post("/register", {**REGISTRATION, "user_group": "59"})
    assert "needs a statistical category" in response.get_data(as_text=True)
    manager.post("/register", {**REGISTRATION, "user_group": "58", "pin": ""})  # guests: fee, no PIN
    user = User.get(User.last_name == "Quillfeather")
    fee = Fee.get(Fee.user == user)
    assert (fee.fee_type, fee.balance) == ("MEMBERSHIP", Decimal("10.00"))
    assert user.pin_hash == ""
    User.delete().execute()
    manager.post("/register", {**REGISTRATION, "user_group": "59", "statistic_category": "NHS"})
    assert Statistic.get().statistic_category == "NHS"


def test_expiry_preview_says_card_expiry_plus_one_day(manager):
    page = manager.get("/register/expiry?card_expiry=2027-12-31").get_data(as_text=True)
    assert "2028-01-01" in page and "+ 1 day" in page


def test_resource_sharing_library_is_chosen_from_the_configured_list(station, manager):
    station.config["KIOSK"]["provisioning"]["rs_libraries"] = ["UCL Main Library", "Senate House Library"]
    form = manager.get("/register").get_data(as_text=True)
    assert '<select id="rs_library" name="rs_library"' in form
    assert '<option value="Senate House Library"' in form and '<option value="">None</option>' in form
    refused = manager.post("/register", {**REGISTRATION, "rs_library": "Somewhere Else"})
    assert refused.status_code == 422 and "resource sharing library from the list" in refused.get_data(as_text=True)
    assert User.select().count() == 0
    response = manager.post("/register", {**REGISTRATION, "rs_library": "Senate House Library"})
    assert response.status_code == 200
    user = User.get(User.last_name == "Quillfeather")
    assert user.rs_library == "Senate House Library"
    assert "Resource sharing library: Senate House Library" in manager.get(
        f"/patrons/{user.primary_id}").get_data(as_text=True)


def test_resource_sharing_library_is_optional(manager):
    assert manager.post("/register", REGISTRATION).status_code == 200
    assert User.get().rs_library == ""
