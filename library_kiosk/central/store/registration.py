"""Registering a new library member, step by step as the UCL staff guide does it.

``check_registration`` validates every field at once and returns the cleaned values
and a message per field; ``register`` saves nothing unless the whole record is valid.
Records made here are INTERNAL with record type STAFF (Alma Essentials). Shared field
rules (names, emails, addresses, identifiers) live here too, for record updates.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import peewee as pw

from library_kiosk.central.store import changes, limits, patron_search, staff
from library_kiosk.central.store.db import database
from library_kiosk.central.store.fleet_keys import pin_fields
from library_kiosk.central.store.models import Address, Email, Fee, Identifier, Statistic, User, UserGroup
from library_kiosk.domain import codes
from library_kiosk.domain.hashing import hash_secret
from library_kiosk.domain.membership import expiry_from_card, password_problems, pin_problems

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
BARCODE_PATTERN = re.compile(r"^[A-Za-z0-9-]{4,40}$")
HEX_PATTERN = re.compile(r"^[0-9A-F]{8,20}$")


def write_upstream(writer, field: str, call) -> None:
    """Staff writes that also go to the library system behind the central store ([upstream] kind = "alma"):
    call ``call(writer)`` inside the caller's transaction; a refusal raises ``Invalid`` on ``field`` so the
    transaction rolls back and nothing changes locally. ``writer`` is the station's (upstream/writes.py,
    held by the station app); None keeps the central store the only place written."""
    if writer is None:
        return
    try:
        call(writer)
    except Exception as exc:  # upstream.UpstreamError (not imported: store depends on domain only)
        message = getattr(exc, "message", None)
        if message is None:
            raise
        raise Invalid({field: f"The library system refused this, so nothing was saved: {message}"}) from None


class Invalid(ValueError):
    """A record is not valid; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def text(form, name: str) -> str:
    return (form.get(name) or "").strip()


def parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def normalise_card(value: str) -> str:
    return re.sub(r"[\s:-]", "", value or "").upper()


def holder_of(value: str, id_type: str | None = None) -> User | None:
    query = User.select().join(Identifier).where(Identifier.value == value)
    if id_type:
        query = query.where(Identifier.id_type == id_type)
    return query.first()


def held_message(kind: str, value: str, holder: User) -> str:
    return (f"This {kind} ({value}) is already on the record of {holder.first_name} {holder.last_name} "
            f"({holder.primary_id}).")


def check_identifier(errors: dict, field: str, id_type: str, value: str, owner: User | None = None) -> str:
    """The cleaned value; records a message when malformed or held by another record."""
    label = ("card serial number" if id_type == "CARD_SERIAL_NUMBER"
             else codes.describe(codes.IDENTIFIER_TYPES, id_type).lower())
    if id_type == "CARD_SERIAL_NUMBER":
        value = normalise_card(value)
        if not HEX_PATTERN.match(value):
            errors[field] = "Tap the card on the desk reader (a card serial number is 8 to 20 hexadecimal digits)."
            return value
    elif not BARCODE_PATTERN.match(value):
        errors[field] = f"Scan or type the {label}: 4 to 40 letters or digits."
        return value
    holder = holder_of(value)
    if holder is not None and (owner is None or holder.id != owner.id):
        errors[field] = held_message(label, value, holder)
    return value


def check_names(form, errors: dict) -> dict:
    values = {"first_name": text(form, "first_name"), "last_name": text(form, "last_name")}
    for name, label in (("first_name", "first name"), ("last_name", "last name")):
        if not values[name]:
            errors[name] = f"Enter the {label}."
    limits.check("User", values, errors)
    return values


def check_group(form, errors: dict) -> UserGroup | None:
    group = UserGroup.get_or_none(UserGroup.code == text(form, "user_group"))
    if group is None:
        errors["user_group"] = "Choose a user group."
    return group


def check_email(form, errors: dict, prefix: str = "") -> dict:
    address, kind = text(form, prefix + "email"), text(form, prefix + "email_type") or "personal"
    if not EMAIL_PATTERN.match(address):
        errors[prefix + "email"] = "Enter an email address like name@example.org."
    if kind not in codes.EMAIL_TYPES:
        errors[prefix + "email_type"] = "Choose an email type."
    limits.check("Email", {"email_address": address}, errors, {"email_address": prefix + "email"})
    return {"email_address": address, "email_types": kind}


def check_address(form, errors: dict, prefix: str = "", required: bool = True) -> dict | None:
    values = {key: text(form, prefix + key) for key in ("line1", "line2", "city", "postal_code", "country")}
    values["address_types"] = text(form, prefix + "address_type") or "home"
    if not required and not any(values[k] for k in ("line1", "line2", "city", "postal_code")):
        return None
    for key, label in (("line1", "the first line of the address"), ("city", "the city"),
                       ("postal_code", "the postal code")):
        if not values[key]:
            errors[prefix + key] = f"Enter {label}."
    if values["address_types"] not in codes.ADDRESS_TYPES:
        errors[prefix + "address_type"] = "Choose an address type."
    limits.check("Address", {key: values[key] for key in ("line1", "line2", "city", "postal_code", "country")},
                 errors, {key: prefix + key for key in ("line1", "line2", "city", "postal_code", "country")})
    return values


