"""Borrow and Return at the kiosk (kiosk/circulation.py, kiosk/tray.py) through the Flask test client, against a
live central store; the RFID path through the real reader service with its simulated item pad."""
import datetime as dt
import html as html_lib
from decimal import Decimal

import pytest

from kiosk.events import read_item_token, render_item, tap_token
from library_kiosk.central.store import items
from library_kiosk.central.store.models import Loan, UserGroup
from tests.helpers import reader_service_process
from tests.kiosk.helpers import decode_escpos
from tests.kiosk.pad import place, read_pad
from tests.store.factories import TODAY, hold, loan, patron

HX = {"HX-Request": "true"}


def book(barcode, title=None, **policy):
    return items.Item.create(barcode=barcode, title=title or f"Book {barcode}", library="MAIN", **policy)


def _login(kiosk, barcode="20000000000011", pin="2468"):
    kiosk.post("/identify", data={"identifier": barcode})
    return kiosk.post("/pin", data={"pin": pin})


def _open_loan(barcode):
    return Loan.get_or_none((Loan.item_barcode == barcode) & Loan.still_out())


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


@pytest.fixture
def borrowing(kiosk):
    """P1 signed in, at the borrow tray."""
    _login(kiosk)
    kiosk.post("/borrow")
    return kiosk


def test_the_account_offers_borrow_when_the_upstream_lends(kiosk):
    assert 'data-testid="borrow"' in _text(_login(kiosk))


def test_borrow_needs_a_signed_in_patron(kiosk):
    answer = kiosk.post("/borrow")
    assert "Tap your card or scan your barcode" in _text(answer) and 'data-testid="tray"' not in _text(answer)


def test_a_scanned_item_is_lent_and_shown_with_its_due_date(borrowing):
    book("39100", "Brighton Rock")
    page = _text(borrowing.post("/borrow/item", data={"barcode": "39100"}))
    assert "Brighton Rock" in page and "Due back on 16 December 2026." in page
    assert _open_loan("39100").user.primary_id == "P1"


def test_a_refused_item_shows_its_plain_reason_and_is_not_lent(borrowing):
    book("39101", "Reference Atlas", circulates=False)
    page = _text(borrowing.post("/borrow/item", data={"barcode": "39101"}))
    assert "Not borrowed" in page and "It is for use in the library only." in page
    assert _open_loan("39101") is None


def test_an_empty_scan_says_so_and_changes_nothing(borrowing):
    before = Loan.select().count()
    answer = borrowing.post("/borrow/item", data={"barcode": "   "})
    assert answer.status_code == 400 and "Nothing was scanned." in _text(answer)
    assert Loan.select().count() == before


def test_a_code_too_long_for_an_item_is_refused_and_changes_nothing(borrowing):
    before = Loan.select().count()
    answer = borrowing.post("/borrow/item", data={"barcode": "3" * 61})
    assert answer.status_code == 400 and "This is not an item's barcode." in _text(answer)
    assert Loan.select().count() == before


def test_undo_gives_back_the_last_item_only(borrowing):
    book("39102", "First Book")
    book("39103", "Second Book")
    borrowing.post("/borrow/item", data={"barcode": "39102"})
    borrowing.post("/borrow/item", data={"barcode": "39103"})
    page = _text(borrowing.post("/borrow/undo"))
    assert "The last item has been given back." in page
    assert _open_loan("39103") is None and _open_loan("39102") is not None
    again = borrowing.post("/borrow/undo")
    assert again.status_code == 400 and _open_loan("39102") is not None


def test_finish_offers_the_loans_receipt_and_prints_it(borrowing, printer_file):
    book("39104", "Printed Book")
    borrowing.post("/borrow/item", data={"barcode": "39104"})
    page = _text(borrowing.post("/borrow/finish"))
    assert "You have borrowed" in page and 'data-testid="receipt-print"' in page and "Printed Book" in page
    notice = _text(borrowing.post("/borrow/receipt", data={"how": "print"}))
    assert "Your receipt is printing." in notice
    with open(printer_file, "rb") as handle:
        assert "Printed Book" in decode_escpos(handle.read())


