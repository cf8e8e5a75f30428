"""Records, cards, fees and loans through the station, and the kiosk seeing a new card."""
from decimal import Decimal

from library_kiosk.central.store.models import (
    Address,
    Email,
    Fee,
    FeeTransaction,
    Identifier,
    Loan,
    Note,
    Phone,
    Statistic,
    User,
)
from library_kiosk.central.store.staff import AuditEntry
from tests.helpers import TODAY
from tests.provisioning.helpers import REGISTRATION
from tests.store import factories


def test_internal_record_edit_add_duplicate_delete(manager):
    user = factories.patron("P1")
    Email.create(user=user, email_address="a@example.org")
    page = manager.post("/patrons/P1/general", {"first_name": "Zoe", "last_name": "Olafs", "user_group": "25",
                                                "expiry_date": "2027-07-01", "status": "ACTIVE"})
    assert page.status_code == 200 and User.get().first_name == "Zoe"
    assert manager.post("/patrons/P1/general", {"first_name": "", "last_name": "X", "user_group": "25",
                                                "expiry_date": "x"}).status_code == 422
    manager.post("/patrons/P1/rows/email", {"email": "b@example.org", "email_type": "work"})
    row = Email.get(Email.email_address == "b@example.org")
    manager.post(f"/patrons/P1/rows/email/{row.id}/duplicate")
    assert Email.select().where(Email.email_address == "b@example.org").count() == 2
    manager.post(f"/patrons/P1/rows/email/{row.id}/delete")
    manager.post(f"/patrons/P1/rows/email/{Email.get(Email.email_address == 'a@example.org').id}",
                 {"email": "c@example.org", "email_type": "personal"})
    assert sorted(e.email_address for e in Email.select()) == ["b@example.org", "c@example.org"]


HX = {"HX-Request": "true"}


def test_inline_edit_swaps_a_row_into_a_form_and_back(manager):
    user = factories.patron("P1")
    email = Email.create(user=user, email_address="a@example.org", email_types="personal")
    address = Address.create(user=user, line1="1 Gower Street", city="London", postal_code="WC1E 6BT", country="GB")
    phone = Phone.create(user=user, phone_number="+44 7700 900001")
    stat = Statistic.create(user=user, statistic_category="UOL")
    note = Note.create(user=user, note_text="Card collected", created_by="desk")
    ident = Identifier.get(Identifier.user == user, Identifier.id_type == "BARCODE")
    page = manager.get("/patrons/P1?tab=contact").get_data(as_text=True)
    assert f'data-testid="edit-email-{email.id}"' in page and f'hx-get="/patrons/P1/rows/email/{email.id}/edit"' in page
    assert "+44 7700 900001" in page  # phones are listed (and editable) too

    form = manager.get(f"/patrons/P1/rows/email/{email.id}/edit", headers=HX).get_data(as_text=True)
    assert form.lstrip().startswith("<tr")  # a table row, in place of the one shown
    assert 'value="a@example.org"' in form and 'name="inline"' in form and 'hx-target="closest tr"' in form
    cancel = manager.get(f"/patrons/P1/rows/email/{email.id}", headers=HX).get_data(as_text=True)
    assert "a@example.org" in cancel and "<form class=\"inline-edit\"" not in cancel

    bad = manager.post(f"/patrons/P1/rows/email/{email.id}", {"inline": "1", "email": "not-an-email",
                                                              "email_type": "work"}, headers=HX)
    assert bad.status_code == 422 and 'data-testid="error-email"' in bad.get_data(as_text=True)
    assert 'value="not-an-email"' in bad.get_data(as_text=True) and Email.get().email_address == "a@example.org"

    saved = manager.post(f"/patrons/P1/rows/email/{email.id}", {"inline": "1", "email": "b@example.org",
                                                                "email_type": "work"}, headers=HX)
    html = saved.get_data(as_text=True)
    assert saved.status_code == 200 and f'id="row-email-{email.id}"' in html and "b@example.org" in html
    assert 'class="editing"' not in html
    assert (Email.get().email_address, Email.get().email_types) == ("b@example.org", "work")

    for kind, row, data, check in (
            ("address", address, {"address_type": "work", "line1": "2 Malet Place", "city": "London",
                                  "postal_code": "WC1E 7JE", "country": "GB"},
             lambda: Address.get().line1 == "2 Malet Place"),
            ("phone", phone, {"phone_number": "+44 7700 900002", "phone_type": "home"},
             lambda: Phone.get().phone_number == "+44 7700 900002"),
            ("statistic", stat, {"statistic_category": "NHS"}, lambda: Statistic.get().statistic_category == "NHS"),
            ("note", note, {"note_type": "CIRCULATION", "note_text": "Card lost"},
             lambda: (Note.get().note_text, Note.get().created_by) == ("Card lost", "desk")),
            ("identifier", ident, {"id_type": "BARCODE", "value": "20000000000077", "note": "reissued"},
             lambda: Identifier.get_by_id(ident.id).value == "20000000000077")):
        assert manager.get(f"/patrons/P1/rows/{kind}/{row.id}/edit", headers=HX).status_code == 200
        response = manager.post(f"/patrons/P1/rows/{kind}/{row.id}", {"inline": "1", **data}, headers=HX)
        assert response.status_code == 200 and f'id="row-{kind}-{row.id}"' in response.get_data(as_text=True)
        assert check(), kind
    assert AuditEntry.select().where(AuditEntry.action.endswith(".edit")).count() == 6
    other = factories.patron("P9", barcode="20000000000099", card="04CAFE00000099")
    taken = manager.post(f"/patrons/P1/rows/identifier/{ident.id}", {"inline": "1", "id_type": "BARCODE",
                                                                     "value": "20000000000099"}, headers=HX)
    assert taken.status_code == 422 and "P9" in taken.get_data(as_text=True) and other.id
    assert manager.get(f"/patrons/P9/rows/email/{email.id}/edit", headers=HX).status_code == 404


