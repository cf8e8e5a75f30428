"""Rows for store, API and kiosk tests, made through the real models."""
import datetime as dt
from decimal import Decimal

from library_kiosk.central.store import changes
from library_kiosk.central.store.fleet_keys import pin_check_key
from library_kiosk.central.store.models import Fee, Identifier, Loan, Request, User, UserGroup
from library_kiosk.domain import offline_pin
from library_kiosk.domain.hashing import hash_secret
from library_kiosk.domain.identifier_keys import IdentifierKeyer
from tests.helpers import TODAY  # the pinned day (tests/helpers.py)

_PIN_HASH = {}
KEYER = IdentifierKeyer(b"test-identifier-key")  # a kiosk's identifier key, for pages read without a device


def group(code="25", **policy):
    defaults = dict(description="Special Borrower", pin_required=True, loan_period_days=21, max_renewals=2,
                    fine_limit=Decimal("10.00"), overdue_limit=5)
    defaults.update(policy)
    found = UserGroup.get_or_none(UserGroup.code == code)
    return found or UserGroup.create(code=code, **defaults)


def pin_hash(pin="2468"):
    if pin not in _PIN_HASH:
        _PIN_HASH[pin] = hash_secret(pin)
    return _PIN_HASH[pin]


def patron(primary_id="P1", barcode="20000000000011", card="04A1B2C3D4E5F6", group_code="25", pin="2468",
           expiry=TODAY + dt.timedelta(days=200), **fields):
    user = User.create(primary_id=primary_id, first_name=fields.pop("first_name", "Zoë"),
                       last_name=fields.pop("last_name", "Ólafsdóttir"), user_group=group(group_code),
                       expiry_date=expiry, pin_hash=pin_hash(pin) if pin else "",
                       pin_check=offline_pin.check_value(pin_check_key(), primary_id, pin) if pin else "", **fields)
    if barcode:
        Identifier.create(user=user, id_type="BARCODE", value=barcode)
    if card:
        Identifier.create(user=user, id_type="CARD_SERIAL_NUMBER", value=card)
    changes.record(primary_id)
    return user


def loan(user, title="Middlemarch", due=TODAY + dt.timedelta(days=3), renewals=0, status="ON_LOAN", barcode=None):
    barcode = barcode or f"3{Loan.select().count():012d}"
    row = Loan.create(user=user, user_group=user.user_group_id, item_barcode=barcode,
                      title=title, author="Eliot, George", call_number="PR4662", loan_date=due - dt.timedelta(days=21),
                      due_date=due, renewals=renewals, status=status)
    changes.record(user.primary_id)
    return row


def hold(user, item_barcode="", title="Beloved", status="NOT_STARTED", place=1, pickup="Main Library"):
    row = Request.create(user=user, item_barcode=item_barcode, title=title, author="Morrison, Toni", status=status,
                         pickup_location=pickup, place_in_queue=place, request_date=TODAY)
    changes.record(user.primary_id)
    return row


def fine(user, amount="2.50", fee_type="OVERDUEFINE", status="ACTIVE"):
    row = Fee.create(user=user, fee_type=fee_type, original_amount=Decimal(amount), balance=Decimal(amount),
                     status=status)
    changes.record(user.primary_id)
    return row
