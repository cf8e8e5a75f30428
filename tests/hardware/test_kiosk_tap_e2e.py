"""End to end: a virtual card tapped on the PC/SC reader (pcscd + vpcd) makes the kiosk
page in real Chromium show that patron's account, through the reader service's
event stream and the kiosk's server-sent events."""
import pytest

from tests.hardware.service_process import PCSC_PORT, PCSC_SLOT, ServiceProcess
from tests.hardware.vpcd_card import VirtualCard
from tests.helpers import LiveServer, screenshot
from tests.kiosk.browser.helpers import wait_for_reader_stream, watch_reader_stream
from tests.store.factories import group, loan, patron

pytestmark = [pytest.mark.pcsc, pytest.mark.browser]

UID = "04A1B2C3D4E5F6"


@pytest.fixture
def kiosk_with_pcsc_reader(pcscd, tmp_path, kiosk_app, central_db):
    group("27", description="Consortial Borrower", pin_required=False)
    user = patron("P1", barcode="20000000000011", card=UID, group_code="27", first_name="Łukasz",
                  last_name="Nowak")
    loan(user, "Les Misérables")
    from kiosk import sync
    from kiosk.cache import cache_db
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    service = ServiceProcess(tmp_path, f'devices = [{{type = "pcsc", name = "Desk reader", match = "{PCSC_SLOT}"}}]\n')
    kiosk_app.config["KIOSK"]["readers"]["service_url"] = service.url
    server = LiveServer(kiosk_app)
    yield server.url
    server.stop()
    assert service.terminate() == 0


def test_card_on_the_pcsc_reader_shows_the_account(page, kiosk_with_pcsc_reader):
    watch_reader_stream(page)
    page.goto(kiosk_with_pcsc_reader)
    page.get_by_role("heading", name="Tap your card or scan your barcode").wait_for()
    wait_for_reader_stream(page)  # the page's event stream reaches the reader service: a tap now gets here
    with VirtualCard(UID, PCSC_PORT):
        page.get_by_role("heading", name="Łukasz Nowak").wait_for(timeout=10_000)
    assert "Les Misérables" in page.content()
    screenshot(page, "hardware", "pcsc-tap-account")