def test_inline_edit_is_refused_for_feed_segments(manager):
    user = factories.patron("P2", account_type="EXTERNAL", external_id="STUDENT", record_type="PUBLIC")
    email = Email.create(user=user, email_address="feed@example.org", segment_type="External")
    assert f"edit-email-{email.id}" not in manager.get("/patrons/P2?tab=contact").get_data(as_text=True)
    assert manager.get(f"/patrons/P2/rows/email/{email.id}/edit", headers=HX).status_code == 403
    refused = manager.post(f"/patrons/P2/rows/email/{email.id}", {"inline": "1", "email": "x@example.org"},
                           headers=HX)
    assert refused.status_code == 403 and Email.get().email_address == "feed@example.org"


def test_external_record_is_read_only_except_internal_segments(manager):
    user = factories.patron("P2", account_type="EXTERNAL", external_id="STUDENT", record_type="PUBLIC")
    Email.create(user=user, email_address="feed@example.org", segment_type="External")
    page = manager.get("/patrons/P2").get_data(as_text=True)
    assert "patron feed" in page
    assert manager.post("/patrons/P2/general", {"first_name": "X", "last_name": "Y", "user_group": "25",
                                                "expiry_date": "2030-01-01"}).status_code == 403
    assert manager.post("/patrons/P2/rows/email", {"email": "x@example.org"}).status_code == 403
    email = Email.get()
    assert manager.post(f"/patrons/P2/rows/email/{email.id}/delete").status_code == 403
    assert manager.post("/patrons/P2/rows/note", {"note_text": "Card collected"}).status_code == 200
    assert manager.post("/patrons/P2/rows/identifier", {"id_type": "CARD_SERIAL_NUMBER",
                                                        "value": "04 11 22 33 44 55 66"}).status_code == 200
    assert manager.post("/patrons/P2/rows/identifier", {"id_type": "BARCODE", "value": "2999"}).status_code == 403
    assert Note.get().segment_type == "Internal"
    assert Identifier.get(Identifier.value == "04112233445566").segment_type == "Internal"
    assert User.get().first_name == "Zoë" and Email.get().email_address == "feed@example.org"


def test_replace_card_deactivates_the_old_one_and_charges_the_fee(manager):
    factories.patron("P1", barcode="20000000000011", card="04A1B2C3D4E5F6")
    page = manager.post("/patrons/P1/replace-card", {"barcode": "20000000000099", "card_serial": "04FFEEDDCCBBAA"})
    assert "replacement fee of £5.00" in page.get_data(as_text=True)
    status = {i.value: i.status for i in Identifier.select()}
    assert status == {"20000000000011": "INACTIVE", "04A1B2C3D4E5F6": "INACTIVE",
                      "20000000000099": "ACTIVE", "04FFEEDDCCBBAA": "ACTIVE"}
    fee = Fee.get()
    assert (fee.fee_type, fee.balance) == ("CARD_REPLACEMENT", Decimal("5.00"))
    assert "P1" in manager.get("/cards/whose?card=04FFEEDDCCBBAA").get_data(as_text=True)
    card = Identifier.get(Identifier.value == "04FFEEDDCCBBAA")
    manager.post(f"/patrons/P1/cards/{card.id}/unlink")
    assert "No record holds" in manager.get("/cards/whose?card=04FFEEDDCCBBAA").get_data(as_text=True)


