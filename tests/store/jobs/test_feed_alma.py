"""The patron feed with Alma user XML shaped like real SIS loads: Internal segments stored as Internal and never
touched by a later load, notes, blocks, statistics with notes, roles, preferred names and the other fields Alma
keeps; unknown elements warned about once; clearer messages."""
import datetime as dt

from library_kiosk.central.store.jobs.feed import load_feed
from library_kiosk.central.store.models import (
    Address,
    Block,
    Change,
    Email,
    Identifier,
    Note,
    Phone,
    Statistic,
    User,
    UserRole,
)
from tests.store import factories

TODAY = factories.TODAY

INTERNAL = """
      <user_identifier segment_type="Internal">
        <id_type desc="Card serial number">CARD_SERIAL_NUMBER</id_type>
        <value>04A1B2C3D4E5F6</value>
        <note>Replacement card, desk 2</note>
        <status>ACTIVE</status>
      </user_identifier>"""
INTERNAL_EMAIL = """
        <email preferred="false" segment_type="Internal">
          <email_address>z.ola@home.example</email_address>
          <email_types><email_type desc="Personal">personal</email_type></email_types>
        </email>"""
INTERNAL_NOTE = """
      <user_note segment_type="Internal">
        <note_type desc="Circulation">CIRCULATION</note_type>
        <note_text>Lost two cards this year</note_text>
        <user_viewable>false</user_viewable>
        <popup_note>true</popup_note>
        <created_by>desk</created_by>
      </user_note>"""
INTERNAL_BLOCK = """
      <user_block segment_type="Internal">
        <block_type desc="General">GENERAL</block_type>
        <block_description desc="Library card lost">CARD_LOST</block_description>
        <block_status>ACTIVE</block_status>
      </user_block>"""


def sis(internal=True, city="London"):
    """One student as an SIS loader writes it (desc attributes, segment types, address dates)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<users>
  <user>
    <record_type desc="Public">PUBLIC</record_type>
    <primary_id>S100</primary_id>
    <first_name>Zoë</first_name>
    <middle_name>A</middle_name>
    <last_name>Ólafsdóttir</last_name>
    <full_name>Zoë A Ólafsdóttir</full_name>
    <pref_first_name>Zo</pref_first_name>
    <pref_middle_name></pref_middle_name>
    <pref_last_name>Olafs</pref_last_name>
    <user_title desc="Ms">MS</user_title>
    <job_description>Research assistant</job_description>
    <gender desc="Female">FEMALE</gender>
    <user_group desc="Undergraduate">21</user_group>
    <campus_code desc="Main campus">MAIN</campus_code>
    <preferred_language desc="English">en</preferred_language>
    <birth_date>2003-04-05Z</birth_date>
    <expiry_date>2027-09-30Z</expiry_date>
    <purge_date>2028-03-31Z</purge_date>
    <account_type desc="External">EXTERNAL</account_type>
    <external_id>SIS</external_id>
    <status desc="Active">ACTIVE</status>
    <contact_info>
      <addresses>
        <address preferred="true" segment_type="External">
          <line1>12 Gower Street</line1>
          <city>{city}</city>
          <postal_code>WC1E 6BT</postal_code>
          <country desc="United Kingdom">GBR</country>
          <start_date>2025-09-01Z</start_date>
          <end_date>2026-06-30Z</end_date>
          <address_types><address_type desc="Home">home</address_type></address_types>
        </address>
      </addresses>
      <emails>
        <email preferred="true" segment_type="External">
          <email_address>zoe@example.ac.uk</email_address>
          <email_types><email_type desc="School">school</email_type></email_types>
        </email>{INTERNAL_EMAIL if internal else ""}
      </emails>
      <phones>
        <phone preferred="true" preferred_sms="true" segment_type="External">
          <phone_number>+44 7700 900123</phone_number>
          <phone_types><phone_type desc="Mobile">mobile</phone_type></phone_types>
        </phone>
      </phones>
    </contact_info>
    <user_identifiers>
      <user_identifier segment_type="External">
        <id_type desc="Barcode">BARCODE</id_type>
        <value>21000000000100</value>
        <note>Issued at enrolment</note>
        <status>ACTIVE</status>
      </user_identifier>{INTERNAL if internal else ""}
    </user_identifiers>
    <user_roles>
      <user_role>
        <status desc="Active">ACTIVE</status>
        <scope desc="Main Library">MAIN</scope>
        <role_type desc="Patron">200</role_type>
      </user_role>
    </user_roles>
    <user_blocks>
      <user_block segment_type="External">
        <block_type desc="General">GENERAL</block_type>
        <block_description desc="Tuition fees unpaid">FEES_UNPAID</block_description>
        <block_status>ACTIVE</block_status>
        <expiry_date>2027-01-31Z</expiry_date>
      </user_block>{INTERNAL_BLOCK if internal else ""}
    </user_blocks>
    <user_notes>
      <user_note segment_type="External">
        <note_type desc="Registrar">REGISTAR</note_type>
        <note_text>Please see the registry before 1 October</note_text>
        <user_viewable>true</user_viewable>
        <popup_note>false</popup_note>
      </user_note>{INTERNAL_NOTE if internal else ""}
    </user_notes>
    <user_statistics>
      <user_statistic segment_type="External">
        <statistic_category desc="Department">DEPT</statistic_category>
        <category_type desc="Department">DEPARTMENT</category_type>
        <statistic_note>History</statistic_note>
      </user_statistic>
      <user_statistic segment_type="External">
        <statistic_category desc="Department">DEPT</statistic_category>
        <category_type desc="Department">DEPARTMENT</category_type>
        <statistic_note>Philosophy</statistic_note>
      </user_statistic>
    </user_statistics>
  </user>
</users>
"""


