"""The sync read model (store/documents.py) and the line format of pages (docs/sync.md): a stored document is
served only if it reflects every change up to the record's seq; pages in the line format carry the same data."""
import json

import pytest

from kiosk.central_client import CentralClient, CentralUnavailable
from kiosk.pages import PageError, parse_lines
from library_kiosk.central.store import changes, demo, documents, sync
from library_kiosk.central.store.accounts import build_accounts, get_user, kiosk_document
from library_kiosk.central.store.accounts import documents as build_documents
from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.models import Block, Email, Fee, User
from tests.helpers import BACKEND
from tests.store.factories import KEYER, TODAY, fine, hold, loan, patron
from tests.sync.served import served


def _expected(primary_id):
    user = get_user(primary_id)
    return None if user is None else kiosk_document(build_accounts([user])[0].to_dict())


def _served(cursor=0):
    return served(cursor, 1000)


def _rich_patrons():
    first = patron("P1", barcode="B1", card="C1")
    second = patron("P2", barcode="B2", card="C2", expiry=None)
    loan(first, "Middlemarch", barcode="3000000000001")
    loan(first, "Beloved", barcode="3000000000002", status="LOST")
    loan(first, "Returned", barcode="3000000000003", status="RETURNED")
    hold(second, item_barcode="3000000000001")  # P1's loan is requested by another patron
    hold(first, item_barcode="3000000000002", status="ON_HOLD_SHELF")  # by P1 itself: not "by another"
    fine(first, "2.50")
    fine(first, "1.00", status="CLOSED")
    Block.create(user=first, block_description="Lost card", expiry_date=TODAY)
    Email.create(user=first, email_address="a@example.org")
    Email.create(user=first, email_address="b@example.org", preferred=True)
    Fee.create(user=second, fee_type="LOSTITEMREPLACEMENTFEE", original_amount="45", balance="12.3")
    changes.record_many(["P1", "P2"])


def test_documents_are_exactly_the_account_documents(central_db):
    _rich_patrons()
    demo.generate(60, seed=4, today=TODAY)
    ids = [p for (p,) in User.select(User.primary_id).tuples()]
    built = build_documents(ids + ["NOBODY"])
    assert set(built) == set(ids)
    for primary_id in ids:
        document, identifiers = built[primary_id]
        assert document == json.dumps(_expected(primary_id), separators=(",", ":"))
        user = get_user(primary_id)
        from library_kiosk.central.store.accounts import identifiers_of

        assert json.loads(identifiers) == identifiers_of([user.id])[user.id]


def test_a_first_sync_serves_stored_documents_and_rebuilds_only_what_changed(central_db):
    _rich_patrons()
    first = sync.page(0, 100)
    assert first.built == 2 and documents.PatronDocument.select().count() == 2
    again = sync.page(0, 100)
    assert again.built == 0 and again.records == first.records  # served from the read model
    User.update(first_name="Renamed").where(User.primary_id == "P2").execute()
    changes.record("P2")
    later = sync.page(0, 100)
    assert later.built == 1
    assert _served() == {"P1": _expected("P1"), "P2": _expected("P2")}
    assert _served()["P2"]["first_name"] == "Renamed"


def test_a_stored_document_older_than_the_change_is_never_served(central_db):
    patron("P1")
    sync.page(0, 100)
    stamp = documents.PatronDocument.get().seq
    # a write whose Change row is at a seq above the stored stamp (the convention: same transaction)
    with database.atomic():
        User.update(first_name="New").where(User.primary_id == "P1").execute()
        changes.record("P1")
    assert changes.latest_seq() > stamp
    assert _served()["P1"]["first_name"] == "New"
    assert documents.PatronDocument.get().seq == changes.latest_seq()


def test_the_stamp_decides_not_the_time_a_document_was_stored(central_db):
    """A document stored with a stamp at or above a change is served as is; below it, rebuilt."""
    patron("P1")
    seq = changes.latest_seq()
    fake = json.dumps({**_expected("P1"), "first_name": "Stored"}, separators=(",", ":"))
    documents.save({"P1": (fake, "[]")}, seq)
    assert _served()["P1"]["first_name"] == "Stored"
    documents.PatronDocument.update(seq=seq - 1).execute()
    assert _served()["P1"]["first_name"] != "Stored"


def test_deleted_patrons_travel_as_deletes_and_leave_the_read_model(central_db):
    user = patron("P1")
    patron("P2", barcode="B2", card="C2")
    sync.page(0, 100)
    with database.atomic():
        user.delete_instance(recursive=True)
        changes.record("P1", "delete")
    page = sync.changes_after(KEYER, 0, 100)
    assert [(r["primary_id"], r["kind"]) for r in page["records"]] == [("P2", "upsert"), ("P1", "delete")]
    assert [d.primary_id for d in documents.PatronDocument.select()] == ["P2"]


