"""The upstream library system the central store sits in front of.

One documented base class every back end implements (``local``: the central
store itself; ``alma``: Ex Libris Alma's REST Users API; ``sip2``: any library
system speaking SIP2 2.00). The back end is picked by ``[upstream] kind`` and
imported lazily (``library_kiosk.central.upstream.from_config``), as readers are picked in hardware/.

Everything an upstream answers is in our own terms: a ``domain.account.Account``
for the account, ``domain.renewal.RenewalDecision`` with our plain-language
reason codes for renewals, ``domain.checkout.CheckoutDecision`` / ``CheckinOutcome`` for borrowing and giving back
an item. A back end raises ``UpstreamUnavailable`` when the
library system cannot be reached (or must not be spent: Alma's daily quota), so
the central store can serve from its cache and queue renewals instead.
"""
from __future__ import annotations

import abc
import datetime as dt
import threading
from dataclasses import asdict, dataclass, field

from library_kiosk.domain import clock
from library_kiosk.domain.account import Account
from library_kiosk.domain.checkout import CheckinOutcome, CheckoutDecision
from library_kiosk.domain.renewal import RenewalDecision


class UpstreamError(Exception):
    """The library system refused or failed; ``code`` is ours, ``message`` is plain language."""

    def __init__(self, code: str, message: str, upstream_code: str = ""):
        super().__init__(message)
        self.code, self.message, self.upstream_code = code, message, upstream_code


class UpstreamUnavailable(UpstreamError):
    """The library system cannot be reached now (down, timing out, or its quota is spent)."""

    def __init__(self, message: str = "The library system cannot be reached.", upstream_code: str = ""):
        super().__init__("upstream_unavailable", message, upstream_code)


class OutcomeUnknown(UpstreamError):
    """A write (a renewal) was sent and its answer was lost or garbled: the library system may or may not have
    done it. Never sent again blindly: the caller reads the library system back to find out
    (``upstream/cache.py`` ``reconcile``). Not an ``UpstreamUnavailable``, so nothing treats it as "not sent"."""

    def __init__(self, message: str = "The library system's answer was lost.", upstream_code: str = ""):
        super().__init__("outcome_unknown", message, upstream_code)


class PatronNotFound(UpstreamError):
    def __init__(self, message: str = "No patron holds this identifier.", upstream_code: str = ""):
        super().__init__("identifier_not_found", message, upstream_code)


@dataclass(frozen=True)
class Capabilities:
    """What the upstream supports; the kiosk hides what is False (e.g. the renew-all button)."""

    kind: str
    renew: bool = True
    renew_all: bool = True
    requests: bool = True
    fees: bool = True
    pin_check: bool = True
    item_info: bool = False
    fee_paid: bool = False
    write_users: bool = False
    checkout: bool = False  # borrowing an item at the kiosk goes through this upstream (``Upstream.checkout``)
    checkin: bool = False   # and giving one back (``Upstream.checkin``)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PatronRef:
    primary_id: str
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True)
class LoanRef:
    """A loan to renew: our loan id (what decisions are keyed by), the item barcode and,
    where the upstream has one, its own loan id."""

    loan_id: int
    item_barcode: str
    upstream_id: str = ""


@dataclass(frozen=True)
class Fetched:
    """An account read from the upstream, with the patron's identifiers as (id_type, value) pairs
    and, per loan id in the account, the upstream's own loan id where it has one."""

    account: Account
    identifiers: tuple[tuple[str, str], ...] = ()
    upstream_loan_ids: dict = field(default_factory=dict)