def load(path, **kw):
    return load_feed(path, fmt="alma-xml", source="STUDENT", operator="tester", today=TODAY, **kw)


def rows(model, *fields):
    return sorted(tuple(getattr(r, f) for f in fields) for r in model.select().order_by(model.id))


def test_sis_record_is_stored_field_by_field(groups, write):
    report = load(write("u.xml", sis()))
    assert report.counts["created"] == 1 and report.counts["rejected"] == 0, report.details
    zoe = User.get(User.primary_id == "S100")
    assert (zoe.first_name, zoe.middle_name, zoe.last_name, zoe.pref_first_name, zoe.pref_middle_name,
            zoe.pref_last_name, zoe.job_description, zoe.gender, zoe.user_group_id, zoe.campus_code,
            zoe.preferred_language, zoe.birth_date, zoe.expiry_date, zoe.purge_date, zoe.record_type, zoe.status,
            zoe.account_type, zoe.external_id) == (
        "Zoë", "A", "Ólafsdóttir", "Zo", "", "Olafs", "Research assistant", "FEMALE", "21", "MAIN", "en",
        dt.date(2003, 4, 5), dt.date(2027, 9, 30), dt.date(2028, 3, 31), "PUBLIC", "ACTIVE", "EXTERNAL", "STUDENT")
    assert rows(Identifier, "id_type", "value", "status", "note", "segment_type") == [
        ("BARCODE", "21000000000100", "ACTIVE", "Issued at enrolment", "External"),
        ("CARD_SERIAL_NUMBER", "04A1B2C3D4E5F6", "ACTIVE", "Replacement card, desk 2", "Internal")]
    assert rows(Email, "email_address", "email_types", "preferred", "segment_type") == [
        ("z.ola@home.example", "personal", False, "Internal"), ("zoe@example.ac.uk", "school", True, "External")]
    assert rows(Address, "line1", "city", "postal_code", "country", "address_types", "preferred", "start_date",
                "end_date", "segment_type") == [
        ("12 Gower Street", "London", "WC1E 6BT", "GBR", "home", True, dt.date(2025, 9, 1), dt.date(2026, 6, 30),
         "External")]
    assert rows(Phone, "phone_number", "phone_types", "preferred", "preferred_sms", "segment_type") == [
        ("+44 7700 900123", "mobile", True, True, "External")]
    assert rows(Statistic, "statistic_category", "category_type", "statistic_note", "segment_type") == [
        ("DEPT", "DEPARTMENT", "History", "External"), ("DEPT", "DEPARTMENT", "Philosophy", "External")]
    assert rows(Note, "note_type", "note_text", "user_viewable", "popup_note", "segment_type") == [
        ("CIRCULATION", "Lost two cards this year", False, True, "Internal"),
        ("REGISTAR", "Please see the registry before 1 October", True, False, "External")]
    assert rows(Block, "block_type", "block_description", "block_status", "expiry_date", "segment_type") == [
        ("GENERAL", "Library card lost", "ACTIVE", None, "Internal"),
        ("GENERAL", "Tuition fees unpaid", "ACTIVE", dt.date(2027, 1, 31), "External")]
    assert rows(UserRole, "role_type", "scope", "status", "segment_type") == [("200", "MAIN", "ACTIVE", "External")]


