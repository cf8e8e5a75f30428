"""``alma``: Ex Libris Alma's Users API as the upstream.

A patron visit costs few calls: one ``GET /users/{identifier}?user_id_type=all_unique
&expand=loans,requests,fees`` finds the patron by any identifier and says how many
loans and requests and how much in fees there are; only the non-empty lists are then
read (paged; loans with ``expand=renewable``, so a loan Alma will not renew is not sent).
Alma has no renew-all: each loan is renewed with ``op=renew``; the loan returned carries
the new due date, so nothing is read again.

Staff writes go upstream too: ``create_user``, ``add_identifier`` (Alma's update is
swap-all: read, merge, write back every segment) and ``add_fee``.

The kiosk's borrow and return screens: ``checkout`` is ``POST /users/{id}/loans?item_barcode=`` at the
configured circulation desk and library (``alma_circ_desk``, ``alma_library``); ``checkin`` finds the item by
its barcode (``GET /items?item_barcode=``) and scans it in at that desk (``POST /bibs/{mms_id}/holdings/
{holding_id}/items/{item_pid}?op=scan``), whose answer says where the item goes next.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from library_kiosk.central.upstream.alma.client import AlmaClient, AlmaError
from library_kiosk.central.upstream.base import (
    Capabilities,
    Fetched,
    LoanRef,
    PatronNotFound,
    Upstream,
    UpstreamError,
)
from library_kiosk.domain import clock
from library_kiosk.domain.account import Account, Block, Fee, GroupPolicy, Loan, Note, Request
from library_kiosk.domain.checkout import CheckinOutcome, CheckoutDecision
from library_kiosk.domain.renewal import RenewalDecision

USERS = "/almaws/v1/users"
ITEMS = "/almaws/v1/items"
BIBS = "/almaws/v1/bibs"

# Alma's refusals of a loan (POST /users/{id}/loans, as its API description lists them) -> our reasons
CHECKOUT_ERRORS = {
    "401153": "not_at_kiosk",     # Item cannot be loaned from this circulation desk.
    "401651": "not_circulating",  # Item is not loanable.
}
ITEM_NOT_FOUND = ("401689",)  # No items found for barcode (GET /items?item_barcode=)
# an item's process type after a scan-in -> where it goes next (none: back on its shelf)
SCAN_ROUTES = {"HOLDSHELF": "hold_shelf", "TRANSIT": "transit", "TRANSIT_TO_REMOTE_STORAGE": "transit"}

# Alma error codes -> (our code, plain-language message)
ERRORS = {
    "401861": ("identifier_not_found", "No patron holds this identifier."),
    "401890": ("identifier_not_found", "No patron holds this identifier."),
    "401851": ("identifier_taken", "This identifier already belongs to another patron."),
    "401822": ("not_renewable", "This item cannot be renewed. Please ask at the desk."),
    "401823": ("unknown_loan", "This loan was not found on your account."),
    "401866": ("wrong_pin", "The PIN or password is not right."),
    "500038": ("password_rejected", "The password must have at least 8 characters, must not contain the "
                                    "user name and must not be a common password."),
}
PROCESS_STATUS = {"LOST": "LOST", "CLAIMED_RETURN": "CLAIMED_RETURNED", "CLAIMED_RETURNED": "CLAIMED_RETURNED"}


def upstream_error(exc: AlmaError) -> UpstreamError:
    code, message = ERRORS.get(exc.code, ("upstream_error", "The library system refused this. Please ask at "
                                                            "the desk."))
    if code == "identifier_not_found":
        return PatronNotFound(message, exc.code)
    return UpstreamError(code, message, exc.code)


def _value(field) -> str:
    if isinstance(field, dict):
        return str(field.get("value") or "")
    return "" if field is None else str(field)


def _desc(field) -> str:
    if isinstance(field, dict):
        return str(field.get("desc") or field.get("value") or "")
    return "" if field is None else str(field)


def _date(text) -> dt.date | None:
    """Alma dates: ``2030-01-16Z``, ``2030-01-16`` or ``2026-12-01T23:59:00Z``."""
    if not text:
        return None
    return dt.date.fromisoformat(str(text)[:10])


def _count(field) -> float | None:
    if isinstance(field, dict) and "value" in field:
        try:
            return float(field["value"])
        except (TypeError, ValueError):
            return None
    return None


def _money(value) -> Decimal:
    return Decimal(str(value if value not in (None, "") else 0)).quantize(Decimal("0.01"))


def user_to_account(user: dict, loans: list[dict], requests: list[dict], fees: list[dict]) -> Account:
    emails = (user.get("contact_info") or {}).get("email") or []
    preferred = next((e for e in emails if e.get("preferred")), emails[0] if emails else {})
    group = user.get("user_group") or {}
    return Account(
        primary_id=user["primary_id"],
        first_name=user.get("first_name") or "",
        last_name=user.get("last_name") or "",
        policy=GroupPolicy(code=_value(group) or "ALMA", description=_desc(group) or "Alma user group"),
        expiry_date=_date(user.get("expiry_date")),
        purge_date=_date(user.get("purge_date")),
        account_type=_value(user.get("account_type")) or "INTERNAL",
        record_type=_value(user.get("record_type")) or "PUBLIC",
        status=_value(user.get("status")) or "ACTIVE",
        source_system=user.get("external_id") or "",
        preferred_language=_value(user.get("preferred_language")) or "en",
        preferred_email=preferred.get("email_address", "") if preferred else "",
        blocks=tuple(
            Block(block_type=_value(b.get("block_type")) or "GENERAL",
                  description=_desc(b.get("block_description")) or _desc(b.get("block_type")) or "Blocked",
                  status=_value(b.get("block_status")) or "ACTIVE", expiry_date=_date(b.get("expiry_date")))
            for b in user.get("user_block") or []),
        notes=tuple(Note(note_type=_value(n.get("note_type")) or "OTHER", text=str(n.get("note_text") or ""))
                    for n in user.get("user_note") or [] if _viewable(n) and n.get("note_text")),
        loans=tuple(_loan(loan) for loan in loans if _value(loan.get("loan_status")) in ("", "Active", "ACTIVE")),
        requests=tuple(_request(r) for r in requests),
        fees=tuple(_fee(f) for f in fees),
    )


def scan_route(item: dict) -> str:
    """Where an item goes after a scan-in, from Alma's answer: its process type (hold shelf, transit), its
    ``requested`` flag (on hold for someone: the hold shelf), the ``additional_info`` text Alma shows at the desk
    ("... hold shelf", "... in transit"), or, for an item with another process (a work order, missing...), the
    desk; none of these: its shelf."""
    data = item.get("item_data") or {}
    process = _value(data.get("process_type"))
    info = str(item.get("additional_info") or "").lower()
    if process in SCAN_ROUTES:
        return SCAN_ROUTES[process]
    if "transit" in info:
        return "transit"
    if data.get("requested") is True or "hold shelf" in info:
        return "hold_shelf"
    if process not in ("", "NONE", "LOAN"):
        return "desk"
    return "shelf"


def _viewable(note: dict) -> bool:
    """Alma's ``user_viewable`` (a JSON boolean, or "true" in some payloads): only such notes reach a patron."""
    return note.get("user_viewable") is True or str(note.get("user_viewable")).lower() == "true"


