import datetime as dt
import itertools

import pytest

from library_kiosk.central.store.jobs.feed import load_feed
from library_kiosk.central.store.jobs.models import JobRun
from library_kiosk.central.store.models import Change, Email, Identifier, Note, User
from tests.store import factories

TODAY = factories.TODAY
HEADER = "primary_id,first_name,last_name,user_group,expiry_date,purge_date,barcode,email,statistic_category\n"
ROWS = [
    "S1,Zoë,Ólafsdóttir,21,2027-09-30,2028-03-31,21000000000001,zoe@example.ac.uk,UG\n",
    "S2,José,García,21,2027-09-30Z,,21000000000002,jose@example.ac.uk,PG\n",
    "S3,Åsa,Lindqvist,25,2027-06-30,,21000000000003,,\n",
]


def load(path, **kw):
    kw.setdefault("fmt", "csv")
    kw.setdefault("source", "STUDENT")
    return load_feed(path, operator="tester", today=TODAY, **kw)


def test_first_load_creates_external_records(groups, write):
    report = load(write("f.csv", HEADER + "".join(ROWS)))
    assert report.ok, report.message
    assert report.counts == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0, "deactivated": 0,
                             "documents_prepared": 3}
    zoe = User.get(User.primary_id == "S1")
    assert (zoe.account_type, zoe.external_id, zoe.first_name, zoe.expiry_date) == (
        "EXTERNAL", "STUDENT", "Zoë", dt.date(2027, 9, 30))
    assert zoe.purge_date == dt.date(2028, 3, 31)
    assert [(i.id_type, i.value, i.segment_type) for i in zoe.identifiers] == [
        ("BARCODE", "21000000000001", "External")]
    assert [e.email_address for e in zoe.emails] == ["zoe@example.ac.uk"]
    assert [s.statistic_category for s in zoe.statistics] == ["UG"]
    assert sorted(c.primary_id for c in Change.select()) == ["S1", "S2", "S3"]
    run = JobRun.get_by_id(report.run_id)
    assert run.status == "done" and run.operator == "tester" and not run.dry_run


def test_same_file_twice_changes_nothing(groups, write):
    path = write("f.csv", HEADER + "".join(ROWS))
    load(path)
    before = Change.select().count()
    report = load(path)
    assert report.counts["unchanged"] == 3 and report.counts["created"] == report.counts["updated"] == 0
    assert Change.select().count() == before


def test_update_replaces_external_segments_and_keeps_internal(groups, write):
    load(write("f.csv", HEADER + "".join(ROWS)))
    zoe = User.get(User.primary_id == "S1")
    Identifier.create(user=zoe, id_type="CARD_SERIAL_NUMBER", value="04A1B2C3D4E5F6", segment_type="Internal")
    Note.create(user=zoe, note_text="Prefers the science library", segment_type="Internal")
    Email.create(user=zoe, email_address="zoe@home.example", segment_type="Internal")
    seq = Change.select().count()
    changed = ROWS[0].replace("zoe@example.ac.uk", "zoe.o@example.ac.uk").replace("Zoë", "Zoe")
    report = load(write("g.csv", HEADER + changed + ROWS[1] + ROWS[2]))
    assert report.counts["updated"] == 1 and report.counts["unchanged"] == 2
    zoe = User.get(User.primary_id == "S1")
    assert zoe.first_name == "Zoe"
    assert sorted((e.email_address, e.segment_type) for e in zoe.emails) == [
        ("zoe.o@example.ac.uk", "External"), ("zoe@home.example", "Internal")]
    assert sorted((i.id_type, i.segment_type) for i in zoe.identifiers) == [
        ("BARCODE", "External"), ("CARD_SERIAL_NUMBER", "Internal")]
    assert [n.note_text for n in zoe.notes] == ["Prefers the science library"]
    assert [c.primary_id for c in Change.select().where(Change.seq > seq)] == ["S1"]
    assert load(write("g2.csv", HEADER + changed + ROWS[1] + ROWS[2])).counts["unchanged"] == 3


