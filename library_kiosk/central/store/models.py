"""The patron record and its circulation data, after Alma's user shapes.

Segments that staff or the patron feed can own carry ``segment_type``
(Internal or External): the feed replaces External segments and keeps Internal
ones. Money is stored as decimals with two places. Every model has an integer
primary key; the user's ``primary_id`` is the library's own unique key.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from library_kiosk.central.store.db import database
from library_kiosk.domain import clock


def _now() -> dt.datetime:
    """Naive UTC from the product's one clock (domain/clock.py)."""
    return clock.now()


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class UserGroup(BaseModel):
    """A user group as configured data, with the policy the kiosk applies."""

    code = pw.CharField(max_length=40, primary_key=True)
    description = pw.CharField(max_length=200)
    pin_required = pw.BooleanField(default=True)
    loan_limit = pw.IntegerField(default=20)
    loan_period_days = pw.IntegerField(default=21)
    max_renewals = pw.IntegerField(default=3)
    fine_limit = pw.DecimalField(max_digits=10, decimal_places=2, default=10)
    overdue_limit = pw.IntegerField(default=5)
    registration_fee_type = pw.CharField(max_length=40, default="")
    registration_fee_amount = pw.DecimalField(max_digits=10, decimal_places=2, default=0)
    statistics_required = pw.BooleanField(default=False)
    fine_per_day = pw.DecimalField(max_digits=10, decimal_places=2, default=0)  # a late return's fine per day late


class User(BaseModel):
    primary_id = pw.CharField(max_length=100, unique=True)
    first_name = pw.CharField(max_length=100, default="")
    middle_name = pw.CharField(max_length=100, default="")
    last_name = pw.CharField(max_length=100, index=True)
    user_group = pw.ForeignKeyField(UserGroup, column_name="user_group", backref="users", on_update="CASCADE")
    expiry_date = pw.DateField(null=True)
    purge_date = pw.DateField(null=True)
    account_type = pw.CharField(max_length=10, default="INTERNAL")  # INTERNAL / EXTERNAL
    external_id = pw.CharField(max_length=40, default="")  # the source system, for EXTERNAL records
    record_type = pw.CharField(max_length=10, default="PUBLIC")  # STAFF / PUBLIC / CONTACT
    status = pw.CharField(max_length=10, default="ACTIVE")  # ACTIVE / INACTIVE
    pin_hash = pw.CharField(max_length=200, default="")
    password_hash = pw.CharField(max_length=200, default="")
    pin_check = pw.CharField(max_length=20, default="")  # the PIN's offline check value (domain/offline_pin.py)
    rs_library = pw.CharField(max_length=100, default="")
    preferred_language = pw.CharField(max_length=10, default="en")
    roles = pw.CharField(max_length=200, default="PATRON")  # comma-separated user roles
    # what Alma's user record holds besides (the patron feed keeps them; shown at the station)
    pref_first_name = pw.CharField(max_length=100, default="")
    pref_middle_name = pw.CharField(max_length=100, default="")
    pref_last_name = pw.CharField(max_length=100, default="")
    job_description = pw.CharField(max_length=200, default="")
    campus_code = pw.CharField(max_length=40, default="")
    birth_date = pw.DateField(null=True)
    gender = pw.CharField(max_length=20, default="")
    full_name = pw.CharField(max_length=300, default="")  # Alma's full_name, as the feed sends it
    user_title = pw.CharField(max_length=40, default="")  # a code (MR, MS, DR, ...)
    job_category = pw.CharField(max_length=60, default="")  # a code of the library's job categories
    # the names normalised for the station's search, NULL until computed (patron_search.py keeps it and indexes it)
    search_name = pw.TextField(null=True)
    created = pw.DateTimeField(default=_now)
    updated = pw.DateTimeField(default=_now)

    @property
    def source_system(self) -> str:
        return self.external_id


