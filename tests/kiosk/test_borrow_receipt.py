"""The borrow receipt (issue 18): Finish on the borrow tray offers the receipt by the loans receipt's rules
(``[kiosk] receipts``, ``receipt_when``), listing the items borrowed on this visit with their barcodes and due
dates; by email through a real SMTP server (aiosmtpd), printed on the escpos File printer."""
from __future__ import annotations

import html as html_lib
import os

from library_kiosk.central.store import items
from library_kiosk.central.store.letters import Letter
from tests.helpers import mail_received
from tests.kiosk.helpers import HX, decode_escpos, login, mail_text

LINE = "Brighton Rock (barcode 39100), due 16 December 2026"  # the letter's line for the item borrowed today


def _set(kiosk_app, **values) -> None:
    kiosk_app.config["KIOSK"]["kiosk"].update(values)


def _text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _printed(printer_file) -> str:
    if not os.path.exists(printer_file):
        return ""
    with open(printer_file, "rb") as handle:
        return " ".join(decode_escpos(handle.read()).split())


def _borrow(kiosk, barcode="39100", title="Brighton Rock"):
    """P1 signed in, one item borrowed at the tray (not finished yet)."""
    items.Item.get_or_none(items.Item.barcode == barcode) or items.Item.create(
        barcode=barcode, title=title, library="MAIN")
    login(kiosk)
    kiosk.post("/borrow", headers=HX)
    kiosk.post("/borrow/item", data={"barcode": barcode}, headers=HX)


def test_the_emailed_borrow_receipt_lists_the_item_with_its_barcode_and_due_date(kiosk, smtp_server):
    _borrow(kiosk)
    kiosk.post("/borrow/finish", headers=HX)
    assert "Sent to your email address." in _text(kiosk.post("/borrow/receipt", data={"how": "email"}, headers=HX))
    assert LINE in mail_text(mail_received(smtp_server)[0])


def test_the_printed_borrow_receipt_lists_the_item_with_its_barcode_and_due_date(kiosk, printer_file):
    _borrow(kiosk)
    kiosk.post("/borrow/finish", headers=HX)
    kiosk.post("/borrow/receipt", data={"how": "print"}, headers=HX)
    assert "Items you borrowed" in _printed(printer_file) and \
        "Brighton Rock (39100): due 16 December 2026" in _printed(printer_file)


def test_the_printed_borrow_receipt_is_in_the_screens_language(kiosk, printer_file):
    _borrow(kiosk)
    kiosk.post("/language", data={"lang": "fr"}, headers=HX)
    kiosk.post("/borrow/finish", headers=HX)
    kiosk.post("/borrow/receipt", data={"how": "print"}, headers=HX)
    assert "Documents empruntés" in _printed(printer_file) and \
        "Brighton Rock (39100) : à rendre le 16 décembre 2026" in _printed(printer_file)


def test_no_email_choice_for_a_patron_without_an_address(kiosk):
    from library_kiosk.central.store.models import Email

    Email.delete().execute()
    _borrow(kiosk)
    page = _text(kiosk.post("/borrow/finish", headers=HX))
    assert 'data-testid="receipt-email"' not in page and 'data-testid="receipt-print"' in page


def test_an_email_receipt_asked_without_an_address_is_refused_and_sends_nothing(kiosk, smtp_server):
    from library_kiosk.central.store.models import Email

    Email.delete().execute()
    _borrow(kiosk)
    kiosk.post("/borrow/finish", headers=HX)
    answer = kiosk.post("/borrow/receipt", data={"how": "email"}, headers=HX)
    assert answer.status_code == 400 and Letter.select().count() == 0


def test_the_letter_limit_holds_for_the_borrow_receipt(kiosk, kiosk_app, config, smtp_server):
    config.setdefault("central", {})["letters_per_patron_per_hour"] = 0
    _borrow(kiosk)
    kiosk.post("/borrow/finish", headers=HX)
    kiosk.post("/borrow/receipt", data={"how": "email"}, headers=HX)
    mail_received(smtp_server, 0)


def test_always_gives_the_borrow_receipt_at_finish(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="always", receipts="email")
    _borrow(kiosk)
    page = _text(kiosk.post("/borrow/finish", headers=HX))
    assert 'data-testid="receipt-given"' in page and LINE in mail_text(mail_received(smtp_server)[0])


def test_never_offers_no_borrow_receipt(kiosk, kiosk_app):
    _set(kiosk_app, receipt_when="never")
    _borrow(kiosk)
    assert "Would you like a receipt?" not in _text(kiosk.post("/borrow/finish", headers=HX))


def test_on_timeout_says_the_receipt_goes_at_the_end_and_offers_no_no_receipt(kiosk, kiosk_app):
    _set(kiosk_app, receipt_when="on_timeout")
    _borrow(kiosk)
    page = _text(kiosk.post("/borrow/finish", headers=HX))
    assert 'data-testid="receipt-at-end"' in page and 'data-testid="receipt-none"' not in page


def test_on_timeout_emails_the_borrow_receipt_when_the_patron_presses_done(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="on_timeout")
    _borrow(kiosk)
    kiosk.post("/borrow/finish", headers=HX)
    kiosk.post("/done", headers=HX)
    assert LINE in mail_text(mail_received(smtp_server)[0])


def test_on_timeout_a_receipt_taken_at_finish_is_not_sent_again_at_the_end(kiosk, kiosk_app, smtp_server,
                                                                            printer_file):
    _set(kiosk_app, receipt_when="on_timeout")
    _borrow(kiosk)
    kiosk.post("/borrow/finish", headers=HX)
    kiosk.post("/borrow/receipt", data={"how": "print"}, headers=HX)
    kiosk.post("/done", headers=HX)
    mail_received(smtp_server, 0)


def test_on_timeout_an_item_given_back_with_undo_leaves_nothing_to_send_at_the_end(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="on_timeout")
    _borrow(kiosk)
    kiosk.post("/borrow/undo", headers=HX)
    kiosk.post("/done", headers=HX)
    mail_received(smtp_server, 0)


def test_a_receipt_before_another_loan_does_not_stop_the_one_at_the_end(kiosk, kiosk_app, smtp_server,
                                                                         printer_file):
    _set(kiosk_app, receipt_when="on_timeout")
    _borrow(kiosk)
    kiosk.post("/borrow/finish", headers=HX)
    kiosk.post("/borrow/receipt", data={"how": "print"}, headers=HX)
    items.Item.create(barcode="39101", title="The Third Man", library="MAIN")
    kiosk.get("/borrow", headers=HX)  # Borrow more
    kiosk.post("/borrow/item", data={"barcode": "39101"}, headers=HX)
    kiosk.post("/done", headers=HX)
    assert "The Third Man (barcode 39101)" in mail_text(mail_received(smtp_server)[0])



def test_always_gives_another_receipt_after_borrow_more(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="always", receipts="email")
    _borrow(kiosk)
    kiosk.post("/borrow/finish", headers=HX)
    items.Item.create(barcode="39101", title="The Third Man", library="MAIN")
    kiosk.get("/borrow", headers=HX)  # Borrow more
    kiosk.post("/borrow/item", data={"barcode": "39101"}, headers=HX)
    kiosk.post("/borrow/finish", headers=HX)
    assert "The Third Man (barcode 39101)" in mail_text(mail_received(smtp_server, 2)[1])
