"""SIP2 servers nobody on this team wrote, run with small test libraries behind them.

``PysipILS``: pysip2's AnyIO ACS server (strict framing, optional required error
detection) in a thread through an AnyIO blocking portal. ``FaultyProxy``: a TCP
relay between our client and a server that can corrupt a checksum or drop every
connection, to test recovery.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import threading
from dataclasses import dataclass, field
from decimal import Decimal

LIBRARY_PATRONS = {
    "21000000001": {"name": "Ólafsdóttir, Zoë", "pin": "2468", "status": " " * 14,
                    "charged": ["39000000001", "39000000002"], "overdue": ["39000000002"],
                    "holds": ["39000000009"], "unavailable": [], "fines": ["2.50 Overdue: Ulysses"],
                    "email": "zoe@example.org"},
    "21000000002": {"name": "Núñez, José", "pin": "1357", "status": " Y" + " " * 12,  # renewal privileges denied
                    "charged": ["39000000003"], "overdue": [], "holds": [], "unavailable": [], "fines": [],
                    "email": ""},
    # every list of a 64 (tests/upstream/test_sip2_fields.py): an overdue item listed under AT only, a recalled
    # loan (BU), every hold under AS with the unavailable one under CD too, fines that state their amounts
    "21000000003": {"name": "Austen, Jane", "pin": "1111", "status": " " * 14,
                    "charged": ["39000000010"], "overdue": ["39000000011"], "recalls": ["39000000010"],
                    "holds": ["39000000012", "39000000013"], "unavailable": ["39000000013"],
                    "fines": ["1.00 Overdue: Emma", "0.50 Damaged: Walden"], "fee_amount": "1.50",
                    "email": "jane@example.org"},
    # fine items that state no amount: BV is the total
    "21000000004": {"name": "Joyce, James", "pin": "2222", "status": " " * 14,
                    "charged": [], "overdue": [], "holds": [], "unavailable": [],
                    "fines": ["Overdue: Emma", "39000000011 damaged"], "fee_amount": "4.00", "email": ""},
}
LIBRARY_ITEMS = {
    "39000000001": {"title": "Middlemarch", "due": "20261128    235900", "holds": 0},
    "39000000002": {"title": "Ulysses", "due": "20261120    235900", "holds": 1},
    "39000000003": {"title": "Beloved", "due": "20261201    235900", "holds": 0},
    "39000000009": {"title": "Jazz", "due": "", "holds": 0},
    "39000000010": {"title": "Walden", "due": "20261210    235900", "holds": 0},
    "39000000011": {"title": "Emma", "due": "20261101    235900", "holds": 0},
    "39000000012": {"title": "Persuasion", "due": "", "holds": 0},
    "39000000013": {"title": "Dubliners", "due": "20261215    235900", "holds": 0},
    # borrowing and returning (tests/upstream/test_sip2_checkout.py): on the shelf; for use in the library only;
    # waiting for another patron; on loan to a patron, with a hold for another patron of this library or of
    # another; belonging to another library
    "39000000020": {"title": "Mrs Dalloway", "due": "", "holds": 0},
    "39000000021": {"title": "Oxford English Dictionary", "due": "", "holds": 0, "loanable": False},
    "39000000022": {"title": "Orlando", "due": "", "holds": 1, "hold_for": "21000000003"},
    "39000000023": {"title": "The Waves", "due": "20261210    235900", "holds": 1, "hold_for": "21000000003",
                    "on_loan_to": "21000000004"},
    "39000000024": {"title": "To the Lighthouse", "due": "20261210    235900", "holds": 1,
                    "hold_for": "21000000003", "hold_at": "BRANCH", "on_loan_to": "21000000004"},
    "39000000025": {"title": "Jacob's Room", "due": "20261210    235900", "holds": 0, "home": "BRANCH",
                    "on_loan_to": "21000000004"},
}
LATE_FEE_PER_DAY = Decimal("0.10")


@dataclass
class Library:
    """The state behind a test ILS; ``received`` keeps the command of every request."""

    patrons: dict = field(default_factory=lambda: {k: dict(v) for k, v in LIBRARY_PATRONS.items()})
    items: dict = field(default_factory=lambda: {k: dict(v) for k, v in LIBRARY_ITEMS.items()})
    received: list = field(default_factory=list)
    checkin_locations: list = field(default_factory=list)  # the current location (AP) of each checkin
    # at most this many items of a list in one 64, as some library systems cap them; the rest is asked for with
    # start item (BP) and end item (BQ), unless ``reads_range`` is off (a server that ignores them)
    part_size: int | None = None
    ranges: list = field(default_factory=list)  # the start and end item (BP, BQ) of each 63, None when absent
    reads_range: bool = True

    def part(self, items, start: str | None, end: str | None) -> tuple:
        """The items of one list a 64 carries: those from ``start`` to ``end`` (numbered from 1), capped."""
        items = list(items)
        if self.reads_range:
            items = items[int(start or 1) - 1:int(end) if end else None]
        return tuple(items[:self.part_size] if self.part_size else items)

    def renew(self, patron: str, item: str) -> tuple[bool, str]:
        p = self.patrons.get(patron)
        if p is None or item not in p["charged"]:
            return False, "Item not checked out to you"
        if p["status"][1] == "Y":
            return False, "Renewal privileges denied"
        if self.items[item]["holds"]:
            return False, "Item has holds and cannot be renewed"
        self.items[item]["due"] = "20261216    235900"
        return True, "Renewed"

    def holder(self, item: str) -> str | None:
        """The patron who has the item on loan (a charged item of a patron, or ``on_loan_to``)."""
        found = self.items.get(item, {})
        return found.get("on_loan_to") or next((pid for pid, p in self.patrons.items() if item in p["charged"]), None)

    def checkout(self, patron: str, item: str) -> tuple[bool, str]:
        """Lend ``item`` to ``patron`` for 21 days, the test library's rules: (ok, screen message)."""
        p, found = self.patrons.get(patron), self.items.get(item)
        if p is None:
            return False, "Invalid patron"
        if found is None:
            return False, "Item not found"
        if p["status"][0] == "Y":
            return False, "Patron is blocked from borrowing"
        holder = self.holder(item)
        if holder == patron:
            return False, "Item already checked out to you"
        if holder is not None:
            return False, "Item is checked out to another patron"
        if found.get("loanable") is False:
            return False, "Not for loan: library use only"
        if found.get("hold_for") not in (None, patron):
            return False, "Item is on hold for another patron"
        found.update(due="20261216    235900", on_loan_to=patron, hold_for=None, holds=0)
        p["charged"] = [*p["charged"], item]
        return True, "Checked out"

    def checkin(self, item: str, returned: str) -> dict:
        """Take ``item`` back on ``returned`` (the 09's return date): ok, where it goes (alert type), the late
        fee (``LATE_FEE_PER_DAY`` per day past its due date)."""
        found = self.items.get(item)
        if found is None:
            return {"ok": False, "message": "Item not found"}
        holder = self.holder(item)
        if holder is None:
            return {"ok": False, "message": "Item not checked out"}
        due = dt.datetime.strptime(found["due"][:8], "%Y%m%d").date() if found["due"].strip() else None
        late = (dt.datetime.strptime(returned[:8], "%Y%m%d").date() - due).days if due else 0
        found.update(due="", on_loan_to=None)
        for p in self.patrons.values():
            p["charged"] = [i for i in p["charged"] if i != item]
            p["overdue"] = [i for i in p["overdue"] if i != item]
        answer = {"ok": True, "message": "Checked in", "fee": LATE_FEE_PER_DAY * late if late > 0 else None,
                  "holder": holder}
        if found.get("hold_for"):
            other_library = found.get("hold_at", "MAIN") != "MAIN"
            hold_patron = self.patrons[found["hold_for"]]
            answer.update(alert_type="02" if other_library else "01", hold_patron=found["hold_for"],
                          hold_name=hold_patron["name"], destination=found.get("hold_at", "MAIN"))
        elif found.get("home", "MAIN") != "MAIN":
            answer.update(alert_type="04", destination=found["home"])
        return answer