def test_a_first_sync_right_after_the_demo_generator_and_a_feed_is_correct(central_db, tmp_path):
    demo.generate(300, seed=2, today=TODAY, documents=False)  # the read model is built here, by refresh
    assert sync.refresh_documents() == 300
    User.update(first_name="After").where(User.primary_id == demo_first()).execute()  # data, then its Change
    changes.record(demo_first())
    demo.generate(200, seed=3, today=TODAY)  # more rows and Change rows in bulk
    from library_kiosk.central.store.jobs.feed import load_feed

    path = tmp_path / "feed.csv"
    path.write_text("primary_id,first_name,last_name,user_group,expiry_date,purge_date,barcode,email,"
                    "statistic_category\nS1,Zoë,Ólafsdóttir,21,2027-09-30,,21000000000001,zoe@example.ac.uk,UG\n"
                    f"{demo_first()},Feed,Name,21,2027-09-30,,21000000000002,,\n")
    report = load_feed(str(path), operator="tester", today=TODAY, fmt="csv", source="STUDENT")
    assert report.ok, report.message
    served = _served()
    ids = [p for (p,) in User.select(User.primary_id).tuples()]
    assert served == {pid: _expected(pid) for pid in ids}
    assert served["S1"]["first_name"] == "Zoë"


def demo_first():
    return User.select(User.primary_id).order_by(User.id).first().primary_id


def test_a_writer_in_flight_never_leaves_a_stale_document_behind(central_db, central_url):
    user = patron("P1")
    sync.page(0, 100)
    if BACKEND == "postgres":
        import psycopg2

        other = psycopg2.connect(central_url)  # a writer changes P1 and takes a seq, not committed yet
        try:
            with other.cursor() as cur:
                cur.execute("UPDATE \"user\" SET first_name = 'InFlight' WHERE id = %s", (user.id,))
                cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (changes.SEQ_LOCK,))
                cur.execute("INSERT INTO change (primary_id, kind, created) VALUES ('P1', 'upsert', now())")
            changes.record("P2")  # a later seq commits first
            blocked = sync.page(0, 100)  # the horizon stays below the writer's seq: nothing stamped above it
            assert [r[1] for r in blocked.records] == ["P1"] and blocked.horizon < changes.latest_seq()
            assert all(stamp <= blocked.horizon for (stamp,) in documents.PatronDocument.select(
                documents.PatronDocument.seq).tuples())
            other.commit()
        finally:
            other.close()
    else:  # SQLite: one writer at a time, commit order is seq order
        with database.atomic():
            User.update(first_name="InFlight").where(User.id == user.id).execute()
            changes.record("P1")
            changes.record("P2")
    assert _served()["P1"]["first_name"] == "InFlight"


def test_the_line_format_carries_the_same_page(central_db):
    _rich_patrons()
    patron("P3", barcode="B3", card="C3")
    with database.atomic():
        User.get(User.primary_id == "P3").delete_instance(recursive=True)
        changes.record("P3", "delete")
    as_json = sync.changes_after(KEYER, 0, 100)
    lines = parse_lines(sync.changes_lines(KEYER, 0, 100))
    assert {k: lines[k] for k in ("cursor", "more", "horizon")} == {k: as_json[k] for k in ("cursor", "more",
                                                                                             "horizon")}
    assert len(lines["records"]) == len(as_json["records"]) == 3
    for mine, theirs in zip(lines["records"], as_json["records"]):
        if theirs["kind"] == "delete":
            assert mine == theirs
        else:
            assert json.loads(mine.pop("document")) == theirs.pop("account") and mine == theirs


def test_cut_off_or_garbled_line_pages_are_refused(central_db):
    patron("P1")
    patron("P2", barcode="B2", card="C2")
    text = sync.changes_lines(KEYER, 0, 100)
    for bad in (text[:len(text) // 2], text[:-1], text.replace('"upsert"', '"upsurt"', 1),
                text.replace('{"primary_id":"P2"', '{"primary_id":"P9"', 1), text.replace("\t", " ", 1),
                text.split("\n", 1)[1]):
        with pytest.raises(PageError):
            parse_lines(bad)
    with pytest.raises(CentralUnavailable):
        CentralClient.parse_changes(text[:-20])


def test_the_api_serves_lines_and_refuses_unknown_formats(api, device_token):
    patron("P1")
    auth = {"Authorization": f"Bearer {device_token}"}
    answer = api.get("/api/v1/sync/changes?format=lines", headers=auth)
    assert answer.status_code == 200 and answer.mimetype == sync.LINES_MEDIA_TYPE
    page = parse_lines(answer.get_data(as_text=True))
    assert [r["primary_id"] for r in page["records"]] == ["P1"]
    assert api.get("/api/v1/sync/changes?format=xml", headers=auth).status_code == 400
    assert is_postgres() == (BACKEND == "postgres")