def test_feed_identifier_already_held_internally_is_not_duplicated(groups, write):
    load(write("f.csv", HEADER + ROWS[0]))
    zoe = User.get(User.primary_id == "S1")
    Identifier.create(user=zoe, id_type="UNIV_ID", value="U1", segment_type="Internal")
    text = "primary_id,last_name,user_group,expiry_date,univ_id\nS1,Ólafsdóttir,21,2027-09-30,U1\n"
    report = load(write("g.csv", text))
    assert report.ok and report.counts["rejected"] == 0
    assert [(i.id_type, i.segment_type) for i in zoe.identifiers] == [("UNIV_ID", "Internal")]
    assert load(write("g.csv", text)).counts["unchanged"] == 1


def test_bad_rows_are_reported_and_the_rest_load(groups, write):
    text = (HEADER + ROWS[0]
            + "S4,Ana,Santos,25,30/09/2027,,21000000000004,,\n"  # bad date
            + "S5,Mei,Chen,99,2027-09-30,,21000000000005,,\n"  # unknown group
            + "S6,Noah,Kim,25,2027-09-30,,21000000000001,,\n"  # barcode of S1
            + "S7,Olivia,Ng,25,2027-09-30\n"  # too few fields
            + "S8,,,25,2027-09-30,,,,\n"  # no last name
            + "S1,Zoë,Again,21,2027-09-30,,,,\n"  # duplicate primary id
            + ROWS[2])
    report = load(write("bad.csv", text))
    assert report.ok
    assert report.counts["created"] == 2 and report.counts["rejected"] == 6
    reasons = {r["line"]: r["reason"] for r in report.listed("rejected")}
    assert "bad expiry_date '30/09/2027'" in reasons[3]
    assert "unknown user group '99'" in reasons[4]
    assert "also on line 2" in reasons[5] and "S1" in reasons[5]
    assert "fields where the header has" in reasons[6]
    assert "last_name is empty" in reasons[7]
    assert "primary_id also on line 2" in reasons[8]
    assert not User.select().where(User.primary_id.in_(["S4", "S5", "S6", "S7", "S8"])).exists()


def test_identifier_held_by_another_record_in_the_store_is_rejected(groups, write):
    factories.patron("LOCAL1", barcode="21000000000002")
    report = load(write("f.csv", HEADER + "".join(ROWS)))
    assert report.counts["created"] == 2 and report.counts["rejected"] == 1
    assert "belongs to another record" in report.listed("rejected")[0]["reason"]


def test_internal_record_and_other_source_are_not_touched(groups, write):
    factories.patron("S1")  # an INTERNAL record made by staff
    load(write("hr.csv", HEADER + ROWS[1]), source="HR")
    report = load(write("f.csv", HEADER + "".join(ROWS)))
    reasons = sorted(r["reason"] for r in report.listed("rejected"))
    assert reasons == ["an INTERNAL record with this primary_id exists (not fed)", "the record belongs to source HR"]
    assert User.get(User.primary_id == "S1").account_type == "INTERNAL"


def test_missing_columns_refuse_the_file(groups, write):
    report = load(write("f.csv", "primary_id,first_name,last_name\nS1,Zoë,Ó\n"))
    assert report.status == "refused"
    assert "missing columns: user_group, expiry_date" in report.message
    assert User.select().count() == 0


def test_wrong_encoding_rejects_the_row(groups, write):
    latin1 = "S9,José,Martínez,25,2027-09-30,,,,\n".encode("latin-1")
    text = (HEADER + ROWS[0]).encode() + latin1 + ROWS[2].encode()
    report = load(write("enc.csv", text))
    assert report.counts["created"] == 2 and report.counts["rejected"] == 1
    bad = report.listed("rejected")[0]
    assert bad["line"] == 3 and "not valid utf-8" in bad["reason"]
    assert load(write("enc2.csv", (HEADER + ROWS[0]).encode() + latin1), encoding="latin-1").counts["created"] == 1


def test_full_feed_deactivates_missing_records(groups, write):
    rows = [f"S{n},First,Last{n},25,2027-09-30,,,,\n" for n in range(1, 21)]
    load(write("f.csv", HEADER + "".join(rows)))
    seq = Change.select().count()
    report = load(write("g.csv", HEADER + "".join(rows[:-2])), full=True, missing_purge_days=30)
    assert report.counts["deactivated"] == 2 and report.counts["unchanged"] == 18
    gone = User.get(User.primary_id == "S20")
    assert (gone.status, gone.purge_date) == ("INACTIVE", TODAY + dt.timedelta(days=30))
    assert sorted(c.primary_id for c in Change.select().where(Change.seq > seq)) == ["S19", "S20"]
    again = load(write("g.csv", HEADER + "".join(rows[:-2])), full=True, missing_purge_days=30)
    assert again.counts["deactivated"] == 0 and Change.select().count() == seq + 2


