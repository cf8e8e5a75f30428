"""Items at the central store: the records patrons borrow and give back (issue 18), their policy, the loan limits
per user group and material type, and the library's closed days.

Loans refer to items by barcode (``Loan.item_barcode``), as they always have: an item needs no loan and a loan
made before items were recorded needs no item. The ISO 28560 primary item identifier on an RFID tag is the
barcode; ``tag_uid`` keeps the tag's own UID (ISO 15693), when the library records it.

Filled by ``kiosk demo load`` (store/demo.py ``add_demo_items``) and by the items feed,
``kiosk admin items import FILE.csv`` (``import_csv``; docs/feed.md "Items feed").
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

import peewee as pw

from library_kiosk.central.store.db import write_transaction
from library_kiosk.central.store.models import BaseModel, Request, UserGroup, _now
from library_kiosk.domain import checkout as rules


class Item(BaseModel):
    barcode = pw.CharField(max_length=60, unique=True)
    tag_uid = pw.CharField(max_length=40, null=True, index=True)  # the RFID tag's UID (hex), when recorded
    title = pw.CharField(max_length=300)
    author = pw.CharField(max_length=200, default="")
    call_number = pw.CharField(max_length=60, default="")
    material_type = pw.CharField(max_length=40, default="BOOK")
    library = pw.CharField(max_length=40, default="")  # the owning library's code
    location = pw.CharField(max_length=40, default="")  # the location's code in that library
    # the item policy
    loan_period_days = pw.IntegerField(null=True)  # None: the borrower's group's loan period
    renewals = pw.IntegerField(null=True)  # renewals allowed; None: the group's max_renewals
    circulates = pw.BooleanField(default=True)  # False: for use in the library only
    kiosk_checkout = pw.BooleanField(default=True)  # False: borrowed at the desk only
    updated = pw.DateTimeField(default=_now)


class MaterialLimit(BaseModel):
    """At most ``loan_limit`` items of ``material_type`` on loan at once to a member of ``user_group`` (optional:
    no row, no limit beyond the group's)."""

    user_group = pw.CharField(max_length=40)
    material_type = pw.CharField(max_length=40)
    loan_limit = pw.IntegerField()

    class Meta:
        indexes = ((("user_group", "material_type"), True),)


class ClosedDay(BaseModel):
    """A day the library is closed: a due date falling on it moves to the next open day. ``library`` "" closes
    every library."""

    day = pw.DateField()
    library = pw.CharField(max_length=40, default="")
    description = pw.CharField(max_length=200, default="")

    class Meta:
        indexes = ((("day", "library"), True),)


ITEM_MODELS = [Item, MaterialLimit, ClosedDay]
ACTIVE_HOLDS = ("ON_HOLD_SHELF", "IN_PROCESS", "NOT_STARTED")


def get_item(barcode: str) -> Item | None:
    return Item.get_or_none(Item.barcode == barcode) if barcode else None


def as_rule_item(item: Item) -> rules.Item:
    return rules.Item(barcode=item.barcode, title=item.title, material_type=item.material_type, library=item.library,
                      circulates=item.circulates, kiosk_checkout=item.kiosk_checkout,
                      loan_period_days=item.loan_period_days)


def holds_of(barcode: str) -> tuple[rules.Hold, ...]:
    """The item's active requests, as the rules see them."""
    from library_kiosk.central.store.models import User

    rows = (Request.select(Request.status, Request.place_in_queue, User.primary_id)
            .join(User, on=(Request.user == User.id))
            .where((Request.item_barcode == barcode) & Request.status.in_(ACTIVE_HOLDS))
            .order_by(Request.id).tuples())
    return tuple(rules.Hold(primary_id, status, place) for status, place, primary_id in rows)


def closed_days(library: str, start: dt.date, days: int = 400) -> frozenset[dt.date]:
    rows = ClosedDay.select(ClosedDay.day).where(
        (ClosedDay.day >= start) & (ClosedDay.day <= start + dt.timedelta(days=days))
        & ((ClosedDay.library == "") | (ClosedDay.library == library))).tuples()
    return frozenset(_day(day) for (day,) in rows)


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def material_limit(group_code: str, material_type: str) -> int | None:
    row = MaterialLimit.get_or_none((MaterialLimit.user_group == group_code)
                                    & (MaterialLimit.material_type == material_type))
    return row.loan_limit if row else None


# --- the items feed ----------------------------------------------------------------------------------------------

HEADER = ("barcode", "title", "author", "call_number", "material_type", "library", "location", "loan_period_days",
          "renewals", "circulates", "kiosk_checkout")
_FLAGS = {"true": True, "yes": True, "1": True, "y": True, "false": False, "no": False, "0": False, "n": False}
_LENGTHS = {name: Item._meta.fields[name].max_length for name in HEADER
            if getattr(Item._meta.fields[name], "max_length", None)}


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line, why)

    def lines(self) -> list[str]:
        out = [f"items created: {self.created}, updated: {self.updated}, refused: {len(self.refused)}"]
        out += [f"line {line}: {why}" for line, why in self.refused]
        return out


