"""Staff writes go upstream too: with ``[upstream] kind = "alma"`` the station's registration,
add-a-card (start-of-term batch) and add-a-fee call Alma (through Prism, which validates
each request) inside the local transaction; when Alma refuses, nothing changes locally."""
import pytest

from library_kiosk.central.store.models import Fee, Identifier, User
from tests.provisioning.helpers import REGISTRATION
from tests.upstream.alma_fake import error, example_user


@pytest.fixture
def station_config(config, smtp_server, alma):
    """The station (the ``station`` fixture, tests/conftest.py) in front of Alma."""
    _fake, url = alma
    config["mail"].update(host="127.0.0.1", port=smtp_server.port, from_address="library@example.org")
    config["provisioning"]["secret_key"] = "station-test-secret"
    config["upstream"].update({"kind": "alma", "alma_base_url": url, "alma_api_key": "l7xx-test",
                               "alma_max_per_second": 200, "alma_max_retries": 0})
    return config


def test_registration_creates_the_user_in_alma(manager, alma):
    fake, _url = alma
    response = manager.post("/register", REGISTRATION)
    assert response.status_code == 200, response.get_data(as_text=True)
    user = User.get(User.last_name == "Quillfeather")
    created = fake.users[user.primary_id]
    assert (created["first_name"], created["user_group"]["value"]) == ("Ada", "25")
    # a record the library made: Staff and internal in Alma as in the central store (UCL and Alma Essentials guides)
    assert (created["record_type"]["value"], created["account_type"]["value"]) == ("STAFF", "INTERNAL")
    assert (user.record_type, user.account_type) == ("STAFF", "INTERNAL")
    assert {(i["id_type"]["value"], i["value"]) for i in created["user_identifier"]} == {
        ("BARCODE", "21234567890123"), ("CARD_SERIAL_NUMBER", "04AABBCCDDEE01")}
    assert created["contact_info"]["email"][0]["email_address"] == "ada.q@example.org"
    assert not any(e["violations"] or e["prism_status"] >= 400 for e in fake.log)


def test_a_refused_registration_changes_nothing_locally(manager, alma):
    fake, _url = alma
    fake.add_user(example_user("ALX", barcode="21234567890123", card=""))
    fake.inject.append((*error("401851", "21234567890123"), {}))  # Alma: the identifier is taken
    response = manager.post("/register", REGISTRATION)
    assert response.status_code == 422
    assert "The library system refused this" in response.get_data(as_text=True)
    assert not User.select().where(User.last_name == "Quillfeather").exists()
    assert not Identifier.select().where(Identifier.value == "21234567890123").exists()


def test_a_batch_card_is_merged_into_the_alma_record(manager, alma):
    fake, _url = alma
    manager.post("/register", dict(REGISTRATION, card_serial="04AABBCCDDEE09"))
    user = User.get(User.last_name == "Quillfeather")
    fake.users[user.primary_id]["user_note"] = [{"note_type": {"value": "CIRCULATION"}, "note_text": "Keep me"}]
    manager.post("/cards/batch", {"barcode": "21234567890123", "card_serial": "04000000000001"})
    stored = fake.users[user.primary_id]
    assert ("CARD_SERIAL_NUMBER", "04000000000001") in {(i["id_type"]["value"], i["value"])
                                                        for i in stored["user_identifier"]}
    assert stored["user_note"][0]["note_text"] == "Keep me"  # swap-all: read, merge, write back
    assert Identifier.select().where(Identifier.value == "04000000000001").exists()
    fake.inject.append((*error("401851", "04000000000002"), {}))  # refused on the read: nothing changes
    manager.post("/cards/batch", {"barcode": "21234567890123", "card_serial": "04000000000002"})
    assert not Identifier.select().where(Identifier.value == "04000000000002").exists()


