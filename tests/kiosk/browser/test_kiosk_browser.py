"""Every path of the patron kiosk in real Chromium, with axe-core on each screen."""
import datetime as dt

import pytest

from hardware import client as reader_client
from library_kiosk.central.store.models import Loan
from tests.helpers import mail_received
from tests.kiosk.browser.helpers import axe_check, shots, wait_for_reader_stream, watch_reader_stream
from tests.kiosk.helpers import decode_escpos
from tests.store.factories import TODAY

pytestmark = pytest.mark.browser


def _keypad(page, pin):
    for digit in pin:
        page.get_by_test_id(f"key-{digit}").click()
    page.get_by_test_id("pin-ok").click()


def _open_account(page, kiosk_url):
    """Scan Zoë's barcode, type her PIN on the keypad, and wait for her account."""
    page.goto(kiosk_url)
    page.keyboard.type("20000000000011\n")
    _keypad(page, "2468")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()


def test_tap_pin_renew_all_and_print_a_receipt(page, kiosk_url, reader_service, printer_file):
    watch_reader_stream(page)
    page.goto(kiosk_url)
    page.get_by_role("heading", name="Tap your card or scan your barcode").wait_for()
    axe_check(page, "attract")
    shots(page, "attract")
    wait_for_reader_stream(page)  # the page's event stream reaches the reader service: a tap now gets here
    reader_client.simulate(reader_service, "card", "04A1B2C3D4E5F6")
    page.get_by_role("heading", name="Enter your PIN").wait_for()
    assert page.get_by_test_id("pin").get_attribute("inputmode") == "none"
    axe_check(page, "pin")
    shots(page, "pin")
    _keypad(page, "2468")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    assert "2468" not in page.url
    axe_check(page, "account")
    shots(page, "account")
    page.get_by_test_id("renew-all").click()
    page.get_by_test_id("renewals").wait_for()
    outcomes = page.locator("[data-outcome]")
    assert outcomes.count() == 5
    text = page.get_by_test_id("renewals").text_content()  # every outcome, on whichever page it is shown
    assert "2 of 5 renewed." in text
    assert "maximum number of times" in text and "Another patron has requested this item" in text
    assert "claimed returned" in text
    axe_check(page, "renewals")
    shots(page, "renewals")
    page.get_by_test_id("receipt-print").click()
    page.get_by_test_id("notice").wait_for()
    assert "printing" in page.get_by_test_id("notice").inner_text()
    with open(printer_file, "rb") as handle:
        printed = decode_escpos(handle.read())
    assert "Zoë Ólafsdóttir" in printed and "Middlemarch" in printed
    assert Loan.get(Loan.title == "Middlemarch").due_date == TODAY + dt.timedelta(days=21)


