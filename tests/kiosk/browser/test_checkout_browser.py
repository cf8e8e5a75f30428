"""Borrow and Return at the kiosk in real Chromium (issue 18), at 800×480 (the Pi's 7" panel) and 1920×1080: a patron
borrows three items (one scanned by the USB scanner, one put on the item pad of the real reader service's
simulator, one typed on the screen and refused with its reason), takes a printed receipt and presses Done; then,
nobody signed in, two items are returned (one scanned, which goes to the hold shelf; one on the pad, late, whose fee
is mentioned without a name). Security is read back from the pad: cleared after the loan, set again after the
return. Each screen: axe-core finds nothing serious, its buttons are inside the screen and at least 48 px, nothing
is wider than the screen; high contrast and help work on it. After Done nothing of the visit is left on the page.
Screenshots: test-artifacts/kiosk/checkout-*.png."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from library_kiosk.central.store import items
from library_kiosk.central.store.models import Loan, UserGroup
from tests.helpers import screenshot
from tests.kiosk.browser.helpers import axe_check, scan_and_pin, wait_for_reader_stream, watch_reader_stream
from tests.kiosk.helpers import decode_escpos
from tests.kiosk.pad import place, read_pad, take_off
from tests.store.factories import TODAY, hold, loan, patron

pytestmark = pytest.mark.browser

SIZES = {"800x480": (800, 480), "1920x1080": (1920, 1080)}

# The buttons of the screen: inside the viewport, at least 48 px each way, and the page no wider than the screen.
FIT = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('#screen .button')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;                 // not shown
    if (el.closest('[hidden]')) continue;
    if (r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5)
      bad.push(`${el.dataset.testid || el.textContent.trim()} outside the screen`);
    if (r.height < 47.5 || r.width < 47.5) bad.push(`${el.dataset.testid || el.textContent.trim()} smaller than 48 px`);
  }
  if (document.documentElement.scrollWidth > innerWidth + 0.5) bad.push("the page is wider than the screen");
  return bad;
}"""


def check_screen(page, name: str, size: str) -> None:
    assert page.evaluate(FIT) == [], name
    axe_check(page, f"{name}-{size}")
    screenshot(page, "kiosk", f"checkout-{name}-{size}")


@pytest.fixture
def library(kiosk_url, central_db):
    """The items of the walk, and a patron (P9, "Wilhelmina Quartermaine") whose loans come back, one held for P8."""
    UserGroup.update(fine_per_day=Decimal("0.20")).where(UserGroup.code == "25").execute()
    for barcode, title, policy in (("39500", "The Scanned Novel", {}), ("39501", "The Tagged Atlas", {}),
                                   ("39502", "The Reference Dictionary", {"circulates": False}),
                                   ("39510", "The Awaited Memoir", {}), ("39511", "The Late Cookbook", {})):
        items.Item.create(barcode=barcode, title=title, library="MAIN", **policy)
    other = patron("P9", barcode="20000000000099", card="04CCCCCCCCCCCC", first_name="Wilhelmina",
                   last_name="Quartermaine")
    loan(other, "The Awaited Memoir", barcode="39510")
    loan(other, "The Late Cookbook", barcode="39511", due=TODAY - dt.timedelta(days=2))
    waiting = patron("P8", barcode="20000000000088", card="04DDDDDDDDDDDD")
    hold(waiting, item_barcode="39510", title="The Awaited Memoir")
    return kiosk_url


def _open_loan(barcode):
    return Loan.get_or_none((Loan.item_barcode == barcode) & Loan.still_out())