def test_full_feed_over_the_share_stops_before_changing_anything(groups, write):
    rows = [f"S{n},First,Last{n},25,2027-09-30,,,,\n" for n in range(1, 21)]
    load(write("f.csv", HEADER + "".join(rows)))
    seq = Change.select().count()
    changed = rows[0].replace("First", "Changed")
    report = load(write("g.csv", HEADER + changed + "".join(rows[1:17])), full=True)  # 3 of 20 missing: 15%
    assert report.status == "refused" and "3 of 20" in report.message
    assert Change.select().count() == seq
    assert User.get(User.primary_id == "S1").first_name == "First"
    assert load(write("g.csv", HEADER + "".join(rows[:18])), full=True).counts["deactivated"] == 2  # 10%: allowed


def test_dry_run_changes_nothing(groups, write):
    report = load(write("f.csv", HEADER + "".join(ROWS)), dry_run=True)
    assert report.counts["created"] == 3 and report.listed("created") == ["S1", "S2", "S3"]
    assert User.select().count() == 0 and Change.select().count() == 0


def test_group_mapping_maps_source_codes(groups, write):
    text = "primary_id,last_name,user_group,expiry_date\nS1,Ó,UGRAD,2027-09-30\n"
    report = load(write("f.csv", text), group_mapping={"UGRAD": "21"})
    assert report.counts["created"] == 1 and User.get(User.primary_id == "S1").user_group_id == "21"


def test_progress_is_reported(groups, write):
    seen = []
    rows = [f"S{n},First,Last{n},25,2027-09-30,,,,\n" for n in range(1, 26)]
    load(write("f.csv", HEADER + "".join(rows)), batch_size=10, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(10, 25), (20, 25), (25, 25), (0, 25), (25, 25)]  # the records, then their kiosk documents
    assert User.select().count() == 25


ALMA = """<?xml version="1.0" encoding="UTF-8"?>
<users>
  <user>
    <record_type desc="Public">PUBLIC</record_type>
    <primary_id>H1</primary_id>
    <first_name>Siobhán</first_name>
    <last_name>O'Brien</last_name>
    <user_group desc="Visiting Researcher">59</user_group>
    <expiry_date>2030-01-16Z</expiry_date>
    <purge_date>2030-07-16Z</purge_date>
    <account_type desc="External">EXTERNAL</account_type>
    <external_id>HR</external_id>
    <status desc="Active">ACTIVE</status>
    <contact_info>
      <addresses>
        <address preferred="true" segment_type="External">
          <line1>Gower Street</line1>
          <city>London</city>
          <postal_code>WC1E 6BT</postal_code>
          <address_types><address_type desc="Work">work</address_type></address_types>
        </address>
      </addresses>
      <emails>
        <email preferred="true" segment_type="External">
          <email_address>s.obrien@example.ac.uk</email_address>
          <email_types><email_type desc="Work">work</email_type></email_types>
        </email>
      </emails>
      <phones>
        <phone preferred="true" preferred_sms="false" segment_type="External">
          <phone_number>+44 20 7679 2000</phone_number>
          <phone_types><phone_type>office</phone_type></phone_types>
        </phone>
      </phones>
    </contact_info>
    <user_identifiers>
      <user_identifier segment_type="External">
        <id_type desc="Barcode">BARCODE</id_type>
        <value>23000000000001</value>
        <status>ACTIVE</status>
      </user_identifier>
    </user_identifiers>
    <user_statistics>
      <user_statistic segment_type="External">
        <statistic_category desc="Staff">STAFF</statistic_category>
        <category_type desc="Patron Type">Patron Type</category_type>
      </user_statistic>
    </user_statistics>
  </user>
  <user>
    <primary_id>H2</primary_id>
    <last_name>Okafor</last_name>
    <user_group>59</user_group>
    <expiry_date>2030-13-16Z</expiry_date>
  </user>
</users>
"""


