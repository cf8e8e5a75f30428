"""When receipts go (``[kiosk] receipt_when``: ask / always / on_timeout / never) and a receipt for each
section of the account (loans, requests, fines and fees): by email through a real SMTP server (aiosmtpd),
printed on the escpos File printer (decoded as a printer would print it)."""
from __future__ import annotations

import os
from decimal import Decimal

import pytest

from kiosk import usage
from kiosk.cache import cache_db
from kiosk.receipts import ReceiptSettingsError
from library_kiosk.central.store import changes
from library_kiosk.central.store.letters import Letter
from library_kiosk.central.store.models import Fee, Loan, User
from tests.helpers import mail_received
from tests.kiosk.helpers import HX, decode_escpos, fill_cache, login, mail_text
from tests.store.factories import TODAY


def _set(kiosk_app, **values) -> None:
    kiosk_app.config["KIOSK"]["kiosk"].update(values)


def _printed(printer_file) -> str:
    """What the printer printed, words joined by single spaces (lines are wrapped at 42)."""
    if not os.path.exists(printer_file):
        return ""
    with open(printer_file, "rb") as handle:
        return " ".join(decode_escpos(handle.read()).split())


def _counts(kiosk_app) -> dict:
    with kiosk_app.app_context(), cache_db.connection_context():
        return usage.counts(TODAY).get(TODAY.isoformat(), {})


@pytest.fixture
def fees(kiosk, kiosk_app):
    """P1 also owes a lost item replacement fee for a title with accents (with the 2.50 overdue fine: 47.50)."""
    user = User.get(User.primary_id == "P1")
    Fee.create(user=user, fee_type="LOSTITEMREPLACEMENTFEE", original_amount=Decimal("45.00"),
               balance=Decimal("45.00"), title="Les Misérables")
    Fee.create(user=user, fee_type="OVERDUEFINE", original_amount=Decimal("9.00"), balance=Decimal("0.00"),
               status="CLOSED", title="Paid long ago")
    changes.record("P1")
    fill_cache(kiosk_app)
    return kiosk


# --- receipt_when -------------------------------------------------------------------------------------------

def test_always_emails_the_receipt_at_once_and_says_so(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="always", receipts="email")
    login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert 'data-testid="receipt-given"' in html and "Sent to your email address." in html
    assert "Would you like a receipt?" not in html  # nothing to choose: it went
    text = mail_text(mail_received(smtp_server)[0])
    assert "Middlemarch" in text and "16 December 2026" in text  # the new due date
    kiosk.post("/done")
    mail_received(smtp_server, 1)  # not a second one at the end
    assert _counts(kiosk_app)["receipts_emailed"] == 1


def test_always_prints_at_once_with_receipts_print(kiosk, kiosk_app, printer_file, smtp_server):
    _set(kiosk_app, receipt_when="always", receipts="print")
    login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "Your receipt is printing." in html and 'data-testid="receipt-print"' not in html
    printed = _printed(printer_file)
    assert "Your loans" in printed and "Zoë Ólafsdóttir" in printed
    assert "Les Misérables: due 16 December 2026 - renewed" in printed
    mail_received(smtp_server, 0)


def test_on_timeout_emails_the_receipt_when_the_patron_presses_done(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="on_timeout")
    login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert 'data-testid="receipt-at-end"' in html and 'data-testid="receipt-email"' in html  # may still choose
    mail_received(smtp_server, 0)  # nothing yet
    assert "Thank you" in kiosk.post("/done", headers=HX).get_data(as_text=True)
    message = mail_received(smtp_server)[0]
    assert message["To"] == "zoe@example.org"
    text = mail_text(message)
    assert "Middlemarch" in text and "16 December 2026" in text
    assert Letter.get().letter_type == "FulUserBorrowingActivityLetter"
    counts = _counts(kiosk_app)
    assert counts["receipts_at_end"] == 1 and counts["receipts_emailed"] == 1 and counts["ended_done"] == 1


