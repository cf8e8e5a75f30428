"""A message nobody answers goes away: with nobody signed in, an answer left on screen (this card is not
registered, the kiosk still starting, help) gives way to the attract screen after the idle timeout, its card field
ready for the next patron's scan. Found booting the kiosk's image (tests/vm): "This kiosk is still starting" stayed
on screen for good, and a scan typed on it went nowhere."""
CARD = "20000000000011"  # P1 (tests/kiosk/helpers.py make_patrons): a group that asks for a PIN


def test_an_unanswered_message_gives_way_to_the_attract_screen_after_the_idle_timeout(page, kiosk_url, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"].update(idle_timeout_seconds=4, idle_warning_seconds=2)
    page.goto(kiosk_url)
    page.get_by_test_id("identifier").focus()
    page.keyboard.type("999\n")
    page.get_by_role("heading", name="This card is not registered").wait_for()
    page.get_by_test_id("identifier").wait_for(timeout=15000)         # the attract screen's card field again
    assert page.get_by_role("heading", name="This card is not registered").count() == 0
    page.keyboard.type(f"{CARD}\n")                                   # and the next patron's scan reaches it
    page.get_by_test_id("pin").wait_for()