def test_alma_xml_feed(groups, write):
    path = write("users.xml", ALMA)
    report = load(path, fmt="alma-xml", source="HR")
    assert report.counts["created"] == 1 and report.counts["rejected"] == 1
    assert report.listed("rejected") == [{"line": 50, "primary_id": "H2", "reason":
                                          "bad expiry_date '2030-13-16Z' (no such date: month must be in 1..12)"}]
    user = User.get(User.primary_id == "H1")
    assert (user.expiry_date, user.purge_date, user.external_id) == (dt.date(2030, 1, 16), dt.date(2030, 7, 16), "HR")
    assert [(a.line1, a.city, a.address_types, a.preferred) for a in user.addresses] == [
        ("Gower Street", "London", "work", True)]
    assert [(e.email_address, e.email_types) for e in user.emails] == [("s.obrien@example.ac.uk", "work")]
    assert [p.phone_number for p in user.phones] == ["+44 20 7679 2000"]
    assert [(i.id_type, i.value) for i in user.identifiers] == [("BARCODE", "23000000000001")]
    assert [s.statistic_category for s in user.statistics] == ["STAFF"]
    assert load(path, fmt="alma-xml", source="HR").counts["unchanged"] == 1


def test_alma_xml_not_well_formed_or_with_entities_is_refused(groups, write):
    bad = load(write("bad.xml", ALMA.replace("</users>", "")), fmt="alma-xml", source="HR")
    assert bad.status == "refused" and "not well-formed" in bad.message
    bomb = '<?xml version="1.0"?><!DOCTYPE users [<!ENTITY a "aaaa">]><users></users>'
    assert "DTDs and entities" in load(write("bomb.xml", bomb), fmt="alma-xml", source="HR").message
    latin1 = ALMA.replace("Siobhán", "Siobh\xe1n").encode("latin-1")
    assert "wrong encoding" in load(write("l1.xml", latin1), fmt="alma-xml", source="HR").message
    assert User.select().count() == 0


def test_the_cyclic_collector_is_paused_during_a_load_and_back_on_after(groups, write):
    import gc

    from library_kiosk.central.store.jobs import common

    seen = []
    path = write("f.csv", HEADER + "".join(ROWS))
    report = load(path, batch_size=1, progress=lambda done, total: seen.append(gc.isenabled()))
    assert report.counts["created"] == 3
    assert seen == [False, False, False, True, True, True] and gc.isenabled()  # then the kiosk documents (0, 3, 3)
    with common.paused_gc():  # nested pauses: the collector comes back when the last one ends
        with common.paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        with common.paused_gc():
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.isenabled()


# --- the kiosk documents phase ---------------------------------------------------------------------------------

def _pull(kiosk_app):
    """A kiosk sync, the real one (kiosk.sync.pull over HTTP from a live central store), in small pages."""
    from kiosk import sync
    from kiosk.cache import cache_db

    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        applied = sync.pull(kiosk_app.extensions["central"], cache, page_size=2)
        return applied, {pid: cache.get(pid) for pid in ("S1", "S2", "S3")}


@pytest.mark.parametrize("documents", [True, False])
def test_the_first_kiosk_sync_after_a_feed_builds_no_document(groups, write, kiosk_app, builds, documents):
    """After a real load the kiosks' documents are built (and a full reload's updates and deactivations too), so
    a kiosk's sync streams them: no document is built while it pulls. Without the phase (``documents=False``) the
    same observer sees the sync build every one: the check can fail."""
    report = load(write("f.csv", HEADER + "".join(ROWS)), documents=documents)
    assert report.ok and report.counts.get("documents_prepared", 0) == (3 if documents else 0)
    builds.clear()
    applied, cached = _pull(kiosk_app)
    assert applied == 3 and all(cached.values())
    assert cached["S1"].first_name == "Zoë"
    if not documents:
        assert sorted(builds) == ["S1", "S2", "S3"]
        return
    assert builds == []
    changed = ROWS[0].replace("Zoë", "Zoe")
    report = load(write("g.csv", HEADER + changed + ROWS[1]), full=True, max_deactivate_share=0.5)
    assert (report.counts["updated"], report.counts["deactivated"], report.counts["documents_prepared"]) == (1, 1, 2)
    builds.clear()
    applied, cached = _pull(kiosk_app)
    assert builds == [] and applied == 2
    assert cached["S1"].first_name == "Zoe" and cached["S3"].status == "INACTIVE"