def test_the_same_file_again_changes_nothing(groups, write):
    path = write("u.xml", sis())
    load(path)
    before = Change.select().count()
    report = load(path)
    assert (report.counts["unchanged"], report.counts["updated"], Change.select().count()) == (1, 0, before)


def test_reload_without_the_internal_parts_keeps_them(groups, write):
    load(write("u.xml", sis()))
    report = load(write("v.xml", sis(internal=False)))
    assert report.counts["unchanged"] == 1, report.details
    assert rows(Identifier, "value", "segment_type") == [("04A1B2C3D4E5F6", "Internal"),
                                                         ("21000000000100", "External")]
    assert rows(Email, "email_address", "segment_type") == [("z.ola@home.example", "Internal"),
                                                           ("zoe@example.ac.uk", "External")]
    assert rows(Note, "note_text", "segment_type")[0] == ("Lost two cards this year", "Internal")
    assert rows(Block, "block_description", "segment_type")[0] == ("Library card lost", "Internal")


def test_an_update_replaces_external_segments_and_leaves_internal_ones(groups, write):
    load(write("u.xml", sis()))
    internal_ids = {m: rows(m, "id") for m in (Identifier, Email, Note, Block)}
    report = load(write("v.xml", sis(internal=False, city="Leeds").replace("History", "Classics")))
    assert report.counts["updated"] == 1, report.details
    assert rows(Address, "city", "segment_type") == [("Leeds", "External")]
    assert rows(Statistic, "statistic_note") == [("Classics",), ("Philosophy",)]
    internal_now = {m: [r for r in rows(m, "id", "segment_type") if r[1] == "Internal"] for m in internal_ids}
    assert all(len(internal_now[m]) == 1 and (internal_now[m][0][0],) in internal_ids[m] for m in internal_ids)


def test_an_internal_segment_in_the_file_of_an_existing_record_is_ignored(groups, write):
    load(write("v.xml", sis(internal=False)))
    report = load(write("u.xml", sis()))
    assert report.counts["unchanged"] == 1, report.details
    assert rows(Identifier, "id_type") == [("BARCODE",)]


def test_a_new_records_internal_identifier_held_by_another_record_rejects_the_row(groups, write):
    factories.patron("P1", card="04A1B2C3D4E5F6")
    report = load(write("u.xml", sis()))
    assert report.listed("rejected") == [{
        "line": 3, "primary_id": "S100",
        "reason": "identifier CARD_SERIAL_NUMBER 04A1B2C3D4E5F6 (Internal) belongs to another record (primary_id P1)"}]


def test_unknown_elements_are_warned_once_per_name_on_their_line(groups, write):
    text = sis().replace("<user_title", "<recordType>PUBLIC</recordType>\n    <user_title")
    text = text.replace("<status desc=\"Active\">ACTIVE</status>\n    <contact_info>",
                        "<recordType>x</recordType><status desc=\"Active\">ACTIVE</status>\n    <contact_info>")
    report = load(write("u.xml", text))
    assert report.counts["created"] == 1
    assert report.listed("warnings") == [
        {"line": 13, "warning": "unknown element <recordType> ignored (not in Alma's user record; reported once)"}]


def test_an_impossible_date_says_so(groups, write):
    report = load(write("u.xml", sis().replace("2027-09-30Z", "2030-02-30")))
    assert report.listed("rejected")[0]["reason"] == (
        "bad expiry_date '2030-02-30' (no such date: day is out of range for month)")


def test_a_malformed_file_is_refused_in_plain_words(groups, write):
    report = load(write("u.xml", sis().replace("<city>", "<city x=>")))
    assert report.message.endswith(": line 29 column 19: not well-formed XML: invalid token")


def test_a_file_not_in_utf8_says_wrong_encoding(groups, write):
    report = load(write("u.xml", sis().replace("Zoë", "Zo\xeb").encode("latin-1", "replace")))
    assert report.message.endswith("not well-formed XML: invalid token (the file is not valid UTF-8: wrong encoding?)")


def test_the_feeds_blocks_reach_the_kiosks_account(groups, write):
    from library_kiosk.central.store import accounts

    load(write("u.xml", sis()))
    account = accounts.build_account(User.get(User.primary_id == "S100"))
    assert sorted((b.block_type, b.description) for b in account.blocks) == [
        ("GENERAL", "Library card lost"), ("GENERAL", "Tuition fees unpaid")]


def test_a_value_longer_than_its_column_rejects_the_row_with_its_name(groups, write):
    report = load(write("u.xml", sis().replace("<statistic_note>History", "<statistic_note>" + "H" * 201)))
    assert report.listed("rejected")[0]["reason"] == "statistic_note is longer than 200 characters"