def check_secrets(form, errors: dict, group: UserGroup | None, names: list[str], required: bool = True) -> dict:
    """PIN (for borrowers: groups that ask for one) and password with its confirmation."""
    pin, password, confirm = text(form, "pin"), form.get("password") or "", form.get("password_confirm") or ""
    if pin or (required and group is not None and group.pin_required):
        problems = pin_problems(pin)
        if problems:
            errors["pin"] = problems[0] if pin else "Enter a PIN: this user group borrows with a PIN."
    if password or required:
        problems = password_problems(password, names)
        too_long = limits.message("User", "password", password)
        if too_long:
            errors["password"] = too_long
        elif problems:
            errors["password"] = " ".join(problems)
        elif password != confirm:
            errors["password_confirm"] = "The passwords do not match."
    return {"pin": pin, "password": password}


def check_registration(form, today: dt.date, rs_libraries=()) -> tuple[dict, dict[str, str]]:
    """Cleaned values and a message per invalid field (empty when the record is valid).

    ``rs_libraries``: the resource sharing libraries to choose from (``[provisioning] rs_libraries``);
    the field is optional, a value outside the list is refused."""
    errors: dict[str, str] = {}
    values = check_names(form, errors)
    values["rs_library"] = text(form, "rs_library")
    if values["rs_library"] and values["rs_library"] not in rs_libraries:
        errors["rs_library"] = "Choose a resource sharing library from the list."
    group = check_group(form, errors)
    card_expiry = parse_date(text(form, "card_expiry"))
    if card_expiry is None:
        errors["card_expiry"] = "Enter the expiry date printed on the card (YYYY-MM-DD)."
    elif card_expiry < today:
        errors["card_expiry"] = "The card's expiry date has already passed."
    elif problem := limits.expiry_problem(card_expiry, today, "The card's expiry date"):
        errors["card_expiry"] = problem
    values.update(group=group, expiry_date=expiry_from_card(card_expiry) if card_expiry else None)
    values.update(check_secrets(form, errors, group, [values["first_name"], values["last_name"]]))
    values["email"] = check_email(form, errors)
    values["address"] = check_address(form, errors)
    values["address2"] = check_address(form, errors, "second_", required=False)
    statistic = text(form, "statistic_category")
    if statistic and statistic not in codes.STATISTIC_CATEGORIES:
        errors["statistic_category"] = "Choose a statistical category from the list."
    elif not statistic and group is not None and group.statistics_required:
        errors["statistic_category"] = "This user group needs a statistical category (Patron Type)."
    values["statistic"] = statistic
    values["barcode"] = check_identifier(errors, "barcode", "BARCODE", text(form, "barcode"))
    values["card_serial"] = check_identifier(errors, "card_serial", "CARD_SERIAL_NUMBER", text(form, "card_serial"))
    if values["barcode"] and values["barcode"] == values["card_serial"]:
        errors["card_serial"] = "The card serial number must come from the reader, not the barcode."
    return values, errors


def _next_primary_id() -> str:
    last = User.select(pw.fn.MAX(User.id)).scalar() or 0
    return f"L{last + 1:07d}"


def register(form, today: dt.date, operator: str, rs_libraries=(), writer=None) -> User:
    """Create the member (INTERNAL, STAFF) with contact, fee, statistic and card; or raise ``Invalid``."""
    values, errors = check_registration(form, today, rs_libraries)
    if errors:
        raise Invalid(errors)
    group = values["group"]
    try:
        with database.atomic():
            user = User.create(
                primary_id=_next_primary_id(), first_name=values["first_name"], last_name=values["last_name"],
                user_group=group, expiry_date=values["expiry_date"], account_type="INTERNAL", record_type="STAFF",
                rs_library=values["rs_library"], password_hash=hash_secret(values["password"]))
            patron_search.refresh([user.id])  # the station search's key of the new names
            if values["pin"]:  # the slow hash and the offline check value (fleet_keys.py) need the primary id
                User.update(**pin_fields(user.primary_id, values["pin"])).where(User.id == user.id).execute()
            Email.create(user=user, preferred=True, **values["email"])
            Address.create(user=user, preferred=True, **values["address"])
            if values["address2"]:
                Address.create(user=user, **values["address2"])
            if values["statistic"]:
                Statistic.create(user=user, statistic_category=values["statistic"])
            if group.registration_fee_amount and Decimal(group.registration_fee_amount) > 0:
                amount = Decimal(group.registration_fee_amount)
                Fee.create(user=user, fee_type=group.registration_fee_type or "MEMBERSHIP", original_amount=amount,
                           balance=amount, comment="Registration", created=dt.datetime.combine(today, dt.time()))
            Identifier.create(user=user, id_type="BARCODE", value=values["barcode"])
            Identifier.create(user=user, id_type="CARD_SERIAL_NUMBER", value=values["card_serial"])
            write_upstream(writer, "barcode", lambda upstream: upstream.register(user, values))
            changes.record(user.primary_id)
            staff.audit(operator, "patron.register", user.primary_id,
                        f"{user.first_name} {user.last_name}, group {group.code}, barcode {values['barcode']}, "
                        f"card {values['card_serial']}")
    except pw.IntegrityError:
        raise Invalid({"barcode": "This barcode or card was registered to another record a moment ago."}) from None
    return user
