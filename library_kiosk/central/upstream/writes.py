"""Staff writes from the provisioning station that go to the library system too.

With ``[upstream] kind = "alma"`` the station's registration, card (batch, card-office import,
replace a lost card, unlink) and add-a-fee paths
(``store/registration.py``, ``store/cards.py``, ``store/fees.py``) call ``AlmaWriter`` inside
their own transaction (``library_kiosk.central.store.registration.write_upstream``): when Alma refuses, the
transaction rolls back and the operator sees Alma's reason in plain language, nothing saved.
Identifiers are added with Alma's swap-all update (read, merge, write back every segment).
Other kinds write only the central store (SIP2 has no patron-writing messages).
"""
from __future__ import annotations

from decimal import Decimal


def _alma_date(value) -> str:
    return f"{value.isoformat()}Z" if value else ""


class AlmaWriter:
    def __init__(self, backend, fee_owner: str = ""):
        self.backend = backend
        self.fee_owner = fee_owner

    def register(self, user, values: dict) -> dict:
        """Create the member in Alma with the same primary id, names, record and account type (a record the library
        made: STAFF and INTERNAL, as the central store saved it), group, expiry, contact and card."""
        email = values.get("email") or {}
        address = values.get("address") or {}
        body = {
            "primary_id": user.primary_id, "first_name": user.first_name, "last_name": user.last_name,
            "record_type": {"value": user.record_type}, "account_type": {"value": user.account_type},
            "status": {"value": "ACTIVE"}, "user_group": {"value": values["group"].code},
            "expiry_date": _alma_date(values.get("expiry_date")),
            "contact_info": {
                "email": [{"email_address": email.get("email_address", ""), "preferred": True,
                           "segment_type": "Internal",
                           "email_type": [{"value": (email.get("email_types") or "personal").split(",")[0]}]}]
                if email.get("email_address") else [],
                "address": [{"preferred": True, "segment_type": "Internal",
                             **{k: address[k] for k in ("line1", "line2", "city", "postal_code", "country")
                                if address.get(k)}, "address_type": [{"value": "home"}]}] if address else []},
            "user_identifier": [
                {"id_type": {"value": "BARCODE"}, "value": values["barcode"], "status": "ACTIVE",
                 "segment_type": "Internal"},
                {"id_type": {"value": "CARD_SERIAL_NUMBER"}, "value": values["card_serial"], "status": "ACTIVE",
                 "segment_type": "Internal"}],
        }
        if values.get("pin"):
            body["pin_number"] = values["pin"]
        if values.get("password"):
            body["password"] = values["password"]
        return self.backend.create_user(body)

    def add_identifier(self, primary_id: str, id_type: str, value: str, note: str = "") -> dict:
        return self.backend.add_identifier(primary_id, id_type, value, note)

    def replace_card(self, primary_id: str, barcode: str, card: str, note: str = "Card replaced") -> dict:
        return self.backend.replace_card(primary_id, barcode, card, note)

    def remove_identifier(self, primary_id: str, id_type: str, value: str) -> dict:
        return self.backend.remove_identifier(primary_id, id_type, value)

    def add_fee(self, primary_id: str, fee_type: str, amount: Decimal, comment: str = "") -> dict:
        return self.backend.add_fee(primary_id, fee_type, amount, owner=self.fee_owner, comment=comment)


def writer_for(config: dict, backend=None) -> AlmaWriter | None:
    """The writer the station passes to the store's staff writes (``kind = "alma"`` only; None otherwise, so the
    central store is the only place written). The station app holds it: ``app.extensions["upstream_writer"]``."""
    from library_kiosk.central.upstream import from_config

    values = config.get("upstream") or {}
    if values.get("kind", "local") != "alma":
        return None
    return AlmaWriter(backend or from_config(config), values.get("alma_fee_owner", "MAIN"))