class FeedError(ValueError):
    """The file cannot be read as an items feed at all (its header): nothing is loaded."""


def parse_row(row: dict) -> dict:
    """One feed row as ``Item`` fields; ``ValueError`` says what is wrong with it."""
    values: dict = {}
    for name in HEADER:
        text = (row.get(name) or "").strip()
        if name in ("barcode", "title") and not text:
            raise ValueError(f"{name} is empty")
        if name in _LENGTHS and len(text) > _LENGTHS[name]:
            raise ValueError(f"{name} is longer than {_LENGTHS[name]} characters")
        if name in ("loan_period_days", "renewals"):
            if text == "":
                values[name] = None
                continue
            if not text.isdigit() or int(text) > 3650:
                raise ValueError(f"{name} must be a whole number of 0 to 3650 or empty, not {text!r}")
            values[name] = int(text)
        elif name in ("circulates", "kiosk_checkout"):
            if text == "":
                values[name] = True
                continue
            if text.lower() not in _FLAGS:
                raise ValueError(f"{name} must be true or false, not {text!r}")
            values[name] = _FLAGS[text.lower()]
        else:
            values[name] = text
    if not values["material_type"]:
        values["material_type"] = "BOOK"
    return values


def import_csv(text: str, dry_run: bool = False) -> ImportReport:
    """Create or update items from the feed's CSV text (header ``HEADER``, in any order, extra columns ignored).
    A malformed row is refused with its line and why; the others are loaded (one transaction). A header
    without ``barcode`` and ``title`` raises ``FeedError`` and loads nothing."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [name for name in HEADER if name not in (reader.fieldnames or [])]
    if missing:
        raise FeedError(f"the header lacks {', '.join(missing)} (expected: {','.join(HEADER)})")
    report, rows, seen = ImportReport(), [], {}
    for row in reader:
        line = reader.line_num
        if None in row:
            report.refused.append((line, "more cells than the header has columns"))
            continue
        try:
            values = parse_row(row)
        except ValueError as exc:
            report.refused.append((line, str(exc)))
            continue
        if values["barcode"] in seen:
            report.refused.append((line, f"barcode {values['barcode']} is already on line {seen[values['barcode']]}"))
            continue
        seen[values["barcode"]] = line
        rows.append(values)
    with write_transaction():
        known = dict(Item.select(Item.barcode, Item.renewals).where(
            Item.barcode.in_([r["barcode"] for r in rows])).tuples()) if rows else {}
        for values in rows:
            if values["barcode"] in known:
                report.updated += 1
                if not dry_run:
                    Item.update(**values, updated=_now()).where(Item.barcode == values["barcode"]).execute()
            else:
                report.created += 1
                if not dry_run:
                    Item.create(**values)
        if not dry_run:  # a loan's renewal limit is in its borrower's account document: kiosks are told
            from library_kiosk.central.store import changes

            changes.record_item_holders([values["barcode"] for values in rows
                                         if known.get(values["barcode"]) != values["renewals"]])
    return report


def set_closed(day: dt.date, library: str = "", description: str = "", closed: bool = True) -> bool:
    """Mark ``day`` closed (or open again); True when something changed."""
    where = (ClosedDay.day == day) & (ClosedDay.library == library)
    if not closed:
        return bool(ClosedDay.delete().where(where).execute())
    if ClosedDay.get_or_none(where) is not None:
        return False
    ClosedDay.create(day=day, library=library, description=description)
    return True


def group_fine_per_day(group_code: str):
    from decimal import Decimal

    value = UserGroup.select(UserGroup.fine_per_day).where(UserGroup.code == group_code).scalar()
    return Decimal(str(value)) if value is not None else Decimal("0")
