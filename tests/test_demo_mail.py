"""``kiosk demo``'s mail sink (library_kiosk/demo_mail.py): a real SMTP server (aiosmtpd) that keeps each message as
a .eml file; the demo's mail settings point at it, so a letter sent through the product's own mail code lands
there, and the station's Demo mail page (administrators) lists it."""
import os

import pytest

from library_kiosk import demo_mail, settings
from library_kiosk.central.store import letters
from library_kiosk.central.store.models import Email
from provisioning import demo_mail as station_demo_mail
from tests.helpers import TODAY
from tests.provisioning.helpers import StaffClient
from tests.store import factories


@pytest.fixture
def sink(tmp_path):
    running = demo_mail.MailSink(str(tmp_path / "demo-mail")).start()
    yield running
    running.stop()


def demo_mail_settings(sink) -> dict:
    """The ``[mail]`` settings the demo's processes read: the environment ``kiosk demo`` gives them."""
    return settings.load(environ=demo_mail.demo_environment(settings.load(environ={}), sink))["mail"]


def test_the_demo_points_mail_at_its_sink(sink):
    mail = demo_mail_settings(sink)
    assert (mail["host"], mail["port"], mail["demo_sink_dir"]) == ("127.0.0.1", sink.port, sink.folder)


def test_a_configured_mail_server_is_left_alone(sink):
    configured = settings.load(environ={"KIOSK_MAIL_HOST": "smtp.library.example", "KIOSK_MAIL_PORT": "587"})
    assert demo_mail.demo_environment(configured, sink) == {}


def test_a_kiosk_receipt_sent_in_the_demo_configuration_is_kept_as_an_eml_file(central_db, config, sink):
    config["mail"].update(demo_mail_settings(sink))
    user = factories.patron("P1", first_name="Ada", last_name="Quillfeather")
    Email.create(user=user, email_address="ada@example.org", preferred=True)
    factories.loan(user, title="Middlemarch")
    letter = letters.send_letter(user, "FulUserBorrowingActivityLetter", config, "kiosk:kiosk-1", today=TODAY)
    kept, total = station_demo_mail.kept_messages(sink.folder)
    assert (letter.status, total, kept[0]["to"], kept[0]["subject"], "Middlemarch" in kept[0]["text"]) == (
        "sent", 1, "ada@example.org", letter.subject, True)


def test_the_station_lists_the_demo_mail_for_administrators(station, sink):
    station.config["KIOSK"]["mail"].update(demo_mail_settings(sink))
    user = factories.patron("P1", first_name="Ada", last_name="Quillfeather")
    Email.create(user=user, email_address="ada@example.org", preferred=True)
    letter = letters.send_letter(user, "FulRequestsReportLetter", station.config["KIOSK"], "tester", today=TODAY)
    page = StaffClient(station, "admin").get("/demo-mail").get_data(as_text=True)
    assert (os.listdir(sink.folder) != [], letter.subject in page, "ada@example.org" in page,
            'href="/demo-mail"' in page) == (True, True, True, True)


def test_without_the_demo_sink_there_is_no_demo_mail_page(station):
    assert StaffClient(station, "admin").get("/demo-mail").status_code == 404


def test_the_demo_mail_page_is_for_administrators(station, sink):
    station.config["KIOSK"]["mail"].update(demo_mail_settings(sink))
    assert StaffClient(station, "desk").get("/demo-mail").status_code == 403
