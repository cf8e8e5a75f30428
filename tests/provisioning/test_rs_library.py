"""The resource sharing library after registration: a user manager changes it on the General tab of an internal
record (from the configured list, or to none); audited, recorded as a change for the kiosks; external records and
the circulation desk cannot."""
import re

from library_kiosk.central.store import changes
from library_kiosk.central.store.models import Change, User
from library_kiosk.central.store.staff import AuditEntry
from tests.store import factories

LIBRARIES = ["UCL Main Library", "Senate House Library"]


def _changes_of(primary_id, after):
    return Change.select().where((Change.primary_id == primary_id) & (Change.seq > after)).count()


def _audit():
    return [(a.operator, a.primary_id, a.detail) for a in
            AuditEntry.select().where(AuditEntry.action == "patron.rs_library").order_by(AuditEntry.id)]


def test_a_user_manager_changes_the_resource_sharing_library_of_an_internal_record(station, manager):
    station.config["KIOSK"]["provisioning"]["rs_libraries"] = LIBRARIES
    factories.patron("P1", rs_library="UCL Main Library")
    page = manager.get("/patrons/P1").get_data(as_text=True)
    assert 'data-testid="rs-library-form"' in page and "Resource sharing library: UCL Main Library" in page
    assert re.search(r'<select id="rs_library" name="rs_library"[^>]*>\s*<option value="">None</option>\s*'
                     r'<option value="UCL Main Library" selected>', page)
    seq = changes.latest_seq()

    response = manager.post("/patrons/P1/rs-library", {"rs_library": "Senate House Library"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Resource sharing library saved." in text
    assert "Resource sharing library: Senate House Library" in text
    assert User.get().rs_library == "Senate House Library" and _changes_of("P1", seq) == 1

    refused = manager.post("/patrons/P1/rs-library", {"rs_library": "Somewhere Else"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'data-testid="error-rs_library"' in text
    assert 'value="Zoë"' in text  # the General form above still shows the record's values
    same = manager.post("/patrons/P1/rs-library", {"rs_library": "Senate House Library"})
    assert same.status_code == 200 and "unchanged" in same.get_data(as_text=True)
    assert manager.post("/patrons/P1/rs-library", {"rs_library": ""}).status_code == 200  # none
    assert User.get().rs_library == "" and _changes_of("P1", seq) == 2
    assert _audit() == [("manager", "P1", "rs_library UCL Main Library -> Senate House Library"),
                        ("manager", "P1", "rs_library Senate House Library -> none")]
    assert manager.post("/patrons/P1/rs-library", {"rs_library": "Senate House Library"}, csrf=False).status_code == 400
    assert User.get().rs_library == ""


def test_a_library_no_longer_configured_is_kept_not_chosen_again(station, manager):
    station.config["KIOSK"]["provisioning"]["rs_libraries"] = LIBRARIES
    factories.patron("P1", rs_library="Old Annexe")
    page = manager.get("/patrons/P1").get_data(as_text=True)
    assert '<option value="Old Annexe" selected>Old Annexe (no longer in the list)</option>' in page
    assert manager.post("/patrons/P1/rs-library", {"rs_library": "Old Annexe"}).status_code == 200  # kept
    assert manager.post("/patrons/P1/rs-library", {"rs_library": "UCL Main Library"}).status_code == 200
    assert manager.post("/patrons/P1/rs-library", {"rs_library": "Old Annexe"}).status_code == 422
    assert User.get().rs_library == "UCL Main Library"


def test_external_records_and_the_circulation_desk_cannot_change_it(station, manager, desk):
    station.config["KIOSK"]["provisioning"]["rs_libraries"] = LIBRARIES
    factories.patron("P2", barcode="B2", card="C2", account_type="EXTERNAL", external_id="STUDENT")
    factories.patron("P1", rs_library="UCL Main Library")
    page = manager.get("/patrons/P2").get_data(as_text=True)
    assert 'data-testid="save-rs-library"' not in page and "Resource sharing library: none" in page
    refused = manager.post("/patrons/P2/rs-library", {"rs_library": "UCL Main Library"})
    assert refused.status_code == 403 and "patron feed" in refused.get_data(as_text=True)
    assert 'data-testid="save-rs-library"' not in desk.get("/patrons/P1").get_data(as_text=True)
    assert desk.post("/patrons/P1/rs-library", {"rs_library": "Senate House Library"}).status_code == 403
    assert [u.rs_library for u in User.select().order_by(User.primary_id)] == ["UCL Main Library", ""]
    assert not _audit()
