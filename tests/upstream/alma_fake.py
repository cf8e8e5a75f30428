"""Alma for the tests: Stoplight Prism validates, recorded examples answer.

Every request our back end sends goes first to Prism serving the vendor's
OpenAPI document; when Prism finds the request invalid (an ``sl-violations``
header about the request, or 401/404/405) its refusal is handed back as is.
Otherwise the answer comes from recorded examples that follow
shared/product/alma-reference.md (the vendor document leaves user, loan and
request bodies empty). ``log`` keeps each request with Prism's verdict.

The vendor's description in shared/vendor/alma/ is of the Users API only: the two Bibs API calls a return
makes (``GET /items?item_barcode=`` and the scan-in, ``POST /bibs/.../items/{item_pid}?op=scan``) have no
description to be checked against, so they are answered here without Prism (logged ``validated: False``);
their parameters are checked here against the vendor's reference (op=scan; library; circ_desk or department).
"""
from __future__ import annotations

import copy
import itertools
import json
import re
import threading

import requests
from werkzeug.wrappers import Request, Response

from tests.helpers import LiveServer

ERR = {
    "401861": "User with identifier {} was not found.",
    "401890": "User with identifier {} of type all_unique was not found.",
    "401822": "Cannot renew loan: Loan ID {} is not renewable.",
    "401823": "Loan ID {} does not exist.",
    "401866": "Failed to authenticate user {}.",
    "401851": "User with identifier {} already exists.",
    "401651": "Item is not loanable.",
    "401689": "No items found for barcode {}.",
    "401664": "Mandatory field is missing: {}.",
}


def bibs_api(path: str) -> bool:
    """The two Bibs API calls a return makes, which no vendor description here covers (anything else goes to
    Prism, which refuses a path its description does not have)."""
    return path == "/almaws/v1/items" or path.startswith("/almaws/v1/bibs/")


def error(code: str, arg: str = "", status: int = 400) -> tuple[int, dict]:
    return status, {"errorsExist": True, "errorList": {"error": [
        {"errorCode": code, "errorMessage": ERR.get(code, "General error.").format(arg),
         "trackingId": "E01-2511125301-ABCDE"}]}, "result": None}


def example_user(primary_id="AL1", barcode="20000000000111", card="04AABBCCDDEE01", first="Zoë",
                 last="Ólafsdóttir", group=("25", "Special Borrower")) -> dict:
    return {
        "record_type": {"value": "PUBLIC", "desc": "Public"},
        "primary_id": primary_id, "first_name": first, "middle_name": "", "last_name": last,
        "user_title": {"value": "", "desc": ""}, "pin_number": "", "password": "",
        "user_group": {"value": group[0], "desc": group[1]},
        "account_type": {"value": "INTERNAL", "desc": "Internal"}, "external_id": "",
        "status": {"value": "ACTIVE", "desc": "Active"},
        "preferred_language": {"value": "en", "desc": "English"},
        "expiry_date": "2027-06-30Z", "purge_date": "2028-06-30Z",
        "contact_info": {"address": [], "phone": [], "email": [
            {"email_address": "zoe@example.org", "preferred": True, "segment_type": "Internal",
             "email_type": [{"value": "personal", "desc": "Personal"}]}]},
        "user_identifier": [
            {"id_type": {"value": "BARCODE", "desc": "Barcode"}, "value": barcode, "note": "",
             "status": "ACTIVE", "segment_type": "External"},
            {"id_type": {"value": "UNIV_ID", "desc": "University ID"}, "value": f"U-{primary_id}", "note": "",
             "status": "ACTIVE", "segment_type": "External"}] + ([
            {"id_type": {"value": "CARD_SERIAL_NUMBER", "desc": "Card Serial Number"}, "value": card, "note": "",
             "status": "ACTIVE", "segment_type": "Internal"}] if card else []),
        "user_note": [{"note_type": {"value": "CIRCULATION"}, "note_text": "Prefers large print",
                       "user_viewable": False, "popup_note": False, "segment_type": "Internal"}],
        "user_block": [], "user_statistic": [], "user_role": [],
    }