def test_the_documents_phase_is_reported_after_the_load(groups, write):
    from library_kiosk.central.store import documents

    path = write("f.csv", HEADER + "".join(ROWS) + "S4,Bad,Row,99,2027-09-30,,,,\n")
    calls = []
    dry = load(path, dry_run=True, progress=lambda done, total, phase="": calls.append((phase, done, total)))
    assert "documents_prepared" not in dry.counts and documents.PatronDocument.select().count() == 0
    assert {phase for phase, _d, _t in calls} == {""}
    calls.clear()
    report = load(path, progress=lambda done, total, phase="": calls.append((phase, done, total)))
    assert report.counts["created"] == 3 and report.counts["rejected"] == 1
    assert report.counts["documents_prepared"] == 3
    load_calls = [c for c in calls if c[0] == ""]
    assert load_calls[-1] == ("", 4, 4) and calls.index(load_calls[-1]) < calls.index(
        ("Preparing kiosk documents", 0, 3))
    assert calls[-1] == ("Preparing kiosk documents", 3, 3)
    assert sorted(d.primary_id for d in documents.PatronDocument.select()) == ["S1", "S2", "S3"]
    plain = []  # a two-argument callback (the station's tracker) gets the phase's counts as they are
    load(write("g.csv", HEADER + ROWS[0].replace("Zoë", "Zoe")), progress=lambda done, total: plain.append(
        (done, total)))
    assert plain[-2:] == [(0, 1), (1, 1)]


def test_the_cli_shows_the_documents_phase(capsys):
    from library_kiosk.central import admin_cli as cli

    cli._progress(1000, 2000)
    cli._progress(2000, 2000)
    cli._progress(0, 2000, "Preparing kiosk documents")
    cli._progress(2000, 2000, "Preparing kiosk documents")
    cli._progress(5, 5)
    err = capsys.readouterr().err
    assert "2,000 / 2,000\n" in err and "\r  Preparing kiosk documents: 2,000 of 2,000\n" in err


# --- identifiers moving between records within one feed -----------------------------------------------------------

MOVE = "primary_id,first_name,last_name,user_group,expiry_date,barcode,other_ids\n"


def _row(pid: str, barcode: str, first: str = "First", other_ids: str = "") -> str:
    return f"{pid},{first},Last {pid},21,2027-09-30,{barcode},{other_ids}\n"


def _identifiers() -> dict:
    found = {}
    for user in User.select().order_by(User.primary_id):
        found[user.primary_id] = sorted((i.id_type, i.value, i.segment_type) for i in user.identifiers)
    return found


def _reasons(report) -> dict:
    return {r["primary_id"]: (r["line"], r["reason"]) for r in report.listed("rejected")}


@pytest.mark.parametrize("batch_size", [1, 1000])  # the two rows in different batches, in the same batch
@pytest.mark.parametrize("gainer_first", [True, False])
def test_a_barcode_swapped_between_two_records_loads_in_either_row_order(groups, write, gainer_first, batch_size):
    load(write("f.csv", MOVE + _row("S1", "2000123") + _row("S2", "2000456")))
    seq = Change.select().count()
    rows = [_row("S2", "2000123", "Second"), _row("S1", "2000456")]  # S2 takes S1's barcode, S1 takes S2's
    path = write("swap.csv", MOVE + "".join(rows if gainer_first else rows[::-1]))
    dry = load(path, batch_size=batch_size, dry_run=True)
    assert (dry.counts["updated"], dry.counts["rejected"]) == (2, 0), dry.listed("rejected")
    assert _identifiers()["S1"] == [("BARCODE", "2000123", "External")] and Change.select().count() == seq
    report = load(path, batch_size=batch_size)
    assert (report.counts["updated"], report.counts["rejected"]) == (2, 0), report.listed("rejected")
    assert _identifiers() == {"S1": [("BARCODE", "2000456", "External")], "S2": [("BARCODE", "2000123", "External")]}
    assert User.get(User.primary_id == "S2").first_name == "Second"
    assert sorted(c.primary_id for c in Change.select().where(Change.seq > seq)) == ["S1", "S2"]


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_rotation_of_barcodes_among_three_records_loads_in_any_order(groups, write, order, batch_size):
    load(write("f.csv", MOVE + _row("S1", "A1") + _row("S2", "B2") + _row("S3", "C3")))
    rotated = [_row("S1", "B2"), _row("S2", "C3"), _row("S3", "A1")]  # each takes the next one's barcode
    path = write("rot.csv", MOVE + "".join(rotated[i] for i in order))
    assert load(path, batch_size=batch_size, dry_run=True).counts["updated"] == 3
    report = load(path, batch_size=batch_size, full=True)
    assert (report.counts["updated"], report.counts["rejected"]) == (3, 0), report.listed("rejected")
    assert {pid: ids[0][1] for pid, ids in _identifiers().items()} == {"S1": "B2", "S2": "C3", "S3": "A1"}
    assert load(path, batch_size=batch_size, full=True).counts["unchanged"] == 3