def test_on_timeout_offline_queues_the_receipt_and_it_goes_when_the_central_store_is_back(
        kiosk, kiosk_app, live_central, central_app, smtp_server):
    from kiosk import outbox
    from tests.helpers import LiveServer

    _set(kiosk_app, receipt_when="on_timeout", offline_renewals="local")
    login(kiosk)
    live_central.stop()  # the network goes: renewals are decided here, pending
    assert "Pending" in kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "Thank you" in kiosk.post("/done", headers=HX).get_data(as_text=True)
    with kiosk_app.app_context(), cache_db.connection_context():
        assert [item.op_type for item in outbox.pending()] == ["renew", "send_letter"]  # the receipt after them
    mail_received(smtp_server, 0)
    back = LiveServer(central_app)
    try:
        central = kiosk_app.extensions["central"]
        central.base_url = back.url
        with kiosk_app.app_context(), cache_db.connection_context():
            outbox.push(central, kiosk_app.extensions["patron_cache"])
        text = mail_text(mail_received(smtp_server)[0])
        assert "Middlemarch" in text and "16 December 2026" in text  # applied after the renewals it follows
    finally:
        back.stop()


def test_on_timeout_emails_the_receipt_when_the_page_times_out(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="on_timeout")
    login(kiosk)
    kiosk.post("/renew", headers=HX)
    kiosk.post("/done", data={"ended": "timeout"}, headers=HX)  # what kiosk.js posts at the idle timeout
    assert "Les Misérables" in mail_text(mail_received(smtp_server)[0])
    assert _counts(kiosk_app)["ended_timeout"] == 1


def test_on_timeout_emails_the_receipt_when_the_server_ends_an_idle_session(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="on_timeout")
    login(kiosk)
    kiosk.post("/renew", headers=HX)
    with kiosk.session_transaction() as session:  # a page that stopped counting (closed, crashed)
        session["seen"] -= kiosk_app.config["KIOSK"]["kiosk"]["idle_timeout_seconds"] + 60
    assert kiosk.get("/account").status_code == 302  # the session is over
    assert "Middlemarch" in mail_text(mail_received(smtp_server)[0])
    kiosk.post("/done")
    mail_received(smtp_server, 1)  # once


def test_on_timeout_sends_nothing_when_a_receipt_was_taken_or_nothing_renewed(kiosk, kiosk_app, smtp_server,
                                                                             printer_file):
    _set(kiosk_app, receipt_when="on_timeout")
    login(kiosk)
    assert 'data-testid="receipt-at-end"' in kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "Your receipt is printing." in kiosk.post("/receipt", data={"how": "print"}, headers=HX).get_data(
        as_text=True)
    kiosk.post("/done")
    mail_received(smtp_server, 0)
    login(kiosk)  # a session with no renewal at all
    kiosk.post("/done")
    login(kiosk)  # a renewal refused: nothing was renewed
    second_sex = Loan.get(Loan.title == "The Second Sex")
    html = kiosk.post("/renew", data={"loan_id": str(second_sex.id)}, headers=HX).get_data(as_text=True)
    assert "0 of 1 renewed." in html and 'data-testid="receipt-at-end"' not in html
    kiosk.post("/done")
    mail_received(smtp_server, 0)


def test_on_timeout_with_a_new_renewal_after_a_receipt_sends_the_new_one(kiosk, kiosk_app, smtp_server):
    _set(kiosk_app, receipt_when="on_timeout")
    login(kiosk)
    kiosk.post("/renew", data={"loan_id": str(Loan.get(Loan.title == "Middlemarch").id)}, headers=HX)
    assert "Sent to your email address." in kiosk.post("/receipt", data={"how": "email"}, headers=HX).get_data(
        as_text=True)
    kiosk.post("/renew", data={"loan_id": str(Loan.get(Loan.title == "Les Misérables").id)}, headers=HX)
    kiosk.post("/done")
    messages = mail_received(smtp_server, 2)
    assert "16 December 2026" in mail_text(messages[1])


