import datetime as dt
from decimal import Decimal

import peewee
import pytest

from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Fee, FeeTransaction, Identifier, Loan, User
from tests.store.factories import TODAY, fine, loan, patron


def test_identifiers_are_unique_per_type_across_users(central_db):
    patron("P1", barcode="B1", card="C1")
    with pytest.raises(peewee.IntegrityError), database.atomic():
        patron("P2", barcode="B1", card="C2")
    assert User.select().count() == 1  # the failed registration left nothing behind


def test_the_same_value_may_exist_under_another_type(central_db):
    patron("P1", barcode="12345", card=None)
    other = patron("P2", barcode=None, card=None)
    Identifier.create(user=other, id_type="OTHER_ID", value="12345")
    assert Identifier.select().where(Identifier.value == "12345").count() == 2


def test_a_user_has_several_identifiers(central_db):
    user = patron()
    Identifier.create(user=user, id_type="UNIV_ID", value="U1")
    assert sorted(i.id_type for i in user.identifiers) == ["BARCODE", "CARD_SERIAL_NUMBER", "UNIV_ID"]


def test_money_is_exact_decimal(central_db):
    user = patron()
    fee = fine(user, "0.10")
    FeeTransaction.create(fee=fee, transaction_type="PAYMENT", amount=Decimal("0.10"), method="CASH", operator="ann")
    assert Fee.get_by_id(fee.id).balance + Decimal("0.20") == Decimal("0.30")


def test_deleting_a_user_keeps_anonymous_loans(central_db):
    user = patron()
    kept = loan(user)
    user.delete_instance()
    assert Loan.get_by_id(kept.id).user is None


def test_dates_round_trip(central_db):
    user = patron(expiry=dt.date(2030, 1, 16))
    assert User.get_by_id(user.id).expiry_date == dt.date(2030, 1, 16)
    assert User.get_by_id(user.id).expiry_date > TODAY
