"""The out-of-order screen in real Chromium (issue 21, findings 3 and 7): a kiosk whose cache is full answers a
tapped card with a plain screen sending the patron to the desk, with Done, and its idle timeout still ends it."""
import pytest

from kiosk.cache_db import cache_db
from tests.helpers import LiveServer
from tests.kiosk.helpers import fill_cache, make_patrons


@pytest.fixture
def full_kiosk(kiosk_app, central_db):
    """The kiosk with its cache full for the web app's connections (``PRAGMA max_page_count`` at the file's size:
    every write that needs a page fails with SQLITE_FULL, a real SQLite error path)."""
    make_patrons()
    fill_cache(kiosk_app)
    db = cache_db.obj
    kept = list(db._pragmas)
    with db.connection_context():
        pages = db.execute_sql("PRAGMA page_count").fetchone()[0]
    db._pragmas = kept + [("max_page_count", pages)]
    server = LiveServer(kiosk_app)
    yield server.url
    server.stop()
    db._pragmas = kept


def test_a_full_cache_shows_out_of_order_with_done_and_the_idle_timeout_ends_it(page, full_kiosk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"].update(idle_timeout_seconds=6, idle_warning_seconds=3)
    page.goto(full_kiosk)
    page.get_by_test_id("identifier").wait_for()
    page.keyboard.type("20000000000011\n")
    page.get_by_role("heading", name="This kiosk is out of order").wait_for()
    assert "Internal Server Error" not in page.content() and "Zoë" not in page.content()
    assert page.get_by_test_id("done").is_visible()
    page.get_by_text("Thank you. Your session has ended.").wait_for(timeout=15000)  # the idle timeout ended it
    assert "out of order" not in page.content()
