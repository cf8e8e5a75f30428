"""Merge users (Alma's Merge Users job) moves the duplicate's Alma user roles (``UserRole`` rows) like the other
segments, fills the kept record's empty Alma fields (full name, title, job category, ...) from the duplicate's without
replacing a value, and the kept record's kiosk document then carries the notes the patron may see (issue 17)."""
import datetime as dt
import json

from library_kiosk.central.store.documents import PatronDocument
from library_kiosk.central.store.jobs.merge import merge_users
from library_kiosk.central.store.models import Note, User, UserRole
from tests.store import factories


def people():
    keep = factories.patron("KEEP", barcode="21000000000001", card=None, job_category="LIBRARY")
    dup = factories.patron("DUP", barcode="21000000000002", card=None, full_name="Zoë A Ólafsdóttir",
                           user_title="MS", job_category="RESEARCH", birth_date=dt.date(2003, 4, 5))
    UserRole.create(user=dup, role_type="200", scope="MAIN", segment_type="External")
    UserRole.create(user=dup, role_type="201", scope="SCIENCE", status="INACTIVE", segment_type="External")
    return keep, dup


def roles(user):
    rows = UserRole.select().where(UserRole.user == user)
    return sorted((r.role_type, r.scope, r.status, r.segment_type) for r in rows)


def test_the_duplicates_roles_move_to_the_record_kept(central_db):
    keep, _dup = people()
    report = merge_users(duplicate="DUP", keep="KEEP", operator="ops")
    assert (report.ok, report.counts["moved_user_role"], roles(keep)) == (True, 2, [
        ("200", "MAIN", "ACTIVE", "External"), ("201", "SCIENCE", "INACTIVE", "External")])


def test_roles_not_chosen_go_with_the_duplicate(central_db):
    keep, _dup = people()
    report = merge_users(duplicate="DUP", keep="KEEP", operator="ops", segments=["notes"])
    assert (report.ok, roles(keep), UserRole.select().count()) == (True, [], 0)


def test_roles_copied_as_internal_are_protected_from_the_feed(central_db):
    keep, _dup = people()
    merge_users(duplicate="DUP", keep="KEEP", operator="ops", copy_as_internal=True)
    assert {r[3] for r in roles(keep)} == {"Internal"}


def test_a_dry_run_moves_nothing(central_db):
    keep, dup = people()
    report = merge_users(duplicate="DUP", keep="KEEP", operator="ops", dry_run=True)
    fresh = User.get_by_id(keep.id)
    assert (report.counts["moved_user_role"], len(roles(dup)), roles(keep), fresh.full_name, fresh.user_title) == (
        2, 2, [], "", "")


def test_empty_alma_fields_are_filled_and_a_value_kept_is_never_replaced(central_db):
    keep, _dup = people()
    report = merge_users(duplicate="DUP", keep="KEEP", operator="ops")
    fresh = User.get_by_id(keep.id)
    assert ((fresh.full_name, fresh.user_title, fresh.job_category, fresh.birth_date),
            sorted(report.listed("filled"))) == (
        ("Zoë A Ólafsdóttir", "MS", "LIBRARY", dt.date(2003, 4, 5)), ["birth_date", "full_name", "user_title"])


def test_details_not_chosen_leave_the_record_kept_as_it_was(central_db):
    keep, _dup = people()
    merge_users(duplicate="DUP", keep="KEEP", operator="ops", segments=["roles"])
    fresh = User.get_by_id(keep.id)
    assert (fresh.full_name, fresh.user_title, fresh.birth_date) == ("", "", None)


def test_the_kept_records_kiosk_document_carries_the_moved_note_the_patron_may_see(central_db):
    _keep, dup = people()
    Note.create(user=dup, note_type="OTHER", note_text="Records merged: ask for your old card back", user_viewable=True)
    Note.create(user=dup, note_type="OTHER", note_text="Duplicate made at the desk by mistake")
    assert merge_users(duplicate="DUP", keep="KEEP", operator="ops").ok
    document = json.loads(PatronDocument.get_by_id("KEEP").document)
    assert document["notes"] == [{"note_type": "OTHER", "text": "Records merged: ask for your old card back"}]