@pytest.mark.parametrize("batch_size", [1, 1000])
@pytest.mark.parametrize("holder_first", [True, False])
def test_two_rows_claiming_one_identifier_are_a_conflict_whatever_the_order(groups, write, holder_first, batch_size):
    load(write("f.csv", MOVE + _row("S1", "2000123") + _row("S2", "2000456")))
    # S1 still sends its barcode (and a new name); S2 claims it too: S1, which holds it, keeps it in either order
    rows = [_row("S1", "2000123", "Renamed"), _row("S2", "2000123", "Thief")]
    # two new records claiming one new barcode: the later row is rejected
    rows += [_row("S4", "2000777"), _row("S5", "2000777")]
    report = load(write("c.csv", MOVE + "".join(rows if holder_first else [*rows[1::-1], *rows[2:]])),
                  batch_size=batch_size)
    assert (report.counts["created"], report.counts["updated"], report.counts["rejected"]) == (1, 1, 2)
    reasons = _reasons(report)
    s1_line = 2 if holder_first else 3
    assert reasons["S2"][0] == (3 if holder_first else 2)
    assert f"identifier BARCODE 2000123 is also on line {s1_line} (primary_id S1" in reasons["S2"][1]
    assert reasons["S5"] == (5, "identifier BARCODE 2000777 is also on line 4 (primary_id S4)")
    assert User.get(User.primary_id == "S1").first_name == "Renamed"
    assert User.get(User.primary_id == "S2").first_name == "First"  # the rejected row changed nothing
    assert _identifiers()["S2"] == [("BARCODE", "2000456", "External")]
    assert not User.select().where(User.primary_id == "S5").exists()


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_an_identifier_held_by_a_record_the_feed_does_not_update_is_not_taken(groups, write, batch_size):
    factories.patron("L1", barcode="2000555", card=None)  # an INTERNAL record made by staff
    load(write("f.csv", MOVE + _row("S1", "2000123") + _row("S2", "2000456") + _row("S3", "2000789")))
    seq = Change.select().count()
    rows = (_row("S1", "2000555", "Thief")  # L1's barcode: INTERNAL, never fed
            + _row("S2", "2000789", "Thief")  # S3's barcode, and S3 is not in this file
            + _row("L1", "2000999"))  # L1's own row is rejected: its barcode stays
    report = load(write("g.csv", MOVE + rows), batch_size=batch_size)
    assert (report.counts["updated"], report.counts["rejected"]) == (0, 3)
    reasons = _reasons(report)
    assert reasons["S1"] == (2, "identifier BARCODE 2000555 belongs to another record "
                                "(primary_id L1, an INTERNAL record the feed does not update)")
    assert reasons["S2"] == (3, "identifier BARCODE 2000789 belongs to another record "
                                "(primary_id S3, not in this feed)")
    assert {pid: [v for _t, v, _s in ids] for pid, ids in _identifiers().items()} == {
        "L1": ["2000555"], "S1": ["2000123"], "S2": ["2000456"], "S3": ["2000789"]}
    assert User.select().where(User.first_name == "Thief").count() == 0 and Change.select().count() == seq
    # the holder's row rejected: the row waiting for its barcode is rejected too, naming it
    report = load(write("h.csv", MOVE + _row("S2", "2000123") + "S1,First,Last,99,2027-09-30,2000888,\n"
                        + _row("S4", "2000789") + "S3,First,Last,21,2027-13-30,2000790,\n"), batch_size=batch_size)
    reasons = _reasons(report)
    assert reasons["S2"] == (2, "identifier BARCODE 2000123 belongs to another record "
                                "(primary_id S1, whose row on line 3 is rejected)")
    assert "unknown user group '99'" in reasons["S1"][1]
    assert [r for r in report.listed("rejected") if r["primary_id"] == "S4"] == [{
        "line": 4, "primary_id": "S4", "reason": "identifier BARCODE 2000789 belongs to another record "
                                                 "(primary_id S3, whose row on line 5 is rejected)"}]
    assert _identifiers()["S2"] == [("BARCODE", "2000456", "External")] and "S4" not in _identifiers()


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_a_card_serial_number_added_locally_survives_the_feed(groups, write, batch_size):
    load(write("f.csv", MOVE + _row("S1", "2000123") + _row("S2", "2000456") + _row("S3", "2000789")))
    s1 = User.get(User.primary_id == "S1")
    Identifier.create(user=s1, id_type="CARD_SERIAL_NUMBER", value="04AABBCC", segment_type="Internal")
    rows = (_row("S3", "2000790", other_ids="CARD_SERIAL_NUMBER=04AABBCC")  # S1's local card: not the feed's
            + _row("S2", "2000123")  # S1's barcode: S1 lets it go
            + _row("S1", "2000999"))  # S1 gets a new barcode; its card serial number stays
    report = load(write("g.csv", MOVE + rows), batch_size=batch_size)
    assert (report.counts["updated"], report.counts["rejected"]) == (2, 1), report.listed("rejected")
    assert _reasons(report)["S3"] == (2, "identifier CARD_SERIAL_NUMBER 04AABBCC belongs to another record "
                                         "(primary_id S1, added by the library (Internal), kept by the feed)")
    assert _identifiers() == {
        "S1": [("BARCODE", "2000999", "External"), ("CARD_SERIAL_NUMBER", "04AABBCC", "Internal")],
        "S2": [("BARCODE", "2000123", "External")], "S3": [("BARCODE", "2000789", "External")]}


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_the_move_file_loaded_twice_changes_nothing_the_second_time(groups, write, batch_size):
    load(write("f.csv", MOVE + _row("S1", "2000123") + _row("S2", "2000456")))
    path = write("move.csv", MOVE + _row("S2", "2000123") + _row("S1", "2000999"))  # S1's barcode moves to S2
    first = load(path, batch_size=batch_size, full=True)
    assert (first.counts["updated"], first.counts["rejected"]) == (2, 0), first.listed("rejected")
    seq = Change.select().count()
    again = load(path, batch_size=batch_size, full=True)
    assert (again.counts["unchanged"], again.counts["updated"], again.counts["rejected"]) == (2, 0, 0)
    assert Change.select().count() == seq
    assert _identifiers() == {"S1": [("BARCODE", "2000999", "External")], "S2": [("BARCODE", "2000123", "External")]}