def test_a_fee_goes_to_alma_or_not_at_all(manager, alma):
    fake, _url = alma
    manager.post("/register", REGISTRATION)
    user = User.get(User.last_name == "Quillfeather")
    manager.post(f"/patrons/{user.primary_id}/fees", {"fee_type": "CARD_REPLACEMENT", "amount": "5.00"})
    assert [f["original_amount"] for f in fake.fees[user.primary_id]] == [5.0]
    assert Fee.select().where(Fee.user == user).count() == 1
    fake.down = True
    manager.post(f"/patrons/{user.primary_id}/fees", {"fee_type": "CARD_REPLACEMENT", "amount": "7.00"})
    assert Fee.select().where(Fee.user == user).count() == 1  # Alma unreachable: refused, nothing saved
    assert not any(e["violations"] for e in fake.log)


def _alma_ids(fake, primary_id) -> dict:
    return {i["value"]: i.get("status", "ACTIVE") for i in fake.users[primary_id]["user_identifier"]}


def test_a_lost_card_replaced_at_the_desk_is_replaced_in_alma(manager, alma):
    fake, _url = alma
    manager.post("/register", REGISTRATION)
    user = User.get(User.last_name == "Quillfeather")
    page = manager.post(f"/patrons/{user.primary_id}/replace-card",
                        {"barcode": "21234567890999", "card_serial": "04AABBCCDDEE99"})
    assert page.status_code == 200, page.get_data(as_text=True)
    assert _alma_ids(fake, user.primary_id) == {"21234567890123": "INACTIVE", "04AABBCCDDEE01": "INACTIVE",
                                               "21234567890999": "ACTIVE", "04AABBCCDDEE99": "ACTIVE"}
    assert [(f["type"]["value"], f["original_amount"]) for f in fake.fees[user.primary_id]] == [
        ("CARD_REPLACEMENT", 5.0)]
    fake.down = True  # Alma unreachable: the next replacement is refused and nothing changes here
    page = manager.post(f"/patrons/{user.primary_id}/replace-card",
                        {"barcode": "21234567890777", "card_serial": "04AABBCCDDEE77"})
    assert page.status_code == 422 and "nothing was saved" in page.get_data(as_text=True)
    assert not Identifier.select().where(Identifier.value == "21234567890777").exists()
    assert Identifier.get(Identifier.value == "21234567890999").status == "ACTIVE"
    fake.down = False
    card = Identifier.get(Identifier.value == "04AABBCCDDEE99")
    manager.post(f"/patrons/{user.primary_id}/cards/{card.id}/unlink")
    assert "04AABBCCDDEE99" not in _alma_ids(fake, user.primary_id)
    assert not Identifier.select().where(Identifier.value == "04AABBCCDDEE99").exists()
    assert not any(e["violations"] for e in fake.log)


def test_batch_undo_and_the_card_office_import_go_to_alma(manager, alma):
    fake, _url = alma
    manager.post("/register", REGISTRATION)
    user = User.get(User.last_name == "Quillfeather")
    manager.post("/cards/batch", {"barcode": "21234567890123", "card_serial": "04000000000001"})
    fake.down = True
    page = manager.post("/cards/batch/undo")  # Alma unreachable: the card stays on both sides
    assert page.status_code == 422 and "nothing was saved" in page.get_data(as_text=True)
    assert Identifier.select().where(Identifier.value == "04000000000001").exists()
    fake.down = False
    manager.post("/cards/batch/undo")
    assert "04000000000001" not in _alma_ids(fake, user.primary_id)
    assert not Identifier.select().where(Identifier.value == "04000000000001").exists()
    data = f"primary_id,barcode,card_serial_number\n{user.primary_id},,04000000000002\n"
    assert manager.post("/cards/import", {"data": data}).status_code == 200
    assert _alma_ids(fake, user.primary_id)["04000000000002"] == "ACTIVE"
    fake.down = True
    data = f"primary_id,barcode,card_serial_number\n{user.primary_id},,04000000000003\n"
    page = manager.post("/cards/import", {"data": data})
    assert page.status_code == 422 and "nothing was saved" in page.get_data(as_text=True)
    assert not Identifier.select().where(Identifier.value == "04000000000003").exists()
    fake.down = False
    assert not any(e["violations"] for e in fake.log)