def pysip2_app(library: Library, renew_all: bool = True, error_detection: str = "auto", encoding: str = "utf-8",
               idle_timeout: float | None = None, login: tuple[str, str] | None = ("kiosk", "s3cret")):
    from pysip2 import (
        END_PATRON_SESSION,
        ITEM_INFORMATION,
        LOGIN,
        PATRON_INFORMATION,
        PATRON_STATUS,
        RENEW,
        RENEW_ALL,
        EndSessionResponse,
        ItemInformationResponse,
        LoginResponse,
        PatronInformationResponse,
        PatronStatusResponse,
        RenewAllResponse,
        RenewResponse,
        SIP2Server,
    )

    app = SIP2Server(institution_id="MAIN", error_detection=error_detection, encoding=encoding,
                     idle_timeout=idle_timeout, login_required=login is not None)

    @app.route(LOGIN)
    async def _login(req, ctx):
        library.received.append("93")
        return LoginResponse(ok="1" if (req.login_user_id, req.login_password) == login else "0")

    @app.route(PATRON_STATUS)
    async def _status(req, ctx):
        library.received.append("23")
        p = library.patrons.get(req.patron_identifier)
        return PatronStatusResponse(
            patron_status=(p or {}).get("status", "Y" * 14), language="001", transaction_date=ctx.now_18(),
            institution_id="MAIN", patron_identifier=req.patron_identifier,
            personal_name=p["name"] if p else "", valid_patron="Y" if p else "N",
            valid_patron_password="Y" if p and req.patron_password == p["pin"] else "N")

    @app.route(PATRON_INFORMATION)
    async def _info(req, ctx):
        library.received.append("63")
        p = library.patrons.get(req.patron_identifier)
        if p is None:
            return PatronInformationResponse(
                patron_status="Y" * 14, language="001", transaction_date=ctx.now_18(), hold_items_count="0000",
                overdue_items_count="0000", charged_items_count="0000", fine_items_count="0000",
                recall_items_count="0000", unavailable_holds_count="0000", institution_id="MAIN",
                patron_identifier=req.patron_identifier, personal_name="", valid_patron="N")
        summary = req.summary
        wanted = lambda n: summary[n] == "Y"  # noqa: E731
        library.ranges.append((req.start_item, req.end_item))
        part = lambda items: library.part(items, req.start_item, req.end_item)  # noqa: E731
        return PatronInformationResponse(
            patron_status=p["status"], language="001", transaction_date=ctx.now_18(),
            hold_items_count=f"{len(p['holds']):04d}", overdue_items_count=f"{len(p['overdue']):04d}",
            charged_items_count=f"{len(p['charged']):04d}", fine_items_count=f"{len(p['fines']):04d}",
            recall_items_count=f"{len(p.get('recalls', [])):04d}",
            unavailable_holds_count=f"{len(p['unavailable']):04d}",
            institution_id="MAIN", patron_identifier=req.patron_identifier, personal_name=p["name"],
            valid_patron="Y", valid_patron_password="Y" if req.patron_password == p["pin"] else "N",
            currency_type="GBP", fee_amount=p.get("fee_amount", "2.50" if p["fines"] else "0.00"),
            hold_items=part(p["holds"]) if wanted(0) else (), overdue_items=part(p["overdue"]) if wanted(1) else (),
            charged_items=part(p["charged"]) if wanted(2) else (), fine_items=part(p["fines"]) if wanted(3) else (),
            recall_items=part(p.get("recalls", ())) if wanted(4) else (),
            unavailable_hold_items=part(p["unavailable"]) if wanted(5) else (),
            email_address=p["email"] or None)

    @app.route(ITEM_INFORMATION)
    async def _item(req, ctx):
        library.received.append("17")
        item = library.items.get(req.item_identifier)
        return ItemInformationResponse(
            circulation_status="04" if item and item["due"] else "03", security_marker="00", fee_type="01",
            transaction_date=ctx.now_18(), item_identifier=req.item_identifier,
            title_identifier=item["title"] if item else "", due_date=item["due"] if item else None,
            hold_queue_length=str(item["holds"]) if item else None)

    @app.route(RENEW)
    async def _renew(req, ctx):
        library.received.append("29")
        ok, message = library.renew(req.patron_identifier, req.item_identifier or "")
        item = library.items.get(req.item_identifier or "", {"title": "", "due": ""})
        return RenewResponse(ok="1" if ok else "0", renewal_ok="Y" if ok else "N", magnetic_media="N",
                             desensitize="N", transaction_date=ctx.now_18(), institution_id="MAIN",
                             patron_identifier=req.patron_identifier, item_identifier=req.item_identifier or "",
                             title_identifier=item["title"], due_date=item["due"], screen_message=(message,))

    if renew_all:
        @app.route(RENEW_ALL)
        async def _renew_all(req, ctx):
            library.received.append("65")
            p = library.patrons.get(req.patron_identifier, {"charged": []})
            done, not_done, messages = [], [], []
            for item in p["charged"]:
                ok, message = library.renew(req.patron_identifier, item)
                (done if ok else not_done).append(item)
                if not ok:
                    messages.append(message)
            return RenewAllResponse(ok="1", renewed_count=f"{len(done):04d}", unrenewed_count=f"{len(not_done):04d}",
                                    transaction_date=ctx.now_18(), institution_id="MAIN",
                                    renewed_items=tuple(done), unrenewed_items=tuple(not_done),
                                    screen_message=tuple(dict.fromkeys(messages)))

    @app.route(END_PATRON_SESSION)
    async def _end(req, ctx):
        library.received.append("35")
        return EndSessionResponse(end_session="Y", transaction_date=ctx.now_18(), institution_id="MAIN",
                                  patron_identifier=req.patron_identifier)

    _circulation_routes(app, library)
    return app


