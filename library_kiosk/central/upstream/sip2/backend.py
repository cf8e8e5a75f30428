"""``sip2``: any library system speaking SIP2 2.00 as the upstream.

A visit: patron information (63) asking for the charged items (AU) with the counts, then one 63 per
other list the counts say is not empty (the summary field asks for one list at a time: position 0
hold items AS, 1 overdue AT, 2 charged AU, 3 fine AV, 4 recall BU, 5 unavailable holds CD; AT only
when the charged items do not already account for the overdue count), item information (17) for each
loan's title and due date, renew all (65, or 29 one by one when the status message's
supported-messages field says 65 is not there; a loan 65 left unrenewed gets its reason from a 29 of its
own), end session (35). At the kiosk's borrow and return screens: checkout (11/12) and checkin (09/10).
The 14 patron-status flags become blocks with plain-language reasons.
What each field becomes is in docs/upstream.md ("SIP2 fields").
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from decimal import Decimal, InvalidOperation

from library_kiosk.central.upstream.base import (
    Capabilities,
    Fetched,
    LoanRef,
    OutcomeUnknown,
    Upstream,
    UpstreamError,
)
from library_kiosk.central.upstream.sip2.client import SUPPORTED, pool_for, sip_date
from library_kiosk.domain.account import Account, Block, Fee, GroupPolicy, Loan, Request
from library_kiosk.domain.checkout import CheckinOutcome, CheckoutDecision
from library_kiosk.domain.renewal import RenewalDecision

log = logging.getLogger(__name__)

# The SIP2 patron-status flags, position by position: (block type, plain reason, stops renewals)
PATRON_FLAGS = [
    ("SIP2_CHARGE_DENIED", "You cannot borrow items just now. Please ask at the desk.", False),
    ("SIP2_RENEWAL_DENIED", "Renewals are not allowed on your account. Please ask at the desk.", True),
    ("SIP2_RECALL_DENIED", "You cannot recall items just now.", False),
    ("SIP2_HOLD_DENIED", "You cannot place requests just now. Please ask at the desk.", False),
    ("SIP2_CARD_LOST", "This card has been reported lost. Please ask at the desk.", True),
    ("SIP2_TOO_MANY_CHARGED", "You have borrowed the most items you may have at once.", False),
    ("SIP2_TOO_MANY_OVERDUE", "You have too many overdue items; please return some first.", True),
    ("SIP2_TOO_MANY_RENEWALS", "You have renewed too many times. Please ask at the desk.", True),
    ("SIP2_TOO_MANY_CLAIMS", "Too many items are recorded as claimed returned. Please ask at the desk.", True),
    ("SIP2_TOO_MANY_LOST", "Too many items are recorded as lost. Please ask at the desk.", True),
    ("SIP2_EXCESSIVE_FINES", "You owe too much in fines. Please pay at the desk.", True),
    ("SIP2_EXCESSIVE_FEES", "You owe too much in fees. Please pay at the desk.", True),
    ("SIP2_RECALL_OVERDUE", "A recalled item is overdue; please return it first.", True),
    ("SIP2_TOO_MANY_BILLED", "Too many items have been billed to you. Please ask at the desk.", True),
]


def flags_to_blocks(status: str) -> tuple[Block, ...]:
    """The patron-status field (14 characters, Y or space) as blocks; flags that do not stop
    renewals are kept as NOTICE so they are shown without refusing renewals."""
    return tuple(Block(kind, reason, "ACTIVE" if stops else "NOTICE")
                 for (kind, reason, stops), flag in zip(PATRON_FLAGS, status.ljust(14)) if flag == "Y")


def parse_due(text: str) -> dt.date | None:
    """SIP2 leaves the due date's form to the ILS: YYYYMMDD[    HHMMSS], YYYY-MM-DD, DD/MM/YYYY..."""
    text = (text or "").strip()
    m = re.match(r"(\d{4})-?(\d{2})-?(\d{2})", text)
    if m:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    m = re.match(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    if m:
        return dt.date(int(m[3]), int(m[2]), int(m[1]))
    return None


def _money(text: str) -> Decimal:
    try:
        return Decimal(re.sub(r"[^0-9.\-]", "", text or "") or "0").quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal("0.00")


def _number(text: str) -> int:
    return int(text) if (text or "").strip().isdigit() else 0


def _stable_id(*parts: str) -> int:
    return int(hashlib.sha1("|".join(parts).encode()).hexdigest()[:12], 16)


# The patron information request's summary field: the position of the one list asked for (the specification
# asks for one Y at a time), the field the answer carries it in, and the 64's count of it.
HOLD_ITEMS, OVERDUE_ITEMS, CHARGED_ITEMS, FINE_ITEMS, RECALL_ITEMS, UNAVAILABLE_HOLDS = range(6)
SUMMARY_LISTS = {
    HOLD_ITEMS: ("AS", "hold_count"),
    OVERDUE_ITEMS: ("AT", "overdue_count"),
    CHARGED_ITEMS: ("AU", "charged_count"),
    FINE_ITEMS: ("AV", "fine_count"),
    RECALL_ITEMS: ("BU", "recall_count"),
    UNAVAILABLE_HOLDS: ("CD", "unavailable_hold_count"),
}
# at most this many more 63s for the rest of one list a server sent in parts (``Sip2Upstream._rest_of``)
MAX_PARTS = 50
# item information's circulation status (18): what a loan's status becomes
CIRCULATION_RECALLED, CIRCULATION_CLAIMED_RETURNED, CIRCULATION_LOST = "07", "11", "12"
# the circulation statuses of an item out of the library on someone's account: charged (04), charged not to be
# recalled yet (05), recalled (07), claimed returned (11), lost (12)
ON_LOAN_STATUSES = ("04", "05", "07", "11", "12")

# An amount in a fine item's free text (AV has no fixed form: "2.50 Overdue: Ulysses", "Charge-Number: 7,
# Amount-Due: 2.50, ..."): the first number written with two decimals, so an item barcode or a count is never
# taken for money.
_AMOUNT = re.compile(r"(?<![\w.,])(-?)[£$€]?\s?(\d{1,3}(?:,\d{3})+\.\d{2}|\d+[.,]\d{2})(?![\w.,]\d|[\w])")


def fine_amount(text: str) -> Decimal | None:
    """The amount a fine item (AV) states, or None when it states none."""
    m = _AMOUNT.search(text or "")
    if m is None:
        return None
    number = m[2].replace(",", "") if "." in m[2] else m[2].replace(",", ".")
    return Decimal(m[1] + number).quantize(Decimal("0.01"))


def fees_from(identifier: str, fine_items: list[str], fee_amount: str | None) -> tuple[Fee, ...]:
    """The fees of a 64: its fine items (AV) and its fee amount (BV, the patron's total).

    Fine items that state an amount are fees of that amount; BV is the total, so what BV holds beyond them is
    one more fee ("Outstanding fees", with the fine items that state no amount as its text): the total owed is
    BV, never BV plus the items. Items that add up to more than BV (amounts before payments) give way to BV:
    one fee of BV, the items' text kept as its comment; BV of 0 or less (a credit), no fee. Without BV, the
    itemised amounts are the total."""
    itemised = [(text, amount) for text in fine_items for amount in [fine_amount(text)] if amount is not None]
    unpriced = [text for text in fine_items if fine_amount(text) is None]
    fees = [Fee(fee_id=_stable_id(identifier, "fee", text), fee_type="OTHER", original_amount=amount,
                balance=amount, title=text[:300]) for text, amount in itemised]
    if fee_amount is None or not fee_amount.strip():
        return tuple(fees)
    total = fine_amount(fee_amount)
    total = _money(fee_amount) if total is None else total  # "2,50" as well as "2.5" or "3"
    listed = sum((amount for _text, amount in itemised), Decimal("0.00"))
    if total <= 0:  # nothing owed (or a credit): no fee, whatever the items say
        return ()
    if listed > total:
        return (Fee(_stable_id(identifier, "fees"), "OTHER", total, total, title="Outstanding fees",
                    comment="; ".join(fine_items)[:300]),)
    if total > listed:
        rest = total - listed
        fees.append(Fee(_stable_id(identifier, "fees"), "OTHER", rest, rest,
                        title="; ".join(unpriced)[:300] or "Outstanding fees"))
    return tuple(fees)


def refusal_reason(screen_message: str) -> str:
    text = screen_message.lower()
    if re.search(r"\b(hold|holds|request|requested|reserved|recall)", text):
        return "requested"
    if re.search(r"(max|limit|too many renewals|renewal limit)", text):
        return "limit"
    if "lost" in text:
        return "lost"
    if re.search(r"(block|barred|denied|not allowed|privileges)", text):
        return "renewals_denied"
    if "expired" in text:
        return "expired"
    return "not_renewable"


# A refused checkout's screen message (AF, free text) -> our reason, first match wins; else upstream_refused
CHECKOUT_REFUSALS = [
    (r"not (?:be )?found|unknown item|invalid item|no such item", "unknown_item"),
    (r"already (?:checked out|charged|on loan) to (?:you|this patron)|you already have", "already_yours"),
    (r"\b(?:hold|holds|reserved|request(?:ed)?|recall(?:ed)?)\b", "on_hold_for_other"),
    (r"checked out to another|charged to another|on loan to another|already (?:checked out|charged|on loan)",
     "on_loan_to_other"),
    (r"not for loan|non-?circulating|reference only|library use only|in-library use|cannot circulate",
     "not_circulating"),
    (r"self-?check|at the desk only|desk only|cannot be (?:checked out|borrowed) here", "not_at_kiosk"),
    (r"expired", "expired"),
    (r"\b(?:limit|too many|maximum|max)\b", "loan_limit"),
    (r"block|barred|denied|not allowed|privileges|suspended|debarred", "blocked"),
]
# A 10's alert type (CV): where the returned item goes next
ALERT_ROUTES = {"01": "hold_shelf", "02": "transit", "04": "transit"}


def checkout_refusal(screen_message: str) -> str:
    """Our reason for a refused checkout, from the server's screen message where it is recognisable."""
    text = screen_message.lower()
    return next((reason for pattern, reason in CHECKOUT_REFUSALS if re.search(pattern, text)), "upstream_refused")


def _flag(value: str) -> bool | None:
    """A Y/N/U flag of a 12 or 10: True, False, or None for U (unknown) and anything else."""
    return {"Y": True, "N": False}.get((value or "").upper())


def late_fee(reply) -> Decimal | None:
    """The fee a 10 or 12 reports (BV, with its type BT): None when it states none or nothing above 0."""
    text = reply.get("BV")
    if not text.strip():
        return None
    amount = fine_amount(text)
    amount = _money(text) if amount is None else amount
    return amount if amount > 0 else None


def checkin_route(reply, institution: str = "") -> str:
    """Where a returned item goes, from a 10: the alert type (CV) says hold shelf (01) or transit (02, 04). Without
    a type we route: a destination (CT) other than ``institution`` means transit, a hold patron (CY) the hold
    shelf, and any other alert (99 too) the desk; no alert, the shelf."""
    if reply.fixed.get("alert") != "Y" and not reply.get("CV"):
        return "shelf"
    route = ALERT_ROUTES.get(reply.get("CV").strip())
    destination = reply.get("CT").strip()
    if route is None and destination and destination != institution:
        route = "transit"
    if route is None and reply.get("CY").strip():
        route = "hold_shelf"
    return route or "desk"


def split_name(name: str) -> tuple[str, str]:
    """(first, last) of SIP2's personal name (AE), which has no fixed form: "Last, First" (the common one) is
    split at its first comma; any other form is kept whole as the last name, so the display name ("first
    last") is the name exactly as the library system wrote it ("Mary Ann Smith" is not split into a first
    name "Mary" and a last name "Ann Smith")."""
    name = " ".join((name or "").split())
    if "," in name:
        last, first = (part.strip() for part in name.split(",", 1))
        return first, last
    return "", name


class Sip2Upstream(Upstream):
    kind = "sip2"

    def __init__(self, settings: dict | None = None):
        super().__init__(settings)
        self.pool = pool_for(self.settings)
        self.institution = self.settings.get("sip2_institution_id", "")
        self._supported: dict[str, bool] | None = None
        self.status_institution: list[str] = []  # the AO of the last status answer (98), for ``check``

    @property
    def calls(self) -> int:
        return self.pool.sent

    @calls.setter
    def calls(self, value) -> None:
        pass

    def _fields(self, *pairs) -> str:
        return "".join(f"{field_id}{value}|" for field_id, value in pairs if value is not None)

    def _send(self, message: str, write: bool = False):
        return self.pool.exchange(message, write=write)

    # ---- status (99) -------------------------------------------------------------------
    def supported(self) -> dict[str, bool]:
        if self._supported is None:
            reply = self._send("9900802.00")
            self.status_institution = reply.all("AO")
            flags = reply.get("BX").ljust(16, "N")
            self._supported = {name: flag == "Y" for name, flag in zip(SUPPORTED, flags)}
            self._supported["online"] = reply.fixed.get("online") == "Y"
        return self._supported

    def capabilities(self) -> Capabilities:
        try:
            s = self.supported()
        except Exception:  # the ILS is down: say what we can do, refine when it returns
            s = {name: True for name in SUPPORTED}
        return Capabilities(kind="sip2", renew=s.get("renew", True),
                            renew_all=s.get("renew_all", False) or s.get("renew", False),
                            requests=True, fees=True, pin_check=s.get("patron_information", True),
                            item_info=s.get("item_information", False), fee_paid=s.get("fee_paid", False),
                            checkout=s.get("checkout", False), checkin=s.get("checkin", False))

    def _use_renew_all(self) -> bool:
        choice = str(self.settings.get("sip2_renew_all", "auto")).lower()
        if choice in ("yes", "true", "1"):
            return True
        if choice in ("no", "false", "0"):
            return False
        return self.supported().get("renew_all", False)

    # ---- patron (63, 23) and items (17) -----------------------------------------------------
    def patron_information(self, identifier: str, summary_position: int | None = None, pin: str | None = None,
                           start: int | None = None, end: int | None = None):
        """63; ``start`` and ``end`` (BP, BQ) ask for that part of the list, its items numbered from 1."""
        summary = [" "] * 10
        if summary_position is not None:
            summary[summary_position] = "Y"
        return self._send("63001" + sip_date() + "".join(summary) + self._fields(
            ("AO", self.institution), ("AA", identifier), ("AC", self.settings.get("sip2_terminal_password", "")),
            ("AD", pin), ("BP", None if start is None else str(start)), ("BQ", None if end is None else str(end))))

    def patron_status(self, identifier: str, pin: str | None = None):
        return self._send("23001" + sip_date() + self._fields(
            ("AO", self.institution), ("AA", identifier), ("AC", self.settings.get("sip2_terminal_password", "")),
            ("AD", pin if pin is not None else "")))

    def item_information(self, item: str):
        return self._send("17" + sip_date() + self._fields(
            ("AO", self.institution), ("AB", item), ("AC", self.settings.get("sip2_terminal_password", ""))))

    def end_visit(self, primary_id: str) -> None:
        """35 when the patron leaves the kiosk (Done, the idle timeout, another card)."""
        try:
            self.end_session(primary_id)
        except UpstreamError as exc:
            log.info("end patron session (35) not sent for a patron: %s", exc.message)

    def end_session(self, identifier: str) -> bool:
        reply = self._send("35" + sip_date() + self._fields(
            ("AO", self.institution), ("AA", identifier), ("AC", self.settings.get("sip2_terminal_password", ""))))
        return reply.fixed.get("end_session") == "Y"

    def fee_paid(self, identifier: str, amount: Decimal, fee_type: str = "01", payment_type: str = "00",
                 currency: str = "GBP", fee_id: str = "", transaction_id: str = ""):
        """Fee paid (37): reserved for later (payments at the kiosk); not used by the central store yet."""
        return self._send("37" + sip_date() + fee_type + payment_type + currency + self._fields(
            ("BV", f"{amount:.2f}"), ("AO", self.institution), ("AA", identifier),
            ("AC", self.settings.get("sip2_terminal_password", "")), ("CG", fee_id or None),
            ("BK", transaction_id or None)))

    def _listed(self, identifier: str, first, position: int) -> list[str]:
        """The list at summary ``position`` (one 63 asking for it), or none when the first 64's count of it is 0
        (a list the first answer already carries is taken from it); the whole of it when the server sends a long
        list in parts (``_rest_of``)."""
        field_id, count_field = SUMMARY_LISTS[position]
        count = _number(first.fixed[count_field])
        listed = first.all(field_id)
        if not listed and count:
            listed = self.patron_information(identifier, summary_position=position).all(field_id)
        return self._rest_of(identifier, position, listed, count)

    def _rest_of(self, identifier: str, position: int, listed: list[str], count: int) -> list[str]:
        """``listed`` and the rest of its list, when the 64 carried fewer items than its count says there are (a
        server that caps the items in one answer): one 63 at a time with start item (BP) after the last item
        received and end item (BQ) the count, until the count is reached. A server that ignores BP and BQ answers
        the first part again; that ends it, logged, with the part received (``MAX_PARTS`` bounds the rest)."""
        field_id, _ = SUMMARY_LISTS[position]
        items = list(listed)
        for _ in range(MAX_PARTS):
            if not items or len(items) >= count:
                break
            part = self.patron_information(identifier, summary_position=position, start=len(items) + 1,
                                           end=count).all(field_id)
            if not part or part == items[:len(part)]:
                log.warning("SIP2: the library system counts %d items in list %s but sent %d; it did not answer a "
                            "start item (BP) past them", count, field_id, len(items))
                break
            items += part
        return items

    def fetch(self, identifier: str, today: dt.date) -> Fetched | None:
        """The patron's account from patron information (63/64), the fields as SIP2 2.00 defines them.

        BL = N: no such patron (None). Lists, each asked for on its own (one summary position at a time) and only
        when its count is not 0: AU charged items are loans; AT overdue items are loans too (asked for only when
        the charged items' due dates do not account for the overdue count, i.e. a server that lists overdue
        items under AT alone); BU recall items mark those loans requested by another patron; AS hold items are
        requests ready for pickup, CD unavailable hold items requests not yet available (an item in both is
        unavailable: some servers list every hold under AS); AV fine items and BV, the patron's total, are the
        fees (``fees_from``). BE is the preferred email, AE the name (``split_name``)."""
        first = self.patron_information(identifier, summary_position=CHARGED_ITEMS)
        if first.get("BL") == "N":
            return None
        charged = self._rest_of(identifier, CHARGED_ITEMS, first.all("AU"), _number(first.fixed["charged_count"]))
        unavailable = self._listed(identifier, first, UNAVAILABLE_HOLDS)
        holds = [(item, "ON_HOLD_SHELF") for item in self._listed(identifier, first, HOLD_ITEMS)
                 if item not in unavailable] + [(item, "NOT_STARTED") for item in unavailable]
        fines = self._listed(identifier, first, FINE_ITEMS)
        recalled = set(self._listed(identifier, first, RECALL_ITEMS))
        infos = {item: self.item_information(item) for item in dict.fromkeys(charged)}
        past_due = sum(1 for info in infos.values() if (parse_due(info.get("AH")) or today) < today)
        if _number(first.fixed["overdue_count"]) > past_due or first.all("AT"):
            for item in self._listed(identifier, first, OVERDUE_ITEMS):
                if item not in infos:  # an overdue item the server did not list among the charged ones
                    infos[item] = self.item_information(item)
        loans = []
        for item, info in infos.items():
            due = parse_due(info.get("AH")) or today
            circulation = info.fixed.get("circulation_status")
            status = {CIRCULATION_LOST: "LOST", CIRCULATION_CLAIMED_RETURNED: "CLAIMED_RETURNED"}.get(
                circulation, "ON_LOAN")
            loans.append(Loan(loan_id=_stable_id(identifier, item), item_barcode=item,
                              title=info.get("AJ") or item, author="", call_number=info.get("AQ"),
                              loan_date=min(due, today), due_date=due, status=status,
                              requested_by_other=(_number(info.get("CF")) > 0 or item in recalled
                                                  or circulation == CIRCULATION_RECALLED)))
        first_name, last_name = split_name(first.get("AE"))
        fee_amount = first.all("BV")
        account = Account(
            primary_id=first.get("AA") or identifier, first_name=first_name, last_name=last_name,
            policy=GroupPolicy(code="SIP2", description="Library system patron"), expiry_date=None,
            preferred_email=first.get("BE"),
            blocks=flags_to_blocks(first.fixed["patron_status"]),
            loans=tuple(loans),
            requests=tuple(Request(request_id=_stable_id(identifier, "hold", item), request_type="HOLD", title=item,
                                   author="", status=status, pickup_location="", place_in_queue=None,
                                   request_date=today) for item, status in holds),
            fees=fees_from(identifier, fines, fee_amount[0] if fee_amount else None),
        )
        return Fetched(account, (("BARCODE", account.primary_id),), {})

    def verify_pin(self, primary_id: str, pin: str) -> bool:
        """Patron information with the PIN as the patron password (AD): CQ (valid patron password) decides, Y
        and nothing else; BL = N (no such patron) is never a right PIN."""
        if not pin:
            return False
        reply = self.patron_information(primary_id, pin=pin)
        return reply.get("BL") != "N" and reply.get("CQ") == "Y"

    # ---- renewals (29, 65) ---------------------------------------------------------------
    def _renew_one(self, primary_id: str, ref: LoanRef) -> RenewalDecision:
        now = sip_date()  # strict servers want a date in "nb due date" too, not blanks
        reply = self._send("29NN" + now + now + self._fields(
            ("AO", self.institution), ("AA", primary_id), ("AB", ref.item_barcode),
            ("AC", self.settings.get("sip2_terminal_password", ""))), write=True)
        if reply.fixed.get("ok") == "1":
            return RenewalDecision(ref.loan_id, True, parse_due(reply.get("AH")), "")
        return RenewalDecision(ref.loan_id, False, None, refusal_reason(" ".join(reply.all("AF"))))

    def renew(self, primary_id: str, loans: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
        return [self._renew_one(primary_id, ref) for ref in loans]

    def renew_all(self, primary_id: str, loans: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
        if not self._use_renew_all():
            return self.renew(primary_id, loans, today)
        reply = self._send("65" + sip_date() + self._fields(
            ("AO", self.institution), ("AA", primary_id), ("AC", self.settings.get("sip2_terminal_password", ""))),
            write=True)
        return self._renew_all_decisions(primary_id, loans, reply)

    def _renew_all_decisions(self, primary_id: str, loans: list[LoanRef], reply) -> list[RenewalDecision]:
        """Each loan's decision from a 66, with a reason as good as renewing it alone would give.

        66 lists the renewed items (BM) and the unrenewed ones (BN) but gives one screen message (AF) for the
        whole: a renewed loan's new due date comes from a 17 (66 has none); an unrenewed loan's reason from a 29
        for that item alone, refused with the server's own message for it (``_renew_one``, a write: should it
        renew the item after all, it is reported renewed). No 29 when the message can only be that item's (one
        unrenewed item, one message, a reason ``refusal_reason`` recognises), nor when the server refused the
        whole renew-all (nothing listed, ok 0: "Renewals not allowed"), whose message is every loan's reason. A
        loan in neither list is not on loan to the patron there: ``unknown_loan``. A 66 that counts more items
        than it lists cannot say which were renewed: ``OutcomeUnknown``, and the caller reads the patron back."""
        renewed, unrenewed = set(reply.all("BM")), set(reply.all("BN"))
        messages = [text for text in reply.all("AF") if text.strip()]
        listed = renewed | unrenewed
        counted = _number(reply.fixed.get("renewed_count", "")) + _number(reply.fixed.get("unrenewed_count", ""))
        if counted > len(listed) and any(ref.item_barcode not in listed for ref in loans):
            raise OutcomeUnknown(f"the SIP2 server's answer to a 65 counted {counted} items but listed "
                                 f"{len(listed)}: which were renewed is not known.")
        if not listed and reply.fixed.get("ok") != "1":
            return [RenewalDecision(ref.loan_id, False, None, refusal_reason(" ".join(messages))) for ref in loans]
        said = refusal_reason(messages[0]) if len(unrenewed) == 1 and len(messages) == 1 else "not_renewable"
        decisions = []
        for ref in loans:
            if ref.item_barcode in renewed:
                info = self.item_information(ref.item_barcode)  # 66 carries no due dates
                decisions.append(RenewalDecision(ref.loan_id, True, parse_due(info.get("AH")), ""))
            elif ref.item_barcode in unrenewed:
                decisions.append(RenewalDecision(ref.loan_id, False, None, said) if said != "not_renewable"
                                 else self._renew_one(primary_id, ref))
            else:
                decisions.append(RenewalDecision(ref.loan_id, False, None, "unknown_loan"))
        return decisions

    # ---- checkout (11) and checkin (09) -------------------------------------------------------
    def checkout(self, primary_id: str, item_barcode: str, today: dt.date, key: str) -> CheckoutDecision:
        """Checkout (11): SC renewal policy N (renewing is the renew screen's), no block N (we are online), nb due
        date now (strict servers want a date, not blanks), fee acknowledged N, cancel N. The 12: ok 1 is a loan
        due on AH; ok 0 a refusal whose reason comes from AF (``checkout_refusal``), the message kept for staff.
        Desensitize (Y/N/U) is reported for the kiosk to honour. A write: a lost answer raises ``OutcomeUnknown``
        (nothing sent again; ``key`` has no place in SIP2)."""
        now = sip_date()
        reply = self._send("11NN" + now + now + self._fields(
            ("AO", self.institution), ("AA", primary_id), ("AB", item_barcode),
            ("AC", self.settings.get("sip2_terminal_password", "")), ("BO", "N"), ("BI", "N")), write=True)
        said = " ".join(text for text in reply.all("AF") + reply.all("AG") if text.strip())
        title = reply.get("AJ")
        if reply.fixed.get("ok") == "1":
            return CheckoutDecision(item_barcode, True, parse_due(reply.get("AH")), "", title,
                                    desensitize=_flag(reply.fixed.get("desensitize", "")), upstream_message=said)
        return CheckoutDecision(item_barcode, False, None, checkout_refusal(" ".join(reply.all("AF"))), title,
                                desensitize=False, upstream_message=said)

    def checkin(self, item_barcode: str, today: dt.date, key: str, library: str = "") -> CheckinOutcome:
        """Checkin (09): no block N, return date now, current location (AP) the kiosk's library or
        ``sip2_location_code``, cancel N. The 10: ok 1 is returned, routed by its alert (``checkin_route``), with a
        late fee from BV; ok 0 is refused (AF kept for staff). Resensitize is reported for the kiosk to honour."""
        now = sip_date()
        reply = self._send("09N" + now + now + self._fields(
            ("AP", library or self.settings.get("sip2_location_code", "")), ("AO", self.institution),
            ("AB", item_barcode), ("AC", self.settings.get("sip2_terminal_password", "")), ("BI", "N")), write=True)
        said = " ".join(text for text in reply.all("AF") + reply.all("AG") if text.strip())
        resensitize = _flag(reply.fixed.get("resensitize", ""))
        if reply.fixed.get("ok") != "1":
            reason = "unknown_item" if checkout_refusal(said) == "unknown_item" else "upstream_refused"
            return CheckinOutcome(item_barcode, False, "desk", None, reason, reply.get("AJ"),
                                  resensitize=resensitize, upstream_message=said)
        return CheckinOutcome(item_barcode, True, checkin_route(reply, self.institution), late_fee(reply), "",
                              reply.get("AJ"),
                              resensitize=resensitize, upstream_message=said)

    def item_on_loan(self, item_barcode: str, today: dt.date) -> bool | None:
        """The read-back after a return whose answer was lost: item information (17). On loan: a circulation
        status in ``ON_LOAN_STATUSES``, or 01 (other) with a due date. None when the server does not know the item
        (no title, and no status but 01 or none)."""
        info = self.item_information(item_barcode)
        status = info.fixed.get("circulation_status", "")
        if status in ON_LOAN_STATUSES:
            return True
        if status == "01" and info.get("AH").strip():
            return True
        if not info.get("AJ").strip() and status in ("", "01"):
            return None
        return False

    # ---- kiosk upstream check ---------------------------------------------------------------
    def check(self, identifier: str = "", pin: str = "", today: dt.date | None = None) -> list[tuple[str, bool, str]]:
        """The status (99/98) and the institution id (AO) rows around the common steps (``Upstream.check``)."""
        try:
            supported = self.supported()
        except UpstreamError as exc:  # reported, not raised
            return [("status (99)", False, f"{exc.code}: {exc.message}"), *super().check(identifier, pin, today),
                    ("institution id (AO)", False, "not checked: the status message failed")]
        rows = [("status (99)", supported.get("online", False),
                 "supports " + ", ".join(k for k, v in supported.items() if v and k != "online"))]
        rows += super().check(identifier, pin, today)
        return rows + [self._institution_row(identifier)]

    def _institution_row(self, identifier: str) -> tuple[str, bool, str]:
        """Whether the server's answers carry the AO we send (``[upstream] sip2_institution_id``): the status
        answer's (98) and, with a test patron, a patron information answer's (64). The specification requires
        AO in both; a server that answers another institution is configured for another one."""
        step, configured = "institution id (AO)", self.institution
        answers = [("98", self.status_institution)]
        if identifier:
            try:
                answers.append(("64", self.patron_information(identifier).all("AO")))
            except UpstreamError as exc:
                return step, False, f"patron information (63) failed: {exc.code}: {exc.message}"
        missing = [command for command, values in answers if not values]
        other = sorted({value for _command, values in answers for value in values if value != configured})
        if other:
            where = ", ".join(command for command, values in answers if any(v != configured for v in values))
            advice = (f'set [upstream] sip2_institution_id = "{other[0]}"' if len(other) == 1
                      else "set [upstream] sip2_institution_id to the institution the server serves")
            return step, False, (f"the server answers with institution id {' and '.join(map(repr, other))} "
                                 f"({where}), not {configured!r} as configured: {advice}")
        if missing:
            return step, False, (f"the server's answer ({', '.join(missing)}) carries no institution id (AO), "
                                 f"which SIP2 requires; expected {configured!r}")
        return step, True, f"{configured!r}, as the server answers"

    def close(self) -> None:
        self.pool.close()
