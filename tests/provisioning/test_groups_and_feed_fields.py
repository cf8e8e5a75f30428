"""User groups created and edited at the station by administrators; the fields the feed keeps from Alma's user
record (preferred name, roles, blocks, viewable notes, statistics' notes) shown on the patron page; the feed
upload's size limit."""
import io
import os
from decimal import Decimal

import pytest

from library_kiosk.central.store.jobs.feed import load_feed
from library_kiosk.central.store.models import UserGroup
from library_kiosk.central.store.staff import AuditEntry
from tests.provisioning.helpers import StaffClient
from tests.store import factories

HX = {"HX-Request": "true"}


@pytest.fixture
def admin(station):
    return StaffClient(station, "admin")


def test_an_administrator_creates_a_group_with_the_default_policy(admin, station):
    station.config["KIOSK"]["feed"]["default_group_policy"]["loan_limit"] = 7
    response = admin.post("/admin/groups", {"code": "08", "description": "Visiting scholar", "loan_period_days": "14",
                                            "pin_required": ""}, headers=HX)
    assert response.status_code == 200 and "User group 08 created." in response.get_data(as_text=True)
    made = UserGroup.get_by_id("08")
    assert (made.description, made.loan_limit, made.loan_period_days, made.pin_required, made.fine_limit) == (
        "Visiting scholar", 7, 14, True, Decimal("10.00"))


def test_an_administrator_edits_a_group(admin):
    form = admin.get("/admin/groups?edit=59", headers=HX).get_data(as_text=True)
    assert 'value="Visiting Researcher"' in form and "Save group 59" in form
    response = admin.post("/admin/groups", {"mode": "edit", "code": "59", "description": "Visiting researcher",
                                            "fine_limit": "3.5", "pin_required": "false"}, headers=HX)
    assert "User group 59 saved." in response.get_data(as_text=True)
    group = UserGroup.get_by_id("59")
    assert (group.description, group.fine_limit, group.pin_required, group.statistics_required) == (
        "Visiting researcher", Decimal("3.50"), False, True)
    assert AuditEntry.select().where(AuditEntry.action == "group:edit").count() == 1


def test_a_bad_group_is_not_saved(admin):
    response = admin.post("/admin/groups", {"code": "25", "description": "Again"}, headers=HX)
    assert (response.status_code, "the user group &#39;25&#39; exists already" in response.get_data(as_text=True)) == (
        422, True)


def test_a_bad_policy_value_is_refused_and_nothing_changes(admin):
    response = admin.post("/admin/groups", {"mode": "edit", "code": "25", "description": "X", "loan_limit": "lots"},
                          headers=HX)
    assert (response.status_code, UserGroup.get_by_id("25").description) == (422, "Special Borrower")


def test_only_administrators_edit_groups(station):
    manager = StaffClient(station, "manager")
    response = manager.post("/admin/groups", {"code": "08", "description": "Visiting scholar"})
    assert (response.status_code, UserGroup.select().where(UserGroup.code == "08").exists()) == (403, False)


def test_the_admin_page_lists_the_groups_with_their_policy(admin):
    html = admin.get("/admin/").get_data(as_text=True)
    assert 'data-testid="group-row-58"' in html and 'id="user-groups"' in html


ALMA = """<users><user><primary_id>S1</primary_id><last_name>Ng</last_name><user_group>25</user_group>
<expiry_date>2027-09-30</expiry_date><pref_first_name>Mei</pref_first_name><pref_last_name>Ng-Li</pref_last_name>
<job_description>Porter</job_description><campus_code>NORTH</campus_code>
<user_roles><user_role><status>ACTIVE</status><scope>MAIN</scope><role_type>200</role_type></user_role></user_roles>
<user_blocks><user_block segment_type="External"><block_type>GENERAL</block_type>
<block_description>FEES_UNPAID</block_description><block_status>ACTIVE</block_status></user_block></user_blocks>
<user_notes><user_note segment_type="External"><note_type>OTHER</note_type><note_text>See the registry</note_text>
<user_viewable>true</user_viewable></user_note></user_notes>
<user_statistics><user_statistic segment_type="External"><statistic_category>DEPT</statistic_category>
<category_type>DEPARTMENT</category_type><statistic_note>History</statistic_note></user_statistic></user_statistics>
</user></users>"""


@pytest.fixture
def fed(station, tmp_path):
    path = tmp_path / "u.xml"
    path.write_text(ALMA)
    report = load_feed(str(path), fmt="alma-xml", source="STUDENT", operator="t", today=factories.TODAY)
    assert report.counts["created"] == 1, report.details
    return StaffClient(station, "manager")


def test_the_patron_page_shows_what_the_feed_keeps(fed):
    html = fed.get("/patrons/S1").get_data(as_text=True)
    assert all(part in html for part in ('data-testid="preferred-name">Mei Ng-Li<', "<dd>Porter</dd>",
                                         "<dd>NORTH</dd>", 'data-testid="roles">200 (MAIN)<', "FEES_UNPAID"))


def test_the_notes_tab_marks_a_note_the_patron_sees(fed):
    html = fed.get("/patrons/S1?tab=notes").get_data(as_text=True)
    assert "See the registry <em data-testid=\"note-viewable\">(the patron sees it)</em>" in html


def test_the_statistics_tab_shows_the_statistic_note(fed):
    assert "DEPARTMENT (History)" in fed.get("/patrons/S1?tab=statistics").get_data(as_text=True)


def test_a_feed_upload_over_the_size_limit_is_refused_unread(admin, station):
    station.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    body = b"primary_id,last_name,user_group,expiry_date\n" + b"S1,Ng,25,2027-09-30\n" * 10_000
    response = admin.post("/admin/jobs/feed", {"source": "STUDENT", "mode": "partial",
                                               "file": (io.BytesIO(body), "big.csv")},
                          headers=HX, content_type="multipart/form-data")
    folder = os.path.join(station.config["KIOSK"]["data_dir"], "feed-uploads")
    assert (response.status_code, os.listdir(folder) if os.path.isdir(folder) else []) == (413, [])
