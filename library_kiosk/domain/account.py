"""A patron's account as the screens and the rules see it.

This is the document the central store serves and the kiosk caches: the user's
general information, group policy, loans, requests, fees, manual blocks and the
notes the patron may see. It
converts to and from plain JSON-ready dictionaries (dates as ISO strings, money
as decimal strings) so it travels unchanged over HTTP and into a cache.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# What ``to_dict`` turns a dataclass tree into: plain JSON values.
JSONValue: TypeAlias = "str | int | float | bool | None | list[JSONValue] | dict[str, JSONValue]"


@dataclass(frozen=True)
class GroupPolicy:
    """A user group and the policy the kiosk applies to its members."""

    code: str
    description: str
    pin_required: bool = True
    loan_limit: int = 20
    loan_period_days: int = 21
    max_renewals: int = 3
    fine_limit: Decimal = Decimal("10.00")
    overdue_limit: int = 5


@dataclass(frozen=True)
class Block:
    block_type: str
    description: str
    status: str = "ACTIVE"
    expiry_date: dt.date | None = None


@dataclass(frozen=True)
class Note:
    """A note the library wrote for the patron to see (Alma's ``user_note`` with ``user_viewable`` true); notes
    the patron may not see never leave the central store."""

    note_type: str
    text: str


@dataclass(frozen=True)
class Loan:
    loan_id: int
    item_barcode: str
    title: str
    author: str
    call_number: str
    loan_date: dt.date
    due_date: dt.date
    renewals: int = 0
    status: str = "ON_LOAN"
    requested_by_other: bool = False
    renewable: bool = True  # False: the library system behind the central store says it cannot be renewed
    # the renewals the item's own policy allows (the central store's item record, ``Item.renewals``); None: the
    # item is not known there or sets no limit, and the user group's ``max_renewals`` alone applies
    max_renewals: int | None = None

    def is_overdue(self, today: dt.date) -> bool:
        return self.status == "ON_LOAN" and self.due_date < today


@dataclass(frozen=True)
class Request:
    request_id: int
    request_type: str
    title: str
    author: str
    status: str
    pickup_location: str
    place_in_queue: int | None
    request_date: dt.date
    expiry_date: dt.date | None = None

    @property
    def ready_for_pickup(self) -> bool:
        return self.status == "ON_HOLD_SHELF"


@dataclass(frozen=True)
class Fee:
    fee_id: int
    fee_type: str
    original_amount: Decimal
    balance: Decimal
    status: str = "ACTIVE"
    created: dt.date | None = None
    title: str = ""
    comment: str = ""


@dataclass(frozen=True)
class Account:
    primary_id: str
    first_name: str
    last_name: str
    policy: GroupPolicy
    expiry_date: dt.date | None
    account_type: str = "INTERNAL"
    record_type: str = "PUBLIC"
    status: str = "ACTIVE"
    source_system: str = ""
    preferred_language: str = "en"
    preferred_email: str = ""  # in full at the central store; masked in what kiosks are sent (mask_email)
    pin_check: str = ""  # the PIN's offline check value as kiosks are sent it (domain/offline_pin.py), or ""
    purge_date: dt.date | None = None
    blocks: tuple[Block, ...] = ()
    loans: tuple[Loan, ...] = ()
    requests: tuple[Request, ...] = ()
    fees: tuple[Fee, ...] = field(default_factory=tuple)
    notes: tuple[Note, ...] = ()  # the notes the patron may see, oldest first

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def active_fees(self) -> tuple[Fee, ...]:
        return tuple(fee for fee in self.fees if fee.status != "CLOSED" and fee.balance > 0)

    def total_owed(self) -> Decimal:
        return sum((fee.balance for fee in self.active_fees()), Decimal("0.00"))

    def overdue_loans(self, today: dt.date) -> tuple[Loan, ...]:
        return tuple(loan for loan in self.loans if loan.is_overdue(today))

    def loan(self, loan_id: int) -> Loan | None:
        return next((loan for loan in self.loans if loan.loan_id == loan_id), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready document (its shape mirrors the dataclasses; callers add and drop keys)."""
        return _plain_fields(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Account:
        return _build(cls, data)


# The values a dataclass tree of this module holds (``_plain`` takes these).
_Plainable: TypeAlias = "str | int | float | None | Decimal | dt.date | list[Any] | tuple[Any, ...] | DataclassInstance"


def _plain(value: _Plainable) -> JSONValue:
    """JSON-ready form of a dataclass tree (faster than ``dataclasses.asdict``: no deep copies)."""
    if value is None or isinstance(value, (str, int, float)):  # bool is an int
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):  # and dt.datetime
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return _plain_fields(value)


def _plain_fields(value: DataclassInstance) -> dict[str, JSONValue]:
    return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}


_FIELD_NAMES: dict[type[DataclassInstance], tuple[str, ...]] = {}


def _field_names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    if cls not in _FIELD_NAMES:
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return _FIELD_NAMES[cls]


_NESTED: dict[str, type[DataclassInstance]] = {
    "policy": GroupPolicy, "blocks": Block, "loans": Loan, "requests": Request, "fees": Fee, "notes": Note,
}
_DATES = {"expiry_date", "purge_date", "loan_date", "due_date", "request_date", "created"}
_MONEY = {"fine_limit", "original_amount", "balance"}


_D = TypeVar("_D", bound="DataclassInstance")


def _build(cls: type[_D], data: Mapping[str, Any]) -> _D:
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        if spec.name not in data:
            continue
        raw = data[spec.name]
        if spec.name in _NESTED and cls is Account:
            nested = _NESTED[spec.name]
            raw = _build(nested, raw) if spec.name == "policy" else tuple(_build(nested, item) for item in raw)
        elif spec.name in _DATES and raw is not None:
            raw = dt.date.fromisoformat(raw)
        elif spec.name in _MONEY and raw is not None:
            raw = Decimal(raw)
        values[spec.name] = raw
    return cls(**values)


def mask_email(address: str) -> str:
    """An email address as a kiosk may hold it: enough to recognise ("j•••@ucl.ac.uk"), not to write to."""
    local, at, domain = (address or "").partition("@")
    if not at:
        return "•••" if address else ""
    return f"{local[:1]}•••@{domain}"
