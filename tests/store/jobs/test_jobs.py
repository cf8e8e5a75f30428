import datetime as dt
import json
from decimal import Decimal

from library_kiosk.central.store.jobs.anonymise import anonymise_loans
from library_kiosk.central.store.jobs.groups import group_report, move_group, remove_group, utilisation
from library_kiosk.central.store.jobs.merge import merge_users
from library_kiosk.central.store.jobs.models import JobRun
from library_kiosk.central.store.jobs.purge import purge_users
from library_kiosk.central.store.jobs.waive import waive_fines
from library_kiosk.central.store.models import (
    Change,
    Email,
    Fee,
    FeeTransaction,
    Identifier,
    Loan,
    Note,
    Request,
    User,
    UserGroup,
)
from tests.store import factories

TODAY = factories.TODAY
DAY = dt.timedelta(days=1)


def person(pid, purge=None, **fields):
    n = sum(map(ord, pid)) * 7919 + len(pid)
    user = factories.patron(pid, barcode=f"2{n:013d}", card=None, pin=None, **fields)
    if purge:
        User.update(purge_date=purge).where(User.id == user.id).execute()
    return User.get_by_id(user.id)


def changes_after(seq):
    return sorted((c.primary_id, c.kind) for c in Change.select().where(Change.seq > seq))


def last_seq():
    return Change.select().count() and max(c.seq for c in Change.select())


# --- purge ---------------------------------------------------------------------------------------------------

def test_purge_grace_period_boundary(central_db):
    person("DUE", purge=TODAY - 8 * DAY)  # purge date + 7 days grace < today: purged
    person("EDGE", purge=TODAY - 7 * DAY)  # purge date + 7 = today: still in grace
    person("NEVER")  # no purge date: never purged
    report = purge_users(operator="ops", today=TODAY, grace_days=7)
    assert [p["primary_id"] for p in report.listed("purged")] == ["DUE"]
    assert sorted(u.primary_id for u in User.select()) == ["EDGE", "NEVER"]
    assert ("DUE", "delete") in changes_after(0)


def test_purge_spares_owing_and_loans_waives_fees_and_dry_run_first(central_db):
    past = TODAY - 30 * DAY
    at_limit = person("AT_LIMIT", purge=past)
    factories.fine(at_limit, "5.00")
    owing = person("OWING", purge=past)
    factories.fine(owing, "5.01")
    borrower = person("BORROWER", purge=past)
    factories.loan(borrower)
    returned = person("RETURNED", purge=past, record_type="PUBLIC")
    old = factories.loan(returned, status="RETURNED")
    staff = person("STAFFREC", purge=past, record_type="STAFF")
    seq = last_seq()
    dry = purge_users(operator="ops", today=TODAY, max_owed="5.00", record_type="PUBLIC", dry_run=True)
    assert dry.counts["purged"] == 2 and User.select().count() == 5 and last_seq() == seq
    report = purge_users(operator="ops", today=TODAY, max_owed="5.00", record_type="PUBLIC")
    assert sorted(p["primary_id"] for p in report.listed("purged")) == ["AT_LIMIT", "RETURNED"]
    assert report.listed("spared_owing") == [{"primary_id": "OWING", "owed": "5.01"}]
    assert report.listed("spared_loans") == [{"primary_id": "BORROWER", "owed": "0.00"}]
    assert report.counts["fees_waived"] == 1
    purged = {p["primary_id"]: p for p in report.listed("purged")}
    assert purged["AT_LIMIT"]["fees_waived"][0]["amount"] == "5.00"
    assert sorted(u.primary_id for u in User.select()) == ["BORROWER", "OWING", "STAFFREC"]
    assert Loan.get_by_id(old.id).user_id is None  # returned loans stay, unlinked
    assert changes_after(seq) == [("AT_LIMIT", "delete"), ("RETURNED", "delete")]
    assert staff.record_type == "STAFF"
    again = purge_users(operator="ops", today=TODAY, max_owed="5.00", record_type="PUBLIC")
    assert again.counts["purged"] == 0 and changes_after(seq) == [("AT_LIMIT", "delete"), ("RETURNED", "delete")]
    run = JobRun.get_by_id(report.run_id)
    assert run.as_dict()["counts"]["purged"] == 2 and not run.dry_run