@pytest.mark.parametrize("size", list(SIZES))
def test_borrow_three_then_return_two_and_nothing_is_left(page, library, reader_service, printer_file, size):
    width, height = SIZES[size]
    uid_borrow, uid_return = ("E0040100000A0001", "E0040100000A0002") if size == "800x480" \
        else ("E0040100000B0001", "E0040100000B0002")
    page.set_viewport_size({"width": width, "height": height})
    watch_reader_stream(page)
    scan_and_pin(page, library, "20000000000011")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    wait_for_reader_stream(page)
    check_screen(page, "account", size)  # with its Borrow button

    # Borrow: the USB scanner types into the tray's field; the pad lends a tagged item; one typed is refused
    page.get_by_test_id("borrow").click()
    page.get_by_test_id("item-barcode").wait_for()
    page.keyboard.type("39500\n")
    page.locator('[data-testid="tray-row"][data-barcode="39500"]', has_text="Due back on 16 December 2026.").wait_for()
    place(reader_service, uid_borrow, "39501")
    page.locator('[data-testid="tray-row"][data-barcode="39501"]', has_text="Borrowed").wait_for()
    page.get_by_test_id("item-barcode").fill("39502")
    page.get_by_test_id("item-add").click()
    refused = page.locator('[data-testid="tray-row"][data-barcode="39502"]')
    refused.wait_for()
    assert "Not borrowed" in refused.inner_text() and "It is for use in the library only." in refused.inner_text()
    assert page.get_by_test_id("tray-summary").inner_text() == "2 items borrowed."
    check_screen(page, "borrow", size)

    # high contrast and help on the tray: the tray is still there after them
    page.locator("#contrast-toggle").click()
    page.locator('#contrast-toggle[aria-pressed="true"]').wait_for()
    axe_check(page, f"borrow-contrast-{size}")
    screenshot(page, "kiosk", f"checkout-borrow-contrast-{size}")
    page.get_by_test_id("help").click()
    page.get_by_test_id("help-back").click()
    page.locator('[data-testid="tray-row"][data-barcode="39500"]').wait_for()
    page.locator("#contrast-toggle").click()
    page.locator('#contrast-toggle[aria-pressed="false"]').wait_for()

    # Finish: the receipt choice; a printed receipt of the loans, with the new ones
    page.get_by_test_id("finish").click()
    page.get_by_test_id("receipt-print").wait_for()
    check_screen(page, "finish", size)
    page.get_by_test_id("receipt-print").click()
    page.get_by_text("Your receipt is printing.").wait_for()
    with open(printer_file, "rb") as handle:
        printed = decode_escpos(handle.read())
    assert "The Scanned Novel" in printed and "The Tagged Atlas" in printed and "Reference Dictionary" not in printed
    assert read_pad(reader_service)[uid_borrow].secured is False  # cleared (the finished tray ignores the pad)
    take_off(reader_service, uid_borrow)  # the patron takes it
    page.get_by_test_id("finish-done").click()
    page.get_by_test_id("identifier").wait_for()
    left = page.locator("body").inner_text()
    for visit_text in ("Zoë", "Ólafsdóttir", "Scanned Novel", "Tagged Atlas", "Reference Dictionary"):
        assert visit_text not in left
    assert _open_loan("39500").user.primary_id == "P1" and _open_loan("39501").user.primary_id == "P1"
    assert _open_loan("39502") is None
    check_screen(page, "attract", size)  # with its Return button

    # Return, nobody identified: one scanned goes to the hold shelf; one on the pad is late (a fee, no name)
    page.get_by_test_id("return-items").click()
    page.get_by_test_id("item-barcode").wait_for()
    page.keyboard.type("39510\n")
    page.locator('[data-testid="return-row"][data-barcode="39510"]',
                 has_text="Please put this item on the hold shelf.").wait_for()
    place(reader_service, uid_return, "39511", secured=False)
    late = page.locator('[data-testid="return-row"][data-barcode="39511"]')
    late.wait_for()
    assert "A late fee of £0.40 was added to the borrower's account." in late.inner_text()
    assert "Wilhelmina" not in page.locator("body").inner_text()
    check_screen(page, "return", size)
    page.locator("#contrast-toggle").click()
    page.locator('#contrast-toggle[aria-pressed="true"]').wait_for()
    axe_check(page, f"return-contrast-{size}")
    page.get_by_test_id("help").click()
    page.get_by_test_id("help-back").click()
    page.locator('[data-testid="return-row"][data-barcode="39511"]').wait_for()
    page.get_by_test_id("return-done").click()
    page.get_by_test_id("identifier").wait_for()
    left = page.locator("body").inner_text()
    for visit_text in ("Awaited Memoir", "Late Cookbook", "hold shelf", "late fee"):
        assert visit_text not in left
    assert _open_loan("39510") is None and _open_loan("39511") is None
    assert read_pad(reader_service)[uid_return].secured is True  # set again on return
    take_off(reader_service, uid_return)


def test_the_tray_and_the_return_screen_fit_in_french_at_800x480(page, library):
    page.set_viewport_size({"width": 800, "height": 480})
    scan_and_pin(page, library, "20000000000011")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    page.get_by_test_id("lang-fr").click()
    page.get_by_test_id("borrow").click()
    page.get_by_test_id("item-barcode").wait_for()
    for code in ("39500", "39502", "39501"):
        page.keyboard.type(code + "\n")
        page.locator(f'[data-testid="tray-row"][data-barcode="{code}"]').wait_for()
    assert "Il se consulte sur place uniquement." in page.locator('[data-barcode="39502"]').inner_text()
    page.get_by_test_id("undo").wait_for()
    check_screen(page, "borrow-fr", "800x480")
    page.get_by_test_id("finish").click()
    page.get_by_test_id("receipt-print").wait_for()
    check_screen(page, "finish-fr", "800x480")
    page.get_by_test_id("finish-done").click()
    page.get_by_test_id("lang-fr").click()  # (Done put the kiosk back in its own language)
    page.get_by_test_id("return-items").click()
    page.get_by_test_id("item-barcode").wait_for()
    page.keyboard.type("39510\n")
    page.locator('[data-testid="return-row"]', has_text="Posez ce document sur l'étagère des réservations.").wait_for()
    check_screen(page, "return-fr", "800x480")