def test_done_after_borrowing_leaves_nothing_of_the_visit(borrowing):
    book("39105", "Secret Garden")
    borrowing.post("/borrow/item", data={"barcode": "39105"})
    page = _text(borrowing.post("/done"))
    assert "Secret Garden" not in page and "Zoë" not in page
    assert "Secret Garden" not in _text(borrowing.get("/borrow"))


def test_return_needs_no_identification_and_says_where_the_item_goes(kiosk, central_db):
    reader = patron("P9", barcode="20000000000099", card="04CCCCCCCCCCCC", first_name="Wilhelmina")
    book("39200", "Hold Shelf Book")
    loan(reader, "Hold Shelf Book", barcode="39200")
    hold(patron("P8", barcode="20000000000088", card="04DDDDDDDDDDDD"), item_barcode="39200", place=1)
    page = _text(kiosk.post("/return"))
    assert 'data-testid="return"' in page
    page = _text(kiosk.post("/return/item", data={"barcode": "39200"}))
    assert "Please put this item on the hold shelf." in page
    assert "Wilhelmina" not in page and _open_loan("39200") is None


def test_a_late_return_mentions_the_fee_without_naming_anyone(kiosk, central_db):
    UserGroup.update(fine_per_day=Decimal("0.20")).where(UserGroup.code == "25").execute()
    reader = patron("P9", barcode="20000000000099", card="04CCCCCCCCCCCC", first_name="Wilhelmina")
    book("39201", "Late Book")
    loan(reader, "Late Book", barcode="39201", due=TODAY - dt.timedelta(days=2))
    kiosk.post("/return")
    page = _text(kiosk.post("/return/item", data={"barcode": "39201"}))
    assert "A late fee of £0.40 was added to the borrower's account." in page
    assert "Wilhelmina" not in page


def test_a_book_scanned_by_the_reader_service_on_the_return_screen_is_returned_not_looked_up(kiosk, kiosk_app):
    reader = patron("P9", barcode="20000000000099", card="04CCCCCCCCCCCC")
    book("39202", "Scanned Book")
    loan(reader, "Scanned Book", barcode="39202")
    kiosk.post("/return")
    page = _text(kiosk.post("/identify", data={"tap": tap_token(kiosk_app, "39202", "barcode")}))
    assert "Returned" in page and "Thank you." in page and _open_loan("39202") is None


def test_the_return_screen_in_french(kiosk):
    kiosk.post("/language", data={"lang": "fr"})
    page = _text(kiosk.post("/return"))
    assert "Rendre des documents" in page and "Scannez le code-barres de chaque document" in page


# --- the item pad, through the real reader service and its simulator -------------------------------------------------

@pytest.fixture
def pad(tmp_path, kiosk_app):
    with reader_service_process(tmp_path, "Simulated reader") as url:
        kiosk_app.config["KIOSK"]["readers"]["service_url"] = url
        yield url


def _pad_post(kiosk, kiosk_app, event):
    """What the page does with the event stream's ``items`` message: post its token to /items/pad."""
    import re

    text = render_item(kiosk_app, event)
    token = re.search(r'name="tags" value="([^"]+)"', text).group(1)
    return kiosk.post("/items/pad", data={"tags": token}, headers=HX)


def test_an_rfid_item_is_lent_and_its_security_cleared(borrowing, kiosk_app, pad):
    book("39300", "Tagged Book")
    page = _text(_pad_post(borrowing, kiosk_app, place(pad, "E004010000000001", "39300")))
    assert "Tagged Book" in page and "Due back on" in page
    assert _open_loan("39300") is not None
    assert read_pad(pad)["E004010000000001"].secured is False


def test_a_tag_whose_security_does_not_take_undoes_the_loan(borrowing, kiosk_app, pad):
    book("39301", "Stubborn Tag")
    page = _text(_pad_post(borrowing, kiosk_app, place(pad, "E004010000000002", "39301", security_fails=True)))
    assert "This item could not be made ready to leave the library." in page
    assert _open_loan("39301") is None


