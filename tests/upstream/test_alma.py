"""The Alma back end against Stoplight Prism (the vendor's document) with recorded examples."""
import datetime as dt
import logging
from decimal import Decimal

import pytest
import requests

from library_kiosk.central.upstream.base import LoanRef, UpstreamError, UpstreamUnavailable
from tests.helpers import TODAY  # the pinned day
from tests.upstream.alma_fake import error, example_user

KEY = "l7xx-test-key-0123456789"


def assert_all_valid(fake):
    assert fake.log, "no request reached Prism"
    bad = [e for e in fake.log if e["violations"] or e["prism_status"] >= 400]
    assert not bad, bad


def patron_with_everything(fake):
    fake.add_user(example_user())
    first = fake.add_loan("AL1", "39000000001", "Middlemarch")
    second = fake.add_loan("AL1", "39000000002", "Ulysses", renewable=False)
    fake.add_request("AL1", "Beloved", "ON_HOLD_SHELF")
    fake.add_request("AL1", "Jazz", "NOT_STARTED", place=3)
    fake.add_fee("AL1", 2.5)
    return first, second


def test_fetch_by_any_identifier_reads_the_whole_account(alma, alma_upstream):
    fake, _ = alma
    patron_with_everything(fake)
    found = alma_upstream.fetch("04AABBCCDDEE01", TODAY)  # the card serial number
    account = found.account
    assert (account.primary_id, account.first_name, account.last_name) == ("AL1", "Zoë", "Ólafsdóttir")
    assert account.expiry_date == dt.date(2027, 6, 30) and account.policy.code == "25"
    assert [loan.title for loan in account.loans] == ["Middlemarch", "Ulysses"]
    assert account.loans[0].due_date == dt.date(2026, 11, 28)
    assert [r.ready_for_pickup for r in account.requests] == [True, False]
    assert account.requests[1].place_in_queue == 3
    assert account.total_owed() == Decimal("2.50")
    assert ("CARD_SERIAL_NUMBER", "04AABBCCDDEE01") in found.identifiers
    assert alma_upstream.calls == 4  # user (with counts), loans, requests, fees
    assert_all_valid(fake)
    assert all(e["args"]["apikey"] == KEY for e in fake.log)


def test_empty_lists_cost_no_call(alma, alma_upstream):
    fake, _ = alma
    fake.add_user(example_user())
    fake.add_loan("AL1", "39000000001", "Middlemarch")
    alma_upstream.fetch("20000000000111", TODAY)
    assert alma_upstream.calls == 2
    assert [e["path"] for e in fake.log] == ["/almaws/v1/users/20000000000111", "/almaws/v1/users/AL1/loans"]


def test_lists_are_paged_with_limit_and_offset(alma, alma_upstream):
    fake, _ = alma
    fake.add_user(example_user())
    for n in range(5):
        fake.add_loan("AL1", f"3900000000{n}", f"Book {n}")
    alma_upstream.client.page_size = 2
    account = alma_upstream.account("AL1", TODAY)
    assert len(account.loans) == 5
    pages = [e["args"] for e in fake.log if e["path"].endswith("/loans")]
    assert [(p["limit"], p["offset"]) for p in pages] == [("2", "0"), ("2", "2"), ("2", "4")]
    assert_all_valid(fake)


def test_unknown_patron_is_none(alma, alma_upstream):
    fake, _ = alma
    assert alma_upstream.fetch("nobody", TODAY) is None
    fake.inject.append((*error("401890", "x"), {}))
    assert alma_upstream.find_patron("x") is None


def test_renew_maps_outcomes_to_our_reasons(alma, alma_upstream):
    fake, _ = alma
    first, second = patron_with_everything(fake)
    refs = [LoanRef(1, "39000000001", first["loan_id"]), LoanRef(2, "39000000002", second["loan_id"]),
            LoanRef(3, "39000000003", "1234")]
    renewed, refused, missing = alma_upstream.renew("AL1", refs, TODAY)
    assert renewed.renewed and renewed.new_due_date == dt.date(2026, 12, 16)
    assert (refused.renewed, refused.reason) == (False, "not_renewable")
    assert refused.message == "This item cannot be renewed. Please ask at the desk."
    assert missing.reason == "unknown_loan"
    renews = [e for e in fake.log if e["args"].get("op") == "renew"]
    assert len(renews) == 3
    assert_all_valid(fake)


def test_pin_check(alma, alma_upstream):
    fake, _ = alma
    fake.add_user(example_user(), pin="2468")
    assert alma_upstream.verify_pin("AL1", "2468")
    assert not alma_upstream.verify_pin("AL1", "9999")  # 401866
    assert not alma_upstream.verify_pin("AL1", "")
    assert_all_valid(fake)


def test_per_second_threshold_backs_off_and_daily_threshold_gives_up(alma, alma_upstream):
    fake, _ = alma
    fake.add_user(example_user())
    fake.inject.append((*error("PER_SECOND_THRESHOLD", status=429), {}))
    assert alma_upstream.fetch("AL1", TODAY).account.primary_id == "AL1"
    assert alma_upstream.client.throttled == 1
    fake.inject.append((*error("DAILY_THRESHOLD", status=429), {}))
    with pytest.raises(UpstreamUnavailable):
        alma_upstream.fetch("AL1", TODAY)


def test_calls_are_spaced_under_the_per_second_limit(alma, alma_upstream):
    fake, _ = alma
    fake.add_user(example_user())
    alma_upstream.client.interval = 1 / 10  # 10 per second
    started = dt.datetime.now()
    for _ in range(6):
        alma_upstream.fetch("AL1", TODAY)
    assert (dt.datetime.now() - started).total_seconds() >= 0.45


