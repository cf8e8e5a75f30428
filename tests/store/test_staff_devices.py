"""library_kiosk.central.store.staff account changes (deactivate, passwords, login refusal) and store.devices' sync
conflicts dealt with, without the station: rules, audit entries, and the additive migration."""
import pytest

from library_kiosk.central.store import devices, schema, staff
from library_kiosk.central.store.devices import SyncConflict, SyncConflictDealt
from library_kiosk.central.store.staff import AuditEntry, StaffUser

PASSWORD, NEW = "Circulation-pass-9", "Heron-window-4812"


@pytest.fixture
def clerk(central_db):
    return staff.create_staff("clerk", PASSWORD, "circulation", "Mina Clerkwell")


def test_a_deactivated_account_is_refused_with_its_own_message(clerk):
    staff.set_active("clerk", False, "boss")
    assert not StaffUser.get_by_id(clerk.id).active and not StaffUser.get_by_id(clerk.id).has_role("circulation")
    for password in (PASSWORD, "wrong"):
        with pytest.raises(staff.LoginRefused, match="deactivated"):
            staff.log_in("clerk", password)
    with pytest.raises(staff.LoginRefused, match="user name or password is not right"):
        staff.log_in("nobody", PASSWORD)
    with pytest.raises(staff.StaffError, match="already deactivated"):
        staff.set_active("clerk", False, "boss")
    staff.set_active("clerk", True, "boss")
    assert staff.log_in("clerk", PASSWORD).username == "clerk"
    with pytest.raises(staff.StaffError, match="own account"):
        staff.set_active("clerk", False, "clerk")
    assert [(a.operator, a.action, a.detail) for a in AuditEntry.select().where(AuditEntry.operator == "boss")
            .order_by(AuditEntry.id)] == [("boss", "staff.deactivate", "clerk"), ("boss", "staff.reactivate", "clerk")]


def test_password_changes_follow_the_patron_password_rules(clerk):
    with pytest.raises(staff.PasswordError) as refused:
        staff.change_own_password("clerk", "wrong", "clerkwell-99", "clerkwell-98")
    assert set(refused.value.fields) == {"current_password", "new_password", "confirm_password"}
    assert "user name" in refused.value.fields["new_password"]  # the full name counts too
    with pytest.raises(staff.PasswordError) as refused:
        staff.set_password("clerk", "12345678", "12345678", "boss")
    assert set(refused.value.fields) == {"new_password"} and "too common" in refused.value.fields["new_password"]
    assert staff.authenticate("clerk", PASSWORD) is not None
    stamp = staff.session_stamp(clerk)
    changed = staff.change_own_password("clerk", PASSWORD, NEW, NEW)
    assert staff.session_stamp(changed) != stamp and staff.authenticate("clerk", NEW) is not None
    staff.set_password("clerk", "Otter-lamp-5521", "Otter-lamp-5521", "boss")
    assert staff.authenticate("clerk", "Otter-lamp-5521") is not None and staff.authenticate("clerk", NEW) is None
    with pytest.raises(staff.StaffError, match="My password"):
        staff.set_password("clerk", NEW, NEW, "clerk")
    with pytest.raises(staff.StaffError, match="no staff user"):
        staff.set_password("nobody", NEW, NEW, "boss")
    assert [a.action for a in AuditEntry.select().where(AuditEntry.action.startswith("staff.password"))
            .order_by(AuditEntry.id)] == ["staff.password_change", "staff.password_set"]


def test_a_conflict_is_dealt_with_once_and_older_databases_get_the_table(central_db):
    first = SyncConflict.create(device="k", op_key="a", op_type="renew", primary_id="P1", reason="r")
    second = SyncConflict.create(device="k", op_key="b", op_type="renew", primary_id="P2", reason="r")
    central_db.drop_tables([SyncConflictDealt])  # a database from before the table existed
    schema.init(central_db.kiosk_url)  # the start-up / `kiosk migrate` path: additive, CREATE TABLE IF NOT EXISTS
    assert [c.id for c, _ in devices.conflict_query()] == [second.id, first.id]  # existing conflicts are open
    dealt = devices.mark_conflict_dealt(first.id, "desk")
    assert [c.id for c, _ in devices.conflict_query()] == [second.id]
    [(conflict, row)] = devices.conflict_query(dealt_with=True)
    assert conflict.id == first.id and row.operator == "desk" and row.created == dealt.created
    with pytest.raises(devices.DeviceError, match="already marked as dealt with by desk"):
        devices.mark_conflict_dealt(first.id, "other")
    with pytest.raises(devices.DeviceError, match="no sync conflict"):
        devices.mark_conflict_dealt(999999, "desk")
    assert [(a.operator, a.primary_id) for a in AuditEntry.select()] == [("desk", "P1")]
    devices.add("k")
    assert [d["conflicts"] for d in devices.listing() if d["name"] == "k"] == [1]  # open ones only
    assert [c["dealt_with_by"] for c in devices.conflicts()] == ["", "desk"]


def test_role_changes_by_an_administrator_never_of_oneself(clerk):
    staff.create_staff("boss", "Heron-station-pass-7", "administrator")
    changed = staff.set_role("clerk", "user_manager", "boss")
    assert changed.role == "user_manager" and changed.has_role("user_manager") and not changed.has_role("administrator")
    with pytest.raises(staff.StaffError, match="own role"):
        staff.set_role("boss", "circulation", "boss")
    with pytest.raises(staff.StaffError, match="Only an active administrator"):
        staff.set_role("boss", "circulation", "clerk")  # a user manager cannot
    with pytest.raises(staff.StaffError, match="Only an active administrator"):
        staff.set_role("clerk", "administrator", "nobody")
    with pytest.raises(staff.StaffError, match="Unknown role"):
        staff.set_role("clerk", "root", "boss")
    with pytest.raises(staff.StaffError, match="already User manager"):
        staff.set_role("clerk", "user_manager", "boss")
    with pytest.raises(staff.StaffError, match="no staff user"):
        staff.set_role("nobody", "circulation", "boss")
    staff.set_role("clerk", "administrator", "boss")
    staff.set_active("boss", False, "clerk")
    with pytest.raises(staff.StaffError, match="Only an active administrator"):
        staff.set_role("clerk", "circulation", "boss")  # deactivated meanwhile
    assert StaffUser.get(StaffUser.username == "clerk").role == "administrator"
    assert [(a.operator, a.detail) for a in AuditEntry.select().where(AuditEntry.action == "staff.role")
            .order_by(AuditEntry.id)] == [("boss", "clerk: Circulation desk -> User manager"),
                                          ("boss", "clerk: User manager -> Administrator")]
