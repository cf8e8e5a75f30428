"""The patron feed keeps the station search's key (central/store/patron_search.py) of the records it writes: a
name the feed changes is found by its new spelling, not by the old one."""
from library_kiosk.central.store import patron_search
from library_kiosk.central.store.jobs.feed import load_feed
from library_kiosk.central.store.models import User
from tests.store import factories

HEADER = "primary_id,first_name,last_name,user_group,expiry_date\n"


def load(path):
    return load_feed(path, fmt="csv", source="STUDENT", operator="tester", today=factories.TODAY)


def test_a_new_record_has_its_key_when_the_load_ends(groups, write):
    load(write("f.csv", HEADER + "S1,Zoë,Ólafsdóttir,21,2027-09-30\n"))
    assert User.get(User.primary_id == "S1").search_name == "olafsdottir|zoe|"


def test_a_renamed_record_is_found_by_its_new_name_only(groups, write):
    load(write("f.csv", HEADER + "S1,Zoë,Ólafsdóttir,21,2027-09-30\n"))
    patron_search.fill_missing()  # every record has a key before the change (whatever wrote the first)
    load(write("g.csv", HEADER + "S1,Zoë,Wójcik,21,2027-09-30\n"))
    found = ([u.primary_id for u in patron_search.search("wojcik").rows],
             [u.primary_id for u in patron_search.search("olafs").rows])
    assert found == (["S1"], [])
