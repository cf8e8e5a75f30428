"""store/documents.py: ``refresh_patrons`` builds the read model ahead of the first kiosk (docs/sync.md)."""
import json

from library_kiosk.central.store import changes, documents, sync
from library_kiosk.central.store.accounts import build_accounts, get_user, kiosk_document
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import User
from tests.store.factories import fine, patron


def _all_pages(limit=2):
    cursor, built, records = 0, 0, {}
    while True:
        page = sync.page(cursor, limit)
        built += page.built
        for _seq, primary_id, document, _identifiers in page.records:
            records[primary_id] = json.loads(document) if document else None
        cursor = page.cursor
        if not page.more:
            return built, records


def _expected(primary_id):
    user = get_user(primary_id)
    return None if user is None else kiosk_document(build_accounts([user])[0].to_dict())


def test_refreshed_patrons_are_streamed_by_the_first_sync_without_a_build(central_db, builds):
    for n in range(5):
        patron(f"P{n}", barcode=f"2000000000001{n}", card=None)
    fine(User.get(User.primary_id == "P1"), "3.00")
    progress = []
    assert documents.refresh_patrons([f"P{n}" for n in range(5)] + ["P1"], batch=2,
                                     progress=lambda d, t: progress.append((d, t))) == 5
    assert progress == [(0, 5), (2, 5), (4, 5), (5, 5)]
    assert {d.seq for d in documents.PatronDocument.select()} == {changes.latest_seq()}  # stamped past every change
    builds.clear()
    built, served = _all_pages()
    assert (built, builds) == (0, [])
    assert served == {f"P{n}": _expected(f"P{n}") for n in range(5)}


def test_without_a_refresh_the_first_sync_builds(central_db, builds):
    """The observer above sees builds when there are some: the test before it can fail."""
    patron("P1", card=None)
    built, served = _all_pages()
    assert built == 1 and builds == ["P1"] and served == {"P1": _expected("P1")}


def test_only_the_named_patrons_are_refreshed_and_patrons_gone_lose_their_document(central_db, builds):
    patron("P1", barcode="B1", card=None)
    patron("P2", barcode="B2", card=None)
    documents.refresh_patrons(["P1", "P2"])
    with database.atomic():
        User.get(User.primary_id == "P1").delete_instance(recursive=True)
        changes.record("P1", "delete")
        User.update(first_name="Later").where(User.primary_id == "P2").execute()
        changes.record("P2")
    patron("P3", barcode="B3", card=None)
    assert documents.refresh_patrons(["P1", "P3"]) == 2
    assert sorted(d.primary_id for d in documents.PatronDocument.select()) == ["P2", "P3"]
    builds.clear()
    built, served = _all_pages(limit=100)
    assert builds == ["P1", "P2"] and built == 2  # P2 was changed and not refreshed: stale, built for the page
    assert served == {"P1": None, "P2": _expected("P2"), "P3": _expected("P3")}
    assert served["P2"]["first_name"] == "Later"


def test_a_horizon_held_back_only_costs_the_head_start(central_db, builds, monkeypatch):
    """On PostgreSQL a writer in flight elsewhere can keep the safe horizon below the changes just written; the
    documents are then stamped with that horizon, and the first sync builds them again instead of serving a
    document its stamp does not cover."""
    patron("P1", card=None)
    early = changes.latest_seq()
    patron("P2", barcode="B2", card=None)
    with monkeypatch.context() as patched:
        patched.setattr(changes, "safe_horizon", lambda: early)
        assert documents.refresh_patrons(["P1", "P2"], wait=0.05) == 2
    assert {d.primary_id: d.seq for d in documents.PatronDocument.select()} == {"P1": early, "P2": early}
    builds.clear()
    built, served = _all_pages()
    assert builds == ["P2"] and built == 1 and served == {"P1": _expected("P1"), "P2": _expected("P2")}


def test_nothing_to_refresh(central_db, builds):
    assert documents.refresh_patrons([]) == 0 and builds == []
