"""Requests report and loans receipt: by email through a real SMTP server, or printed (escpos File)."""
from library_kiosk.central.store.letters import Letter
from tests.helpers import mail_received
from tests.kiosk.helpers import HX, decode_escpos, login, mail_text


def test_email_me_my_requests(kiosk, smtp_server, central_db):
    login(kiosk)
    html = kiosk.post("/requests-report", headers=HX).get_data(as_text=True)
    assert "Sent to your email address." in html
    message = mail_received(smtp_server)[0]
    assert message["To"] == "zoe@example.org" and "your requests" in message["Subject"]
    text = mail_text(message)
    assert text.index("Ready for pickup") < text.index("Beloved") < text.index("Not yet active") < text.index(
        "Dubliners")
    assert "place in queue: 3" in text
    letter = Letter.get()
    assert letter.letter_type == "FulRequestsReportLetter" and letter.sent_by == "kiosk:kiosk-1"


def test_loans_receipt_by_email_after_renewals(kiosk, smtp_server):
    login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "Email me a receipt" in html and "Print a receipt" in html
    assert "Sent to your email address." in kiosk.post("/receipt", data={"how": "email"}, headers=HX).get_data(
        as_text=True)
    text = mail_text(mail_received(smtp_server)[0])
    assert "Middlemarch" in text and "16 December 2026" in text  # the new due date


def test_loans_receipt_printed(kiosk, printer_file):
    login(kiosk)
    kiosk.post("/renew", headers=HX)
    html = kiosk.post("/receipt", data={"how": "print"}, headers=HX).get_data(as_text=True)
    assert "Your receipt is printing." in html
    with open(printer_file, "rb") as handle:
        data = handle.read()
    assert b"Main Library" in data and b"Middlemarch" in data
    printed = decode_escpos(data)
    assert "Zoë Ólafsdóttir" in printed  # non-ASCII names print in the right code page
    assert "Les Misérables: due 16 December 2026 - renewed" in " ".join(printed.split())  # wrapped at 42
    assert data.endswith(b"\x1dV\x00")  # cut


def test_receipts_setting_limits_the_choice(kiosk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["receipts"] = "none"
    login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "receipt" not in html.lower()
    assert kiosk.post("/receipt", data={"how": "print"}, headers=HX).status_code == 400


def test_mail_server_down_is_told_plainly(kiosk, kiosk_app):
    from tests.helpers import free_port

    kiosk_app.config["KIOSK"]["mail"]["port"] = free_port()  # nothing listens there
    login(kiosk)
    html = kiosk.post("/requests-report", headers=HX).get_data(as_text=True)
    assert "The email could not be sent. Please ask at the desk." in html
