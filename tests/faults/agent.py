"""One kiosk of the fault checker, as its own process: the kiosk app's services (kiosk/services.py, what the
routes call) over this kiosk's real cache file, driven by JSON lines on stdin, one JSON answer per line.

It records every operation it queued in the outbox (``ops``: seq, key, type) and every one it took back, so the
checker knows what the kiosk promised and what must reach the central store. Faults of the cache are made on
its own connection: ``full`` (``PRAGMA max_page_count`` at the pages it has) and ``read_only``
(``PRAGMA query_only``: root ignores file modes)."""
from __future__ import annotations

import json
import sys
import traceback

from flask import g

from kiosk import create_app, outbox, services, sync
from kiosk.cache import cache_db
from library_kiosk import settings

RIGHT_PIN = "2468"
WRONG_PIN = "0000"


class Agent:
    def __init__(self):
        self.app = create_app(settings.load())
        self.fault = ""  # "", "full", "read_only"
        self.ops: list[dict] = []
        self.withdrawn: list[str] = []
        enqueue, withdraw = outbox.enqueue, outbox.withdraw

        def recorded_enqueue(op_type, payload, effect=None):
            item = enqueue(op_type, payload, effect)
            self.ops.append({"seq": item.seq, "key": item.key, "type": op_type,
                             "loan_ids": payload.get("loan_ids") or [], "primary_id": payload.get("primary_id", "")})
            return item

        def recorded_withdraw(item):
            withdraw(item)
            self.withdrawn.append(item.key)

        outbox.enqueue, outbox.withdraw = recorded_enqueue, recorded_withdraw

    def _cache_fault(self) -> None:
        if self.fault == "full":
            pages = cache_db.execute_sql("PRAGMA page_count").fetchone()[0]
            cache_db.execute_sql(f"PRAGMA max_page_count = {pages}")
        elif self.fault == "read_only":
            cache_db.execute_sql("PRAGMA query_only = ON")

    def handle(self, command: dict) -> dict:
        kind = command["op"]
        if kind == "fault":
            self.fault = command["fault"]
            return {"ok": True}
        self.ops, self.withdrawn = [], []
        with self.app.test_request_context(), cache_db.connection_context():
            self._cache_fault()
            try:
                answer = getattr(self, "do_" + kind)(command)
            except Exception as exc:  # the out-of-order screen (or an error page): nothing promised
                answer = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-1500:]}
        answer.update(ops=self.ops, withdrawn=self.withdrawn)
        return answer

    def _identify(self, barcode: str, pin: str) -> tuple:
        services.check_storage()  # as the routes do: out of order (nothing counted, nothing promised) on a bad cache
        account = services.find_patron(barcode)
        if account is None:
            return None, None, {"identified": False}
        visit = g.visit
        result = services.check_pin(account, pin, visit)
        return account, result, {"identified": True, "pin_ok": result.ok, "attempts_left": result.attempts_left,
                                 "locked": result.locked_until is not None, "message": result.message,
                                 "paused": result.paused_until is not None}

    def do_renew(self, command: dict) -> dict:
        account, result, answer = self._identify(command["barcode"], RIGHT_PIN)
        if result is None or not result.ok:
            return answer
        services.check_storage()
        account = services.get_patron(account.primary_id) or account
        visit = result.visit or g.visit
        outcomes = services.renew(account, command["loan_ids"], visit)
        answer["outcomes"] = [{"loan_id": o.loan_id, "renewed": o.renewed, "pending": o.pending, "reason": o.reason}
                              for o in outcomes]
        return answer

    def do_wrong_pin(self, command: dict) -> dict:
        answer = {}
        for _ in range(command["times"]):
            _account, _result, answer = self._identify(command["barcode"], WRONG_PIN)
            if answer.get("locked") or not answer.get("identified"):
                break
        return answer

    def do_call_staff(self, command: dict) -> dict:
        return {"call": services.call_staff("help", command.get("primary_id", ""))}

    def do_sync(self, command: dict) -> dict:
        report = sync.cycle(self.app.extensions["central"], self.app.extensions["patron_cache"])
        return {"sync_error": report["error"], "outbox": outbox.length()}

    def do_state(self, command: dict) -> dict:
        from kiosk.cache_db import SyncState

        state = {row.name: row.value for row in SyncState.select()}
        return {"op_seq": int(state.get("op_seq", "0")), "outbox": outbox.length(),
                "rejected": outbox.rejected(10000)}


def main() -> None:
    agent = Agent()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        print(json.dumps(agent.handle(json.loads(line)), default=str), flush=True)


if __name__ == "__main__":
    main()