def test_purge_limited_to_a_user_group(central_db):
    person("A", purge=TODAY - 2 * DAY, group_code="25")
    person("B", purge=TODAY - 2 * DAY, group_code="58")
    report = purge_users(operator="ops", today=TODAY, user_group="58")
    assert [p["primary_id"] for p in report.listed("purged")] == ["B"]


# --- bulk waive ------------------------------------------------------------------------------------------------

def test_waive_threshold_equal_is_waived_above_is_skipped(central_db):
    equal = person("EQUAL")
    f1 = factories.fine(equal, "3.00")
    f2 = factories.fine(equal, "2.00", fee_type="LOSTITEMREPLACEMENTFEE")
    above = person("ABOVE")
    factories.fine(above, "5.01")
    seq = last_seq()
    report = waive_fines(max_threshold="5.00", reason="Amnesty", operator="ops", today=TODAY)
    assert [u["primary_id"] for u in report.listed("users_waived")] == ["EQUAL"]
    assert report.listed("skipped_over_threshold") == [{"primary_id": "ABOVE", "owed": "5.01"}]
    assert report.counts["fees_waived"] == 2 and report.counts["amount_waived"] == "5.00"
    assert "users_waived 1, fees_waived 2, amount_waived 5.00," in report.summary()  # as the CLI prints it
    for fee in (f1, f2):
        fee = Fee.get_by_id(fee.id)
        assert (fee.balance, fee.status) == (Decimal("0.00"), "CLOSED")
        tx = FeeTransaction.get(FeeTransaction.fee == fee.id)
        assert (tx.transaction_type, tx.amount, tx.reason, tx.operator) == ("WAIVE", fee.original_amount,
                                                                            "Amnesty", "ops")
    assert changes_after(seq) == [("EQUAL", "upsert")]
    again = waive_fines(max_threshold="5.00", reason="Amnesty", operator="ops", today=TODAY)
    assert again.counts["fees_waived"] == 0 and changes_after(seq) == [("EQUAL", "upsert")]


def test_waive_requires_threshold_and_reason(central_db):
    assert waive_fines(max_threshold=None, reason="x", operator="ops", today=TODAY).status == "refused"
    assert "reason" in waive_fines(max_threshold="5", reason=" ", operator="ops", today=TODAY).message


def test_waive_excludes_overdue_and_limits_group_and_type(central_db):
    late = person("LATE")
    factories.fine(late, "1.00")
    factories.loan(late, due=TODAY - DAY)
    other_group = person("OTHER", group_code="58")
    factories.fine(other_group, "1.00")
    card = person("CARD")
    lost = factories.fine(card, "4.00", fee_type="CARDREPLACEMENT")
    fine = factories.fine(card, "9.00")
    dry = waive_fines(max_threshold="5", reason="Card amnesty", operator="ops", today=TODAY, exclude_overdue=True,
                      user_group="25", fee_type="CARDREPLACEMENT", dry_run=True)
    assert dry.counts["fees_waived"] == 1 and Fee.get_by_id(lost.id).status == "ACTIVE"
    report = waive_fines(max_threshold="5", reason="Card amnesty", operator="ops", today=TODAY,
                         exclude_overdue=True, user_group="25", fee_type="CARDREPLACEMENT")
    assert [u["primary_id"] for u in report.listed("users_waived")] == ["CARD"]
    assert Fee.get_by_id(lost.id).status == "CLOSED" and Fee.get_by_id(fine.id).status == "ACTIVE"
    all_types = waive_fines(max_threshold="5", reason="Amnesty", operator="ops", today=TODAY, exclude_overdue=True)
    assert [u["primary_id"] for u in all_types.listed("skipped_overdue")] == ["LATE"]
    assert [u["primary_id"] for u in all_types.listed("skipped_over_threshold")] == ["CARD"]
    assert [u["primary_id"] for u in all_types.listed("users_waived")] == ["OTHER"]


# --- merge -----------------------------------------------------------------------------------------------------

