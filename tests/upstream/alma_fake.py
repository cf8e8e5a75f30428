"""Alma for the tests: Stoplight Prism validates, recorded examples answer.

Every request our back end sends goes first to Prism serving the vendor's
OpenAPI document; when Prism finds the request invalid (an ``sl-violations``
header about the request, or 401/404/405) its refusal is handed back as is.
Otherwise the answer comes from recorded examples that follow
shared/product/alma-reference.md (the vendor document leaves user, loan and
request bodies empty). ``log`` keeps each request with Prism's verdict.
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
}


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
        if self.prism_url is None:  # the benchmark: recorded examples only, no validation
            body_json = json.loads(raw) if raw else None
            with self.lock:
                self.log.append({"method": request.method, "path": request.path, "args": dict(request.args),
                                 "prism_status": 0, "violations": []})
                status, body = self.answer(request.method, request.path, request.args, body_json)
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
                 "prism_status": prism.status_code, "violations": request_violations}
        with self.lock:
            self.log.append(entry)
            if request_violations or prism.status_code in (401, 404, 405):
                headers = {k: v for k, v in prism.headers.items() if k.lower() in ("sl-violations", "content-type")}
                return Response(prism.content, status=prism.status_code, headers=headers)(environ, start_response)
            self.remaining -= 1
            if self.inject:
                status, body, headers = self.inject.pop(0)
            else:
                body_json = json.loads(raw) if raw else None
                status, body = self.answer(request.method, request.path, request.args, body_json)
                headers = {}
                if self.lose_next_write_answer and request.method != "GET" and request.args.get("op") != "auth":
                    self.lose_next_write_answer = False  # done here; the answer is lost on the way back
                    status, body = 504, None
        headers = {"X-Exl-Api-Remaining": str(self.remaining), **headers}
        payload = b"" if body is None else json.dumps(body).encode()
        return Response(payload, status=status, headers=headers, content_type="application/json")(
            environ, start_response)


def serve(prism_url: str) -> tuple[FakeAlma, LiveServer]:
    fake = FakeAlma(prism_url)
    return fake, LiveServer(fake)
