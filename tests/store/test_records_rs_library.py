"""central.store.records.set_rs_library: the resource sharing library of an internal record after registration."""
import pytest

from library_kiosk.central.store import changes
from library_kiosk.central.store.models import Change, User
from library_kiosk.central.store.records import Refused, set_rs_library
from library_kiosk.central.store.registration import Invalid
from library_kiosk.central.store.staff import AuditEntry
from tests.store import factories

LIBRARIES = ("UCL Main Library", "Senate House Library")


def test_set_rs_library_checks_the_list_records_a_change_and_audits(central_db):
    user = factories.patron("P1")
    seq = changes.latest_seq()
    assert set_rs_library(user, " Senate House Library ", "manager", LIBRARIES) is True
    user = User.get()
    assert user.rs_library == "Senate House Library"
    assert [c.primary_id for c in Change.select().where(Change.seq > seq)] == ["P1"]
    assert set_rs_library(user, "Senate House Library", "manager", LIBRARIES) is False  # the same: nothing written
    with pytest.raises(Invalid) as refused:
        set_rs_library(user, "Elsewhere", "manager", LIBRARIES)
    assert "rs_library" in refused.value.errors
    assert set_rs_library(user, "", "manager", ()) is True  # none, even with no list configured
    assert User.get().rs_library == "" and Change.select().where(Change.seq > seq).count() == 2
    assert [(a.operator, a.action, a.detail) for a in AuditEntry.select().order_by(AuditEntry.id)] == [
        ("manager", "patron.rs_library", "rs_library none -> Senate House Library"),
        ("manager", "patron.rs_library", "rs_library Senate House Library -> none")]


def test_set_rs_library_refuses_external_records(central_db):
    user = factories.patron("P2", account_type="EXTERNAL", external_id="STUDENT")
    seq = changes.latest_seq()
    with pytest.raises(Refused, match="patron feed"):
        set_rs_library(user, "UCL Main Library", "manager", LIBRARIES)
    assert User.get().rs_library == "" and changes.latest_seq() == seq and not AuditEntry.select().exists()
