"""The station's patron page shows Alma's full name, title and job category as the feed stored them (issue 17)."""
import re

import pytest

from library_kiosk.central.store.jobs.feed import load_feed
from tests.provisioning.helpers import StaffClient
from tests.store import factories

ALMA = """<users><user><primary_id>S1</primary_id><first_name>Mei</first_name><last_name>Ng</last_name>
<full_name>Mei Ling Ng</full_name><user_title desc="Dr">DR</user_title>
<job_category desc="Academic">ACADEMIC</job_category><user_group>25</user_group>
<expiry_date>2027-09-30</expiry_date></user></users>"""


@pytest.fixture
def manager(station, tmp_path):
    path = tmp_path / "u.xml"
    path.write_text(ALMA)
    report = load_feed(str(path), fmt="alma-xml", source="STUDENT", operator="t", today=factories.TODAY)
    assert report.counts["created"] == 1, report.details
    return StaffClient(station, "manager")


def test_the_general_tab_shows_full_name_title_and_job_category(manager):
    html = manager.get("/patrons/S1").get_data(as_text=True)
    shown = dict(re.findall(r'<dd data-testid="(full-name|user-title|job-category)">([^<]*)</dd>', html))
    assert shown == {"full-name": "Mei Ling Ng", "user-title": "DR", "job-category": "ACADEMIC"}


def test_a_record_without_them_shows_none_of_them(station):
    factories.patron("P1")
    html = StaffClient(station, "manager").get("/patrons/P1").get_data(as_text=True)
    assert re.findall(r'data-testid="(full-name|user-title|job-category)"', html) == []