def test_on_timeout_with_receipts_print_is_refused_at_start(config):
    import kiosk

    config["kiosk"].update(receipts="print", receipt_when="on_timeout")
    with pytest.raises(ReceiptSettingsError, match='receipt_when = "on_timeout" cannot be used with receipts = '
                                                   '"print"'):
        kiosk.create_app(config, today=lambda: TODAY)
    config["kiosk"].update(receipts="email", receipt_when="sometimes")
    with pytest.raises(ReceiptSettingsError, match="receipt_when = 'sometimes' is not one of"):
        kiosk.create_app(config, today=lambda: TODAY)


def test_never_offers_no_receipt_after_renewals_and_sends_none(kiosk, kiosk_app, smtp_server, printer_file):
    _set(kiosk_app, receipt_when="never")
    login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "receipt" not in html.lower()
    kiosk.post("/done")
    mail_received(smtp_server, 0)
    assert _printed(printer_file) == ""


def test_ask_offers_the_choice_and_sends_nothing_by_itself(kiosk, kiosk_app, smtp_server, printer_file):
    assert kiosk_app.config["KIOSK"]["kiosk"]["receipt_when"] == "ask"  # the default: as before
    login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "Would you like a receipt?" in html and 'data-testid="receipt-at-end"' not in html
    kiosk.post("/done")
    mail_received(smtp_server, 0)
    assert _printed(printer_file) == ""


# --- a receipt for each section of the account --------------------------------------------------------------

def test_account_screen_offers_a_receipt_for_each_section(fees):
    login(fees)
    html = fees.get("/account").get_data(as_text=True)
    for testid in ("email-loans", "print-loans", "email-requests", "print-requests", "email-fees", "print-fees"):
        assert f'data-testid="{testid}"' in html, testid


def test_fees_by_email_in_utf8(fees, kiosk_app, smtp_server):
    login(fees)
    html = fees.post("/receipt", data={"what": "fees", "how": "email"}, headers=HX).get_data(as_text=True)
    assert "Sent to your email address." in html
    message = mail_received(smtp_server)[0]
    assert message["To"] == "zoe@example.org" and message["Subject"] == "Main Library: your fines and fees"
    body = message.get_payload()[0]
    assert body.get_content_charset() == "utf-8"
    text = mail_text(message)
    assert "Dear Zoë Ólafsdóttir" in text
    assert "* Lost item replacement fee (Les Misérables)" in text and ": £45.00" in text
    assert "Overdue fine" in text and "Paid long ago" not in text
    assert "Total owed: £47.50" in text
    html = message.get_payload()[1].get_payload(decode=True).decode("utf-8")
    assert "<td>Les Misérables</td>" in html and "47.50" in html
    letter = Letter.get()
    assert letter.letter_type == "FulFinesFeesNotificationLetter" and letter.sent_by == "kiosk:kiosk-1"
    assert _counts(kiosk_app)["fees_emailed"] == 1


def test_fees_printed(fees, kiosk_app, printer_file):
    login(fees)
    html = fees.post("/receipt", data={"what": "fees", "how": "print"}, headers=HX).get_data(as_text=True)
    assert "Your receipt is printing." in html
    printed = _printed(printer_file)
    assert "Main Library Your fines and fees Zoë Ólafsdóttir" in printed
    assert printed.index("Overdue fine: £2.50") < printed.index(
        "Lost item replacement fee (Les Misérables): £45.00") < printed.index("Total: £47.50")
    assert "Paid long ago" not in printed
    assert _counts(kiosk_app)["fees_printed"] == 1


def test_fees_printed_in_french(fees, kiosk_app, printer_file):
    fees.post("/language", data={"lang": "fr"})
    login(fees)
    fees.post("/receipt", data={"what": "fees", "how": "print"}, headers=HX)
    printed = _printed(printer_file)
    assert "Vos amendes et frais" in printed and "Total : 47,50 £" in printed  # (no-break spaces, printed)


