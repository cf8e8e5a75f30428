"""The notes a patron may see reach the kiosks (issue 17): a note with ``user_viewable`` travels in the account
document through sync into the kiosk's cache; a note the patron may not see never leaves the central store (not
on the wire in either page format, not on the kiosk's disk). Both builders of the document (the read model's and
``build_accounts``) agree, and documents stored before notes were sent are built again once."""
import json
import os
import sqlite3

from kiosk import sync
from kiosk.cache_db import cache_db
from library_kiosk.central.store import accounts, changes, documents, records
from library_kiosk.central.store import sync as central_sync
from library_kiosk.central.store.fleet_keys import FleetKey
from library_kiosk.central.store.models import Change, Note, User
from library_kiosk.domain.account import Note as SeenNote
from tests.helpers import device_client
from tests.store.factories import patron

SEEN = "Your new card is ready at the Science Library desk"
HIDDEN = "Confidential: disciplinary case 2026-114, do not discuss"


def _patron_with_notes(primary_id="P1", barcode="20000000000011", card="04A1B2C3D4E5F6"):
    user = patron(primary_id, barcode=barcode, card=card)
    Note.create(user=user, note_type="CIRCULATION", note_text=SEEN, user_viewable=True, segment_type="External")
    Note.create(user=user, note_type="OTHER", note_text=HIDDEN, user_viewable=False)
    changes.record(primary_id)
    return user


def _pull(kiosk_app):
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], kiosk_app.extensions["patron_cache"])
        return kiosk_app.extensions["patron_cache"].get("P1")


def _disk(config) -> bytes:
    """Every file under the kiosk's data folder, and the cache's rows."""
    found = b""
    for folder, _dirs, files in os.walk(config["data_dir"]):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                found += handle.read()
    with sqlite3.connect(config["kiosk"]["cache_url"][len("sqlite:///"):]) as connection:
        found += "\n".join(str(row) for (row,) in connection.execute("SELECT document FROM cached_patron")).encode()
    return found


def test_a_viewable_note_reaches_the_kiosk_cache(kiosk_app, central_db):
    _patron_with_notes()
    assert _pull(kiosk_app).notes == (SeenNote("CIRCULATION", SEEN),)


def test_a_note_the_patron_may_not_see_is_not_on_the_kiosks_disk(kiosk_app, central_db, config):
    _patron_with_notes()
    _pull(kiosk_app)
    disk = _disk(config)
    assert (SEEN.encode() in disk, HIDDEN.encode() in disk, b"disciplinary" in disk) == (True, False, False)


def test_a_note_the_patron_may_not_see_is_not_on_the_wire(central_app, device_token, central_db):
    _patron_with_notes()
    client = device_client(central_app, device_token)
    wire = [client.get("/api/v1/sync/changes").data,
            client.get("/api/v1/sync/changes", query_string={"format": "lines"}).data]
    joined = b"\n".join(wire)
    assert (SEEN.encode() in joined, HIDDEN.encode() in joined) == (True, False)


def test_both_builders_give_the_same_notes(central_db):
    _patron_with_notes()
    built = json.loads(documents.build(["P1"], changes.latest_seq(), keep=False)["P1"][0])
    expected = accounts.kiosk_document(accounts.build_account(accounts.get_user("P1")).to_dict())
    assert (built == expected, built["notes"]) == (True, [{"note_type": "CIRCULATION", "text": SEEN}])


def test_a_note_made_viewable_at_the_station_reaches_a_synced_kiosk_and_leaves_it_when_deleted(kiosk_app,
                                                                                             central_db):
    user = patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    assert _pull(kiosk_app).notes == ()
    note = records.save_row(user, "note", {"note_text": "Please renew your membership", "note_type": "LIBRARY",
                                           "user_viewable": "on"}, "desk")
    assert _pull(kiosk_app).notes == (SeenNote("LIBRARY", "Please renew your membership"),)
    records.delete_row(User.get_by_id(user.id), "note", note.id, "desk")
    assert _pull(kiosk_app).notes == ()


def test_documents_stored_before_notes_were_sent_are_built_again_once(central_db):
    _patron_with_notes()
    patron("P2", barcode="20000000000022", card=None)
    documents.refresh_patrons(["P1", "P2"])
    stored = documents.PatronDocument.get_by_id("P1")
    older = json.loads(stored.document)
    del older["notes"]  # as the previous version stored it
    documents.PatronDocument.update(document=json.dumps(older, separators=(",", ":"))).where(
        documents.PatronDocument.primary_id == "P1").execute()
    FleetKey.delete().where(FleetKey.name == "document_shape").execute()
    cursor = changes.latest_seq()
    documents.configure(6)
    documents.configure(6)  # once only
    recorded = [c.primary_id for c in Change.select().where(Change.seq > cursor)]
    page = central_sync.page(cursor)
    served = {pid: json.loads(doc)["notes"] for _seq, pid, doc, _ids in page.records}
    assert (recorded, served) == (["P1"], {"P1": [{"note_type": "CIRCULATION", "text": SEEN}]})
