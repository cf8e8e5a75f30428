"""The station's search page (provisioning/patrons.py ``find``) over the real store: a scanned barcode or a tapped
card opens the record, names are found without accents, results come in pages. The search itself is tested in
tests/store/test_patron_search.py."""
from library_kiosk.central.store.models import Phone, User
from tests.provisioning.helpers import REGISTRATION
from tests.store import factories


def test_a_scanned_barcode_opens_the_record(desk):
    factories.patron("P1", barcode="20000000000011", card=None, first_name="Ann", last_name="Smith")
    response = desk.get("/?q=20000000000011")
    assert (response.status_code, response.headers["Location"]) == (302, "/patrons/P1")


def test_a_card_tapped_into_the_search_box_opens_the_record_from_htmx(desk):
    factories.patron("P1", barcode=None, card="04A1B2C3D4E5F6", first_name="Ann", last_name="Smith")
    response = desk.get("/?q=04A1B2C3D4E5F6", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == "/patrons/P1"


def test_a_name_without_its_accents_lists_the_record(desk):
    factories.patron("P1", barcode=None, card=None, first_name="Inès", last_name="Wójcik")
    page = desk.get("/?q=wojcik+ines").get_data(as_text=True)
    assert 'href="/patrons/P1"' in page


def test_a_phone_number_lists_the_record(desk):
    user = factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    Phone.create(user=user, phone_number="020 7946 0958")
    page = desk.get("/?q=02079460958").get_data(as_text=True)
    assert 'href="/patrons/P1"' in page


def test_the_second_page_links_back_to_the_first(desk):
    for i in range(27):
        factories.patron(f"P{i:02d}", barcode=None, card=None, first_name="Ann", last_name="Nowak")
    page = desk.get("/?q=nowak&page=2").get_data(as_text=True)
    assert (page.count('data-testid="result-row"'), 'href="/?q=nowak&amp;page=1"' in page) == (2, True)


def test_nothing_found_says_so(desk):
    factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    page = desk.get("/?q=zzyzx").get_data(as_text=True)
    assert 'data-testid="no-results"' in page


def test_a_name_edited_at_the_station_is_found_by_its_new_spelling(manager):
    factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    manager.get("/?q=smith")  # every record has its key before the edit
    manager.post("/patrons/P1/general", {"first_name": "Inès", "last_name": "Wójcik", "user_group": "25",
                                         "expiry_date": "2027-07-01", "status": "ACTIVE"})
    page = manager.get("/?q=wojcik").get_data(as_text=True)
    assert 'href="/patrons/P1"' in page


def test_a_member_registered_at_the_station_is_found_without_accents(manager):
    manager.post("/register", dict(REGISTRATION, first_name="Zoë", last_name="Ólafsdóttir"))
    assert User.get(User.last_name == "Ólafsdóttir").search_name == "olafsdottir|zoe|"


def test_a_nul_in_the_query_answers_no_match_not_an_error(desk):
    factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    response = desk.get("/?q=ab%00cd")
    assert (response.status_code, 'data-testid="no-results"' in response.get_data(as_text=True)) == (200, True)


def test_a_control_character_in_the_query_is_shown_as_a_space(desk):
    factories.patron("P1", barcode=None, card=None, first_name="Ann", last_name="Smith")
    page = desk.get("/?q=ann%00smith").get_data(as_text=True)
    assert "matches “ann smith”" in page
