"""Borrowing and giving back through the kiosk's services (kiosk/services.py ``checkout`` / ``checkin``): a real
kiosk app, its SQLite cache and outbox, a live central store over HTTP. Online the central store decides; offline
``[kiosk] offline_checkout`` refuses or lends from the cached account, returns are always taken and queued, and
every queued operation is applied exactly once when the central store answers again."""
import datetime as dt
from decimal import Decimal

import pytest

from kiosk import outbox, services, sync
from kiosk.cache_db import cache_db
from library_kiosk.central.store import items
from library_kiosk.central.store.devices import AppliedOp, SyncConflict
from library_kiosk.central.store.models import Fee, Loan, Request, UserGroup
from tests.kiosk.helpers import identify
from tests.store.factories import TODAY, hold, loan, patron

P1_BARCODE = "20000000000011"


def book(barcode, **policy):
    return items.Item.create(barcode=barcode, title=f"Book {barcode}", library="MAIN", **policy)


@pytest.fixture
def desk(kiosk, kiosk_app):
    """Inside a kiosk request: P1 identified (card and PIN) while the central store answers; (account, visit)."""
    with kiosk_app.test_request_context(), cache_db.connection_context():
        yield identify(P1_BARCODE)


def _offline(kiosk_app):
    kiosk_app.extensions["central"].base_url = "http://127.0.0.1:9"  # nothing listens there
    sync.note_online(kiosk_app.extensions["patron_cache"], False, "test: offline")


