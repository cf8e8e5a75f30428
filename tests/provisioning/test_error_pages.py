"""A wrong address at the station (provisioning/views.py error handlers) answers a designed page in the station's
layout with a link home, never the framework's own text: an unknown address (404), and a known one asked the wrong
way (405, a form's address opened in the browser, a post to a page), with its Allow header."""
import pytest

from tests.provisioning.helpers import StaffClient

FRAMEWORK_WORDS = ("Method Not Allowed", "The method is not allowed", "The requested URL was not found")


@pytest.fixture
def desk_client(station):
    return StaffClient(station, "desk")


@pytest.mark.parametrize("method, path, status", [
    ("get", "/no-such-page", 404), ("get", "/patrons/NOBODY", 404),
    ("post", "/", 405), ("get", "/patrons/P1/checkout", 405), ("delete", "/desk/checkin", 405),
], ids=["unknown-address", "unknown-record", "post-to-the-search", "form-address-opened", "delete"])
def test_a_wrong_address_answers_the_station_s_page_with_a_link_home(desk_client, method, path, status):
    response = getattr(desk_client.client, method)(path)
    page = response.get_data(as_text=True)
    assert (response.status_code, '<main id="screen"' in page, '<a href="/">Back to the station</a>' in page,
            any(words in page for words in FRAMEWORK_WORDS)) == (status, True, True, False)


def test_a_method_not_allowed_says_so_in_words(desk_client):
    page = desk_client.client.post("/").get_data(as_text=True)
    assert "<h1>This page cannot be used that way</h1>" in page


def test_a_method_not_allowed_names_the_methods_allowed(desk_client):
    assert set(desk_client.client.post("/").headers["Allow"].split(", ")) >= {"GET"}


def test_a_wrong_address_through_htmx_answers_the_message_alone(desk_client):
    page = desk_client.client.post("/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert ("<html" in page, "This page cannot be used that way" in page) == (False, True)