def test_merge_moves_chosen_segments_and_activity(central_db):
    keep = person("KEEP")
    dup = person("DUP")
    Note.create(user=dup, note_text="Same person as KEEP")
    Email.create(user=dup, email_address="dup@example.org")
    loan = factories.loan(dup)
    request = factories.hold(dup)
    fee = factories.fine(dup)
    seq = last_seq()
    dry = merge_users(duplicate="DUP", keep="KEEP", operator="ops", segments=["notes", "identifiers"],
                      dry_run=True)
    assert dry.ok and dry.counts["moved_loans"] == 1 and User.select().count() == 2 and last_seq() == seq
    report = merge_users(duplicate="DUP", keep="KEEP", operator="ops", segments=["notes", "identifiers"])
    assert report.ok, report.message
    assert not User.select().where(User.primary_id == "DUP").exists()
    assert [n.note_text for n in keep.notes] == ["Same person as KEEP"]
    assert Identifier.select().where(Identifier.user == keep).count() == 2
    assert Email.select().count() == 0  # contact details were not chosen: deleted with the duplicate
    assert Loan.get_by_id(loan.id).user_id == keep.id and Request.get_by_id(request.id).user_id == keep.id
    assert Fee.get_by_id(fee.id).user_id == keep.id
    assert changes_after(seq) == [("DUP", "delete"), ("KEEP", "upsert")]
    again = merge_users(duplicate="DUP", keep="KEEP", operator="ops")
    assert again.status == "refused" and changes_after(seq) == [("DUP", "delete"), ("KEEP", "upsert")]


def test_merge_refuses_a_duplicate_with_staff_roles(central_db):
    person("KEEP")
    person("DUP", roles="PATRON,CIRCULATION_DESK_OPERATOR")
    report = merge_users(duplicate="DUP", keep="KEEP", operator="ops")
    assert report.status == "refused" and "patron role" in report.message
    assert User.select().count() == 2


def test_merge_internal_into_external_needs_the_choice(central_db):
    external = person("EXT", account_type="EXTERNAL", external_id="STUDENT")
    dup = person("DUP")
    Note.create(user=dup, note_text="Local note", segment_type="External")
    refused = merge_users(duplicate="DUP", keep="EXT", operator="ops")
    assert refused.status == "refused" and "copy_as_internal" in refused.message
    report = merge_users(duplicate="DUP", keep="EXT", operator="ops", copy_as_internal=True)
    assert report.ok
    assert [(n.note_text, n.segment_type) for n in external.notes] == [("Local note", "Internal")]
    assert {i.segment_type for i in external.identifiers} == {"Internal"}


# --- user groups -------------------------------------------------------------------------------------------------

def test_group_utilisation_move_and_remove(central_db):
    a = person("A", group_code="58")
    person("B", group_code="58", status="INACTIVE")
    factories.group("15", description="Autologin")
    factories.loan(a)
    rows = {r["code"]: r for r in utilisation(today=TODAY, feed_mapping={"VIS": "58"})}
    assert (rows["58"]["users"], rows["58"]["active_users"], rows["58"]["feed_codes"]) == (2, 1, ["VIS"])
    assert rows["58"]["last_activity"] == TODAY  # the records were written on the pinned day (tests/conftest.py)
    assert rows["15"]["users"] == 0 and rows["15"]["last_activity"] is None
    assert group_report(operator="ops", today=TODAY).counts["unused"] == 1
    factories.group("59")
    seq = last_seq()
    refused = remove_group(code="58", operator="ops")
    assert refused.status == "refused" and "2 users" in refused.message
    moved = move_group(from_group="58", to_group="59", operator="ops")
    assert moved.counts["moved"] == 2 and User.select().where(User.user_group == "59").count() == 2
    assert changes_after(seq) == [("A", "upsert"), ("B", "upsert")]
    assert move_group(from_group="58", to_group="59", operator="ops").counts["moved"] == 0
    used_by_feed = remove_group(code="58", operator="ops", feed_mapping={"VIS": "58"})
    assert used_by_feed.status == "refused" and "feed mapping" in used_by_feed.message
    assert remove_group(code="58", operator="ops", feed_mapping={"VIS": "59"}).ok
    assert not UserGroup.select().where(UserGroup.code == "58").exists()
    assert remove_group(code="58", operator="ops").status == "refused"
    assert Loan.select().where(Loan.user_group == "58").count() == 1  # history keeps its group code


