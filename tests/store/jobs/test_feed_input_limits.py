"""The patron feed obeys the store's input limits (store/limits.py, docs/limits.md): a row with a value over its
field's limit, an expiry date more than ten years ahead or a birth date out of range is rejected with its line and
a reason naming the field and the limit, and nothing of it is written; the other rows load."""
import pytest

from library_kiosk.central.store.jobs.feed import load_feed
from library_kiosk.central.store.models import Email, User
from tests.store import factories

HEADER = "primary_id,first_name,last_name,user_group,expiry_date,email,phone,address_line1,city,birth_date\n"
GOOD = "S1,Zoë,Ólafsdóttir,21,2027-09-30,zoe@example.ac.uk,+44 7700 900123,1 Gower St,London,1990-05-01\n"


def load(path, fmt="csv"):
    return load_feed(path, fmt=fmt, source="STUDENT", operator="tester", today=factories.TODAY)


@pytest.mark.parametrize("row, reason", [
    ("S2,Ana,Santos,21,2027-09-30," + "a" * 200 + "@example.org,,,,\n", "email_address is longer than 200 characters"),
    ("S2,Ana,Santos,21,2027-09-30,,,,," + "", None),  # (the control: a plain row loads)
    ("S2,Ana,Santos,21,2027-09-30,,+44 " + "7" * 40 + ",,,\n", "phone_number is longer than 40 characters"),
    ("S2,Ana,Santos,21,2027-09-30,,,," + "C" * 101 + ",\n", "city is longer than 100 characters"),
    ("S2,Ana,Santos,21,2027-09-30,,,," + "London,2026-11-26\n", "The birth date must not be in the future"),
    ("S2,Ana,Santos,21,2027-09-30,,,," + "London,1899-12-31\n", "The birth date must not be before 1900-01-01"),
    ("S2,Ana,Santos,21,2036-11-26,,,,,\n",
     "expiry_date 2036-11-26 must not be more than 10 years ahead (at the latest 2036-11-25)"),
    ("S2," + "A" * 10_000 + ",Santos,21,2027-09-30,,,,,\n", "first_name is longer than 100 characters"),
])
def test_a_row_over_a_limit_is_rejected_naming_the_field_and_the_rest_load(groups, write, row, reason):
    report = load(write("f.csv", HEADER + GOOD + row.rstrip("\n") + "\n"))
    rejected = [(r["line"], r["reason"]) for r in report.listed("rejected")]
    stored = sorted(pid for (pid,) in User.select(User.primary_id).tuples())
    if reason is None:
        assert (rejected, stored) == ([], ["S1", "S2"])
    else:
        assert (rejected, stored) == ([(3, reason)], ["S1"])


def test_an_alma_xml_note_over_its_limit_is_rejected_and_nothing_of_the_user_is_written(groups, write):
    xml = ("<users><user><primary_id>H1</primary_id><last_name>Ng</last_name><user_group>21</user_group>"
           "<expiry_date>2027-09-30</expiry_date><contact_info><emails><email preferred=\"true\"><email_address>"
           "mei@example.org</email_address></email></emails></contact_info><user_notes><user_note><note_type>OTHER"
           "</note_type><note_text>" + "n" * 2001 + "</note_text></user_note></user_notes></user></users>\n")
    report = load(write("f.xml", xml), fmt="alma-xml")
    assert ([r["reason"] for r in report.listed("rejected")], User.select().count(), Email.select().count()) == (
        ["note_text is longer than 2000 characters"], 0, 0)
