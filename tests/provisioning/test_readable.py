"""Readable values at the station (issue 16, item 4): days and moments in the library's time zone and locale,
money with its currency, coded values by their descriptions (the code on hover), overdue loans, the membership
worded as the kiosk words it, job reports as tables with names and a CSV file, the audit log's filters and paging,
and date messages that match the date picker beside them."""
import csv
import datetime as dt
import io
import json
import os
import re
import time
from html import unescape

import pytest

from library_kiosk.central.store import devices, letters
from library_kiosk.central.store.models import Block, Email, Identifier, Note, Statistic, User
from library_kiosk.central.store.staff import AuditEntry
from provisioning import jobrunner, paging
from tests.helpers import TODAY
from tests.provisioning.helpers import StaffClient
from tests.store import factories


@pytest.fixture
def admin(station):
    return StaffClient(station, "admin")


@pytest.fixture
def library_zone():
    """Run the test with the library in Europe/Paris (the station reads the machine's zone, as the clock does)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def _tab(client, tab, primary_id="P1") -> str:
    response = client.get(f"/patrons/{primary_id}?tab={tab}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _cell(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</td>', html, re.S)
    assert found, testid
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_a_fee_is_shown_in_the_library_currency(manager):
    fee = factories.fine(factories.patron("P1"), "45.00", fee_type="LOSTITEMREPLACEMENTFEE")
    assert _cell(_tab(manager, "fees"), f"balance-{fee.id}") == "£45.00"


def test_the_amount_owed_in_the_header_has_its_currency(manager):
    factories.fine(factories.patron("P1"), "7.5")
    assert re.search(r'data-testid="owed">£7\.50<', _tab(manager, "general"))


def test_the_currency_setting_is_honoured(station, manager):
    station.config["KIOSK"]["letters"]["currency"] = "EUR"
    factories.fine(factories.patron("P1"), "7.50")
    assert re.search(r'data-testid="owed">€7\.50<', _tab(manager, "general"))


def test_a_fee_type_reads_as_its_description_with_the_code_on_hover(manager):
    factories.fine(factories.patron("P1"), "45.00", fee_type="LOSTITEMREPLACEMENTFEE")
    html = _tab(manager, "fees")
    assert re.search(r'<span class="coded" title="Code: LOSTITEMREPLACEMENTFEE" data-code="LOSTITEMREPLACEMENTFEE">'
                     r'Lost item replacement fee</span>', html)


def test_a_fee_status_reads_as_its_description(manager):
    fee = factories.fine(factories.patron("P1"), "3.00", status="INDISPUTE")
    assert _cell(_tab(manager, "fees"), f"fee-status-{fee.id}") == "In dispute"


def test_a_loan_past_its_due_day_reads_overdue(manager):
    loan = factories.loan(factories.patron("P1"), due=TODAY - dt.timedelta(days=1))
    assert _cell(_tab(manager, "loans"), f"loan-status-{loan.id}") == "Overdue"


def test_a_loan_due_today_is_still_on_loan(manager):
    loan = factories.loan(factories.patron("P1"), due=TODAY)
    assert _cell(_tab(manager, "loans"), f"loan-status-{loan.id}") == "On loan"


def test_a_due_date_is_written_out_with_its_iso_day_for_machines(manager):
    factories.loan(factories.patron("P1"), due=dt.date(2026, 12, 16))
    assert '<time datetime="2026-12-16">16 December 2026</time>' in _tab(manager, "loans")


def test_the_membership_reads_valid_until_its_last_day_as_at_the_kiosk(manager):
    factories.patron("P1", expiry=dt.date(2027, 1, 18))
    membership = re.search(r'data-testid="membership">(.*?)</span>', _tab(manager, "general"), re.S).group(1)
    assert re.sub(r"<[^>]+>", "", membership) == "valid until 17 January 2027"


def test_an_expired_membership_reads_expired_on_its_expiry_date(manager):
    factories.patron("P1", expiry=dt.date(2026, 11, 20))
    membership = re.search(r'data-testid="membership">(.*?)</span>', _tab(manager, "general"), re.S).group(1)
    assert re.sub(r"<[^>]+>", "", membership) == "expired on 20 November 2026"


def test_a_registered_patron_is_not_badged_as_staff(manager):
    factories.patron("P1", record_type="STAFF")
    badge = re.search(r'<span class="badge" data-testid="record-type" title="([^"]*)">([^<]*)<',
                      _tab(manager, "general"))
    assert badge.groups() == ("Record type STAFF: a record the library created (not a staff account)",
                              "Record type: Staff user")


def test_contact_types_read_as_descriptions(manager):
    user = factories.patron("P1")
    Email.create(user=user, email_address="zoe@example.org", email_types="personal")
    assert re.search(r'data-code="personal">Personal</span>', _tab(manager, "contact"))


def test_identifier_status_reads_as_its_description(manager):
    factories.patron("P1")
    Identifier.update(status="INACTIVE").where(Identifier.value == "20000000000011").execute()
    assert _cell(_tab(manager, "identifiers"), "status-20000000000011") == "Inactive"


def test_note_types_read_as_descriptions(manager):
    Note.create(user=factories.patron("P1"), note_type="POPUP", note_text="Ask for ID", created_by="desk")
    assert re.search(r'data-code="POPUP">Pop-up</span>', _tab(manager, "notes"))


def test_the_user_group_reads_as_its_description_with_its_code_on_hover(manager):
    factories.patron("P1", group_code="58")
    assert re.search(r'<span title="Code: 58" data-testid="user-group">Library Guest</span>', _tab(manager, "general"))


def test_a_search_result_shows_the_group_s_description(manager):
    factories.patron("P1", group_code="58")
    factories.patron("P2", barcode="20000000000022", card="04A1B2C3D4E522", group_code="58")
    html = manager.get("/?q=Olafsdottir").get_data(as_text=True)
    assert html.count('data-code="58">Library Guest</span>') == 2


def test_a_block_type_reads_as_its_description(manager):
    Block.create(user=factories.patron("P1"), block_type="LOST_CARD", block_description="Card lost at the desk")
    assert re.search(r'data-code="LOST_CARD">Card reported lost</span>', _tab(manager, "general"))


def test_a_statistic_category_reads_as_its_description(manager):
    Statistic.create(user=factories.patron("P1"), statistic_category="UOL")
    assert re.search(r'data-code="UOL">University of London staff/student</span>', _tab(manager, "statistics"))


def test_a_group_policy_fee_is_money(manager):
    page = manager.get("/register/group?user_group=58").get_data(as_text=True)
    assert re.search(r"A <span[^>]*>Membership fee</span> of £10\.00 will be added", page)


def test_a_letter_time_is_in_the_library_zone_not_iso(manager, station, library_zone):
    user = factories.patron("P1")
    letters.Letter.create(user=user, letter_type="FulUserLoansLetter", subject="Your loans", channel="print",
                          recipient="print", body_text="", body_html="", status="sent", sent_by="desk",
                          created=dt.datetime(2026, 11, 24, 23, 30, 5, 311097))
    html = _tab(manager, "letters")
    assert ('<time datetime="2026-11-24T23:30:05Z" title="2026-11-24 23:30:05 UTC">25 November 2026, 00:30</time>'
            in html)


def test_no_microsecond_timestamps_on_the_audit_log(admin):
    AuditEntry.create(operator="desk", action="fee.add", primary_id="P1", detail="OTHER 3.00",
                      created=dt.datetime(2026, 11, 24, 13, 53, 58, 311097))
    assert "311097" not in admin.get("/audit").get_data(as_text=True)


def _audit_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-testid="audit-row"><td>.*?</td><td>(.*?)</td>.*?data-code="([^"]+)".*?</tr>',
                      html, re.S)


def _entries():
    AuditEntry.delete().execute()  # the staff accounts' creation is logged too
    base = dt.datetime(2026, 11, 20, 9, 0)
    for n, (who, action, pid) in enumerate([("desk", "fee.add", "P1"), ("manager", "note.add", "P1"),
                                            ("desk", "fee.waive", "P2"), ("manager", "patron.register", "P3")]):
        AuditEntry.create(operator=who, action=action, primary_id=pid, detail=f"entry {n}",
                          created=base + dt.timedelta(days=n))


def test_the_audit_log_filters_by_who(admin):
    _entries()
    rows = _audit_rows(admin.get("/audit?who=desk").get_data(as_text=True))
    assert sorted(rows) == [("desk", "fee.add"), ("desk", "fee.waive")]


def test_the_audit_log_filters_by_action(admin):
    _entries()
    assert _audit_rows(admin.get("/audit?action=note.add").get_data(as_text=True)) == [("manager", "note.add")]


def test_the_audit_log_filters_by_patron(admin):
    _entries()
    rows = _audit_rows(admin.get("/audit?patron=P1").get_data(as_text=True))
    assert rows == [("manager", "note.add"), ("desk", "fee.add")]


def test_the_audit_log_filters_by_a_range_of_days(admin):
    _entries()  # one entry a day from 20 to 23 November
    rows = _audit_rows(admin.get("/audit?from=2026-11-21&to=2026-11-22").get_data(as_text=True))
    assert rows == [("desk", "fee.waive"), ("manager", "note.add")]


def test_the_audit_log_range_is_the_library_s_local_days(admin, library_zone):
    AuditEntry.delete().execute()
    AuditEntry.create(operator="desk", action="fee.add", primary_id="P1", created=dt.datetime(2026, 11, 24, 23, 30))
    html = admin.get("/audit?from=2026-11-25&to=2026-11-25").get_data(as_text=True)
    assert _audit_rows(html) == [("desk", "fee.add")] and "25 November 2026, 00:30" in html


def test_an_audit_action_reads_as_its_description(admin):
    _entries()
    assert re.search(r'title="Code: fee.waive" data-code="fee.waive">Fee waived<',
                     admin.get("/audit").get_data(as_text=True))


def test_a_bad_audit_date_is_told_plainly_and_shows_nothing(admin):
    _entries()
    response = admin.get("/audit?from=20/11/2026")
    html = response.get_data(as_text=True)
    assert (response.status_code, _audit_rows(html)) == (422, [])
    assert "The From date is not a date: choose one in the date field." in html


def test_the_audit_log_is_paged_on_the_server(admin):
    AuditEntry.delete().execute()
    start = dt.datetime(2026, 11, 1, 9, 0)
    AuditEntry.insert_many([{"operator": "desk", "action": "fee.add", "primary_id": "P1", "detail": f"n{n}",
                             "created": start + dt.timedelta(minutes=n)} for n in range(paging.PAGE_SIZE + 5)]
                           ).execute()
    html = admin.get("/audit?who=desk&page=2").get_data(as_text=True)
    assert len(_audit_rows(html)) == 5


def test_the_audit_pager_keeps_the_filters(admin):
    AuditEntry.delete().execute()
    AuditEntry.insert_many([{"operator": "desk", "action": "fee.add", "primary_id": "P1", "detail": f"n{n}",
                             "created": dt.datetime(2026, 11, 1, 9, 0)} for n in range(paging.PAGE_SIZE + 1)]
                           ).execute()
    html = admin.get("/audit?who=desk&action=fee.add").get_data(as_text=True)
    link = re.search(r'data-testid="next-page" rel="next"\s+href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert sorted(link.split("?")[1].split("&")) == ["action=fee.add", "page=2", "who=desk"]


def _token(html: str) -> str:
    return re.search(r'id="job-([\w-]+)"', html).group(1)


def _finished(client, response) -> str:
    assert response.status_code == 202, response.get_data(as_text=True)
    jobrunner.wait_all(30)
    html = client.get(f"/admin/progress/{_token(response.get_data(as_text=True))}",
                      headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' not in html, "the job did not finish"
    return html


def _to_purge():
    gone = factories.patron("OLD1", first_name="Ada", last_name="Lovelace")
    User.update(purge_date=TODAY - dt.timedelta(days=3)).where(User.id == gone.id).execute()
    factories.fine(gone, "2.00")


def _table(html: str, key: str) -> str:
    return re.search(rf'<table data-testid="report-{key}">(.*?)</table>', html, re.S).group(1)


def test_a_purge_report_is_a_table_with_names_and_money(admin):
    _to_purge()
    html = _finished(admin, admin.post("/admin/jobs/purge", {"grace_days": "0"}))
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", _table(html, "purged"), re.S)]
    assert cells[:3] == ["OLD1", "Ada Lovelace", "£2.00"]


def test_a_job_report_downloads_as_csv_with_names(admin):
    _to_purge()
    html = _finished(admin, admin.post("/admin/jobs/purge", {"grace_days": "0"}))
    run_id = re.search(r"/admin/runs/(\d+)\?format=csv", html).group(1)
    response = admin.get(f"/admin/runs/{run_id}?format=csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["list"], r["Primary ID"], r["Name"], r["Owed"]) for r in rows] == [("Purged", "OLD1", "Ada Lovelace",
                                                                                    "£2.00")]


def test_the_real_purge_report_keeps_the_names_the_dry_run_found(admin):
    _to_purge()
    dry = _finished(admin, admin.post("/admin/jobs/purge", {"grace_days": "0"}))
    done = _finished(admin, admin.post(f"/admin/confirm/{_token(dry)}", headers={"HX-Request": "true"}))
    assert not User.select().where(User.primary_id == "OLD1").exists() and "Ada Lovelace" in _table(done, "purged")


def test_a_stored_purge_report_does_not_keep_a_purged_name(admin):
    _to_purge()
    dry = _finished(admin, admin.post("/admin/jobs/purge", {"grace_days": "0"}))
    done = _finished(admin, admin.post(f"/admin/confirm/{_token(dry)}", headers={"HX-Request": "true"}))
    run_id = re.search(r'Done\. The report is stored as job run (\d+)', done).group(1)
    stored = admin.get(f"/admin/runs/{run_id}").get_data(as_text=True)
    assert "no longer in the store" in _table(stored, "purged") and "Lovelace" not in stored


def test_a_waiving_report_shows_amounts_as_money(admin):
    factories.fine(factories.patron("P2", first_name="Mei", last_name="Ng"), "4.00")
    html = _finished(admin, admin.post("/admin/jobs/waive", {"max_threshold": "5.00", "reason": "Amnesty"}))
    assert re.search(r'data-testid="count-amount_waived">£4\.00<', html)


def test_a_job_status_reads_as_its_description_in_past_runs(admin):
    _to_purge()
    _finished(admin, admin.post("/admin/jobs/purge", {"grace_days": "0"}))
    assert re.search(r'data-code="done">Done</span>', admin.get("/admin/").get_data(as_text=True))


def test_an_empty_card_expiry_is_asked_for_as_the_date_picker_takes_it(manager):
    from tests.provisioning.helpers import REGISTRATION

    page = manager.post("/register", {**REGISTRATION, "card_expiry": ""}).get_data(as_text=True)
    error = re.search(r'data-testid="error-card_expiry">(.*?)<', page).group(1)
    assert error == "Choose the expiry date printed on the card in the date field."


def test_a_date_the_store_refuses_keeps_the_store_s_reason(manager):
    from tests.provisioning.helpers import REGISTRATION

    page = manager.post("/register", {**REGISTRATION, "card_expiry": "2020-01-01"}).get_data(as_text=True)
    assert "already passed" in re.search(r'data-testid="error-card_expiry">(.*?)<', page).group(1)


def test_no_station_page_asks_for_yyyy_mm_dd_beside_a_date_picker(manager):
    from tests.provisioning.helpers import REGISTRATION

    factories.patron("P1")
    pages = [manager.post("/register", {**REGISTRATION, "card_expiry": "31/12/2027"}).get_data(as_text=True),
             manager.post("/patrons/P1/general", {"first_name": "Zoë", "last_name": "Ólafsdóttir", "user_group": "25",
                                                  "expiry_date": "", "status": "ACTIVE"}).get_data(as_text=True)]
    assert [("YYYY-MM-DD" in page, 'data-testid="error-' in page) for page in pages] == [(False, True)] * 2


def test_the_fleet_says_its_uptime_is_the_machine_s(admin):
    html = admin.get("/fleet").get_data(as_text=True)
    assert ">Machine uptime</span></th>" in html and ">Uptime</th>" not in html



def test_a_kiosk_error_is_stamped_on_the_library_s_clock(admin, library_zone):
    devices.enrol(devices.add("kiosk-1"))
    devices.Device.update(last_heartbeat=dt.datetime(2026, 11, 24, 23, 49), heartbeat=json.dumps(
        {"errors": [{"at": "2026-11-24T23:49:00Z", "message": "reader service timed out"}]})).execute()
    assert "25 November 2026, 00:49: reader service timed out" in admin.get("/fleet").get_data(as_text=True)


def test_registration_shows_the_record_expiry_and_the_last_valid_day_written_out(manager):
    html = manager.get("/register/expiry?card_expiry=2027-01-17", headers={"HX-Request": "true"})
    text = re.sub(r"<[^>]+>", "", html.get_data(as_text=True))
    assert text.strip() == ("Record expiration date: 18 January 2027 (the card's expiry, 17 January 2027, + 1 day): "
                            "the membership is valid until 17 January 2027.")


def test_a_letter_type_reads_as_its_description(manager):
    letter = letters.Letter.create(user=factories.patron("P1"), letter_type="FulUserBorrowingActivityLetter",
                                   subject="Your loans", channel="print", recipient="print", sent_by="desk")
    page = manager.get(f"/patrons/P1/letters/{letter.id}").get_data(as_text=True)
    assert 'data-code="FulUserBorrowingActivityLetter">Borrowing activity</span>' in page


def test_the_audit_log_sorts_by_a_column_on_the_server(admin):
    """Newest first by default; a column header sorts by who, action or patron (each way), newest first within one
    value, and the pager keeps the order."""
    _entries()
    default = _audit_rows(admin.get("/audit").get_data(as_text=True))
    by_who = _audit_rows(admin.get("/audit?sort=who&dir=asc").get_data(as_text=True))
    oldest = _audit_rows(admin.get("/audit?sort=when&dir=asc").get_data(as_text=True))
    by_action_desc = _audit_rows(admin.get("/audit?sort=action&dir=desc").get_data(as_text=True))
    assert (default, by_who, oldest, by_action_desc) == (
        [("manager", "patron.register"), ("desk", "fee.waive"), ("manager", "note.add"), ("desk", "fee.add")],
        [("desk", "fee.waive"), ("desk", "fee.add"), ("manager", "patron.register"), ("manager", "note.add")],
        [("desk", "fee.add"), ("manager", "note.add"), ("desk", "fee.waive"), ("manager", "patron.register")],
        [("manager", "patron.register"), ("manager", "note.add"), ("desk", "fee.waive"), ("desk", "fee.add")])


def test_the_audit_sort_links_keep_the_filters_and_turn_the_order(admin):
    _entries()
    html = admin.get("/audit?who=desk&sort=who&dir=asc").get_data(as_text=True)
    link = re.search(r'data-testid="sort-who"\s+href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert (sorted(link.split("?")[1].split("&")), 'aria-sort="ascending"' in html) == (
        ["dir=desc", "page=1", "sort=who", "who=desk"], True)


# --- moments inside an audit entry's text (written by the central store in UTC) ----------------------------------

LOCK_TEXT = ("Card locked at every kiosk after 5 wrong PINs or passwords (the last at kiosk-1), "
             "until 2026-12-05T11:26:58Z")


def _lockout_entry():
    return AuditEntry.create(operator="kiosk:kiosk-1", action="kiosk.pin_lockout", primary_id="P1", detail=LOCK_TEXT)


def test_a_lock_s_end_on_staff_calls_is_the_library_s_local_time(admin, library_zone):
    _lockout_entry()
    page = admin.get("/calls").get_data(as_text=True)
    assert ("until <time datetime=\"2026-12-05T11:26:58Z\" title=\"2026-12-05 11:26:58 UTC\">5 December 2026, "
            "12:26</time>" in page, "2026-12-05T11:26:58Z)" in page or "until 2026-12-05T" in page) == (True, False)


def test_a_lock_s_end_on_the_audit_log_is_the_library_s_local_time(admin, library_zone):
    _lockout_entry()
    page = admin.get("/audit").get_data(as_text=True)
    assert ("until <time datetime=\"2026-12-05T11:26:58Z\" title=\"2026-12-05 11:26:58 UTC\">5 December 2026, "
            "12:26</time>" in page, "until 2026-12-05T" in page) == (True, False)


def test_a_detail_without_a_moment_is_shown_as_it_is(admin):
    AuditEntry.create(operator="desk", action="fee.add", primary_id="P1", detail="OTHER 3.00 <b>")
    assert "OTHER 3.00 &lt;b&gt;" in admin.get("/audit").get_data(as_text=True)


@pytest.mark.parametrize("stored, shown", [
    ("PIN check at kiosk-1: wrong, 1 attempts left", "PIN check at kiosk-1: wrong, 1 attempt left"),
    ("PIN check at kiosk-1: wrong, 2 attempts left", "PIN check at kiosk-1: wrong, 2 attempts left"),
    ("PIN check at kiosk-1: wrong, 0 attempts left", "PIN check at kiosk-1: wrong, no attempts left"),
], ids=["one", "two", "none"])
def test_attempts_left_read_in_good_english(admin, stored, shown):
    AuditEntry.create(operator="kiosk:kiosk-1", action="kiosk.pin_check", primary_id="P1", detail=stored)
    assert shown in admin.get("/audit").get_data(as_text=True)


def test_the_record_says_when_the_card_expires_and_the_expiration_date_beside_it(manager):
    factories.patron("P1", expiry=dt.date(2027, 1, 18))
    dates = re.search(r'data-testid="membership-dates">(.*?)</span>', _tab(manager, "general"), re.S).group(1)
    assert re.sub(r"<[^>]+>", "", dates) == \
        "card expires 17 January 2027; expiration date in the record 18 January 2027"


def test_the_expiration_date_field_says_what_its_date_means(manager):
    factories.patron("P1", expiry=dt.date(2027, 1, 18))
    hint = re.search(r'id="hint-expiry_date">(.*?)</div>', _tab(manager, "general"), re.S).group(1)
    assert unescape(re.sub(r"<[^>]+>", "", hint)) == (
        "The day after the card's expiry: the first day the membership is no longer valid. "
        "Now: the card expires 17 January 2027.")