class Identifier(BaseModel):
    """A barcode, card serial number or other ID; unique per type across users."""

    user = pw.ForeignKeyField(User, backref="identifiers", on_delete="CASCADE")
    id_type = pw.CharField(max_length=40)
    value = pw.CharField(max_length=100)
    status = pw.CharField(max_length=10, default="ACTIVE")
    note = pw.CharField(max_length=200, default="")
    segment_type = pw.CharField(max_length=10, default="Internal")

    class Meta:
        indexes = ((("id_type", "value"), True), (("value",), False))


class Email(BaseModel):
    user = pw.ForeignKeyField(User, backref="emails", on_delete="CASCADE")
    email_address = pw.CharField(max_length=200)
    email_types = pw.CharField(max_length=100, default="personal")
    preferred = pw.BooleanField(default=False)
    segment_type = pw.CharField(max_length=10, default="Internal")


class Address(BaseModel):
    user = pw.ForeignKeyField(User, backref="addresses", on_delete="CASCADE")
    line1 = pw.CharField(max_length=200, default="")
    line2 = pw.CharField(max_length=200, default="")
    line3 = pw.CharField(max_length=200, default="")
    line4 = pw.CharField(max_length=200, default="")
    line5 = pw.CharField(max_length=200, default="")
    city = pw.CharField(max_length=100, default="")
    state_province = pw.CharField(max_length=100, default="")
    postal_code = pw.CharField(max_length=20, default="")
    country = pw.CharField(max_length=60, default="")
    address_types = pw.CharField(max_length=100, default="home")
    preferred = pw.BooleanField(default=False)
    start_date = pw.DateField(null=True)
    end_date = pw.DateField(null=True)
    segment_type = pw.CharField(max_length=10, default="Internal")


class Phone(BaseModel):
    user = pw.ForeignKeyField(User, backref="phones", on_delete="CASCADE")
    phone_number = pw.CharField(max_length=40)
    phone_types = pw.CharField(max_length=100, default="mobile")
    preferred = pw.BooleanField(default=False)
    preferred_sms = pw.BooleanField(default=False)
    segment_type = pw.CharField(max_length=10, default="Internal")


class Statistic(BaseModel):
    user = pw.ForeignKeyField(User, backref="statistics", on_delete="CASCADE")
    statistic_category = pw.CharField(max_length=60)
    category_type = pw.CharField(max_length=60, default="Patron Type")
    statistic_note = pw.CharField(max_length=200, default="")  # tells two statistics of one category apart
    segment_type = pw.CharField(max_length=10, default="Internal")


class Note(BaseModel):
    user = pw.ForeignKeyField(User, backref="notes", on_delete="CASCADE")
    note_type = pw.CharField(max_length=20, default="OTHER")
    note_text = pw.TextField()
    user_viewable = pw.BooleanField(default=False)
    popup_note = pw.BooleanField(default=False)
    created_by = pw.CharField(max_length=100, default="")
    created = pw.DateTimeField(default=_now)
    segment_type = pw.CharField(max_length=10, default="Internal")


class Block(BaseModel):
    user = pw.ForeignKeyField(User, backref="blocks", on_delete="CASCADE")
    block_type = pw.CharField(max_length=40, default="GENERAL")
    block_description = pw.CharField(max_length=300)
    block_status = pw.CharField(max_length=10, default="ACTIVE")
    expiry_date = pw.DateField(null=True)
    segment_type = pw.CharField(max_length=10, default="Internal")


class UserRole(BaseModel):
    """A role from Alma's ``user_roles`` (the feed's; ``User.roles`` are the roles this product acts on)."""

    user = pw.ForeignKeyField(User, backref="user_roles", on_delete="CASCADE")
    role_type = pw.CharField(max_length=40)
    scope = pw.CharField(max_length=60, default="")
    status = pw.CharField(max_length=10, default="ACTIVE")
    segment_type = pw.CharField(max_length=10, default="Internal")