def test_batch_with_undo_and_csv_import_all_or_nothing(manager):
    factories.patron("P1", barcode="20000000000011", card=None)
    factories.patron("P2", barcode="20000000000022", card=None)
    manager.post("/cards/batch", {"barcode": "20000000000011", "card_serial": "04000000000001"})
    page = manager.post("/cards/batch", {"barcode": "20000000000022", "card_serial": "04000000000001"})
    assert page.status_code == 422 and "(P1)" in page.get_data(as_text=True)
    manager.post("/cards/batch", {"barcode": "20000000000022", "card_serial": "04000000000002"})
    manager.post("/cards/batch/undo")
    assert [i.value for i in Identifier.select().where(Identifier.id_type == "CARD_SERIAL_NUMBER")] == [
        "04000000000001"]
    bad = "primary_id,barcode,card_serial_number\nP2,20000000000022,04000000000009\nP404,2111,04000000000010\n"
    page = manager.post("/cards/import", {"data": bad})
    assert page.status_code == 422 and "P404" in page.get_data(as_text=True)
    assert Identifier.select().count() == 3
    good = bad.splitlines()[0] + "\nP2,20000000000022,04000000000009\n"
    sent = manager.post("/cards/import", {"data": good}, see_other=False)  # post/redirect/get
    assert (sent.status_code, sent.headers["Location"]) == (303, "/cards/import")
    assert "All 1 row imported" in manager.get("/cards/import").get_data(as_text=True)
    assert Identifier.get(Identifier.value == "04000000000009").user.primary_id == "P2"


def test_fees_filter_pay_waive(desk):
    user = factories.patron("P1")
    fee = factories.fine(user, "4.00")
    factories.fine(user, "9.00", fee_type="OTHER")
    assert "Other" not in desk.get("/patrons/P1?tab=fees&fee_type=OVERDUEFINE").get_data(as_text=True).split(
        "<table")[1].split("</table>")[0].replace('<option value="OTHER">Other</option>', "")
    assert desk.post(f"/patrons/P1/fees/{fee.id}/waive", {"amount": "1.00"}).status_code == 422
    desk.post(f"/patrons/P1/fees/{fee.id}/pay", {"amount": "1.50", "method": "CASH"})
    desk.post(f"/patrons/P1/fees/{fee.id}/waive", {"amount": "2.50", "reason": "Hardship"})
    fee = Fee.get_by_id(fee.id)
    assert (fee.balance, fee.status) == (Decimal("0.00"), "CLOSED")
    assert [(t.transaction_type, t.operator) for t in FeeTransaction.select()] == [("PAYMENT", "desk"),
                                                                                 ("WAIVE", "desk")]


def test_lost_then_found_with_the_fee_following(desk):
    user = factories.patron("P1")
    loan = factories.loan(user)
    assert desk.post(f"/patrons/P1/loans/{loan.id}/found").status_code == 422
    desk.post(f"/patrons/P1/loans/{loan.id}/lost")
    fee = Fee.get(Fee.loan == loan)
    assert (Loan.get().status, fee.fee_type, fee.balance) == ("LOST", "LOSTITEMREPLACEMENTFEE", Decimal("45.00"))
    desk.post(f"/patrons/P1/loans/{loan.id}/found")
    fee = Fee.get_by_id(fee.id)
    assert (Loan.get().status, fee.status, fee.balance) == ("ON_LOAN", "CLOSED", Decimal("0.00"))
    assert FeeTransaction.get().reason == "Item found"


def test_kiosk_identifies_the_new_card_after_the_next_sync(manager, kiosk_app):
    from kiosk import sync
    from kiosk.cache import cache_db

    assert manager.post("/register", REGISTRATION).status_code == 200
    cache = kiosk_app.extensions["patron_cache"]
    with cache_db.connection_context():
        sync.pull(kiosk_app.extensions["central"], cache)
        account = cache.find("04AABBCCDDEE01")
    assert account is not None and account.last_name == "Quillfeather"
    assert account.expiry_date.isoformat() == "2027-07-01" and account.expiry_date > TODAY