def _online(kiosk_app, live_central):
    kiosk_app.extensions["central"].base_url = live_central.url
    report = sync.cycle(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
    assert report["error"] == ""


def _open_loan(barcode):
    return Loan.get_or_none((Loan.item_barcode == barcode) & Loan.still_out())


def test_online_the_central_store_lends_and_the_cached_account_shows_the_loan(desk):
    account, visit = desk
    book("39100")
    outcome = services.checkout(account, "39100", visit)
    assert (outcome.borrowed, outcome.pending, outcome.title) == (True, False, "Book 39100")
    assert outcome.due_date == TODAY + dt.timedelta(days=21)
    assert _open_loan("39100").user.primary_id == "P1"
    cached = services.get_patron("P1")
    assert [loan.due_date for loan in cached.loans if loan.item_barcode == "39100"] == [outcome.due_date]
    assert outbox.length() == 0


def test_online_a_refusal_comes_with_its_plain_reason_and_nothing_is_lent(desk):
    account, visit = desk
    book("39101", circulates=False)
    outcome = services.checkout(account, "39101", visit)
    assert (outcome.borrowed, outcome.reason) == (False, "not_circulating")
    assert outcome.message == "This item cannot be borrowed. It is for use in the library only."
    assert _open_loan("39101") is None


def test_without_a_visit_the_central_store_refuses_to_lend(desk):
    account, _visit = desk
    book("39102")
    outcome = services.checkout(account, "39102", "")
    assert (outcome.borrowed, outcome.reason) == (False, "no_visit")
    assert _open_loan("39102") is None


def test_offline_with_the_default_setting_borrowing_is_refused_and_nothing_queued(desk, kiosk_app):
    account, visit = desk
    _offline(kiosk_app)
    outcome = services.checkout(account, "39103", visit)
    assert (outcome.borrowed, outcome.reason) == (False, "offline_refused")
    assert outbox.length() == 0


def test_offline_allowed_lends_up_to_the_limit_then_applies_each_once(desk, kiosk_app, live_central):
    account, visit = desk
    kiosk_app.config["KIOSK"]["kiosk"].update(offline_checkout="allow", offline_checkout_limit=3)
    for barcode in ("39110", "39111", "39112", "39113"):
        book(barcode)
    _offline(kiosk_app)
    outcomes = [services.checkout(account, b, visit) for b in ("39110", "39111", "39112", "39113")]
    assert [(o.borrowed, o.pending, o.reason) for o in outcomes] == [(True, True, "")] * 3 + [
        (False, False, "offline_limit")]
    assert outcomes[0].due_date == TODAY + dt.timedelta(days=21)
    cached = services.get_patron("P1")
    assert {"39110", "39111", "39112"} <= {loan.item_barcode for loan in cached.loans}
    assert all(not loan.renewable for loan in cached.loans if loan.item_barcode.startswith("3911"))  # until known
    assert services.checkout(account, "39110", visit).reason == "already_yours"
    assert outbox.length() == 3
    _online(kiosk_app, live_central)
    assert outbox.length() == 0
    assert [bool(_open_loan(b)) for b in ("39110", "39111", "39112", "39113")] == [True, True, True, False]
    assert AppliedOp.select().where(AppliedOp.op_type == "checkout").count() == 3


def test_offline_the_cached_block_refuses(desk, kiosk_app):
    account, visit = desk
    kiosk_app.config["KIOSK"]["kiosk"]["offline_checkout"] = "allow"
    import dataclasses

    from library_kiosk.domain.account import Block

    blocked = dataclasses.replace(account, blocks=(Block("CARD_LOST", "Card reported lost"),))
    services._cache().replace_account(blocked)
    _offline(kiosk_app)
    assert services.checkout(blocked, "39120", visit).reason == "blocked"
    assert outbox.length() == 0


def test_an_offline_loan_refused_at_replay_is_a_conflict_staff_see(desk, kiosk_app, live_central):
    account, visit = desk
    kiosk_app.config["KIOSK"]["kiosk"]["offline_checkout"] = "allow"
    book("39130")
    _offline(kiosk_app)
    assert services.checkout(account, "39130", visit).borrowed
    hold(patron("P9", barcode="B9", card="C9"), item_barcode="39130", status="ON_HOLD_SHELF", place=None)
    _online(kiosk_app, live_central)
    assert _open_loan("39130") is None
    [conflict] = list(SyncConflict.select().where(SyncConflict.op_type == "checkout"))
    assert (conflict.reason, conflict.primary_id) == ("checkout_refused_at_replay", "P1")
    assert "39130" in conflict.detail and "[the kiosk said: borrowed, due" in conflict.detail
    assert [r["reason"] for r in outbox.rejected()] == ["checkout_refused_at_replay"]
    from provisioning.conflicts import describe

    shown = describe(conflict, {}, {})  # the station's Sync conflicts page
    assert (shown["operation"], shown["reason"]) == ("checkout", "Item lent offline, refused at replay")
    assert "waiting for another patron" in shown["why"]


def test_a_checkout_whose_answer_was_lost_is_pending_then_applied_once(desk, kiosk_app, live_central, monkeypatch):
    from kiosk.central_client import CentralUnavailable

    account, visit = desk
    book("39140")
    central = kiosk_app.extensions["central"]
    real = central.push_ops

    def answer_lost(ops):
        real(ops)  # applied at the central store ...
        monkeypatch.setattr(central, "push_ops", real)
        raise CentralUnavailable("read timed out")  # ... and the answer never arrives

    monkeypatch.setattr(central, "push_ops", answer_lost)
    outcome = services.checkout(account, "39140", visit)
    assert (outcome.borrowed, outcome.pending, outcome.reason) == (False, True, "unconfirmed")
    assert outbox.length() == 1
    _online(kiosk_app, live_central)  # the resend gets the stored answer, not "already_yours"
    assert outbox.length() == 0
    assert Loan.select().where(Loan.item_barcode == "39140").count() == 1


def test_online_a_return_says_where_the_item_goes_and_the_late_fee(desk):
    other = patron("P8", barcode="B8", card="C8", group_code="31")
    UserGroup.update(fine_per_day=Decimal("0.50")).where(UserGroup.code == "31").execute()
    book("39150")
    loan(other, barcode="39150", due=TODAY - dt.timedelta(days=2))
    waiting = hold(patron("P7", barcode="B7", card="C7"), item_barcode="39150", place=1)
    result = services.checkin("39150")
    assert (result.returned, result.route, result.late_fee, result.pending) == (True, "hold_shelf",
                                                                                Decimal("1.00"), False)
    assert result.message == "Returned. Please put this item on the hold shelf."
    assert Request.get_by_id(waiting.id).status == "ON_HOLD_SHELF"
    assert Fee.get(Fee.user == other.id).balance == Decimal("1.00")


def test_a_return_of_another_librarys_item_goes_to_transit_by_the_kiosks_library_code(desk, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["library_code"] = "MAIN"
    items.Item.create(barcode="39160", title="Science", library="SCIENCE")
    loan(patron("P8", barcode="B8", card="C8"), barcode="39160")
    assert services.checkin("39160").route == "transit"


def test_an_item_not_on_loan_is_refused_to_the_desk(desk):
    book("39170")
    result = services.checkin("39170")
    assert (result.returned, result.reason, result.route) == (False, "not_on_loan", "desk")


def test_offline_returns_are_taken_queued_and_applied_once(desk, kiosk_app, live_central):
    book("39180")
    loan(patron("P8", barcode="B8", card="C8"), barcode="39180")
    _offline(kiosk_app)
    first = services.checkin("39180")
    again = services.checkin("39180")  # put on the reader twice: two returns queued
    assert (first.returned, first.reason, first.pending) == (True, "queued", True)
    assert first.message == "Returned. The library system will be told as soon as it can be reached."
    assert again.pending and outbox.length() == 2
    _online(kiosk_app, live_central)
    assert outbox.length() == 0
    assert _open_loan("39180") is None
    assert Loan.get(Loan.item_barcode == "39180").return_date == TODAY
    assert [a.status for a in AppliedOp.select().where(AppliedOp.op_type == "checkin")] == ["applied", "applied"]


def test_a_queued_return_of_a_barcode_no_item_can_have_is_rejected_and_blocks_nothing(desk, kiosk_app, live_central):
    book("39190")
    loan(patron("P8", barcode="B8", card="C8"), barcode="39190")
    outbox.enqueue("checkin", {"item_barcode": "3" * 61, "library": ""})  # (the services never queue one)
    outbox.enqueue("checkin", {"item_barcode": "39190", "library": ""})
    _online(kiosk_app, live_central)
    assert outbox.length() == 0
    assert [r["reason"] for r in outbox.rejected()] == ["invalid_item_barcode"]
    assert _open_loan("39190") is None