def test_the_last_of_the_daily_quota_is_kept_for_renewals(alma, alma_upstream):
    fake, _ = alma
    first, _second = patron_with_everything(fake)
    fake.remaining = 54
    alma_upstream.fetch("AL1", TODAY)  # 4 calls: learns X-Exl-Api-Remaining, now under the reserve of 50
    assert alma_upstream.client.remaining == 50
    sent = len(fake.log)
    with pytest.raises(UpstreamUnavailable):
        alma_upstream.fetch("AL1", TODAY)
    assert len(fake.log) == sent  # refused without spending a call
    [decision] = alma_upstream.renew("AL1", [LoanRef(1, "39000000001", first["loan_id"])], TODAY)
    assert decision.renewed


def test_the_api_key_is_never_logged(alma, alma_upstream, caplog):
    fake, _ = alma
    fake.add_user(example_user())
    with caplog.at_level(logging.DEBUG):
        alma_upstream.fetch("AL1", TODAY)
        alma_upstream.client.base_url = "http://127.0.0.1:9"  # nothing listens: a connection error
        alma_upstream.client.max_retries = 0
        with pytest.raises(UpstreamUnavailable) as raised:
            alma_upstream.fetch("AL1", TODAY)
    assert KEY not in str(raised.value) and KEY not in repr(alma_upstream.client)
    ours = [r for r in caplog.records if r.name != "werkzeug"]  # werkzeug: the fake Alma's own access log
    assert any("apikey=***" in r.getMessage() for r in ours)  # urllib3's request lines, redacted
    assert not any(KEY in r.getMessage() for r in ours)


def test_prism_refuses_invalid_requests(alma, alma_upstream):
    fake, url = alma
    fake.add_user(example_user())
    no_key = requests.get(url + "/almaws/v1/users/AL1")
    assert no_key.status_code == 401
    from library_kiosk.central.upstream.alma.client import AlmaError

    with pytest.raises(AlmaError) as raised:  # a renew without op
        alma_upstream.client.request("POST", "/almaws/v1/users/AL1/loans/123", write=True)
    assert raised.value.status == 400
    assert fake.log[-1]["violations"][0]["message"] == "Request query must have required property 'op'"
    unknown = requests.get(url + "/almaws/v1/nothing", params={"apikey": KEY})
    assert unknown.status_code == 404


def test_staff_writes_go_upstream_and_keep_other_segments(alma, alma_upstream):
    fake, _ = alma
    created = alma_upstream.create_user(example_user("AL2", barcode="20000000000222", card=""))
    assert created["primary_id"] == "AL2"
    with pytest.raises(UpstreamError) as taken:
        alma_upstream.create_user(example_user("AL2"))
    assert taken.value.code == "identifier_taken"
    alma_upstream.add_identifier("AL2", "CARD_SERIAL_NUMBER", "04FFEEDDCCBB02")
    alma_upstream.add_identifier("AL2", "BARCODE", "20000000000333")
    stored = fake.users["AL2"]
    values = [(i["id_type"]["value"] if isinstance(i["id_type"], dict) else i["id_type"], i["value"])
              for i in stored["user_identifier"]]
    assert values == [("BARCODE", "20000000000222"), ("UNIV_ID", "U-AL2"), ("CARD_SERIAL_NUMBER", "04FFEEDDCCBB02"),
                      ("BARCODE", "20000000000333")]
    assert stored["user_note"][0]["note_text"] == "Prefers large print"  # swap-all: the other segments survive
    assert stored["contact_info"]["email"][0]["email_address"] == "zoe@example.org"
    fee = alma_upstream.add_fee("AL2", "CARD_REPLACEMENT", Decimal("5.00"), owner="MAIN", comment="lost card")
    assert fee["original_amount"] == 5.0
    assert_all_valid(fake)


def test_a_replaced_card_and_an_unlinked_one_keep_the_rest_of_the_record(alma, alma_upstream):
    fake, _ = alma
    fake.add_user(example_user("AL3", barcode="20000000000444", card="04AABBCCDDEE44"))
    alma_upstream.replace_card("AL3", "20000000000555", "04AABBCCDDEE55")
    alma_upstream.replace_card("AL3", "20000000000555", "04AABBCCDDEE55")  # a retry changes nothing
    stored = fake.users["AL3"]
    states = [(i["id_type"]["value"], i["value"], i["status"]) for i in stored["user_identifier"]]
    assert states == [("BARCODE", "20000000000444", "INACTIVE"), ("UNIV_ID", "U-AL3", "ACTIVE"),
                      ("CARD_SERIAL_NUMBER", "04AABBCCDDEE44", "INACTIVE"),
                      ("BARCODE", "20000000000555", "ACTIVE"), ("CARD_SERIAL_NUMBER", "04AABBCCDDEE55", "ACTIVE")]
    assert stored["user_note"][0]["note_text"] == "Prefers large print"
    assert alma_upstream.fetch("04AABBCCDDEE44", TODAY) is None  # the lost card no longer finds the patron
    assert alma_upstream.fetch("04AABBCCDDEE55", TODAY).account.primary_id == "AL3"
    alma_upstream.remove_identifier("AL3", "CARD_SERIAL_NUMBER", "04AABBCCDDEE55")
    assert "04AABBCCDDEE55" not in [i["value"] for i in fake.users["AL3"]["user_identifier"]]
    assert fake.users["AL3"]["contact_info"]["email"][0]["email_address"] == "zoe@example.org"
    assert_all_valid(fake)