def _checkin_response_with_3m_extensions():
    """pysip2 implements SIP2 2.00 as written, whose checkin response (10) has no alert type: the fields libraries'
    servers send for it (CV alert type, CT destination, CY hold patron id, DA hold patron name, and BV/BT for a
    fee) come from the 3M extensions that Koha, Evergreen and others follow. A response model with them, laid
    out by pysip2's own codec: the 2.00 fields as pysip2 defines them, then these, before AF/AG."""
    from pysip2 import CheckinResponse, models

    class CheckinResponse3M(CheckinResponse, frozen=True, kw_only=True):
        alert_type: str | None = None  # CV
        destination_institution: str | None = None  # CT
        hold_patron_id: str | None = None  # CY
        hold_patron_name: str | None = None  # DA
        fee_type: str | None = None  # BT
        fee_amount: str | None = None  # BV

    if CheckinResponse3M not in models.MESSAGE_SPECS_BY_TYPE:
        base = models.MESSAGE_SPECS_BY_TYPE[CheckinResponse]
        head = [f for f in base.fields if f.field_id not in ("AF", "AG")]
        tail = [f for f in base.fields if f.field_id in ("AF", "AG")]
        extra = [models.ident("alert_type", "CV"), models.ident("destination_institution", "CT"),
                 models.ident("hold_patron_id", "CY"), models.ident("hold_patron_name", "DA"),
                 models.ident("fee_type", "BT"), models.ident("fee_amount", "BV")]
        models.MESSAGE_SPECS_BY_TYPE[CheckinResponse3M] = models.MessageSpec("10", CheckinResponse3M,
                                                                             tuple(head + extra + tail))
    return CheckinResponse3M