def test_barcode_wrong_pin_then_locked(page, kiosk_url, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["pin_max_attempts"] = 3
    kiosk_app.config["KIOSK"]["central"]["pin_max_attempts"] = 3  # online, the central store's count decides
    page.goto(kiosk_url)
    page.get_by_test_id("identifier").wait_for()
    page.keyboard.type("20000000000011\n")  # a USB scanner types into the focused field
    page.get_by_role("heading", name="Enter your PIN").wait_for()
    _keypad(page, "1357")
    page.get_by_test_id("pin-error").wait_for()
    assert "2 attempts left" in page.get_by_test_id("pin-error").inner_text()
    axe_check(page, "pin-wrong")
    shots(page, "pin-wrong")
    _keypad(page, "1357")
    page.get_by_text("1 attempt left").wait_for()
    _keypad(page, "1357")
    page.get_by_role("heading", name="This card is locked").wait_for()
    axe_check(page, "locked")
    shots(page, "locked")
    page.get_by_test_id("back").click()
    page.get_by_test_id("identifier").wait_for()
    page.keyboard.type("20000000000011\n")
    page.get_by_role("heading", name="This card is locked").wait_for()  # the right PIN is not even asked


# The two renewal tests below want all five of Zoë's loans on one page: at 1920x1080 the page now shows three (each
# loan that cannot be renewed says why, on up to three lines, and the account's head has Borrow items), so they use a
# taller window; how the loans page at each screen size is test_screen_fit.py's.
def test_renew_one_and_email_my_requests(page, kiosk_url, smtp_server):
    _open_account(page, kiosk_url)
    page.get_by_test_id("tab-requests").click()  # the account's sections are tabs (issue 15)
    page.get_by_test_id("email-requests").click()
    page.get_by_text("Sent to your email address.").wait_for()
    message = mail_received(smtp_server)[0]
    body = message.get_payload()[0].get_payload(decode=True).decode()
    assert message["To"] == "zoe@example.org" and "Beloved" in body and "Dubliners" in body
    loan_id = Loan.get(Loan.title == "Les Misérables").id
    page.set_viewport_size({"width": 1920, "height": 1400})  # every loan on one page (test_screen_fit.py pages)
    page.get_by_test_id("tab-loans").click()
    page.get_by_test_id(f"renew-{loan_id}").click()
    page.get_by_text("1 of 1 renewed.").wait_for()
    assert "New due date: 16 December 2026" in page.get_by_test_id("renewals").inner_text()


def test_timeout_warns_then_ends_and_back_shows_nothing(page, kiosk_url, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"].update(idle_timeout_seconds=4, idle_warning_seconds=3)
    _open_account(page, kiosk_url)
    page.get_by_role("alertdialog").wait_for()  # the countdown, with "I'm still here"
    axe_check(page, "timeout-warning")
    shots(page, "timeout-warning")
    page.get_by_test_id("still-here").click()
    assert page.get_by_role("alertdialog").is_hidden()
    page.get_by_test_id("help").click()  # a screen left open: the timeout still fires
    page.get_by_role("heading", name="Help").wait_for()
    page.get_by_text("Thank you. Your session has ended.").wait_for(timeout=10000)
    assert "Zoë" not in page.content()
    page.go_back()  # returns once the browser has gone back: the kiosk puts no screen in the history ...
    assert page.url == "about:blank"  # ... so Back leaves the kiosk altogether
    assert "Zoë" not in page.content() and "Middlemarch" not in page.content()
    page.goto(kiosk_url + "/account")
    assert "Zoë" not in page.content()
    history_caches = "() => [localStorage, sessionStorage].map(s => s.getItem('htmx-history-cache'))"
    assert page.evaluate(history_caches) == [None, None]  # no snapshot of a screen kept (htmx 2 uses sessionStorage)


def test_language_switch_help_and_call_staff(page, kiosk_url):
    page.goto(kiosk_url)
    page.get_by_test_id("lang-fr").click()
    page.get_by_role("heading", name="Posez votre carte ou scannez votre code-barres").wait_for()
    assert page.evaluate("() => document.documentElement.lang") == "fr"
    shots(page, "attract-fr")
    page.keyboard.type("20000000000022\n")
    _keypad(page, "2468")
    page.get_by_role("heading", name="Votre inscription a pris fin").wait_for()
    assert "askUCL" in page.get_by_test_id("referral").inner_text()
    axe_check(page, "expired-fr")
    shots(page, "expired-fr")
    page.get_by_test_id("lang-en").click()
    page.get_by_role("heading", name="Your membership has ended").wait_for()
    page.get_by_test_id("help").click()
    page.get_by_role("heading", name="Help").wait_for()
    axe_check(page, "help")
    shots(page, "help")
    page.get_by_test_id("call-staff").click()
    page.get_by_test_id("call-result").wait_for()
    page.get_by_test_id("done").click()
    page.get_by_text("Thank you. Your session has ended.").wait_for()
    page.get_by_test_id("identifier").focus()
    page.keyboard.type("999\n")
    page.get_by_role("heading", name="This card is not registered").wait_for()
    axe_check(page, "unknown-card")
    shots(page, "unknown-card")


def test_renew_selected_loans(page, kiosk_url):
    page.set_viewport_size({"width": 1920, "height": 1400})  # all five loans on one page (test_screen_fit.py pages)
    _open_account(page, kiosk_url)
    button = page.get_by_test_id("renew-selected")
    assert button.is_disabled() and button.inner_text().split() == ["Renew", "selected", "(0)"]
    ticks = page.get_by_role("checkbox")
    assert ticks.count() == 2  # the loans the renewal rules would renew today, and only those
    for title, why in (("Gödel, Escher, Bach", "Another patron has requested this item"),
                       ("The Second Sex", "renewed the maximum number of times")):
        loan_id = Loan.get(Loan.title == title).id
        assert page.get_by_test_id(f"renew-{loan_id}").count() == 0  # no Renew button that can only be refused
        assert why in page.get_by_test_id(f"why-not-{loan_id}").inner_text()
    middlemarch = page.get_by_role("checkbox", name="Middlemarch", exact=True)
    les_mis = page.get_by_role("checkbox", name="Les Misérables", exact=True)
    for tick in (middlemarch, les_mis):
        box = tick.bounding_box()
        assert box["width"] >= 48 and box["height"] >= 48  # a touch target
    middlemarch.click()
    page.get_by_role("button", name="Renew selected (1)").wait_for()
    assert button.is_enabled()
    les_mis.click()
    page.get_by_role("button", name="Renew selected (2)").wait_for()
    axe_check(page, "account-selected")
    shots(page, "account-selected")
    les_mis.click()  # changed my mind: untick it
    page.get_by_role("button", name="Renew selected (1)").wait_for()
    button.click()
    page.get_by_test_id("renewals").wait_for()
    assert page.locator("[data-outcome]").count() == 1
    assert "1 of 1 renewed." in page.get_by_test_id("renewals").inner_text()
    axe_check(page, "renew-selected")
    shots(page, "renew-selected")
    assert Loan.get(Loan.title == "Middlemarch").due_date == TODAY + dt.timedelta(days=21)
    assert Loan.get(Loan.title == "Les Misérables").renewals == 0
    page.get_by_test_id("lang-fr").click()
    page.get_by_role("button", name="Prolonger la sélection (0)").wait_for()
    assert page.get_by_role("button", name="Prolonger la sélection (0)").is_disabled()


def _background(page):
    return page.evaluate("() => getComputedStyle(document.body).backgroundColor")


def test_high_contrast_for_this_session_only(page, kiosk_url):
    page.goto(kiosk_url)
    page.get_by_role("heading", name="Tap your card or scan your barcode").wait_for()
    switch = page.get_by_role("button", name="High contrast")
    assert switch.get_attribute("aria-pressed") == "false" and _background(page) == "rgb(255, 255, 255)"
    switch.click()
    page.locator('#contrast-toggle[aria-pressed="true"]').wait_for()
    assert _background(page) == "rgb(0, 0, 0)"
    assert page.evaluate("() => document.activeElement.id") == "contrast-toggle"  # the new button kept the focus
    axe_check(page, "attract-contrast")
    shots(page, "attract-contrast")
    page.keyboard.type("20000000000011\n")
    page.get_by_role("heading", name="Enter your PIN").wait_for()
    assert _background(page) == "rgb(0, 0, 0)"  # kept after the tap
    axe_check(page, "pin-contrast")
    shots(page, "pin-contrast")
    _keypad(page, "2468")
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    page.get_by_role("checkbox", name="Middlemarch", exact=True).click()
    page.get_by_role("button", name="Renew selected (1)").wait_for()
    page.keyboard.press("Tab")  # from the tick to the next control: the focus shows
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineWidth")
    assert float(outline.rstrip("px")) >= 6  # a thick focus outline
    axe_check(page, "account-contrast")
    shots(page, "account-contrast")
    page.get_by_test_id("renew-all").click()
    page.get_by_test_id("renewals").wait_for()
    axe_check(page, "renewals-contrast")
    shots(page, "renewals-contrast")
    page.get_by_test_id("help").click()
    page.get_by_role("heading", name="Help").wait_for()
    assert _background(page) == "rgb(0, 0, 0)"
    page.get_by_test_id("done").click()
    page.get_by_text("Thank you. Your session has ended.").wait_for()
    assert _background(page) == "rgb(255, 255, 255)"  # the next patron starts with the default
    assert page.get_by_role("button", name="High contrast").get_attribute("aria-pressed") == "false"
    axe_check(page, "attract-after-contrast")


def test_high_contrast_chosen_before_a_tap_resets_when_nobody_comes(page, kiosk_url, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"].update(idle_timeout_seconds=2)
    page.goto(kiosk_url)
    page.get_by_role("button", name="High contrast").click()
    page.locator('#contrast-toggle[aria-pressed="true"]').wait_for()
    page.locator('#contrast-toggle[aria-pressed="false"]').wait_for(timeout=8000)
    assert _background(page) == "rgb(255, 255, 255)"


def _keyboard(page, text):
    """Type ``text`` on the on-screen keyboard (shift before each capital)."""
    names = {"@": "at", ".": "dot", "-": "dash", "_": "underscore", "!": "bang", "#": "hash", "$": "dollar",
             "?": "question", " ": "space"}
    for char in text:
        if char.isupper():
            page.get_by_test_id("kb-shift").click()
        page.get_by_test_id(f"kb-{names.get(char, char.lower())}").click()


def test_sign_in_without_a_card_on_the_on_screen_keyboard(page, kiosk_url, central_db):
    from library_kiosk.central.store.models import User
    from library_kiosk.domain.hashing import hash_secret

    User.update(password_hash=hash_secret("Orchid-lantern-73")).where(User.primary_id == "P1").execute()
    page.goto(kiosk_url)
    page.get_by_test_id("no-card").click()
    page.get_by_role("heading", name="Sign in without a card").wait_for()
    user_name, password = page.get_by_test_id("user-name"), page.get_by_test_id("password")
    assert user_name.get_attribute("inputmode") == password.get_attribute("inputmode") == "none"
    for key in ("kb-a", "kb-shift", "kb-back", "kb-space", "kb-7"):  # large keys: at least 48 px
        box = page.get_by_test_id(key).bounding_box()
        assert box["width"] >= 48 and box["height"] >= 48
    axe_check(page, "signin")
    shots(page, "signin")
    _keyboard(page, "P1")  # into the focused field, the user name
    assert user_name.input_value() == "P1"
    password.click()
    _keyboard(page, "Orchid-lantern-7x")
    page.get_by_test_id("kb-back").click()  # backspace
    _keyboard(page, "4")
    assert password.input_value() == "Orchid-lantern-74" and password.get_attribute("type") == "password"
    page.get_by_test_id("show-password").click()
    assert password.get_attribute("type") == "text"
    assert page.get_by_test_id("show-password").get_attribute("aria-pressed") == "true"
    page.get_by_test_id("show-password").click()
    assert password.get_attribute("type") == "password"
    page.get_by_test_id("signin-ok").click()
    page.get_by_test_id("signin-error").wait_for()
    assert "That user name or password is not right." in page.get_by_test_id("signin-error").inner_text()
    assert page.get_by_test_id("password").input_value() == ""  # the password is never sent back
    assert page.get_by_test_id("user-name").input_value() == "P1"
    axe_check(page, "signin-wrong")
    shots(page, "signin-wrong")
    page.get_by_test_id("password").click()
    page.keyboard.type("Orchid-lantern-7")  # a USB keyboard works too
    _keyboard(page, "3")
    page.get_by_test_id("signin-ok").click()
    page.get_by_role("heading", name="Zoë Ólafsdóttir").wait_for()
    assert "Middlemarch" in page.content() and "Orchid" not in page.content()
    page.get_by_test_id("done").click()
    page.get_by_text("Thank you. Your session has ended.").wait_for()
    page.get_by_test_id("no-card").click()
    page.get_by_role("heading", name="Sign in without a card").wait_for()
    assert page.get_by_test_id("user-name").input_value() == "" and page.get_by_test_id("password").input_value() == ""


def test_fines_and_fees_receipt_printed_and_emailed(page, kiosk_url, kiosk_app, printer_file, smtp_server):
    from decimal import Decimal

    from library_kiosk.central.store import changes
    from library_kiosk.central.store.models import Fee, User
    from tests.kiosk.helpers import fill_cache

    Fee.create(user=User.get(User.primary_id == "P1"), fee_type="LOSTITEMREPLACEMENTFEE",
               original_amount=Decimal("45.00"), balance=Decimal("45.00"), title="Les Misérables")
    changes.record("P1")
    fill_cache(kiosk_app)
    _open_account(page, kiosk_url)
    page.get_by_test_id("tab-fees").click()  # the account's sections are tabs (issue 15)
    fees = page.get_by_role("group", name="Receipt: Fines and fees")
    fees.get_by_test_id("print-fees").wait_for()  # the tab is shown by a script: read it once it is there
    # their names (on a short screen each shows a short word, the name kept for assistive technology)
    names = ("Email me my fines and fees", "Print my fines and fees")
    assert [fees.get_by_role("button").count()] + [
        fees.get_by_role("button", name=name, exact=True).count() for name in names] == [2, 1, 1]
    page.get_by_test_id("print-fees").click()
    page.locator("#fees-notice").get_by_text("Your receipt is printing.").wait_for()
    axe_check(page, "fees-receipt")
    shots(page, "fees-receipt")
    with open(printer_file, "rb") as handle:
        printed = " ".join(decode_escpos(handle.read()).split())
    assert "Your fines and fees Zoë Ólafsdóttir" in printed
    assert "Lost item replacement fee (Les Misérables): £45.00" in printed and "Total: £47.50" in printed
    page.get_by_test_id("email-fees").click()
    page.locator("#fees-notice").get_by_text("Sent to your email address.").wait_for()
    message = mail_received(smtp_server)[0]
    body = message.get_payload()[0].get_payload(decode=True).decode("utf-8")
    assert "fines and fees" in message["Subject"] and "Total owed: £47.50" in body and "Les Misérables" in body


def test_on_timeout_receipt_emailed_when_the_patron_walks_away(page, kiosk_url, kiosk_app, smtp_server):
    kiosk_app.config["KIOSK"]["kiosk"].update(receipt_when="on_timeout", idle_timeout_seconds=5,
                                              idle_warning_seconds=3)
    _open_account(page, kiosk_url)
    page.get_by_test_id("renew-all").click()
    page.get_by_test_id("renewals").wait_for()
    note = page.get_by_test_id("receipt-at-end")
    assert "emailed to you when your session ends" in note.inner_text()
    axe_check(page, "renewals-receipt-at-end")
    shots(page, "renewals-receipt-at-end")
    assert not smtp_server.handler.messages  # nothing yet: the patron may still take one
    page.get_by_text("Thank you. Your session has ended.").wait_for(timeout=15000)  # walked away
    assert "Zoë" not in page.content()
    message = mail_received(smtp_server)[0]
    body = message.get_payload()[0].get_payload(decode=True).decode("utf-8")
    assert message["To"] == "zoe@example.org" and "Middlemarch" in body and "16 December 2026" in body


def test_the_page_says_it_is_alive_and_the_kiosk_hears_it(page, kiosk_url, kiosk_app):
    """kiosk.js posts /screen/seen as the page loads (and every 20 s): what the browser's supervisor reads
    (kiosk/screen_seen.py, library_kiosk/appliance/screen.py)."""
    assert kiosk_app.extensions["screen_seen"].silence()["seen"] is False
    with page.expect_request(lambda request: request.url.endswith("/screen/seen") and request.method == "POST"):
        page.goto(kiosk_url)
    page.wait_for_function("() => performance.getEntriesByName(location.origin + '/screen/seen').length > 0")
    assert kiosk_app.extensions["screen_seen"].silence()["seen"] is True
