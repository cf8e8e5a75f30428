"""The outbox (kiosk/outbox.py), attacked with holes: an operation taken back (``withdraw``) anywhere in the
queue leaves a gap in its sequence numbers; the gap is closed at the next push, never blocking what follows
(issue 21)."""
import pytest

from kiosk import outbox
from kiosk.cache_db import cache_db
from library_kiosk.central.store.kiosk_calls import StaffCall


def _calls(count: int) -> list:
    return [outbox.enqueue("call_staff", {"reason": "help", "primary_id": ""}) for _ in range(count)]


def _push(kiosk_app) -> dict:
    return outbox.push(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])


def test_an_operation_taken_back_from_the_middle_blocks_nothing_after_it(kiosk_app, central_db):
    with cache_db.connection_context():
        first, middle, last = _calls(3)
        outbox.withdraw(middle)  # (its connection failed before it was sent)
        assert [item.seq for item in outbox.pending()] == [first.seq, last.seq]  # the hole
        assert _push(kiosk_app)["applied"] == 2
        assert outbox.length() == 0
        _calls(1)
        assert _push(kiosk_app)["applied"] == 1  # and the sequence carries on
    assert StaffCall.select().count() == 3


def test_holes_at_the_front_and_in_the_middle_are_closed_together(kiosk_app, central_db):
    with cache_db.connection_context():
        items = _calls(6)
        _push(kiosk_app)  # the central store has seen 1-6
        more = _calls(5)
        for item in (more[0], more[2], more[3]):
            outbox.withdraw(item)
        assert _push(kiosk_app)["applied"] == 2
        assert outbox.length() == 0
    assert StaffCall.select().count() == len(items) + 2


def test_a_push_that_died_with_its_server_blocks_the_next_for_seconds_only(kiosk_app, central_db):
    from kiosk.central_client import CentralError
    from library_kiosk.central.store import idempotency
    from library_kiosk.central.store.devices import Device
    from tests.helpers import pass_time

    with cache_db.connection_context():
        _calls(1)
        idempotency._take_lease(Device.get(Device.name == "kiosk-1"))  # a push that never ended
        with pytest.raises(CentralError) as refused:
            _push(kiosk_app)
        assert refused.value.code == "in_progress"
        pass_time(seconds=idempotency.LEASE_SECONDS + 1)
        assert _push(kiosk_app)["applied"] == 1


def test_the_web_app_and_the_sync_worker_take_turns_and_never_collide(kiosk_app, central_db):
    """Two pushes of this kiosk at the same moment (a patron's renewal and the sync worker): the second waits for
    the first, so the central store never answers in_progress and everything is applied once."""
    import threading

    with cache_db.connection_context():
        _calls(40)
    start, outcomes = threading.Barrier(2), []

    def one(batch):
        with cache_db.connection_context():
            start.wait()
            outcomes.append(outbox.push(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"],
                                        batch=batch, wait=30))

    workers = [threading.Thread(target=one, args=(batch,)) for batch in (1, 3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(o["applied"] for o in outcomes)[-1] >= 1 and sum(o["applied"] for o in outcomes) == 40
    assert StaffCall.select().count() == 40


def test_a_push_that_cannot_have_its_turn_in_time_sends_nothing(kiosk_app, central_db):
    with cache_db.connection_context():
        _calls(1)
        with outbox.push_turn(), pytest.raises(outbox.PushBusy):  # the sync worker is pushing
            outbox.push(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"], wait=0.1)
        assert outbox.length() == 1 and StaffCall.select().count() == 0