def _circulation_routes(app, library: Library) -> None:
    """Checkout (11) and checkin (09) over the test library, as the 63/29 routes above: pysip2 routes them to a
    refusal unless the application registers handlers (its fallback answers ok 0)."""
    from pysip2 import CHECKIN, CHECKOUT, CheckoutResponse

    checkin_response = _checkin_response_with_3m_extensions()

    @app.route(CHECKOUT)
    async def _checkout(req, ctx):
        library.received.append("11")
        ok, message = library.checkout(req.patron_identifier, req.item_identifier)
        item = library.items.get(req.item_identifier, {"title": "", "due": ""})
        return CheckoutResponse(ok="1" if ok else "0", renewal_ok="N", magnetic_media="N",
                                desensitize="Y" if ok else "N", transaction_date=ctx.now_18(), institution_id="MAIN",
                                patron_identifier=req.patron_identifier, item_identifier=req.item_identifier,
                                title_identifier=item["title"], due_date=item["due"] if ok else "",
                                screen_message=(message,))

    @app.route(CHECKIN)
    async def _checkin(req, ctx):
        library.received.append("09")
        library.checkin_locations.append(req.current_location)
        answer = library.checkin(req.item_identifier, req.return_date)
        item = library.items.get(req.item_identifier, {"title": ""})
        fee = answer.get("fee")
        return checkin_response(
            ok="1" if answer["ok"] else "0", resensitize="Y" if answer["ok"] else "N", magnetic_media="N",
            alert="Y" if answer.get("alert_type") else "N", transaction_date=ctx.now_18(), institution_id="MAIN",
            item_identifier=req.item_identifier, permanent_location="Main Library", title_identifier=item["title"],
            patron_identifier=answer.get("holder"), alert_type=answer.get("alert_type"),
            destination_institution=answer.get("destination"), hold_patron_id=answer.get("hold_patron"),
            hold_patron_name=answer.get("hold_name"), fee_type="01" if fee else None,
            fee_amount=f"{fee:.2f}" if fee else None, screen_message=(answer["message"],))