class Upstream(abc.ABC):
    """The interface every back end implements. Methods may raise ``UpstreamUnavailable``
    (cannot reach) or ``UpstreamError`` (refused); ``calls`` counts requests sent upstream."""

    kind = "abstract"

    def __init__(self, settings: dict | None = None):
        self.settings = dict(settings or {})
        self.calls = 0
        self._calls_lock = threading.Lock()

    def _count(self, n: int = 1) -> None:
        with self._calls_lock:
            self.calls += n

    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What this upstream supports."""

    @abc.abstractmethod
    def fetch(self, identifier: str, today: dt.date) -> Fetched | None:
        """The account of the patron holding ``identifier`` (barcode, card serial number,
        other ID or primary id) with the identifiers the upstream knows, or None."""

    def find_patron(self, identifier: str, today: dt.date | None = None) -> PatronRef | None:
        """The patron holding ``identifier``, or None."""
        found = self.fetch(identifier, today or clock.today())
        if found is None:
            return None
        return PatronRef(found.account.primary_id, found.account.first_name, found.account.last_name)

    def account(self, primary_id: str, today: dt.date) -> Account:
        """The patron's whole account: loans, requests, fees, blocks. Raises PatronNotFound."""
        found = self.fetch(primary_id, today)
        if found is None:
            raise PatronNotFound(f"No patron has the primary id {primary_id!r}.")
        return found.account

    def account_by_identifier(self, identifier: str, today: dt.date) -> Account | None:
        found = self.fetch(identifier, today)
        return None if found is None else found.account

    @abc.abstractmethod
    def verify_pin(self, primary_id: str, pin: str) -> bool:
        """True when ``pin`` (or password) is the patron's; never raises for a wrong PIN."""

    def verify_password(self, primary_id: str, password: str) -> bool:
        """True when ``password`` is the patron's password (kiosk sign-in without a card). The upstream's
        own check takes it as it takes a PIN: Alma's ``op=auth`` checks the user's password, SIP2's AD is
        the patron password; never raises for a wrong password."""
        return self.verify_pin(primary_id, password)

    @abc.abstractmethod
    def renew(self, primary_id: str, loans: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
        """Renew each loan; one decision per loan, keyed by ``LoanRef.loan_id``."""

    def renew_all(self, primary_id: str, loans: list[LoanRef], today: dt.date) -> list[RenewalDecision]:
        """Renew every open loan (back ends with a renew-all message override this)."""
        return self.renew(primary_id, loans, today)

    @abc.abstractmethod
    def checkout(self, primary_id: str, item_barcode: str, today: dt.date, key: str) -> CheckoutDecision:
        """Lend the item to the patron; the library system decides (a refusal is a decision with our reason, never
        an exception). ``key`` is the kiosk's idempotency key for this loan: kept with anything left to check.
        A lost or garbled answer raises ``OutcomeUnknown`` and is never sent again blindly: the caller reads back
        whether the item is on the patron's loans (``upstream/cache.py`` ``checkout_through``)."""

    @abc.abstractmethod
    def checkin(self, item_barcode: str, today: dt.date, key: str, library: str = "") -> CheckinOutcome:
        """Take the item back (``library``: where it was returned, when the kiosk says), with where it goes next
        (shelf, hold shelf, transit, desk) and any late fee. A lost answer raises ``OutcomeUnknown``: the caller
        reads back whether the item is still on loan (``item_on_loan``; ``upstream/cache.py`` ``checkin_through``)."""

    def item_on_loan(self, item_barcode: str, today: dt.date) -> bool | None:
        """Whether the library system has the item on loan now (None: it does not know the item): the read-back
        after a return whose answer was lost. Back ends whose writes can lose their answer override this; the
        central store itself (``local``) never loses one."""
        raise UpstreamError("not_supported", "This library system cannot say whether an item is on loan.")

    def end_visit(self, primary_id: str) -> None:
        """The patron has left the kiosk (SIP2: end patron session, 35). A courtesy to the library system:
        never raises."""

    def check(self, identifier: str = "", pin: str = "", today: dt.date | None = None) -> list[tuple[str, bool, str]]:
        """Try the upstream step by step for ``kiosk upstream check``: (step, ok, detail) rows."""
        today = today or clock.today()
        rows = [("capabilities", True, ", ".join(k for k, v in self.capabilities().to_dict().items()
                                                 if v is True) or "none")]
        if not identifier:
            return rows + [("test patron", False, "no test patron given ([upstream] test_patron)")]
        try:
            account = self.account_by_identifier(identifier, today)
        except UpstreamError as exc:
            return rows + [("patron lookup", False, f"{exc.code}: {exc.message}")]
        if account is None:
            return rows + [("patron lookup", False, "the test patron was not found")]
        rows.append(("patron lookup", True, account.primary_id))
        rows.append(("account", True, f"{len(account.loans)} loans, {len(account.requests)} requests, "
                                      f"{len(account.fees)} fees, {len(account.blocks)} blocks"))
        if pin:
            try:
                rows.append(("pin check", self.verify_pin(account.primary_id, pin), ""))
            except UpstreamError as exc:
                rows.append(("pin check", False, f"{exc.code}: {exc.message}"))
        return rows

    def close(self) -> None:
        """Release connections."""


BACKENDS = {
    "local": "library_kiosk.central.upstream.local:LocalUpstream",
    "alma": "library_kiosk.central.upstream.alma.backend:AlmaUpstream",
    "sip2": "library_kiosk.central.upstream.sip2.backend:Sip2Upstream",
}


def load_backend(kind: str):
    import importlib

    if kind not in BACKENDS:
        raise ValueError(f"unknown upstream kind {kind!r}: choose one of {', '.join(BACKENDS)}")
    module, _, name = BACKENDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)
