"""Bounded event streams (web/streams.py): replaced per client, refused over the limit, keepalives, one hub."""
import threading

import pytest

from hardware.events import CARD, ReaderEvent, ReaderStatus, StatusEvent
from library_kiosk.web.streams import REACHABLE, UNREACHABLE, ReaderHub, StreamBoard, StreamsFull, body


def test_a_new_stream_of_a_client_ends_its_oldest_over_the_per_client_bound():
    board = StreamBoard(limit=10, per_client=2)
    first, second = board.open("10.0.0.5"), board.open("10.0.0.5")
    third = board.open("10.0.0.5")
    assert board.count() == 2
    text = list(body(board, first, str, [], keepalive_seconds=60))  # ends at once: it was replaced
    assert text == ["retry: 5000\n\n"]
    assert second.inbox.empty() and third.inbox.empty()


def test_a_stream_over_the_limit_is_refused_with_a_retry_hint_not_queued():
    board = StreamBoard(limit=2, per_client=5, retry_seconds=7)
    board.open("a"), board.open("b")
    with pytest.raises(StreamsFull) as refused:
        board.open("c")
    assert refused.value.retry_seconds == 7 and board.count() == 2


def test_a_quiet_stream_writes_keepalives_and_frees_its_slot_when_closed():
    board = StreamBoard(limit=1, per_client=1)
    stream = board.open("a")
    text = body(board, stream, str, ["first\n\n"], keepalive_seconds=0.01)
    assert [next(text), next(text), next(text)] == ["retry: 5000\n\n", "first\n\n", ": keepalive\n\n"]
    text.close()  # what the server does when a write to the departed browser fails
    assert board.count() == 0
    board.open("b")  # the slot is free again


def test_the_hub_publishes_events_and_says_when_the_service_is_unreachable():
    board = StreamBoard(limit=5, per_client=5)
    stream = board.open("a")
    calls = []
    served = threading.Event()

    def subscribe(url):
        calls.append(url)
        if len(calls) == 1:
            yield StatusEvent([ReaderStatus("Desk", True)])
            yield ReaderEvent(kind=CARD, value="04A1", reader="Desk")
            raise OSError("connection reset")
        served.set()
        raise OSError("refused")

    hub = ReaderHub("http://reader", board, subscribe, retry_seconds=0.01)
    hub.ensure_started()
    hub.ensure_started()  # one subscription per process, however many streams start it
    assert served.wait(5)
    hub.stop()
    items = [stream.inbox.get(timeout=5) for _ in range(4)]
    assert items[0] is REACHABLE and isinstance(items[1], StatusEvent)
    assert isinstance(items[2], ReaderEvent) and items[2].value == "04A1" and items[3] is UNREACHABLE
    assert hub.last_status is UNREACHABLE and set(calls) == {"http://reader"}


def test_a_stream_that_falls_behind_drops_events_instead_of_growing():
    board = StreamBoard(limit=1, per_client=1)
    stream = board.open("a")
    for n in range(150):
        board.publish(n)
    assert stream.inbox.qsize() == 100 and stream.inbox.get_nowait() == 0  # the oldest kept, the rest dropped
