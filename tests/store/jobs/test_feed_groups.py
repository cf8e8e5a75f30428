"""User groups as configuration: a feed row's unknown group refused with a message naming the mapping and the
store's groups, or created ([feed] create_groups) with the library's default policy; groups imported from a CSV
file (`kiosk admin groups import`); a fresh store loads a feed after that import."""
from decimal import Decimal

from library_kiosk import cli
from library_kiosk.central.store.jobs.feed import load_feed
from library_kiosk.central.store.jobs.groups import import_groups
from library_kiosk.central.store.models import User, UserGroup
from tests.store import factories

TODAY = factories.TODAY
FEED = ("primary_id,last_name,user_group,user_group_desc,expiry_date\n"
        "S1,Ng,08,Visiting scholar,2027-09-30\n"
        "S2,Lind,UGRAD,,2027-09-30\n")
POLICY = {"pin_required": False, "loan_limit": 8, "loan_period_days": 14, "max_renewals": 1, "fine_limit": 2.5,
          "overdue_limit": 2, "statistics_required": False}


def load(path, **kw):
    return load_feed(path, fmt="csv", source="STUDENT", operator="tester", today=TODAY, **kw)


def test_a_store_without_groups_says_so(central_db, write):
    report = load(write("f.csv", FEED))
    assert report.listed("rejected")[0]["reason"] == (
        "unknown user group '08': the store has no user groups yet (create them at the station's Administration "
        "page or with `kiosk admin groups import FILE`, or set [feed] create_groups = true)")


def test_an_unknown_group_names_the_mapping_and_the_known_groups(groups, write):
    report = load(write("f.csv", FEED), group_mapping={"UGRAD": "99"})
    assert [r["reason"] for r in report.listed("rejected")] == [
        "unknown user group '08' (not in [feed] user_groups, nor a group of the store; the store's groups: "
        "21, 25, 58, 59)",
        "unknown user group 'UGRAD' ([feed] user_groups maps it to '99', which the store does not have; the "
        "store's groups: 21, 25, 58, 59)"]


def test_create_groups_makes_the_group_from_code_and_description_with_the_default_policy(groups, write):
    report = load(write("f.csv", FEED), group_mapping={"UGRAD": "21"}, create_groups=True, group_policy=POLICY)
    assert (report.counts["created"], report.counts["rejected"]) == (2, 0)
    assert report.listed("groups_created") == [{"line": 2, "code": "08", "description": "Visiting scholar"}]
    made = UserGroup.get_by_id("08")
    assert (made.description, made.pin_required, made.loan_limit, made.loan_period_days, made.max_renewals,
            made.fine_limit, made.overdue_limit) == ("Visiting scholar", False, 8, 14, 1, Decimal("2.50"), 2)
    assert User.get(User.primary_id == "S1").user_group_id == "08"


def test_create_groups_takes_the_alma_desc_attribute(groups, write):
    xml = ("<users><user><primary_id>H1</primary_id><last_name>Ng</last_name>"
           "<user_group desc=\"Emeritus staff\">EM</user_group><expiry_date>2027-09-30</expiry_date></user></users>")
    load_feed(write("u.xml", xml), fmt="alma-xml", source="HR", operator="t", today=TODAY, create_groups=True)
    assert UserGroup.get_by_id("EM").description == "Emeritus staff"


def test_a_dry_run_creates_no_group(groups, write):
    report = load(write("f.csv", FEED), create_groups=True, dry_run=True)
    assert report.counts["groups_created"] == 2 and report.counts["created"] == 2
    assert not UserGroup.select().where(UserGroup.code.in_(["08", "UGRAD"])).exists()


def test_import_creates_updates_and_rejects_rows(groups, write):
    path = write("g.csv", "code,description,policy,loan_limit\n"
                          "21,Undergraduate,loan_period_days=28;pin_required=no,12\n"
                          "70,Alumni,,\n"
                          "71,Bad,loan_limit=many,\n"
                          "70,Again,,\n")
    report = import_groups(path, operator="ops", default_policy=POLICY)
    assert {k: report.counts[k] for k in ("created", "updated", "unchanged", "rejected")} == {
        "created": 1, "updated": 1, "unchanged": 0, "rejected": 2}
    assert report.listed("rejected") == [
        {"line": 4, "code": "71", "reason": "loan_limit must be a whole number, not 'many'"},
        {"line": 5, "code": "70", "reason": "code 70 also on line 3"}]
    ugrad, alumni = UserGroup.get_by_id("21"), UserGroup.get_by_id("70")
    assert (ugrad.description, ugrad.loan_limit, ugrad.loan_period_days, ugrad.pin_required) == (
        "Undergraduate", 12, 28, False)
    assert (alumni.loan_limit, alumni.fine_limit) == (8, Decimal("2.50"))
    assert import_groups(path, operator="ops", default_policy=POLICY).counts["unchanged"] == 2


def test_import_dry_run_changes_nothing(central_db, write):
    report = import_groups(write("g.csv", "code,description\n21,Undergraduate\n"), operator="ops", dry_run=True)
    assert report.counts["created"] == 1 and UserGroup.select().count() == 0


def test_import_refuses_a_file_without_its_columns(central_db, write):
    report = import_groups(write("g.csv", "group,desc\n21,Undergraduate\n"), operator="ops")
    assert report.status == "refused" and report.message.startswith("missing columns: code, description")


def test_a_fresh_store_loads_a_feed_after_groups_import(central_db, write, monkeypatch, central_url):
    monkeypatch.setenv("KIOSK_CENTRAL_DATABASE_URL", central_url)
    groups_csv = write("groups.csv", "code,description\n08,Visiting scholar\nUGRAD,Undergraduate\n")
    assert cli.main(["admin", "groups", "import", groups_csv, "--yes", "--operator", "ops"]) == 0
    feed = write("f.csv", FEED)
    assert cli.main(["admin", "feed", "load", feed, "--format", "csv", "--source", "STUDENT", "--yes",
                     "--operator", "ops"]) == 0
    assert sorted((u.primary_id, u.user_group_id) for u in User.select()) == [("S1", "08"), ("S2", "UGRAD")]


def test_an_unknown_csv_column_is_warned_about_once(groups, write):
    report = load(write("f.csv", "primary_id,last_name,user_group,expiry_date,recordType,recordType\n"
                                 "S1,Ng,21,2027-09-30,PUBLIC,PUBLIC\n"))
    assert (report.counts["created"], report.listed("warnings")) == (
        1, [{"line": 1, "warning": "unknown column 'recordtype' ignored (not a feed column: docs/feed.md)"}])
