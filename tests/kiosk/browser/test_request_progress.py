"""A slow or lost request never leaves the patron at a screen that waits forever: "Still working…" after 2 s,
then "No answer yet" with Try again after the request timeout, and Try again sends the request again."""
from tests.helpers import screenshot


def test_a_held_request_shows_still_working_then_try_again_which_works(page, kiosk_url, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["request_timeout_seconds"] = 4
    held = []
    page.route("**/identify", lambda route: held.append(route))  # the patron's request is lost: nothing answers
    page.set_viewport_size({"width": 800, "height": 480})  # the Pi's 7" touch screen
    page.goto(kiosk_url)
    page.get_by_test_id("identifier").wait_for()
    page.keyboard.type("20000000000011\n")
    progress = page.locator("#request-progress")
    progress.get_by_text("Still working…").wait_for(timeout=5000)
    progress.get_by_text("No answer yet. Please try again.").wait_for(timeout=8000)
    screenshot(page, "kiosk", "no-answer-800x480")
    assert len(held) == 1
    page.unroute("**/identify")  # the network is back
    progress.get_by_role("button", name="Try again").click()
    page.get_by_role("heading", name="Enter your PIN").wait_for()
    assert progress.is_hidden()
