"""Read-through at the tap in front of a SIP2 server (pysip2's, a real socket): the patron the central store has
never seen is found at the kiosk in one tap (SIP2 63), and a server that stops answering leaves the kiosk
serving what it knows, saying as of when."""
import pytest

from library_kiosk.central import api as central
from tests.helpers import TODAY
from tests.upstream.sip2_servers import PysipServer


@pytest.fixture
def sip2_server():
    server = PysipServer()
    yield server
    server.stop()


@pytest.fixture
def central_app(central_db, config, sip2_server):
    config["upstream"].update({"kind": "sip2", "sip2_port": sip2_server.port, "sip2_login_user": "kiosk",
                               "sip2_login_password": "s3cret", "sip2_institution_id": "MAIN",
                               "sip2_timeout_seconds": 2, "fresh_seconds": 0})
    return central.create_app(config, today=lambda: TODAY)


def test_a_sip2_patron_never_seen_is_found_in_one_tap_then_served_as_of_when_the_server_stops(synced_kiosk,
                                                                                             sip2_server):
    kiosk = synced_kiosk.test_client()
    first = kiosk.post("/identify", data={"identifier": "21000000001"})
    assert first.status_code == 200 and "not registered" not in first.get_data(as_text=True)
    assert any(message.startswith("63") for message in sip2_server.received)  # asked the library system
    kiosk.post("/done")
    sip2_server.stop()  # the library system goes away
    again = kiosk.post("/identify", data={"identifier": "21000000001"})
    assert again.status_code == 200 and "not registered" not in again.get_data(as_text=True)
    unknown = kiosk.post("/identify", data={"identifier": "21000000999"})
    assert unknown.status_code == 503 and "cannot be checked just now" in unknown.get_data(as_text=True)


def test_done_at_the_kiosk_ends_the_patrons_session_at_the_library_system(synced_kiosk, sip2_server):
    """35 (end patron session) when the patron leaves: Done, and a new card at the same screen."""
    from tests.helpers import wait_until

    kiosk = synced_kiosk.test_client()
    assert kiosk.post("/identify", data={"identifier": "21000000001"}).status_code == 200
    assert "35" not in sip2_server.received
    kiosk.post("/done")
    wait_until(lambda: sip2_server.received.count("35") == 1, 5, "the library system told the patron left")
    kiosk.post("/identify", data={"identifier": "21000000002"})
    kiosk.post("/identify", data={"identifier": "21000000001"})  # another card: the one before has left
    wait_until(lambda: sip2_server.received.count("35") == 2, 5, "35 for the patron a new card replaced")
