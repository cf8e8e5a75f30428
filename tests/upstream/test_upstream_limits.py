"""The central store's API in front of Alma obeys the store's input limits (store/limits.py): a card tap whose
Alma record holds a name longer than its limit is answered 502 ``invalid_upstream_record`` with a message naming
the field and the limit, and nothing of the record is kept. Alma here is Prism serving the vendor's description
with recorded examples behind it (tests/upstream/alma_fake.py)."""
import pytest

from library_kiosk.central import api as central
from library_kiosk.central.store.models import Identifier, User
from tests.helpers import TODAY, device_client
from tests.upstream.alma_fake import example_user


@pytest.fixture
def alma_api(central_db, config, alma, device_token):
    fake, url = alma
    config["upstream"].update({"kind": "alma", "alma_base_url": url, "alma_api_key": "l7xx-test",
                               "alma_max_per_second": 200, "alma_max_retries": 0, "fresh_seconds": 0})
    return fake, device_client(central.create_app(config, today=lambda: TODAY), device_token)


def test_a_tapped_card_whose_alma_record_has_a_ten_thousand_character_name_is_refused(alma_api):
    fake, api = alma_api
    fake.add_user(example_user(first="Z" * 10_000))
    response = api.post("/api/v1/patrons/refresh", query_string={"identifier": "04AABBCCDDEE01"})
    assert (response.status_code, response.json["error"]["code"], response.json["error"]["message"],
            User.select().count(), Identifier.select().count()) == (
        502, "invalid_upstream_record", "The library system's record of this patron cannot be kept here, so nothing "
        "was saved: First name is too long: at most 100 characters (this one has 10,000).", 0, 0)


def test_a_name_at_the_limit_is_kept(alma_api):
    fake, api = alma_api
    fake.add_user(example_user(first="Z" * 100))
    response = api.post("/api/v1/patrons/refresh", query_string={"identifier": "04AABBCCDDEE01"})
    assert (response.status_code, User.get(User.primary_id == "AL1").first_name) == (200, "Z" * 100)
