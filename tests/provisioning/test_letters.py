"""Letters rendered from editable templates and sent to a real SMTP server (aiosmtpd)."""
from library_kiosk.central.store import letters
from library_kiosk.central.store.models import User
from tests.helpers import TODAY, mail_received
from tests.store import factories


def _patron_with_requests():
    user = factories.patron("P1")
    user.emails.model.create(user=user, email_address="zoe@example.org", preferred=True)
    factories.hold(user, title="Beloved", status="ON_HOLD_SHELF", place=None, pickup="Main Library")
    factories.hold(user, title="Jazz", status="IN_PROCESS", place=2, pickup="Science Library")
    factories.hold(user, title="Sula", status="NOT_STARTED", place=4)
    return user


def test_requests_report_has_three_sections_and_arrives_by_smtp(central_db, station_config, smtp_server):
    user = _patron_with_requests()
    letter = letters.send_letter(user, "FulRequestsReportLetter", station_config, "desk", today=TODAY)
    assert letter.status == "sent" and letter.recipient == "zoe@example.org"
    message = mail_received(smtp_server)[0]
    assert message["To"] == "zoe@example.org" and "your requests" in message["Subject"]
    text = message.get_payload()[0].get_payload(decode=True).decode().replace("\r\n", "\n")
    ready, in_process, waiting = (text.index(s) for s in ("Ready for pickup", "In process\n", "Not yet active"))
    assert ready < text.index("Beloved") < in_process < text.index("Jazz") < waiting < text.index("Sula")
    assert "place in queue: 2; pickup location: Science Library" in text
    html = message.get_payload()[1].get_payload(decode=True).decode()
    assert "<th>Place in queue</th>" in html and "Zoë" in html
    assert letters.letters_of(user)[0].id == letter.id


def test_a_failed_send_is_recorded_with_its_error(central_db, station_config):
    user = _patron_with_requests()
    station_config["mail"]["port"] = 9  # nothing listens there
    letter = letters.send_letter(user, "FulRequestsReportLetter", station_config, "desk")
    assert letter.status == "failed" and "not sent" in letter.error


def test_library_templates_override_the_shipped_ones(central_db, tmp_path):
    user = factories.patron("P1")
    (tmp_path / "FulUserBorrowingActivityLetter.subject.txt").write_text("Hello {{ account.first_name }}")
    from library_kiosk.central.store.accounts import build_account

    subject, text, html = letters.render_letter("FulUserBorrowingActivityLetter", build_account(user), str(tmp_path))
    assert subject == "Hello Zoë" and "Total owed" in text


def test_station_sends_the_report_and_lists_it(desk, smtp_server):
    _patron_with_requests()
    page = desk.post("/patrons/P1/letters/requests-report", {"channel": "email"}).get_data(as_text=True)
    assert "Requests report sent to zoe@example.org" in page
    mail_received(smtp_server, 1)
    letter = letters.Letter.get()
    listing = desk.get("/patrons/P1?tab=letters").get_data(as_text=True)
    assert letter.subject in listing
    assert "Beloved" in desk.get(f"/patrons/P1/letters/{letter.id}").get_data(as_text=True)
    assert User.select().count() == 1


def test_station_sends_the_loans_report_next_to_the_requests_report(desk, smtp_server):
    user = _patron_with_requests()
    factories.loan(user, title="Middlemarch")
    for tab in ("requests", "loans"):
        page = desk.get(f"/patrons/P1?tab={tab}").get_data(as_text=True)
        assert 'data-testid="send-loans-report"' in page and 'data-testid="send-requests-report"' in page
    page = desk.post("/patrons/P1/letters/loans-report", {"channel": "email"}).get_data(as_text=True)
    assert "Loans report sent to zoe@example.org" in page
    message = mail_received(smtp_server)[0]
    assert message["To"] == "zoe@example.org"
    letter = letters.Letter.get()
    assert letter.letter_type == "FulUserBorrowingActivityLetter" and letter.sent_by == "desk"
    assert "Middlemarch" in letter.body_text
    assert letter.subject in desk.get("/patrons/P1?tab=letters").get_data(as_text=True)
    printed = desk.post("/patrons/P1/letters/loans-report", {"channel": "print"}).get_data(as_text=True)
    assert "Loans report ready to print" in printed
    refused = desk.post("/patrons/P1/letters/loans-report", {"channel": "fax"})
    assert refused.status_code == 422 and letters.Letter.select().count() == 2