# --- anonymisation ------------------------------------------------------------------------------------------------

def test_anonymise_returned_loans_after_60_days_except_with_fees(central_db):
    user = person("P")
    old = factories.loan(user, status="RETURNED")
    edge = factories.loan(user, status="RETURNED")
    recent = factories.loan(user, status="RETURNED")
    fined = factories.loan(user, status="RETURNED")
    open_loan = factories.loan(user)
    Loan.update(return_date=TODAY - 61 * DAY).where(Loan.id.in_([old.id, fined.id])).execute()
    Loan.update(return_date=TODAY - 60 * DAY).where(Loan.id == edge.id).execute()
    Loan.update(return_date=TODAY - 59 * DAY).where(Loan.id == recent.id).execute()
    fee = factories.fine(user)
    Fee.update(loan=fined.id).where(Fee.id == fee.id).execute()
    dry = anonymise_loans(operator="ops", today=TODAY, dry_run=True)
    assert dry.counts["anonymised"] == 2 and Loan.get_by_id(old.id).user_id == user.id
    report = anonymise_loans(operator="ops", today=TODAY)
    assert sorted(report.listed("anonymised")) == sorted([old.id, edge.id])
    assert report.counts["kept_with_fees"] == 1
    linked = {loan.id: loan.user_id for loan in Loan.select()}
    assert linked[old.id] is None and linked[edge.id] is None
    assert linked[recent.id] == linked[fined.id] == linked[open_loan.id] == user.id
    assert Loan.get_by_id(old.id).user_group == "25"
    assert anonymise_loans(operator="ops", today=TODAY).counts["anonymised"] == 0


def test_a_job_needs_an_operator(central_db):
    assert anonymise_loans(operator=" ", today=TODAY).status == "refused"


# --- the kiosk documents after a job -----------------------------------------------------------------------------

def _sync_from(cursor):
    """Every page after ``cursor`` as a kiosk pulls them: (documents built for the pages, {primary id: first name
    or None for a delete})."""
    from library_kiosk.central.store import sync

    built, seen = 0, {}
    while True:
        page = sync.page(cursor, 100)
        built += page.built
        for _seq, pid, document, _identifiers in page.records:
            seen[pid] = None if document is None else json.loads(document)["first_name"]
        cursor = page.cursor
        if not page.more:
            return built, seen


def test_jobs_that_change_patrons_leave_their_kiosk_documents_built(central_db, builds):
    """Waive, group move, merge and purge refresh the read model of the patrons they changed once committed: the
    next kiosk sync builds nothing, and a purged patron's document (name, loans, fees) does not stay behind."""
    from library_kiosk.central.store import changes, documents, sync

    factories.group("21")
    for pid in ("A", "B", "C", "D"):
        person(pid, group_code="25", first_name=f"Name{pid}")
    factories.fine(User.get(User.primary_id == "A"), "2.00")
    User.update(purge_date=TODAY - 30 * DAY).where(User.primary_id == "D").execute()
    sync.refresh_documents()  # what the kiosks have: every document built
    cursor = changes.latest_seq()

    assert waive_fines(max_threshold="5.00", reason="Amnesty", operator="ops", today=TODAY).ok
    assert move_group(from_group="25", to_group="21", operator="ops").ok
    assert merge_users(duplicate="C", keep="B", operator="ops").ok
    assert purge_users(operator="ops", today=TODAY).ok
    dry = waive_fines(max_threshold="5.00", reason="Amnesty", operator="ops", today=TODAY, dry_run=True)
    assert dry.ok
    builds.clear()
    built, seen = _sync_from(cursor)
    assert seen == {"A": "NameA", "B": "NameB", "C": None, "D": None}
    assert builds == ["C", "D"] and built == 2  # deletes only: looked up, found gone, nothing to build
    assert sorted(d.primary_id for d in documents.PatronDocument.select()) == ["A", "B"]
    assert json.loads(documents.PatronDocument.get_by_id("A").document)["fees"] == []