def test_a_partial_set_is_refused_until_every_part_is_on_the_pad(borrowing, kiosk_app, pad):
    book("39302", "Two-Part Course")
    page = _text(_pad_post(borrowing, kiosk_app, place(pad, "E004010000000003", "39302", parts=2, part=1)))
    assert "not all of them are on the reader" in page and "Missing: 2 of 2." in page
    assert _open_loan("39302") is None
    page = _text(_pad_post(borrowing, kiosk_app, place(pad, "E004010000000004", "39302", parts=2, part=2)))
    assert "Due back on" in page and "Missing" not in page and _open_loan("39302") is not None


def test_a_returned_rfid_item_is_secured_again(kiosk, kiosk_app, pad):
    reader = patron("P9", barcode="20000000000099", card="04CCCCCCCCCCCC")
    book("39303", "Coming Back")
    loan(reader, "Coming Back", barcode="39303")
    kiosk.post("/return")
    page = _text(_pad_post(kiosk, kiosk_app, place(pad, "E004010000000005", "39303", secured=False)))
    assert "Returned" in page and "Thank you." in page and _open_loan("39303") is None
    assert read_pad(pad)["E004010000000005"].secured is True


def test_the_pad_elsewhere_does_nothing(kiosk, kiosk_app, pad):
    book("39304", "Left On The Pad")
    answer = _pad_post(kiosk, kiosk_app, place(pad, "E004010000000006", "39304"))
    assert answer.status_code == 204 and _open_loan("39304") is None


def test_an_item_token_works_once(kiosk, kiosk_app):
    from kiosk.events import item_token

    token = item_token(kiosk_app, "[]")
    assert read_item_token(kiosk_app, token) == "[]" and read_item_token(kiosk_app, token) is None


def test_a_language_switch_on_the_tray_keeps_the_tray_and_its_rows(borrowing):
    book("39106", "Le Petit Prince")
    borrowing.post("/borrow/item", data={"barcode": "39106"})
    page = _text(borrowing.post("/language", data={"lang": "fr"}))
    assert "Le Petit Prince" in page and "À rendre le 16 décembre 2026." in page


def test_help_on_the_return_screen_goes_back_to_it(kiosk):
    kiosk.post("/return")
    page = _text(kiosk.get("/help"))
    assert 'hx-get="/return"' in page


def test_offline_a_return_is_taken_and_queued(kiosk, kiosk_app):
    from kiosk import outbox, sync
    from kiosk.cache_db import cache_db

    reader = patron("P9", barcode="20000000000099", card="04CCCCCCCCCCCC")
    book("39203", "Offline Return")
    loan(reader, "Offline Return", barcode="39203")
    kiosk.post("/return")
    kiosk_app.extensions["central"].base_url = "http://127.0.0.1:9"  # nothing listens there
    with kiosk_app.app_context(), cache_db.connection_context():
        sync.note_online(kiosk_app.extensions["patron_cache"], False, "test: offline")
    page = _text(kiosk.post("/return/item", data={"barcode": "39203"}))
    assert "The library system will be told as soon as it can be reached." in page
    with kiosk_app.app_context(), cache_db.connection_context():
        assert outbox.length() == 1
    assert _open_loan("39203") is not None  # not yet: the central store has not been told


def test_a_forged_pad_token_does_nothing(borrowing):
    book("39305", "Forged")
    answer = borrowing.post("/items/pad", data={"tags": "not-a-token"})
    assert answer.status_code == 204 and _open_loan("39305") is None


def test_undo_of_an_rfid_loan_secures_its_tag_again(borrowing, kiosk_app, pad):
    book("39306", "Changed My Mind")
    _pad_post(borrowing, kiosk_app, place(pad, "E004010000000007", "39306"))
    assert read_pad(pad)["E004010000000007"].secured is False
    borrowing.post("/borrow/undo")
    assert _open_loan("39306") is None and read_pad(pad)["E004010000000007"].secured is True


def test_undo_reaches_only_into_this_visit(borrowing):
    book("39107", "Last Visit's Book")
    borrowing.post("/borrow/item", data={"barcode": "39107"})
    borrowing.post("/done")
    _login(borrowing)
    borrowing.post("/borrow")
    assert borrowing.post("/borrow/undo").status_code == 400
    assert _open_loan("39107") is not None
