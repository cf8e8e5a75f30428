"""Read-through of Alma's user notes (issue 17): the notes Alma marks ``user_viewable`` reach the kiosk's account
screen at the tap (Alma through Prism here); a note the patron may not see is neither stored by the central store
nor shown; a note removed in Alma is gone at the next tap."""
import pytest

from tests.kiosk.helpers import HX

BARCODE = "20000000000111"  # AL1 in Alma (tests/upstream/alma_fake.py example_user)
SEEN = {"note_type": {"value": "CIRCULATION", "desc": "Circulation"}, "note_text": "Your new card is at the desk",
        "user_viewable": True, "popup_note": False, "segment_type": "Internal"}
HIDDEN = {"note_type": {"value": "OTHER", "desc": "Other"}, "note_text": "Staff only: card fraud suspected",
          "user_viewable": False, "popup_note": True, "segment_type": "Internal"}


@pytest.fixture
def central_app(alma_central):
    """The central store in front of Alma (Prism), with nobody in the store yet."""
    return alma_central


def _visit(kiosk) -> str:
    kiosk.post("/identify", data={"identifier": BARCODE})
    kiosk.post("/pin", data={"pin": "2468"})
    return kiosk.get("/account/section/notes", headers=HX).get_data(as_text=True)


def test_a_viewable_alma_note_is_shown_and_a_hidden_one_is_not_even_stored(synced_kiosk, alma):
    from library_kiosk.central.store.models import Note

    fake, _url = alma
    fake.users["AL1"]["user_note"] = [SEEN, HIDDEN]
    html = _visit(synced_kiosk.test_client())
    stored = sorted(n.note_text for n in Note.select())
    assert ("Your new card is at the desk" in html, "card fraud" in html, stored) == (
        True, False, ["Your new card is at the desk"])


def test_a_note_removed_in_alma_is_gone_at_the_next_tap(synced_kiosk, alma):
    fake, _url = alma
    fake.users["AL1"]["user_note"] = [SEEN]
    kiosk = synced_kiosk.test_client()
    assert "Your new card is at the desk" in _visit(kiosk)
    kiosk.post("/done")
    fake.users["AL1"]["user_note"] = []
    assert "Your new card is at the desk" not in _visit(kiosk)
