"""The library's card barcode rules ([readers.barcode], library_kiosk/domain/barcodes.py) at the station: a new
card whose printed barcode breaks them is not registered, and a lost card is not replaced by one."""
import pytest

from library_kiosk.central.store.models import Identifier, User
from tests.provisioning.helpers import REGISTRATION
from tests.store import factories


@pytest.fixture
def station_config(station_config):
    station_config["readers"]["barcode"].update(min_length=14, max_length=14, check_digit="luhn")
    return station_config


def test_a_barcode_with_a_wrong_check_digit_is_not_registered(manager):
    response = manager.post("/register", {**REGISTRATION, "barcode": "21234567890123"})  # Luhn says ...0124
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "not one of the library&#39;s card barcodes" in html and "wrong check digit: expected 4" in html
    assert not User.select().where(User.last_name == "Quillfeather").exists()


def test_a_barcode_that_follows_the_rules_is_registered(manager):
    response = manager.post("/register", {**REGISTRATION, "barcode": "21234567890124"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert Identifier.get(Identifier.value == "21234567890124").user.last_name == "Quillfeather"


def test_a_lost_card_is_not_replaced_by_a_card_that_breaks_the_rules(manager):
    user = factories.patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    response = manager.post(f"/patrons/{user.primary_id}/replace-card",
                            {"barcode": "2000000000001", "card_serial": "04AABBCCDDEE02"})  # 13 digits
    assert response.status_code == 422 and "too short: 13 characters" in response.get_data(as_text=True)
    assert {i.value for i in Identifier.select().where(Identifier.user == user)} == {"20000000000011",
                                                                                     "04A1B2C3D4E5F6"}
