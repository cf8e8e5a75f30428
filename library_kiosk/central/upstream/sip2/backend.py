"""``sip2``: any library system speaking SIP2 2.00 as the upstream.

A visit: patron information (63) asking for the charged items (and, only when
the counts say there are some, the hold and fine items), item information (17)
for each loan's title and due date, renew all (65, or 29 one by one when the
status message's supported-messages field says 65 is not there), end session (35).
The 14 patron-status flags become blocks with plain-language reasons.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal, InvalidOperation

from library_kiosk.central.upstream.base import Capabilities, Fetched, LoanRef, Upstream
from library_kiosk.central.upstream.sip2.client import SUPPORTED, pool_for, sip_date
from library_kiosk.domain.account import Account, Block, Fee, GroupPolicy, Loan, Request
from library_kiosk.domain.renewal import RenewalDecision

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

    @property
    def calls(self) -> int:
        return self.pool.sent

    @calls.setter
    def calls(self, value) -> None:
        pass

    def _fields(self, *pairs) -> str:
        return "".join(f"{field_id}{value}|" for field_id, value in pairs if value is not None)

    def _send(self, message: str):
        return self.pool.exchange(message)

    # ---- status (99) -------------------------------------------------------------------
    def supported(self) -> dict[str, bool]:
        if self._supported is None:
            reply = self._send("9900802.00")
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
                            item_info=s.get("item_information", False), fee_paid=s.get("fee_paid", False))

    def _use_renew_all(self) -> bool:
        choice = str(self.settings.get("sip2_renew_all", "auto")).lower()
        if choice in ("yes", "true", "1"):
            return True
        if choice in ("no", "false", "0"):
            return False
        return self.supported().get("renew_all", False)

    # ---- patron (63, 23) and items (17) -----------------------------------------------------
    def patron_information(self, identifier: str, summary_position: int | None = None, pin: str | None = None):
        summary = [" "] * 10
        if summary_position is not None:
            summary[summary_position] = "Y"
        return self._send("63001" + sip_date() + "".join(summary) + self._fields(
            ("AO", self.institution), ("AA", identifier), ("AC", self.settings.get("sip2_terminal_password", "")),
            ("AD", pin)))

    def patron_status(self, identifier: str, pin: str | None = None):
        return self._send("23001" + sip_date() + self._fields(
            ("AO", self.institution), ("AA", identifier), ("AC", self.settings.get("sip2_terminal_password", "")),
            ("AD", pin if pin is not None else "")))

    def item_information(self, item: str):
        return self._send("17" + sip_date() + self._fields(
            ("AO", self.institution), ("AB", item), ("AC", self.settings.get("sip2_terminal_password", ""))))

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

    def fetch(self, identifier: str, today: dt.date) -> Fetched | None:
        charged = self.patron_information(identifier, summary_position=2)
        if charged.get("BL", "Y") == "N":
            return None
        counts = charged.fixed
        holds, fines = [], []
        if _number(counts["hold_count"]) or _number(counts["unavailable_hold_count"]):
            reply = self.patron_information(identifier, summary_position=0)
            holds = [(item, "ON_HOLD_SHELF") for item in reply.all("AS")]
            if _number(counts["unavailable_hold_count"]):
                reply = self.patron_information(identifier, summary_position=5)
                holds += [(item, "NOT_STARTED") for item in reply.all("CD")]
        if _number(counts["fine_count"]):
            fines = self.patron_information(identifier, summary_position=3).all("AV")
        overdue = set(charged.all("AT"))
        loans = []
        for item in dict.fromkeys(charged.all("AU") + list(overdue)):
            info = self.item_information(item)
            due = parse_due(info.get("AH")) or today
            loans.append(Loan(loan_id=_stable_id(identifier, item), item_barcode=item,
                              title=info.get("AJ") or item, author="", call_number=info.get("AQ"),
                              loan_date=min(due, today), due_date=due,
                              status="LOST" if info.fixed.get("circulation_status") == "12" else "ON_LOAN",
                              requested_by_other=_number(info.get("CF")) > 0))
        first, last = split_name(charged.get("AE"))
        fees = tuple(Fee(fee_id=_stable_id(identifier, "fee", text), fee_type="OTHER", original_amount=amount,
                         balance=amount, title=text[:300])
                     for text in fines for amount in [_money(text.split()[0] if text.split() else "")])
        if not fees and _money(charged.get("BV")) > 0:
            amount = _money(charged.get("BV"))
            fees = (Fee(_stable_id(identifier, "fees"), "OTHER", amount, amount, title="Outstanding fees"),)
        account = Account(
            primary_id=charged.get("AA") or identifier, first_name=first, last_name=last,
            policy=GroupPolicy(code="SIP2", description="Library system patron"), expiry_date=None,
            preferred_email=charged.get("BE"),
            blocks=flags_to_blocks(charged.fixed["patron_status"]),
            loans=tuple(loans),
            requests=tuple(Request(request_id=_stable_id(identifier, "hold", item), request_type="HOLD", title=item,
                                   author="", status=status, pickup_location="", place_in_queue=None,
                                   request_date=today) for item, status in holds),
            fees=fees,
        )
        return Fetched(account, (("BARCODE", account.primary_id),), {})

    def verify_pin(self, primary_id: str, pin: str) -> bool:
        if not pin:
            return False
        reply = self.patron_information(primary_id, pin=pin)
        return reply.get("BL") == "Y" and reply.get("CQ") == "Y"

    # ---- renewals (29, 65) ---------------------------------------------------------------
    def _renew_one(self, primary_id: str, ref: LoanRef) -> RenewalDecision:
        now = sip_date()  # strict servers want a date in "nb due date" too, not blanks
        reply = self._send("29NN" + now + now + self._fields(
            ("AO", self.institution), ("AA", primary_id), ("AB", ref.item_barcode),
            ("AC", self.settings.get("sip2_terminal_password", ""))))
        if reply.fixed.get("ok") == "1":
            return RenewalDecision(ref.loan_id, True, parse_due(reply.get("AH")), "")
        return RenewalDecision(ref.loan_id, False, None, refusal_reason(" ".join(reply.all("AF"))))

    def renew(self, primary_id: str, loans: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
        return [self._renew_one(primary_id, ref) for ref in loans]

    def renew_all(self, primary_id: str, loans: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
        if not self._use_renew_all():
            return self.renew(primary_id, loans, today)
        reply = self._send("65" + sip_date() + self._fields(
            ("AO", self.institution), ("AA", primary_id), ("AC", self.settings.get("sip2_terminal_password", ""))))
        renewed, message = set(reply.all("BM")), " ".join(reply.all("AF"))
        decisions = []
        for ref in loans:
            if ref.item_barcode in renewed:
                info = self.item_information(ref.item_barcode)  # 66 carries no due dates
                decisions.append(RenewalDecision(ref.loan_id, True, parse_due(info.get("AH")), ""))
            else:
                decisions.append(RenewalDecision(ref.loan_id, False, None, refusal_reason(message)))
        return decisions

    def close(self) -> None:
        self.pool.close()
