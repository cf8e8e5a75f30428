"""The notes the library left for the patron to see (user_viewable) on the kiosk's account screen (issue 17): a
*Messages* tab with its count, shown only when there are some, whose panel says each note in full; a note the
patron may not see is never shown."""
import re

from library_kiosk.central.store import records
from library_kiosk.central.store.models import Note, User
from tests.kiosk.helpers import HX, fill_cache, login

SEEN = "Your new card is ready: please collect it at the Science Library desk."
HIDDEN = "Staff only: identity checked twice"


def _notes(kiosk_app):
    user = User.get(User.primary_id == "P1")
    records.save_row(user, "note", {"note_text": SEEN, "note_type": "CIRCULATION", "user_viewable": "on"}, "desk")
    records.save_row(user, "note", {"note_text": HIDDEN, "note_type": "OTHER"}, "desk")
    fill_cache(kiosk_app)


def tabs(html: str) -> list[tuple[str, str]]:
    return re.findall(r'(\w[\w ]*) <span class="count">\((\d+)\)</span>', html)


def test_a_messages_tab_counts_the_notes_the_patron_may_see(kiosk, kiosk_app):
    _notes(kiosk_app)
    login(kiosk)
    assert tabs(kiosk.get("/account").get_data(as_text=True)) == [
        ("Loans", "5"), ("Requests", "2"), ("Fines and fees", "1"), ("Messages", "1")]


def test_the_messages_tab_shows_the_note_and_not_the_hidden_one(kiosk, kiosk_app):
    _notes(kiosk_app)
    login(kiosk)
    html = kiosk.get("/account/section/notes", headers=HX).get_data(as_text=True)
    shown = re.findall(r'<li class="note" data-page-item data-testid="note">([^<]*)</li>', html)
    assert (shown, HIDDEN in html, 'id="panel-notes" aria-labelledby="tab-notes" >' in html) == (
        [SEEN], False, True)


def test_no_messages_tab_without_a_note_to_see(kiosk, kiosk_app):
    Note.create(user=User.get(User.primary_id == "P1"), note_text=HIDDEN)  # not viewable
    fill_cache(kiosk_app)
    login(kiosk)
    html = kiosk.get("/account/section/notes", headers=HX).get_data(as_text=True)
    assert ("tab-notes" in html, HIDDEN in html, 'id="panel-loans" aria-labelledby="tab-loans" >' in html) == (
        False, False, True)


def test_the_tab_is_in_french_for_a_french_patron(kiosk, kiosk_app):
    user = User.get(User.primary_id == "P1")
    User.update(preferred_language="fr").where(User.id == user.id).execute()
    _notes(kiosk_app)
    login(kiosk)
    html = kiosk.get("/account").get_data(as_text=True)
    assert tabs(html)[-1] == ("Messages", "1") and "Amendes et frais" in html