def _loan(loan: dict) -> Loan:
    return Loan(
        loan_id=int(loan["loan_id"]),
        item_barcode=loan.get("item_barcode") or "",
        title=loan.get("title") or "",
        author=loan.get("author") or "",
        call_number=loan.get("call_number") or "",
        loan_date=_date(loan.get("loan_date")) or _date(loan.get("due_date")),
        due_date=_date(loan.get("due_date")),
        renewals=int(loan.get("renewals") or 0),
        status=PROCESS_STATUS.get(_value(loan.get("process_status")), "ON_LOAN"),
        requested_by_other=bool(loan.get("requested")),
        renewable=loan.get("renewable") is not False,  # expand=renewable: Alma's own word, saves a refused call
    )


def _request(r: dict) -> Request:
    status = _value(r.get("request_status")) or "NOT_STARTED"
    return Request(
        request_id=int(r["request_id"]),
        request_type=_value(r.get("request_type")) or "HOLD",
        title=r.get("title") or "",
        author=r.get("author") or "",
        status=status if status in ("ON_HOLD_SHELF", "IN_PROCESS", "NOT_STARTED") else "IN_PROCESS",
        pickup_location=_desc(r.get("pickup_location")) or "",
        place_in_queue=int(r["place_in_queue"]) if r.get("place_in_queue") not in (None, "") else None,
        request_date=_date(r.get("request_date")) or clock.today(),
        expiry_date=_date(r.get("expiry_date")),
    )