def test_requests_printed_ready_for_pickup_first(kiosk, kiosk_app, printer_file):
    login(kiosk)
    html = kiosk.post("/receipt", data={"what": "requests", "how": "print"}, headers=HX).get_data(as_text=True)
    assert "Your receipt is printing." in html
    printed = _printed(printer_file)
    assert "Your requests" in printed
    ready = printed.index("Beloved: ready for pickup at Science Library")
    assert ready < printed.index("Dubliners: Not yet active - pickup at Main Library - place in queue: 3")
    assert _counts(kiosk_app)["requests_printed"] == 1


def test_requests_by_email(kiosk, smtp_server):
    login(kiosk)
    html = kiosk.get("/account").get_data(as_text=True)
    assert 'data-testid="receipt-requests"' in html and 'data-testid="email-requests"' in html
    assert "Sent to your email address." in kiosk.post("/requests-report", headers=HX).get_data(as_text=True)
    text = mail_text(mail_received(smtp_server)[0])
    assert text.index("Ready for pickup") < text.index("Beloved") < text.index("Dubliners")


def test_loans_from_the_account_screen_by_email_and_print(kiosk, smtp_server, printer_file):
    login(kiosk)
    html = kiosk.get("/account").get_data(as_text=True)
    assert 'data-testid="email-loans"' in html and 'data-testid="print-loans"' in html
    html = kiosk.post("/receipt", data={"what": "loans", "how": "email"}, headers=HX).get_data(as_text=True)
    assert "Sent to your email address." in html
    text = mail_text(mail_received(smtp_server)[0])
    assert "Gödel, Escher, Bach" in text and "Middlemarch" in text
    kiosk.post("/receipt", data={"what": "loans", "how": "print"}, headers=HX)
    printed = _printed(printer_file)
    assert "Your loans" in printed and "Gödel, Escher, Bach: due" in printed and "renewed" not in printed


# --- nothing offered where the section is empty or the way is not available -----------------------------------

def test_nothing_offered_for_empty_sections(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000044"})  # P4: no loans, requests, fees or email
    assert "Amélie Dubois" in kiosk.post("/pin", data={"pin": "2468"}).get_data(as_text=True)
    html = kiosk.get("/account").get_data(as_text=True)
    assert "receipt-" not in html and "email-" not in html and "print-" not in html
    for what in ("loans", "requests", "fees"):
        assert kiosk.post("/receipt", data={"what": what, "how": "print"}, headers=HX).status_code == 400


def test_only_the_ways_available_are_offered(kiosk, kiosk_app):
    kiosk.post("/identify", data={"identifier": "20000000000033"})  # P3: one request, no email, no PIN needed
    html = kiosk.get("/account").get_data(as_text=True)
    assert 'data-testid="print-requests"' in html and 'data-testid="email-requests"' not in html
    assert "receipt-fees" not in html and "receipt-loans" not in html
    assert kiosk.post("/receipt", data={"what": "requests", "how": "email"}, headers=HX).status_code == 400
    assert kiosk.post("/receipt", data={"what": "fees", "how": "print"}, headers=HX).status_code == 400
    kiosk.post("/done")
    kiosk_app.config["KIOSK"]["kiosk"]["printer"]["kind"] = "none"  # no printer: email only
    login(kiosk)
    html = kiosk.get("/account").get_data(as_text=True)
    assert 'data-testid="email-fees"' in html and "print-" not in html
    assert kiosk.post("/receipt", data={"what": "fees", "how": "print"}, headers=HX).status_code == 400
    _set(kiosk_app, receipts="none")  # no receipts at all
    html = kiosk.get("/account").get_data(as_text=True)
    assert "receipt-" not in html and "email-" not in html
    assert kiosk.post("/receipt", data={"what": "fees", "how": "email"}, headers=HX).status_code == 400


def test_loans_hidden_until_shown_are_not_offered(kiosk, kiosk_app):
    _set(kiosk_app, show_loans_on_open=False)
    login(kiosk)
    assert "receipt-loans" not in kiosk.get("/account").get_data(as_text=True)
    assert kiosk.post("/receipt", data={"what": "loans", "how": "print"}, headers=HX).status_code == 400
    assert "receipt-loans" in kiosk.post("/account/loans", headers=HX).get_data(as_text=True)