class FakeAlma:
    """Recorded examples with a little state: users, their loans, requests and fees."""

    def __init__(self, prism_url: str):
        self.prism_url = prism_url
        self.users: dict[str, dict] = {}
        self.loans: dict[str, list[dict]] = {}
        self.requests: dict[str, list[dict]] = {}
        self.fees: dict[str, list[dict]] = {}
        self.pins: dict[str, str] = {}
        self.not_renewable: set[str] = set()
        self.log: list[dict] = []
        self.remaining = 100_000
        self.inject: list[tuple[int, dict, dict]] = []  # canned (status, body, headers) for the next calls
        self.down = False
        self.lose_next_write_answer = False  # do the next write, then answer 504 as a gateway would
        self.items: dict[str, dict] = {}  # barcode -> item record (bib_data, holding_data, item_data)
        self.not_loanable: set[str] = set()
        self._ids = itertools.count(9_000_000_000_000_121, 1000)
        self.lock = threading.Lock()

    # ---- examples -------------------------------------------------------------------
    def add_user(self, user: dict, pin: str = "2468") -> dict:
        self.users[user["primary_id"]] = user
        self.loans.setdefault(user["primary_id"], [])
        self.requests.setdefault(user["primary_id"], [])
        self.fees.setdefault(user["primary_id"], [])
        self.pins[user["primary_id"]] = pin
        return user

    def add_loan(self, primary_id: str, barcode: str, title: str, due: str = "2026-11-28T23:59:00Z",
                 renewable: bool = True) -> dict:
        loan = {"loan_id": str(next(self._ids)), "circ_desk": {"value": "DEFAULT_CIRC_DESK", "desc": "Loan desk"},
                "library": {"value": "MAIN", "desc": "Main Library"}, "user_id": primary_id,
                "item_barcode": barcode, "title": title, "author": "Eliot, George", "call_number": "PR4662",
                "loan_status": "Active", "process_status": "NORMAL", "loan_date": "2026-11-07T10:15:00Z",
                "due_date": due, "item_policy": {"value": "BOOK", "desc": "Book"}, "renewals": 0}
        if not renewable:
            self.not_renewable.add(loan["loan_id"])
        self.loans[primary_id].append(loan)
        return loan

    def add_request(self, primary_id: str, title: str, status: str = "ON_HOLD_SHELF", place: int | None = None):
        request = {"request_id": str(next(self._ids)), "user_primary_id": primary_id,
                   "request_type": "HOLD", "request_sub_type": {"value": "PATRON_PHYSICAL"},
                   "request_status": status, "title": title, "author": "Morrison, Toni",
                   "pickup_location": "Main Library", "pickup_location_type": "LIBRARY",
                   "place_in_queue": place, "request_date": "2026-11-20Z", "expiry_date": "2026-12-04Z"}
        self.requests[primary_id].append(request)
        return request

    def add_fee(self, primary_id: str, amount: float, fee_type=("OVERDUEFINE", "Overdue fine")):
        fee = {"id": str(next(self._ids)), "type": {"value": fee_type[0], "desc": fee_type[1]},
               "status": {"value": "ACTIVE", "desc": "Active"}, "user_primary_id": {"value": primary_id},
               "balance": amount, "remaining_vat_amount": 0.0, "original_amount": amount, "original_vat_amount": 0.0,
               "creation_time": "2026-11-10T09:00:00Z", "status_time": "2026-11-10T09:00:00Z",
               "comment": "", "owner": {"value": "MAIN", "desc": "Main Library"}, "title": "Middlemarch"}
        self.fees[primary_id].append(fee)
        return fee

    def add_item(self, barcode: str, title: str, library: str = "MAIN", requested: bool = False,
                 loanable: bool = True) -> dict:
        """An item as ``GET /items?item_barcode=`` returns it; ``requested``: a patron's hold waits for it."""
        n = next(self._ids)
        item = {"bib_data": {"mms_id": f"99{n}", "title": title, "author": "Woolf, Virginia"},
                "holding_data": {"holding_id": f"22{n}", "in_temp_location": False},
                "item_data": {"pid": f"23{n}", "barcode": barcode,
                              "base_status": {"value": "1", "desc": "Item in place"},
                              "process_type": {"value": "", "desc": ""}, "requested": requested,
                              "library": {"value": library, "desc": library}, "location": {"value": "STACKS"},
                              "policy": {"value": "BOOK" if loanable else "REFERENCE"}}}
        self.items[barcode] = item
        if not loanable:
            self.not_loanable.add(barcode)
        return item

    def loan_of(self, barcode: str) -> tuple[str, dict] | None:
        """(primary id, loan) of the active loan of ``barcode``, or None."""
        return next(((pid, loan) for pid, loans in self.loans.items() for loan in loans
                     if loan["item_barcode"] == barcode), None)

    def _item_record(self, barcode: str) -> dict:
        item = copy.deepcopy(self.items[barcode])
        if self.loan_of(barcode):
            item["item_data"]["process_type"] = {"value": "LOAN", "desc": "Loan"}
            item["item_data"]["base_status"] = {"value": "0", "desc": "Item not in place"}
        return item

    def _bibs(self, method: str, path: str, args) -> tuple[int, object]:
        """``GET /items?item_barcode=`` and the scan-in, ``POST /bibs/{mms_id}/holdings/{holding_id}/items/
        {item_pid}?op=scan``: the loan ends; an item requested goes to the hold shelf, one of another library
        into transit, as Alma's answer says (process type, ``additional_info``)."""
        if path == "/almaws/v1/items":
            barcode = args.get("item_barcode", "")
            return (200, self._item_record(barcode)) if barcode in self.items else error("401689", barcode)
        m = re.fullmatch(r"/almaws/v1/bibs/([^/]+)/holdings/([^/]+)/items/([^/]+)", path)
        barcode = next((b for b, i in self.items.items() if m and i["item_data"]["pid"] == m[3]), None)
        if method != "POST" or barcode is None:
            return error("402119")
        for name in ("op", "library"):
            if not args.get(name):
                return error("401664", name)
        if args["op"] != "scan" or not (args.get("circ_desk") or args.get("department")):
            return error("401664", "circ_desk or department")
        held = self.loan_of(barcode)
        if held:
            self.loans[held[0]].remove(held[1])
        item = self._item_record(barcode)
        data = item["item_data"]
        if data["requested"]:
            data["process_type"] = {"value": "HOLDSHELF", "desc": "Hold Shelf"}
            item["additional_info"] = "Item's destination is: Hold Shelf. Request ID: 31234."
        elif data["library"]["value"] != args["library"]:
            data["process_type"] = {"value": "TRANSIT", "desc": "Transit"}
            item["additional_info"] = f"Item in transit to {data['library']['value']}."
        return 200, item

    def _checkout(self, pid: str, args, body) -> tuple[int, object]:
        """``POST /users/{id}/loans?item_barcode=``: a loan at the desk and library the body names."""
        barcode = args.get("item_barcode", "")
        if barcode not in self.items:
            return error("401689", barcode)
        if barcode in self.not_loanable:
            return error("401651")
        loan = self.add_loan(pid, barcode, self.items[barcode]["bib_data"]["title"], due="2026-12-16T23:59:00Z")
        loan.update(circ_desk=body["circ_desk"], library=body["library"])
        return 200, loan

    # ---- the recorded layer ---------------------------------------------------------------
    def _find(self, identifier: str) -> str | None:
        if identifier in self.users:
            return identifier
        for pid, user in self.users.items():
            if any(i["value"] == identifier and i.get("status", "ACTIVE") == "ACTIVE"
                   for i in user.get("user_identifier", [])):
                return pid
        return None

    def answer(self, method: str, path: str, args, body) -> tuple[int, object]:
        """The recorded answer to a request Prism let through: (status, body), None for an empty body."""
        if bibs_api(path):
            return self._bibs(method, path, args)
        m = re.fullmatch(r"/almaws/v1/users(?:/([^/]+))?(?:/(loans|requests|fees)(?:/([^/]+))?)?", path)
        if not m:
            return error("402119")
        user_id, sub, sub_id = m.groups()
        if user_id is None:
            return self._users(method, body)
        pid = self._find(user_id)
        if pid is None:
            return error("401861", user_id)
        if sub is None:
            return self._user(method, pid, args, body)
        resource = {"loans": self._loans, "requests": self._requests, "fees": self._fees}[sub]
        return resource(method, pid, sub_id, args, body)

    def _users(self, method: str, body) -> tuple[int, object]:
        """``/users``: create a user (POST), else list them."""
        if method == "POST":
            if self._find(body["primary_id"]):
                return error("401851", body["primary_id"])
            return 200, self.add_user(copy.deepcopy(body))
        return 200, {"user": [{"primary_id": p} for p in self.users], "total_record_count": len(self.users)}

    def _user(self, method: str, pid: str, args, body) -> tuple[int, object]:
        """``/users/{id}``: the record (GET), a PIN check (POST ``op=auth``) or a replacement (PUT)."""
        if method == "GET":
            return 200, self._user_record(pid, args.get("expand", ""))
        if method == "POST" and args.get("op") == "auth":
            return (204, None) if args.get("password") == self.pins.get(pid) else error("401866", pid)
        if method == "PUT":
            self.users[pid] = copy.deepcopy(body)
            return 200, body
        return error("402119")

    def _user_record(self, pid: str, expand: str) -> dict:
        """A user as GET returns it, with the counts and the sum ``expand`` asks for."""
        result = copy.deepcopy(self.users[pid])
        if "loans" in expand:
            result["loans"] = {"value": len(self.loans[pid]), "link": ""}
        if "requests" in expand:
            result["requests"] = {"value": len(self.requests[pid]), "link": ""}
        if "fees" in expand:
            result["fees"] = {"value": sum(f["balance"] for f in self.fees[pid]), "currency": "GBP"}
        return result

    def _loans(self, method: str, pid: str, loan_id, args, body) -> tuple[int, object]:
        """``/users/{id}/loans[/{loan_id}]``: a page of loans, one loan, or its renewal (POST ``op=renew``)."""
        loans = self.loans[pid]
        if loan_id is None and method == "POST":
            return self._checkout(pid, args, body)
        if loan_id is None:
            offset, limit = int(args.get("offset", 0)), int(args.get("limit", 10))
            page = copy.deepcopy(loans[offset:offset + limit])
            if "renewable" in args.get("expand", ""):
                for loan in page:
                    loan["renewable"] = loan["loan_id"] not in self.not_renewable
            return 200, {"item_loan": page, "total_record_count": len(loans)}
        loan = next((loan for loan in loans if loan["loan_id"] == loan_id), None)
        if loan is None:
            return error("401823", loan_id)
        if method == "POST" and args.get("op") == "renew":
            return self._renew(loan)
        return 200, loan

    def _renew(self, loan: dict) -> tuple[int, object]:
        if loan["loan_id"] in self.not_renewable:
            return error("401822", loan["loan_id"])
        loan["due_date"] = "2026-12-16T23:59:00Z"
        loan["renewals"] += 1
        loan["last_renew_status"] = {"value": "RENEWED", "desc": "Renewed Successfully"}
        return 200, loan

    def _requests(self, method: str, pid: str, request_id, args, body) -> tuple[int, object]:
        """``/users/{id}/requests``: a page of the user's requests."""
        requests_ = self.requests[pid]
        offset, limit = int(args.get("offset", 0)), int(args.get("limit", 10))
        return 200, {"user_request": requests_[offset:offset + limit], "total_record_count": len(requests_)}

    def _fees(self, method: str, pid: str, fee_id, args, body) -> tuple[int, object]:
        """``/users/{id}/fees``: create a fee (POST), else the user's fees and their sum."""
        if method == "POST":
            fee = self.add_fee(pid, float(body["original_amount"]), (body["type"]["value"], ""))
            return 200, fee
        fees = self.fees[pid]
        return 200, {"fee": fees, "total_record_count": len(fees),
                     "total_sum": sum(f["balance"] for f in fees), "currency": "GBP"}

    def __call__(self, environ, start_response):
        request = Request(environ)
        raw = request.get_data()
        if self.down:
            response = Response("", status=503)
            return response(environ, start_response)
        if self.prism_url is None or bibs_api(request.path):
            # the benchmark (recorded examples only), or a Bibs API call (no vendor description here to validate)
            body_json = json.loads(raw) if raw else None
            with self.lock:
                self.log.append({"method": request.method, "path": request.path, "args": dict(request.args),
                                 "prism_status": 0, "violations": [], "validated": False})
                status, body = self._lost_or(request, body_json)
            payload = b"" if body is None else json.dumps(body).encode()
            return Response(payload, status=status, headers={"X-Exl-Api-Remaining": str(self.remaining)},
                            content_type="application/json")(environ, start_response)
        prism = requests.request(request.method, self.prism_url + request.path, params=request.query_string,
                                 data=raw or None, headers={k: v for k, v in request.headers.items()
                                                            if k.lower() in ("accept", "content-type")},
                                 timeout=20)
        violations = json.loads(prism.headers.get("sl-violations") or "[]")
        request_violations = [v for v in violations if v.get("location", [""])[0] == "request"]
        entry = {"method": request.method, "path": request.path, "args": dict(request.args),
                 "prism_status": prism.status_code, "violations": request_violations, "validated": True}
        with self.lock:
            self.log.append(entry)
            if request_violations or prism.status_code in (401, 404, 405):
                headers = {k: v for k, v in prism.headers.items() if k.lower() in ("sl-violations", "content-type")}
                return Response(prism.content, status=prism.status_code, headers=headers)(environ, start_response)
            self.remaining -= 1
            if self.inject:
                status, body, headers = self.inject.pop(0)
            else:
                status, body = self._lost_or(request, json.loads(raw) if raw else None)
                headers = {}
        headers = {"X-Exl-Api-Remaining": str(self.remaining), **headers}
        payload = b"" if body is None else json.dumps(body).encode()
        return Response(payload, status=status, headers=headers, content_type="application/json")(
            environ, start_response)

    def _lost_or(self, request, body_json) -> tuple[int, object]:
        """The recorded answer; a write's is lost (504, after doing it) when ``lose_next_write_answer`` says so."""
        status, body = self.answer(request.method, request.path, request.args, body_json)
        if self.lose_next_write_answer and request.method != "GET" and request.args.get("op") != "auth":
            self.lose_next_write_answer = False  # done here; the answer is lost on the way back
            return 504, None
        return status, body


def serve(prism_url: str) -> tuple[FakeAlma, LiveServer]:
    fake = FakeAlma(prism_url)
    return fake, LiveServer(fake)