def _fee(f: dict) -> Fee:
    return Fee(
        fee_id=int(f["id"]),
        fee_type=_value(f.get("type")) or "OTHER",
        original_amount=_money(f.get("original_amount")),
        balance=_money(f.get("balance")),
        status=_value(f.get("status")) or "ACTIVE",
        created=_date(f.get("creation_time")),
        title=f.get("title") or "",
        comment=f.get("comment") or "",
    )


class AlmaUpstream(Upstream):
    kind = "alma"
    skip_known_refusals = True  # each renewal is a call: loans our cached rules refuse are not sent

    def __init__(self, settings: dict | None = None, client: AlmaClient | None = None):
        super().__init__(settings)
        s = self.settings
        self.client = client or AlmaClient(
            s.get("alma_base_url", "https://api-eu.hosted.exlibrisgroup.com"), s.get("alma_api_key", ""),
            timeout=float(s.get("alma_timeout_seconds", 10.0)), max_per_second=float(s.get("alma_max_per_second", 20)),
            max_retries=int(s.get("alma_max_retries", 3)), quota_reserve=int(s.get("alma_quota_reserve", 500)),
            page_size=int(s.get("alma_page_size", 100)))

    @property
    def calls(self) -> int:
        return self.client.calls

    @calls.setter
    def calls(self, value) -> None:  # the base class initialises a counter; ours is the client's
        pass

    def capabilities(self) -> Capabilities:
        # renew_all is done one loan at a time (Alma has no renew-all call)
        return Capabilities(kind="alma", renew_all=True, item_info=False, fee_paid=False, write_users=True,
                            checkout=True, checkin=True)

    def _call(self, method, path, params=None, json=None, write=False):
        try:
            return self.client.request(method, path, params, json, write=write)
        except AlmaError as exc:
            raise upstream_error(exc) from None

    def get_user(self, identifier: str, expand: str = "loans,requests,fees") -> dict | None:
        try:
            return self._call("GET", f"{USERS}/{_quote(identifier)}",
                              {"user_id_type": "all_unique", "view": "full", "expand": expand})
        except PatronNotFound:
            return None

    def fetch(self, identifier: str, today: dt.date) -> Fetched | None:
        user = self.get_user(identifier)
        if user is None:
            return None
        pid = _quote(user["primary_id"])
        lists = {}
        for name, key, params in (("loans", "item_loan", {"loan_status": "Active", "expand": "renewable"}),
                                  ("requests", "user_request", {"status": "active"}),
                                  ("fees", "fee", {"status": "ACTIVE"})):
            count = _count(user.get(name))
            if count == 0:
                lists[name] = []  # the expand said there are none: no call
                continue
            try:
                if name == "fees":
                    lists[name] = (self._call("GET", f"{USERS}/{pid}/fees", params) or {}).get("fee") or []
                else:
                    lists[name] = self.client.get_all(f"{USERS}/{pid}/{name}", key, params)
            except AlmaError as exc:
                raise upstream_error(exc) from None
        account = user_to_account(user, lists["loans"], lists["requests"], lists["fees"])
        identifiers = tuple((_value(i.get("id_type")), i.get("value") or "") for i in user.get("user_identifier") or []
                            if _value(i.get("status")) in ("", "ACTIVE"))
        return Fetched(account, identifiers, {loan.loan_id: str(loan.loan_id) for loan in account.loans})

    def verify_pin(self, primary_id: str, pin: str) -> bool:
        if not pin:
            return False
        try:
            self._call("POST", f"{USERS}/{_quote(primary_id)}", {"op": "auth", "password": pin})
        except UpstreamError as exc:
            if exc.code in ("wrong_pin", "identifier_not_found"):
                return False
            raise
        return True

    def renew(self, primary_id: str, loans: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
        decisions = []
        for ref in loans:
            upstream_id = ref.upstream_id or self._loan_id_for(primary_id, ref.item_barcode)
            if not upstream_id:
                decisions.append(RenewalDecision(ref.loan_id, False, None, "unknown_loan"))
                continue
            try:
                loan = self._call("POST", f"{USERS}/{_quote(primary_id)}/loans/{_quote(upstream_id)}",
                                  {"op": "renew"}, write=True) or {}
            except UpstreamError as exc:
                if exc.code in ("not_renewable", "unknown_loan"):
                    decisions.append(RenewalDecision(ref.loan_id, False, None, exc.code))
                    continue
                raise
            decisions.append(RenewalDecision(ref.loan_id, True, _date(loan.get("due_date")), ""))
        return decisions

    def _loan_id_for(self, primary_id: str, item_barcode: str) -> str:
        loans = self.client.get_all(f"{USERS}/{_quote(primary_id)}/loans", "item_loan", {"loan_status": "Active"})
        return next((str(loan["loan_id"]) for loan in loans if loan.get("item_barcode") == item_barcode), "")

    # ---- the kiosk's borrow and return ----------------------------------------------------

    def _desk(self) -> dict:
        return {"circ_desk": str(self.settings.get("alma_circ_desk", "DEFAULT_CIRC_DESK")),
                "library": str(self.settings.get("alma_library", "MAIN"))}

    def checkout(self, primary_id: str, item_barcode: str, today: dt.date, key: str) -> CheckoutDecision:
        """``POST /users/{id}/loans?item_barcode=`` with the desk and library in the body (Alma's loan object);
        Alma applies the library's policy and answers the loan with its due date, or refuses with a code
        (``CHECKOUT_ERRORS``; any other: ``upstream_refused``, Alma's message kept for staff). A lost answer
        (5xx, timeout) raises ``OutcomeUnknown``: the caller reads the patron's loans back. Alma takes no
        idempotency key: ``key`` only names what is left to check."""
        desk = self._desk()
        body = {"circ_desk": {"value": desk["circ_desk"]}, "library": {"value": desk["library"]}}
        try:
            loan = self.client.request("POST", f"{USERS}/{_quote(primary_id)}/loans",
                                       {"user_id_type": "all_unique", "item_barcode": item_barcode},
                                       body, write=True) or {}
        except AlmaError as exc:
            mapped = upstream_error(exc)
            if isinstance(mapped, PatronNotFound):
                raise mapped from None
            return CheckoutDecision(item_barcode, False, None, CHECKOUT_ERRORS.get(exc.code, "upstream_refused"),
                                    upstream_message=f"{exc.code}: {exc.message}")
        return CheckoutDecision(item_barcode, True, _date(loan.get("due_date")), "", loan.get("title") or "")

    def item_by_barcode(self, item_barcode: str) -> dict | None:
        """``GET /items?item_barcode=``: the item with its bib and holding ids, or None when Alma has none."""
        try:
            return self.client.request("GET", ITEMS, {"item_barcode": item_barcode}) or None
        except AlmaError as exc:
            if exc.code in ITEM_NOT_FOUND:
                return None
            raise upstream_error(exc) from None

    def item_on_loan(self, item_barcode: str, today: dt.date) -> bool | None:
        """The read-back after a return whose answer was lost: the item's process type is ``LOAN``."""
        item = self.item_by_barcode(item_barcode)
        if item is None:
            return None
        return _value((item.get("item_data") or {}).get("process_type")) == "LOAN"

    def checkin(self, item_barcode: str, today: dt.date, key: str, library: str = "") -> CheckinOutcome:
        """Find the item (``GET /items?item_barcode=``), then scan it in at the desk: ``POST /bibs/{mms_id}/
        holdings/{holding_id}/items/{item_pid}?op=scan&library=&circ_desk=&register_in_house_use=false`` (a
        return machine is no in-house use). The answer's process type, ``requested`` flag and ``additional_info``
        say where the item goes (``scan_route``). An item that was not on loan and has nowhere else to go is
        ``not_on_loan``. Alma's scan-in says nothing of fees: ``late_fee`` stays None (the patron's account,
        read at the next tap, has them)."""
        item = self.item_by_barcode(item_barcode)
        if item is None:
            return CheckinOutcome(item_barcode, False, "desk", None, "unknown_item")
        bib, holding, data = item.get("bib_data") or {}, item.get("holding_data") or {}, item.get("item_data") or {}
        was_on_loan = _value(data.get("process_type")) == "LOAN"
        desk = self._desk()
        path = (f"{BIBS}/{_quote(bib.get('mms_id', ''))}/holdings/{_quote(holding.get('holding_id', ''))}"
                f"/items/{_quote(data.get('pid', ''))}")
        try:
            scanned = self.client.request("POST", path, {"op": "scan", "library": library or desk["library"],
                                                         "circ_desk": desk["circ_desk"],
                                                         "register_in_house_use": "false"}, write=True) or {}
        except AlmaError as exc:
            return CheckinOutcome(item_barcode, False, "desk", None, "upstream_refused", bib.get("title") or "",
                                  upstream_message=f"{exc.code}: {exc.message}")
        route = scan_route(scanned)
        title = (scanned.get("bib_data") or {}).get("title") or bib.get("title") or ""
        said = str(scanned.get("additional_info") or "")
        if not was_on_loan and route == "shelf":
            return CheckinOutcome(item_barcode, False, "shelf", None, "not_on_loan", title, upstream_message=said)
        return CheckinOutcome(item_barcode, True, route, None, "", title, upstream_message=said)

    # ---- staff writes ------------------------------------------------------------------

    def create_user(self, user: dict) -> dict:
        return self._call("POST", USERS, json=user, write=True)

    def _swap_identifiers(self, primary_id: str, change) -> dict:
        """Alma's update replaces every list it is sent: read the whole record, change its
        identifiers with ``change(list) -> list``, write every segment back."""
        user = self._call("GET", f"{USERS}/{_quote(primary_id)}", {"view": "full"})
        user["user_identifier"] = change(list(user.get("user_identifier") or []))
        return self._call("PUT", f"{USERS}/{_quote(primary_id)}", json=user, write=True)

    def add_identifier(self, primary_id: str, id_type: str, value: str, note: str = "") -> dict:
        """Add a barcode or card serial number, keeping every other segment (idempotent)."""
        def change(identifiers):
            return _without(identifiers, id_type, value) + [_identifier(id_type, value, note)]
        return self._swap_identifiers(primary_id, change)

    def replace_card(self, primary_id: str, barcode: str, card: str, note: str = "Card replaced") -> dict:
        """A lost card replaced: the active barcodes and card serial numbers become INACTIVE (kept,
        as the desk does locally), the new card's two identifiers are added. A retry after a
        partial failure gives the same record."""
        def change(identifiers):
            kept = _without(_without(identifiers, "BARCODE", barcode), "CARD_SERIAL_NUMBER", card)
            for ident in kept:
                if _value(ident.get("id_type")) in CARD_TYPES and _value(ident.get("status")) in ("", "ACTIVE"):
                    ident["status"] = "INACTIVE"
                    ident["note"] = note
            return kept + [_identifier("BARCODE", barcode, note), _identifier("CARD_SERIAL_NUMBER", card, note)]
        return self._swap_identifiers(primary_id, change)

    def remove_identifier(self, primary_id: str, id_type: str, value: str) -> dict:
        """Take a card serial number (or another identifier) off the record, keeping the rest."""
        return self._swap_identifiers(primary_id, lambda identifiers: _without(identifiers, id_type, value))

    def add_fee(self, primary_id: str, fee_type: str, amount: Decimal, owner: str, comment: str = "") -> dict:
        body = {"type": {"value": fee_type}, "original_amount": float(amount), "balance": float(amount),
                "owner": {"value": owner}, "comment": comment, "status": {"value": "ACTIVE"}}
        return self._call("POST", f"{USERS}/{_quote(primary_id)}/fees", json=body, write=True)

    def close(self) -> None:
        self.client.session.close()


CARD_TYPES = ("BARCODE", "CARD_SERIAL_NUMBER")


def _identifier(id_type: str, value: str, note: str = "") -> dict:
    return {"id_type": {"value": id_type}, "value": value, "note": note, "status": "ACTIVE",
            "segment_type": "Internal"}


def _without(identifiers: list[dict], id_type: str, value: str) -> list[dict]:
    return [i for i in identifiers if not (_value(i.get("id_type")) == id_type and i.get("value") == value)]


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")
