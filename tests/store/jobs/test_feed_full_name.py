"""The patron feed keeps Alma's ``full_name``, ``user_title`` and ``job_category`` (issue 17, item 4): stored from
Alma user XML (coded fields as their code) and from the CSV columns of the same names, replaced by a later load
that changes them, left alone by the same file again, and a value too long for its column rejects the row."""
import datetime as dt

from library_kiosk.central.store.jobs.feed import load_feed
from library_kiosk.central.store.models import Change, User
from tests.store import factories


def alma(full_name="Zoë A Ólafsdóttir", title='<user_title desc="Ms">MS</user_title>',
         category='<job_category desc="Research staff">RESEARCH</job_category>'):
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<users>
  <user>
    <primary_id>S100</primary_id>
    <first_name>Zoë</first_name>
    <last_name>Ólafsdóttir</last_name>
    <full_name>{full_name}</full_name>
    {title}
    {category}
    <job_description>Research assistant</job_description>
    <user_group desc="Undergraduate">21</user_group>
    <expiry_date>2027-09-30Z</expiry_date>
    <status desc="Active">ACTIVE</status>
  </user>
</users>
"""


def load(path, fmt="alma-xml"):
    return load_feed(path, fmt=fmt, source="STUDENT", operator="tester", today=factories.TODAY)


def stored(primary_id="S100"):
    user = User.get(User.primary_id == primary_id)
    return user.full_name, user.user_title, user.job_category


def test_the_three_fields_are_stored_from_alma_xml(groups, write):
    report = load(write("u.xml", alma()))
    assert (report.counts["created"], report.listed("warnings"), stored()) == (
        1, [], ("Zoë A Ólafsdóttir", "MS", "RESEARCH"))


def test_the_other_core_fields_are_stored_beside_them(groups, write):
    load(write("u.xml", alma()))
    user = User.get(User.primary_id == "S100")
    assert (user.first_name, user.last_name, user.job_description, user.user_group_id, user.expiry_date) == (
        "Zoë", "Ólafsdóttir", "Research assistant", "21", dt.date(2027, 9, 30))


def test_the_same_file_again_changes_nothing(groups, write):
    path = write("u.xml", alma())
    load(path)
    before = Change.select().count()
    report = load(path)
    assert (report.counts["unchanged"], report.counts["updated"], Change.select().count(), stored()) == (
        1, 0, before, ("Zoë A Ólafsdóttir", "MS", "RESEARCH"))


def test_a_reload_that_changes_them_replaces_each(groups, write):
    load(write("u.xml", alma()))
    before = Change.select().count()
    report = load(write("v.xml", alma("Zoë Ólafsdóttir-Berg", '<user_title desc="Dr">DR</user_title>',
                                      '<job_category desc="Academic">ACADEMIC</job_category>')))
    assert (report.counts["updated"], Change.select().count() - before, stored()) == (
        1, 1, ("Zoë Ólafsdóttir-Berg", "DR", "ACADEMIC"))


def test_a_reload_without_them_empties_them_as_any_core_field(groups, write):
    load(write("u.xml", alma()))
    report = load(write("v.xml", alma(full_name="", title="", category="")))
    assert (report.counts["updated"], stored()) == (1, ("", "", ""))


def test_the_csv_columns_of_the_same_names(groups, write):
    path = write("f.csv", "primary_id,last_name,user_group,expiry_date,full_name,user_title,job_category\n"
                          "S1,García,21,2027-09-30,José García López,MR,SUPPORT\n")
    report = load(path, fmt="csv")
    assert (report.counts["created"], report.listed("warnings"), stored("S1")) == (
        1, [], ("José García López", "MR", "SUPPORT"))


def test_a_title_longer_than_its_column_rejects_the_row_with_its_name(groups, write):
    report = load(write("u.xml", alma(title=f"<user_title>{'M' * 41}</user_title>")))
    assert (report.listed("rejected")[0]["reason"], User.select().count()) == (
        "user_title is longer than 40 characters", 0)
