"""The library's card barcode rules ([readers.barcode], library_kiosk/domain/barcodes.py) at the kiosk: a scanned
code that is not a library card (a book's barcode) is refused without a lookup; a card barcode goes on as ever."""
import pytest

from kiosk import usage
from kiosk.cache_db import cache_db
from tests.store.factories import TODAY


@pytest.fixture
def config(config):
    config["readers"]["barcode"].update(prefix="2", min_length=14, max_length=14)
    return config


def test_a_book_barcode_is_not_taken_for_a_card(kiosk, kiosk_app):
    refused = kiosk.post("/identify", data={"identifier": "39990000000001"})  # a loan's item barcode
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "This is not a library card" in html and "Scan the barcode on your library card" in html
    with kiosk_app.app_context(), cache_db.connection_context():
        assert usage.counts(TODAY)[TODAY.isoformat()] == {"unknown_cards": 1}  # no session was started


def test_a_card_barcode_that_follows_the_rules_is_looked_up(kiosk):
    answer = kiosk.post("/identify", data={"identifier": "20000000000011"})
    assert answer.status_code == 200 and "Enter your PIN" in answer.get_data(as_text=True)
