"""Read-through at the tap (issue 14): with a library system behind the central store, identifying a patron at
the kiosk reads them from it (Alma through Prism here), so a patron the store has never seen is found in one
tap and a block lifted upstream is gone at the next; with the library system away the kiosk serves its own
copy and says as of when, and a card it does not know is "cannot be checked", never "not registered"."""
import pytest

BARCODE = "20000000000111"  # AL1 in Alma (tests/upstream/alma_fake.py example_user)
BLOCK = {"block_type": {"value": "GENERAL", "desc": "General"}, "block_description":
         {"value": "LIBRARY_CARD", "desc": "Please see the desk about your library card"},
         "block_status": "ACTIVE"}


@pytest.fixture
def central_app(alma_central):
    """The central store in front of Alma (Prism), with nobody in the store yet."""
    return alma_central


def _tap(kiosk):
    return kiosk.post("/identify", data={"identifier": BARCODE})


def test_a_patron_the_store_has_never_seen_is_found_in_one_tap(synced_kiosk, alma):
    from kiosk.cache import cache_db

    kiosk = synced_kiosk.test_client()
    answer = _tap(kiosk)
    assert answer.status_code == 200 and "Enter your PIN" in answer.get_data(as_text=True)
    assert "Middlemarch" in kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)
    with cache_db.connection_context():  # kept: the next tap finds the card here even with Alma away
        assert synced_kiosk.extensions["patron_cache"].find(BARCODE).primary_id == "AL1"


def test_a_block_lifted_upstream_is_gone_at_the_next_tap(synced_kiosk, alma):
    fake, _url = alma
    fake.users["AL1"]["user_block"] = [BLOCK]
    kiosk = synced_kiosk.test_client()
    _tap(kiosk)
    assert "Please see the desk about your library card" in kiosk.post("/pin", data={"pin": "2468"}).get_data(
        as_text=True)
    kiosk.post("/done")
    fake.users["AL1"]["user_block"] = []  # lifted at the library system
    _tap(kiosk)
    html = kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)
    assert "Middlemarch" in html and "Please see the desk about your library card" not in html


def test_with_the_library_system_away_the_kiosk_says_as_of_when(synced_kiosk, alma):
    from kiosk import sync
    from kiosk.cache import cache_db

    fake, _url = alma
    kiosk = synced_kiosk.test_client()
    _tap(kiosk)  # read through once; Alma says the PIN is right, so the store keeps its offline check value
    assert "as of" not in kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)
    kiosk.post("/done")
    with cache_db.connection_context():  # the sync worker's next pull brings the check value
        sync.pull(synced_kiosk.extensions["central"], synced_kiosk.extensions["patron_cache"])
    fake.down = True
    answer = _tap(kiosk)
    assert answer.status_code == 200 and "Enter your PIN" in answer.get_data(as_text=True)  # from the cache
    html = kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)  # checked here: Alma cannot be asked
    assert "Middlemarch" in html and "Shown as of" in html


def test_a_card_nobody_knows_while_the_library_system_is_away_is_not_called_unregistered(synced_kiosk, alma):
    fake, _url = alma
    fake.down = True
    answer = synced_kiosk.test_client().post("/identify", data={"identifier": "20000000000999"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 503 and "cannot be checked just now" in html and "not registered" not in html


def test_a_card_the_library_system_does_not_know_is_not_registered(synced_kiosk, alma):
    answer = synced_kiosk.test_client().post("/identify", data={"identifier": "20000000000999"})
    assert answer.status_code == 404 and "not registered" in answer.get_data(as_text=True)