class PysipILS:
    """pysip2's server on a free loopback port, in its own thread (an AnyIO blocking portal).

    The listener is made with ``app.listen`` and closed here: pysip2's own ``start`` leaves
    its listening socket to the garbage collector."""

    def __init__(self, app):
        from anyio import TASK_STATUS_IGNORED, CancelScope
        from anyio.abc import SocketAttribute
        from anyio.from_thread import start_blocking_portal

        self._portal_cm = start_blocking_portal()
        self.portal = self._portal_cm.__enter__()
        self.listener = self.portal.call(app.listen, "127.0.0.1", 0)
        self.port = self.listener.extra(SocketAttribute.local_port)
        self.stopped = False

        async def serve(*, task_status=TASK_STATUS_IGNORED):
            with CancelScope() as scope:
                task_status.started(scope)  # start_task returns once the server is serving under this scope
                await self.listener.serve(app._handle_connection)

        self.future, self.scope = self.portal.start_task(serve)

    def stop(self):
        """Stop serving and close the listener; once (a test may stop the server before its fixture does)."""
        if self.stopped:
            return
        self.stopped = True
        self.portal.call(self.scope.cancel)
        try:
            self.future.result(5)
        except BaseException:  # cancelled is the expected end
            pass
        self.portal.call(self.listener.aclose)
        self._portal_cm.__exit__(None, None, None)


