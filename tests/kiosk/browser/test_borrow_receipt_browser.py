"""The borrow receipt in real Chromium at 800×480 (the Pi's 7" panel): a patron borrows an item, presses Finish and
chooses "Email me a receipt"; the real SMTP server (aiosmtpd) receives a mail listing the item with its barcode
and due date. Done then leaves nothing personal on the page. Screenshot: test-artifacts/kiosk/borrow-receipt-*.png."""
from __future__ import annotations

import pytest

from library_kiosk.central.store import items
from tests.helpers import mail_received, screenshot
from tests.kiosk.browser.helpers import axe_check, scan_and_pin
from tests.kiosk.helpers import mail_text

pytestmark = pytest.mark.browser


@pytest.fixture
def emailed(page, kiosk_url, smtp_server):
    """P1 borrowed "The Emailed Novel" (39600) at 800×480, finished, and chose the receipt by email."""
    items.Item.create(barcode="39600", title="The Emailed Novel", library="MAIN")
    page.set_viewport_size({"width": 800, "height": 480})
    scan_and_pin(page, kiosk_url, "20000000000011")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    page.get_by_test_id("borrow").click()
    page.get_by_test_id("item-barcode").wait_for()
    page.keyboard.type("39600\n")
    page.locator('[data-testid="tray-row"][data-barcode="39600"]', has_text="Borrowed").wait_for()
    page.get_by_test_id("finish").click()
    page.get_by_test_id("receipt-email").click()
    page.get_by_text("Sent to your email address.").wait_for()  # the mail was taken before this answer
    axe_check(page, "borrow-receipt-800x480")
    screenshot(page, "kiosk", "borrow-receipt-800x480")
    return page


def test_the_emailed_borrow_receipt_lists_the_item(emailed, smtp_server):
    assert "The Emailed Novel (barcode 39600), due 16 December 2026" in mail_text(mail_received(smtp_server)[0])


def test_done_after_the_receipt_leaves_nothing_personal_on_screen(emailed):
    emailed.get_by_test_id("finish-done").click()
    emailed.get_by_test_id("identifier").wait_for()
    left = emailed.locator("body").inner_text()
    assert [text for text in ("Zoë", "Ólafsdóttir", "Emailed Novel", "39600", "zoe@", "Sent to your email")
            if text in left] == []
