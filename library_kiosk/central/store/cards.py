"""Library cards: whose card is this, replace a lost card, unlink a card, start-of-term
batches (barcode already on the record, tap to add the card serial number) and the card
office's CSV import, all or nothing."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import peewee as pw

from library_kiosk.central.store import changes, staff
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Block, Fee, Identifier, User
from library_kiosk.central.store.registration import (
    Invalid,
    check_identifier,
    holder_of,
    normalise_card,
    write_upstream,
)

CSV_COLUMNS = ("primary_id", "barcode", "card_serial_number")


def card_owner(value: str) -> tuple[User | None, Identifier | None]:
    """The record holding this card serial number or barcode (active or not), with the identifier."""
    value = (value or "").strip()
    ident = Identifier.get_or_none(Identifier.value == normalise_card(value)) or Identifier.get_or_none(
        Identifier.value == value)
    return (ident.user, ident) if ident else (None, None)


def replace_card(user: User, form, operator: str, fee_amount: Decimal, writer=None) -> Fee | None:
    """Deactivate the old barcode and card serial number, add the new card, charge the fee."""
    errors: dict[str, str] = {}
    barcode = check_identifier(errors, "barcode", "BARCODE", (form.get("barcode") or "").strip())
    card = check_identifier(errors, "card_serial", "CARD_SERIAL_NUMBER", form.get("card_serial") or "")
    if errors:
        raise Invalid(errors)
    segment = "Internal"
    try:
        with database.atomic():
            Identifier.update(status="INACTIVE", note="Card replaced").where(
                (Identifier.user == user) & Identifier.id_type.in_(["BARCODE", "CARD_SERIAL_NUMBER"])
                & (Identifier.status == "ACTIVE")).execute()
            Identifier.create(user=user, id_type="BARCODE", value=barcode, segment_type=segment)
            Identifier.create(user=user, id_type="CARD_SERIAL_NUMBER", value=card, segment_type=segment)
            Block.update(block_status="INACTIVE").where(
                (Block.user == user) & (Block.block_type == "LOST_CARD")).execute()
            fee = None
            if fee_amount > 0 and not form.get("no_fee"):
                fee = Fee.create(user=user, fee_type="CARD_REPLACEMENT", original_amount=fee_amount,
                                 balance=fee_amount, comment="Lost card replaced")
            # Upstream the card goes first, then the fee: two calls cannot be one transaction, but
            # a retry after a refused fee writes the same card again and changes nothing more.
            write_upstream(writer, "barcode", lambda upstream: upstream.replace_card(user.primary_id, barcode, card))
            if fee:
                write_upstream(writer, "barcode", lambda upstream: upstream.add_fee(
                    user.primary_id, fee.fee_type, fee_amount, fee.comment))
            changes.record(user.primary_id)
            staff.audit(operator, "card.replace", user.primary_id,
                        f"new barcode {barcode}, card {card}, fee {fee.original_amount if fee else 0}")
    except pw.IntegrityError:
        raise Invalid({"barcode": "This barcode or card was registered to another record a moment ago."}) from None
    return fee


def unlink_card(user: User, identifier_id: int, operator: str, writer=None) -> None:
    ident = Identifier.get_or_none((Identifier.id == identifier_id) & (Identifier.user == user))
    if ident is None or ident.id_type != "CARD_SERIAL_NUMBER":
        raise Invalid({"card": "That card is not on this record."})
    with database.atomic():
        ident.delete_instance()
        write_upstream(writer, "card",
                       lambda upstream: upstream.remove_identifier(user.primary_id, ident.id_type, ident.value))
        changes.record(user.primary_id)
        staff.audit(operator, "card.unlink", user.primary_id, f"card {ident.value}")


def add_card_to_barcode(barcode: str, card: str, operator: str, writer=None) -> Identifier:
    """Batch step: the patron holding ``barcode`` gets the tapped card (an Internal segment)."""
    errors: dict[str, str] = {}
    user = holder_of(barcode.strip(), "BARCODE")
    if user is None:
        errors["barcode"] = f"No record holds the barcode {barcode or '(empty)'}."
    card = check_identifier(errors, "card_serial", "CARD_SERIAL_NUMBER", card, owner=None)
    if errors:
        raise Invalid(errors)
    with database.atomic():
        ident = Identifier.create(user=user, id_type="CARD_SERIAL_NUMBER", value=card, segment_type="Internal",
                                  note=f"Batch, barcode {barcode.strip()}")
        write_upstream(writer, "card_serial", lambda upstream: upstream.add_identifier(
            user.primary_id, "CARD_SERIAL_NUMBER", card, ident.note))
        changes.record(user.primary_id)
        staff.audit(operator, "card.batch", user.primary_id, f"barcode {barcode.strip()}, card {card}")
    return ident


def undo_batch_card(identifier_id: int, operator: str, writer=None) -> None:
    ident = Identifier.get_or_none((Identifier.id == identifier_id) & (Identifier.id_type == "CARD_SERIAL_NUMBER"))
    if ident is None:
        return
    with database.atomic():
        ident.delete_instance()
        write_upstream(writer, "card_serial", lambda upstream: upstream.remove_identifier(
            ident.user.primary_id, ident.id_type, ident.value))
        changes.record(ident.user.primary_id)
        staff.audit(operator, "card.batch_undo", ident.user.primary_id, f"card {ident.value}")


MAX_IMPORT_ROWS = 2000


def check_import(data: str) -> tuple[list[dict], bool]:
    """Each CSV row with its outcome ``message`` and ``ok``; and whether every row is valid."""
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    if not reader.fieldnames or any(c not in reader.fieldnames for c in CSV_COLUMNS):
        message = f"The header must name the columns {', '.join(CSV_COLUMNS)}."
        return [{"line": 1, "ok": False, "message": message}], False
    raws = list(reader)
    if len(raws) > MAX_IMPORT_ROWS:  # each row is checked against the store: bound the work one request does
        message = f"The file has {len(raws):,} rows; import at most {MAX_IMPORT_ROWS:,} at a time (split the file)."
        return [{"line": 1, "ok": False, "message": message}], False
    rows, seen = [], set()
    for line, raw in enumerate(raws, start=2):
        errors: dict[str, str] = {}
        user = User.get_or_none(User.primary_id == (raw["primary_id"] or "").strip())
        if user is None:
            errors["primary_id"] = f"No record has the primary id {raw['primary_id']!r}."
        barcode = (raw["barcode"] or "").strip()
        if barcode:
            check_identifier(errors, "barcode", "BARCODE", barcode, owner=user)
        card = check_identifier(errors, "card", "CARD_SERIAL_NUMBER", raw["card_serial_number"] or "", owner=user)
        for value in (barcode, card):
            if value and value in seen:
                errors.setdefault("duplicate", f"{value} appears twice in the file.")
            seen.add(value)
        rows.append({"line": line, "primary_id": (raw["primary_id"] or "").strip(), "barcode": barcode, "card": card,
                     "user": user, "ok": not errors, "message": " ".join(errors.values()) or "ready"})
    if not rows:
        return [{"line": 2, "ok": False, "message": "The file holds no rows."}], False
    return rows, all(row["ok"] for row in rows)


def import_cards(data: str, operator: str, writer=None) -> tuple[list[dict], bool]:
    """Validate every row, then write all of them in one transaction, or none."""
    rows, valid = check_import(data)
    if not valid:
        return rows, False
    current = None
    try:
        with database.atomic():
            for row in rows:
                current, user = row, row["user"]
                for id_type, value in (("BARCODE", row["barcode"]), ("CARD_SERIAL_NUMBER", row["card"])):
                    if value and not Identifier.select().where(Identifier.value == value).exists():
                        Identifier.create(user=user, id_type=id_type, value=value, segment_type="Internal",
                                          note="Card office import")
                        write_upstream(writer, "data", lambda upstream, user=user, id_type=id_type, value=value:
                                       upstream.add_identifier(user.primary_id, id_type, value, "Card office import"))
                changes.record(user.primary_id)
                staff.audit(operator, "card.import", user.primary_id,
                            f"barcode {row['barcode']}, card {row['card']}")
                row["message"] = "imported"
    except Invalid as exc:  # the library system refused a row: nothing is saved here
        for row in rows:
            row["message"] = "not imported"
        current.update(ok=False, message=f"{exc.errors['data']} Rows before it may already be in the library "
                                         "system; importing the corrected file again is safe.")
        return rows, False
    return rows, True