def _alma_user(pid: str, barcode: str) -> str:
    return (f"<user><primary_id>{pid}</primary_id><last_name>Last</last_name><user_group>59</user_group>"
            f"<expiry_date>2030-01-16Z</expiry_date><user_identifiers><user_identifier><id_type>BARCODE</id_type>"
            f"<value>{barcode}</value><status>ACTIVE</status></user_identifier></user_identifiers></user>\n")


@pytest.mark.parametrize("gainer_first", [True, False])
def test_alma_xml_feed_moves_an_identifier_between_records(groups, write, gainer_first):
    def xml(*users):
        return '<?xml version="1.0" encoding="UTF-8"?>\n<users>\n' + "".join(users) + "</users>\n"

    load(write("a.xml", xml(_alma_user("H1", "23000000000001"), _alma_user("H2", "23000000000002"))),
         fmt="alma-xml", source="HR")
    users = [_alma_user("H2", "23000000000001"), _alma_user("H1", "23000000000003")]
    path = write("b.xml", xml(*(users if gainer_first else users[::-1])))
    report = load(path, fmt="alma-xml", source="HR", batch_size=1)
    assert (report.counts["updated"], report.counts["rejected"]) == (2, 0), report.listed("rejected")
    assert {pid: ids[0][1] for pid, ids in _identifiers().items()} == {"H1": "23000000000003", "H2": "23000000000001"}
    assert load(path, fmt="alma-xml", source="HR").counts["unchanged"] == 2