class FaultyProxy:
    """A TCP relay that can corrupt the next message's checksum in either direction, drop the next message in
    either direction, send
    answers without their error-detection fields (a server that switched it off), cut each connection as its
    answer comes back, or drop every connection.
    ``requests`` keeps every byte the client sent."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.corrupt_next_answer = False
        self.corrupt_next_request = False
        self.drop_next_answer = False
        self.drop_next_request = False  # lost on the way to the server: it never sees it
        self.corrupt_every_answer = False
        self.strip_error_detection = False  # from the next answer with AY/AZ on
        self.cut_every_answer = False  # the connection is cut as each answer comes back (never delivered)
        self.requests = b""
        self.connections: list[socket.socket] = []
        self.accepted = 0
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:  # the server is down: so is the relay's connection
                client.close()
                continue
            with self._lock:
                self.connections += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, "request"), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, "answer"), daemon=True).start()

    def _pipe(self, source, target, direction):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if direction == "request":
                    self.requests += data
                    if self.drop_next_request:
                        self.drop_next_request = False
                        continue
                elif self.cut_every_answer:
                    break  # (the finally below shuts both ends)
                elif self.drop_next_answer:
                    self.drop_next_answer = False  # lost on the way: the client never sees it
                    continue
                elif self.strip_error_detection:
                    data = re.sub(rb"\|?AY\dAZ[0-9A-Fa-f]{4}(\r\n?)", rb"\1", data)
                flag = f"corrupt_next_{direction}"
                every = direction == "answer" and self.corrupt_every_answer
                if (getattr(self, flag) or every) and b"AZ" in data:
                    setattr(self, flag, False)
                    at = data.rfind(b"AZ") + 2
                    digit = data[at:at + 1]
                    data = data[:at] + (b"0" if digit != b"0" else b"1") + data[at + 1:]
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def drop_all(self):
        with self._lock:
            dropped, self.connections = self.connections, []
        for s in dropped:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def stop(self):
        self._stop = True
        self.listener.close()
        self.drop_all()


class PysipServer:
    """pysip2's server behind the interface the shared scenarios use (see ``start_server``)."""

    kind = "pysip2"
    renews_all = True  # pysip2 lets the test library register a renew-all (65) route

    def __init__(self, library: Library | None = None, **options):
        self.library = library or Library()
        options.setdefault("error_detection", "required")  # strict: every message must carry AY/AZ
        self.renews_all = options.get("renew_all", True)
        self.server = PysipILS(pysip2_app(self.library, **options))
        self.port = self.server.port

    @property
    def received(self) -> list[str]:
        return self.library.received

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


SERVER_KINDS = ("pysip2", "invenio")


def sip2_settings(port, **more) -> dict:
    """``[upstream]`` settings for a SIP2 server of the test library on ``port`` (login kiosk / s3cret)."""
    return {"kind": "sip2", "sip2_host": "127.0.0.1", "sip2_port": port, "sip2_login_user": "kiosk",
            "sip2_login_password": "s3cret", "sip2_institution_id": "MAIN", "sip2_timeout_seconds": 3,
            "sip2_pool_size": 2, **more}


def start_server(kind: str):
    """A SIP2 server nobody on this team wrote, with the test library behind it: ``port``,
    ``received`` (the commands it executed), ``renews_all`` (whether it offers 65), ``stop()``."""
    if kind == "pysip2":
        return PysipServer()
    if kind == "invenio":
        from tests.upstream.invenio_ils import InvenioILS

        return InvenioILS()
    raise ValueError(kind)


def item_holder(server, item: str, today: dt.date, **settings):
    """Whether the library system says ``item`` is on loan, read straight from ``server`` (17, no proxy)."""
    from library_kiosk.central.upstream.sip2.backend import Sip2Upstream

    direct = Sip2Upstream(sip2_settings(server.port, **settings))
    try:
        return direct.item_on_loan(item, today)
    finally:
        direct.close()


@contextlib.contextmanager
def central_behind_proxy(config: dict, today: dt.date, **settings):
    """A central app in front of a pysip2 server behind ``FaultyProxy``: (app, its upstream, server, proxy); the
    upstream's status exchange done, so the next answer to go missing is the one a test means."""
    from library_kiosk.central import api as central

    server = start_server("pysip2")
    proxy = FaultyProxy(server.port)
    try:
        config["upstream"].update(sip2_settings(proxy.port, **settings))
        app = central.create_app(config, today=lambda: today)
        upstream = app.extensions["upstream"]
        upstream.supported()
        yield app, upstream, server, proxy
    finally:
        proxy.stop()
        server.stop()
