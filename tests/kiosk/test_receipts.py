"""Requests report and loans receipt: by email through a real SMTP server, or printed (escpos File)."""
import time

from escpos import capabilities
from escpos.codepages import CodePages

from library_kiosk.central.store.letters import Letter

HX = {"HX-Request": "true"}


def _wait(server, count=1):
    deadline = time.monotonic() + 5
    while len(server.handler.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return server.handler.messages


def _text(message) -> str:
    part = message.get_payload()[0] if message.is_multipart() else message
    return part.get_payload(decode=True).decode().replace("\r\n", "\n")


def decode_escpos(data: bytes, profile: str = "default") -> str:
    """The text an ESC/POS printer would print: follow ESC t code page switches, drop other commands."""
    pages = capabilities.get_profile(profile).codePages
    out, encoding, i = [], "cp437", 0
    while i < len(data):
        byte = data[i]
        if byte == 0x1B and i + 1 < len(data) and data[i + 1] == ord("t"):
            encoding = CodePages.get_encoding_name(pages[str(data[i + 2])]).lower()
            i += 3
        elif byte == 0x1B:
            i += 3 if data[i + 1] in (ord("!"), ord("E"), ord("a"), ord("d")) else 2
        elif byte == 0x1D:
            i += 3
        else:
            out.append(bytes([byte]).decode(_python_codec(encoding), errors="replace"))
            i += 1
    return "".join(out)


def _python_codec(name: str) -> str:
    return {"cp858": "cp858", "cp437": "cp437"}.get(name, name)


def _login(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    kiosk.post("/pin", data={"pin": "2468"})


def test_email_me_my_requests(kiosk, smtp_server, central_db):
    _login(kiosk)
    html = kiosk.post("/requests-report", headers=HX).get_data(as_text=True)
    assert "Sent to your email address." in html
    message = _wait(smtp_server)[0]
    assert message["To"] == "zoe@example.org" and "your requests" in message["Subject"]
    text = _text(message)
    assert text.index("Ready for pickup") < text.index("Beloved") < text.index("Not yet active") < text.index(
        "Dubliners")
    assert "place in queue: 3" in text
    letter = Letter.get()
    assert letter.letter_type == "FulRequestsReportLetter" and letter.sent_by == "kiosk:kiosk-1"


def test_loans_receipt_by_email_after_renewals(kiosk, smtp_server):
    _login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "Email me a receipt" in html and "Print a receipt" in html
    assert "Sent to your email address." in kiosk.post("/receipt", data={"how": "email"}, headers=HX).get_data(
        as_text=True)
    text = _text(_wait(smtp_server)[0])
    assert "Middlemarch" in text and "2026-12-16" in text  # the new due date


def test_loans_receipt_printed(kiosk, printer_file):
    _login(kiosk)
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
    _login(kiosk)
    html = kiosk.post("/renew", headers=HX).get_data(as_text=True)
    assert "receipt" not in html.lower()
    assert kiosk.post("/receipt", data={"how": "print"}, headers=HX).status_code == 400


def test_mail_server_down_is_told_plainly(kiosk, kiosk_app):
    from tests.conftest import free_port

    kiosk_app.config["KIOSK"]["mail"]["port"] = free_port()  # nothing listens there
    _login(kiosk)
    html = kiosk.post("/requests-report", headers=HX).get_data(as_text=True)
    assert "The email could not be sent. Please ask at the desk." in html
