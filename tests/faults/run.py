"""The fault checker's engine: build the data, start the cluster, play histories with their faults, heal, let
every kiosk push and pull to quiescence, check. Used by tests/faults/test_faults.py (a short schedule) and by
``python -m bench faults`` (rounds until the minutes are up)."""
from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import random
import time
import uuid

from tests.faults import checker, history
from tests.faults.cluster import FAKETIME_LIB, Kiosk
from tests.faults.nemesis import Nemesis
from tests.sync.procs import Central

CLOCK_OFFSET = "+40d"  # the last kiosk's clock, when libfaketime is built (make test-dates builds it)


@contextlib.contextmanager
def machine_clock():
    """The product clock at the machine's time while the checker runs: its processes run on the machine's clock
    (a test pins its own process's clock to a day, and every process started at noon would drift apart)."""
    from library_kiosk.domain import clock

    kept = clock.offset()
    clock.set_offset(dt.timedelta(0))
    try:
        yield
    finally:
        clock.set_offset(kept)


class FaultRun:
    """One cluster (central store at ``database_url``, whose models this process has bound, and ``kiosks``
    kiosks), played through rounds of generated history."""

    def __init__(self, database_url: str, work: str, seed: int, kiosks: int = history.KIOSKS):
        self.database_url = database_url
        self.work = work
        self.seed = seed
        self.rng = random.Random(seed)
        self.postgres = database_url.startswith("postgres")
        self.tag = uuid.uuid4().hex[:6]  # names of this run's devices and patrons (a database may hold others)
        self.records: list[dict] = []  # every agent answer, with its step
        self.loans: dict[int, tuple[int, int]] = {}  # loan id -> (renewals at the start, the maximum)
        self.histories: list[list[tuple]] = []
        self.violations: list[str] = []
        self.skipped: dict[str, str] = {}
        self.operations = 0
        self.round = 0
        self.patrons: dict[str, list] = {}  # this round's "R<i>" / "W<i>" -> [barcode, loan ids, primary id]
        self.lockers: list[str] = []  # every round's patrons who get their PINs wrong
        self.kiosk_count = kiosks
        self.central = None
        self.kiosks: list[Kiosk] = []
        self.nemesis = None

    # --- the cluster ---

    def start(self) -> FaultRun:
        from library_kiosk.central.store import devices

        with machine_clock():
            return self._start(devices)

    def _start(self, devices) -> FaultRun:
        os.makedirs(self.work, exist_ok=True)
        self.central = Central(self.database_url, os.path.join(self.work, "central-data"))
        self.central.env.update(KIOSK_CLOCK_DAY="", KIOSK_CENTRAL_OFFLINE_GAP_SECONDS="2",
                                KIOSK_CENTRAL_PIN_CHECKS_PER_DEVICE_PER_MINUTE="100000")
        self.central.start()
        offset = CLOCK_OFFSET if os.path.exists(FAKETIME_LIB) else ""
        if not offset:
            self.skipped["clock_offset"] = f"libfaketime is not built ({FAKETIME_LIB}; make test-dates builds it)"
        for k in range(self.kiosk_count):
            name = f"faults-{self.tag}-k{k}"
            _name, token = devices.enrol(devices.add(name, replace=True))
            clock_offset = offset if k == self.kiosk_count - 1 else ""
            self.kiosks.append(Kiosk(name, self.work, self.central, token, self.seed * 7 + k, clock_offset))
        self.nemesis = Nemesis(self.kiosks, self.database_url)
        if offset:
            self.nemesis.injected["clock_offset_kiosks"] += 1
        return self

    def stop(self) -> None:
        for kiosk in self.kiosks:
            kiosk.close()
        if self.central is not None:
            self.central.stop()

    # --- the data of a round: fresh patrons, so that every round has loans to renew and PINs to lock ---

    def _new_patrons(self) -> None:
        from tests.store import factories

        group = factories.group("FLT", description="Fault checker", max_renewals=2, loan_period_days=21)
        due = dt.date.today() + dt.timedelta(days=3)
        self.patrons = {}
        for kind, count in (("R", history.RENEWERS), ("W", history.LOCKERS)):
            for i in range(count):
                pid = f"{self.tag}-{self.round}-{kind}{i}"
                barcode = f"{self.tag}{self.round:05d}{kind}{i}"
                user = factories.patron(pid, barcode=barcode, card=None, group_code=group.code)
                loan_ids = []
                for n in range(2 if kind == "R" else 0):
                    start = self.rng.choice([0, 1, 1])
                    row = factories.loan(user, f"Book {pid}-{n}", due=due, renewals=start,
                                         barcode=f"{barcode}L{n}")
                    self.loans[row.id] = (start, group.max_renewals)
                    loan_ids.append(row.id)
                self.patrons[f"{kind}{i}"] = [barcode, loan_ids, pid]
                if kind == "W":
                    self.lockers.append(pid)

    # --- playing a round ---

    def play_round(self, steps: int) -> list[str]:
        """One round: new patrons, every kiosk synced, ``steps`` generated steps, healed, quiescent, checked.
        Returns the violations found (also kept in ``violations``)."""
        with machine_clock():
            self.round += 1
            self._new_patrons()
            for k in range(len(self.kiosks)):
                self._quiesce_one(k)
            steps_played = history.generate(self.rng, steps, len(self.kiosks), self.postgres)
            self.histories.append(steps_played)
            for step in steps_played:
                self._play(step)
            self.nemesis.heal()
            self.quiesce()
            found = checker.check(self)
        self.violations += found
        return found

    def _record(self, k: int, step: tuple, answer: dict) -> None:
        self.records.append({"kiosk": k, "step": step, "answer": answer})
        self.operations += 1

    def _renew_command(self, patron: int, loans) -> dict:
        barcode, loan_ids, _pid = self.patrons[f"R{patron}"]
        return {"op": "renew", "barcode": barcode,
                "loan_ids": None if loans is None else [loan_ids[i] for i in loans]}

    def _play(self, step: tuple) -> None:  # noqa: C901 (one branch per kind of step)
        kind = step[0]
        nemesis, kiosks = self.nemesis, self.kiosks
        if kind == "renew":
            self._record(step[1], step, kiosks[step[1]].ask(self._renew_command(step[2], step[3])))
        elif kind == "renew_both":
            command = self._renew_command(step[3], [step[4]])
            kiosks[step[1]].send(command)
            kiosks[step[2]].send(command)
            self._record(step[1], step, kiosks[step[1]].read())
            self._record(step[2], step, kiosks[step[2]].read())
            nemesis.injected["same_loan_two_kiosks_at_once"] += 1
        elif kind == "wrong_pin":
            barcode = self.patrons[f"W{step[2]}"][0]
            self._record(step[1], step, kiosks[step[1]].ask({"op": "wrong_pin", "barcode": barcode,
                                                              "times": step[3]}))
        elif kind == "call_staff":
            self._record(step[1], step, kiosks[step[1]].ask({"op": "call_staff",
                                                              "primary_id": self.patrons[f"R{step[2]}"][2]}))
        elif kind == "sync":
            self._record(step[1], step, kiosks[step[1]].ask({"op": "sync"}))
        elif kind == "push":
            kiosks[step[1]].finish_pusher(kiosks[step[1]].start_pusher(batch=2))
        elif kind == "push_killed":
            if kiosks[step[1]].kill_pusher_mid_push(kiosks[step[1]].start_pusher(batch=1), step[2]):
                nemesis.injected["sigkill_mid_push"] += 1
        elif kind == "push_both":
            children = [kiosks[step[1]].start_pusher(batch=2), kiosks[step[2]].start_pusher(batch=2)]
            kiosks[step[1]].finish_pusher(children[0])
            kiosks[step[2]].finish_pusher(children[1])
            nemesis.injected["concurrent_pushes"] += 1
        elif kind == "offline":
            nemesis.offline(step[1])
        elif kind == "online":
            nemesis.online(step[1])
        elif kind == "lossy":
            nemesis.lossy(step[1], step[2])
        elif kind == "cache":
            nemesis.cache(step[1], step[2])
        elif kind == "pg_kill":
            child = kiosks[step[1]].start_pusher(batch=1)
            nemesis.pg_kill()
            kiosks[step[1]].finish_pusher(child)
        else:
            raise ValueError(f"unknown step {step!r}")

    def _quiesce_one(self, k: int, tries: int = 30) -> dict:
        answer = {}
        for _ in range(tries):
            answer = self.kiosks[k].ask({"op": "sync"})
            self.records.append({"kiosk": k, "step": ("quiesce", k), "answer": answer})
            if not answer.get("sync_error") and not answer.get("error") and answer.get("outbox") == 0:
                return answer
        self.violations.append(f"{self.kiosks[k].name} did not reach quiescence in {tries} sync cycles: {answer}")
        return answer

    def quiesce(self) -> None:
        """Every kiosk pushes all it queued, then every kiosk pulls what the others' pushes changed."""
        for k in range(len(self.kiosks)):
            self._quiesce_one(k)
        for k in range(len(self.kiosks)):
            self._quiesce_one(k)

    # --- reporting ---

    def figures(self, started: float) -> dict:
        return {"seed": self.seed, "rounds": self.round, "operations": self.operations,
                "faults_injected": dict(sorted(self.nemesis.injected.items()))
                | {"answers_dropped": self.nemesis.dropped()},
                "faults_skipped": self.skipped, "told": self.outcomes(), "violations": len(self.violations),
                "violation_details": self.violations[:20], "duration_s": round(time.monotonic() - started, 1),
                "database": "postgresql" if self.postgres else "sqlite", "kiosks": len(self.kiosks)}

    def outcomes(self) -> dict:
        """What the kiosks told patrons, counted: renewals confirmed, pending (decided offline), unconfirmed,
        refused; calls for staff; cards locked; steps that met a cache fault (nothing promised)."""
        counts: collections.Counter = collections.Counter()
        for record in self.records:
            if record["step"][0] == "quiesce":
                continue
            answer = record["answer"]
            if answer.get("error"):
                counts["steps_met_a_cache_error"] += 1
                counts["error: " + answer["error"][:60]] += 1
            for outcome in answer.get("outcomes") or []:
                counts["renewal_" + ("unconfirmed" if outcome["reason"] == "unconfirmed" else
                                     "pending_renewed" if outcome["renewed"] and outcome["pending"] else
                                     "renewed" if outcome["renewed"] else
                                     "pending_refused" if outcome["pending"] else "refused")] += 1
                if not outcome["renewed"]:
                    counts[f"refused_because_{outcome['reason']}"] += 1
            if answer.get("call"):
                counts["staff_call_" + answer["call"]] += 1
            if answer.get("locked"):
                counts["card_locked"] += 1
        return dict(sorted(counts.items()))

    def replay_hint(self) -> str:
        return (f"seed {self.seed}: replay with `python -m bench faults --seed {self.seed} --minutes 1"
                f"{' --db postgres' if self.postgres else ''}`\nhistory:\n"
                + "\n".join(json.dumps(h) for h in self.histories))