class Loan(BaseModel):
    """A loan. ``user`` is cleared when loan history is anonymised; the user group stays countable."""

    user = pw.ForeignKeyField(User, backref="loans", null=True, on_delete="SET NULL")
    user_group = pw.CharField(max_length=40, default="")
    item_barcode = pw.CharField(max_length=60, index=True)
    title = pw.CharField(max_length=300)
    author = pw.CharField(max_length=200, default="")
    call_number = pw.CharField(max_length=60, default="")
    loan_date = pw.DateField()
    due_date = pw.DateField()
    return_date = pw.DateField(null=True)
    renewals = pw.IntegerField(default=0)
    status = pw.CharField(max_length=20, default="ON_LOAN")  # ON_LOAN / LOST / CLAIMED_RETURNED / RETURNED

    @classmethod
    def still_out(cls):
        """The condition for a loan not yet returned (on loan, lost or claimed returned)."""
        return cls.status != "RETURNED"


class Request(BaseModel):
    """A request (hold, digitisation, booking) for an item, with its place in the queue."""

    user = pw.ForeignKeyField(User, backref="requests", on_delete="CASCADE")
    request_type = pw.CharField(max_length=20, default="HOLD")
    item_barcode = pw.CharField(max_length=60, default="", index=True)
    title = pw.CharField(max_length=300)
    author = pw.CharField(max_length=200, default="")
    status = pw.CharField(max_length=20, default="NOT_STARTED")  # ON_HOLD_SHELF / IN_PROCESS / NOT_STARTED
    pickup_location = pw.CharField(max_length=100, default="")
    place_in_queue = pw.IntegerField(null=True)
    request_date = pw.DateField()
    expiry_date = pw.DateField(null=True)


class Fee(BaseModel):
    user = pw.ForeignKeyField(User, backref="fees", on_delete="CASCADE")
    loan = pw.ForeignKeyField(Loan, backref="fees", null=True, on_delete="SET NULL")
    fee_type = pw.CharField(max_length=40)
    original_amount = pw.DecimalField(max_digits=10, decimal_places=2)
    balance = pw.DecimalField(max_digits=10, decimal_places=2)
    status = pw.CharField(max_length=10, default="ACTIVE")  # ACTIVE / INDISPUTE / EXPORTED / CLOSED
    title = pw.CharField(max_length=300, default="")
    comment = pw.CharField(max_length=300, default="")
    created = pw.DateTimeField(default=_now)


class FeeTransaction(BaseModel):
    """A payment or a waiver on a fee, with its reason and the operator who made it."""

    fee = pw.ForeignKeyField(Fee, backref="transactions", on_delete="CASCADE")
    transaction_type = pw.CharField(max_length=10)  # PAYMENT / WAIVE
    amount = pw.DecimalField(max_digits=10, decimal_places=2)
    reason = pw.CharField(max_length=200, default="")
    method = pw.CharField(max_length=20, default="")
    operator = pw.CharField(max_length=100, default="")
    created = pw.DateTimeField(default=_now)


class Change(BaseModel):
    """The change sequence kiosks sync by: one row per change to a patron's account."""

    seq = pw.BigAutoField()
    primary_id = pw.CharField(max_length=100, index=True)
    kind = pw.CharField(max_length=10, default="upsert")  # upsert / delete
    created = pw.DateTimeField(default=_now)


class UpstreamItem(BaseModel):
    """What the library system behind the central store (upstream/) says of a loaned item that no row here
    can tell: requested by another patron (no Request row here names the item), or not renewable. Only
    items with something to say have a row."""

    item_barcode = pw.CharField(max_length=60, unique=True)
    requested_by_other = pw.BooleanField(default=False)
    renewable = pw.BooleanField(default=True)


ELSEWHERE = 0  # stands for "another patron" among the user ids that requested an item (no user has id 0)

PATRON_MODELS = [UserGroup, User, Identifier, Email, Address, Phone, Statistic, Note, Block, UserRole, Loan, Request,
                 Fee, FeeTransaction, Change, UpstreamItem]  # the central store's tables: all of them in schema.py
