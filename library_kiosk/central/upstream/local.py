"""``local``: the central store is the library system (today's default).

Reads and renewals go straight to the store; nothing is cached or forwarded,
so with ``kind = "local"`` the central store behaves exactly as without upstreams.
"""
from __future__ import annotations

import datetime as dt

from library_kiosk.central.upstream.base import Capabilities, Fetched, LoanRef, PatronNotFound, Upstream
from library_kiosk.domain.checkout import CheckinOutcome, CheckoutDecision
from library_kiosk.domain.hashing import verify_secret
from library_kiosk.domain.renewal import RenewalDecision


class LocalUpstream(Upstream):
    kind = "local"

    def capabilities(self) -> Capabilities:
        return Capabilities(kind="local", item_info=True, fee_paid=True, write_users=True, checkout=True,
                            checkin=True)

    def fetch(self, identifier: str, today: dt.date) -> Fetched | None:
        from library_kiosk.central.store.accounts import build_account, find_user, identifiers_of

        user = find_user(identifier)
        if user is None:
            return None
        ids = tuple((i["id_type"], i["value"]) for i in identifiers_of([user.id])[user.id])
        return Fetched(build_account(user), ids)

    def verify_pin(self, primary_id: str, pin: str) -> bool:
        from library_kiosk.central.store.accounts import get_user

        user = get_user(primary_id)
        return bool(user and user.pin_hash and pin and verify_secret(user.pin_hash, pin))

    def verify_password(self, primary_id: str, password: str) -> bool:
        from library_kiosk.central.store.accounts import get_user

        user = get_user(primary_id)
        return bool(user and user.password_hash and password and verify_secret(user.password_hash, password))

    def renew(self, primary_id: str, loans: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
        from library_kiosk.central.store.accounts import get_user
        from library_kiosk.central.store.circulation import renew_locally

        user = get_user(primary_id)
        if user is None:
            raise PatronNotFound(f"No patron has the primary id {primary_id!r}.")
        return renew_locally(user, [loan.loan_id for loan in loans], today)

    def checkout(self, primary_id: str, item_barcode: str, today: dt.date, key: str) -> CheckoutDecision:
        """The central store's own rules and write (store/lending.py), once per ``key``."""
        from library_kiosk.central.store.accounts import get_user
        from library_kiosk.central.store.lending import checkout

        user = get_user(primary_id)
        if user is None:
            raise PatronNotFound(f"No patron has the primary id {primary_id!r}.")
        return checkout(user, item_barcode, today, key)

    def checkin(self, item_barcode: str, today: dt.date, key: str, library: str = "") -> CheckinOutcome:
        from library_kiosk.central.store.lending import checkin

        return checkin(item_barcode, today, key, library)

    def item_on_loan(self, item_barcode: str, today: dt.date) -> bool | None:
        from library_kiosk.central.store.lending import item_state

        state = item_state(item_barcode)
        return None if state is None else bool(state.borrower)
