"""A generated history: what patrons do at which kiosk, and which faults come when, from one seeded
``random.Random`` (so a seed replays it: ``python -m bench faults --seed S --minutes 1``).

A step is a tuple, its kind first:

- ``("renew", k, patron, loan_ids)``: a patron identifies (barcode, PIN) at kiosk k and renews loans (online, or
  offline when k is cut off: decided there and queued);
- ``("renew_both", k1, k2, patron, loan)``: the same loan renewed at two kiosks at the same moment;
- ``("wrong_pin", k, patron, times)``: wrong PINs (the last allowed one locks the card);
- ``("call_staff", k, patron)``; ``("sync", k)``: a sync cycle (push, pull, push, heartbeat) of kiosk k;
- ``("push", k)``: a pusher runs to the end; ``("push_killed", k, after)``: SIGKILL ``after`` s into a push;
- ``("push_both", k1, k2)``: two kiosks push at once (their offline renewals of the same loan meet there);
- faults and their healing: ``("offline", k)`` / ``("online", k)``, ``("lossy", k, share)``,
  ``("cache", k, "full" | "read_only" | "")``, ``("pg_kill", k)`` (the central store's PostgreSQL
  connections killed while kiosk k pushes).

Every history ends healed: every kiosk online, no loss, its cache whole.
"""
from __future__ import annotations

import random

KIOSKS = 3
RENEWERS = 8  # patrons R0.. who renew (two loans each per round)
LOCKERS = 4  # patrons W0.. who get their PINs wrong


def generate(rng: random.Random, steps: int, kiosks: int = KIOSKS, postgres: bool = False) -> list[tuple]:
    schedule = _Schedule(rng, kiosks, postgres)
    for _ in range(steps):
        schedule.heal_due()
        schedule.pick()
    schedule.cover()
    return _place_later_pushes(schedule.healed())


class _Schedule:
    def __init__(self, rng: random.Random, kiosks: int, postgres: bool):
        self.rng, self.kiosks, self.postgres = rng, kiosks, postgres
        self.history: list[tuple] = []
        self.offline: dict[int, int] = {}  # kiosk -> steps left in its outage
        self.lossy: set[int] = set()
        self.cache_fault: dict[int, int] = {}  # kiosk -> steps left with its cache full or read-only

    def heal_due(self) -> None:
        rng, history = self.rng, self.history
        for k in [k for k, left in self.offline.items() if left <= 0]:
            del self.offline[k]
            history.append(("online", k))
            roll = rng.random()
            if roll < 0.4:  # what it queued while cut off, pushed at once: a SIGKILL then falls within the push
                history += [("push_killed", k, round(rng.uniform(0.0, 0.1), 3)), ("push", k)]
            elif roll < 0.7:
                history.append(("push", k))
        for k in [k for k, left in self.cache_fault.items() if left <= 0]:
            del self.cache_fault[k]
            history.append(("cache", k, ""))
        self.offline.update({k: left - 1 for k, left in self.offline.items()})
        self.cache_fault.update({k: left - 1 for k, left in self.cache_fault.items()})

    def _other(self, k: int) -> int:
        return (k + 1 + self.rng.randrange(self.kiosks - 1)) % self.kiosks

    def pick(self) -> None:
        rng, history = self.rng, self.history
        k, roll, patron = rng.randrange(self.kiosks), rng.random(), rng.randrange(RENEWERS)
        if roll < 0.30:
            history.append(("renew", k, patron, rng.choice([[0], [1], [0, 1]])))
        elif roll < 0.38:
            history.append(("renew_both", k, self._other(k), patron, rng.randrange(2)))
        elif roll < 0.44:
            history.append(("wrong_pin", k, rng.randrange(LOCKERS), rng.choice([1, 2, 5])))
        elif roll < 0.52:
            history.append(("call_staff", k, patron))
        elif roll < 0.58:
            history.append(("sync", k))
        elif roll < 0.64:
            history.append(("push_killed", k, round(rng.uniform(0.0, 0.15), 3)))
        elif roll < 0.84:
            self._pick_fault(k, roll, patron)
        elif roll < 0.89 and self.postgres:
            history.append(("pg_kill", k))
        elif roll < 0.95:
            history.append(("push_both", k, self._other(k)))
        else:
            history.append(("renew", k, patron, None))  # renew all

    def _pick_fault(self, k: int, roll: float, patron: int) -> None:
        rng, history = self.rng, self.history
        if roll < 0.69 and len(self.offline) < self.kiosks and k not in self.offline:
            history.append(("offline", k))
            self.offline[k] = rng.randrange(3, 9)
        elif roll < 0.73 and not self.offline:  # two kiosks cut off renew the same loan: offline write skew
            other = (k + 1) % self.kiosks
            history += [("offline", k), ("offline", other), ("renew", k, patron, [0]), ("renew", other, patron, [0]),
                        ("push_both_later", k, other)]
            self.offline.update({k: 4, other: 4})
        elif roll < 0.78 and k not in self.cache_fault:
            self.cache_fault[k] = rng.randrange(1, 4)
            history.append(("cache", k, rng.choice(["full", "read_only"])))
        else:
            share = 0.0 if k in self.lossy else rng.choice([0.2, 0.3, 0.5])
            (self.lossy.add if share else self.lossy.discard)(k)
            history.append(("lossy", k, share))

    def cover(self) -> None:
        """Every kind of fault at least once in a history, even a short one: those the dice left out, at the end
        (each with a patron's action under it)."""
        rng, history = self.rng, self.history
        kinds = {(step[0], step[2] if step[0] == "cache" else None) for step in history}
        k, patron = rng.randrange(self.kiosks), rng.randrange(RENEWERS)
        for fault in ("full", "read_only"):
            if ("cache", fault) not in kinds and k not in self.cache_fault:
                history += [("cache", k, fault), ("renew", k, patron, [1]), ("cache", k, "")]
        if ("lossy", None) not in kinds and k not in self.lossy:
            history += [("lossy", k, 0.5), ("renew", k, patron, [1]), ("call_staff", k, patron), ("lossy", k, 0.0)]
        if ("renew_both", None) not in kinds:
            history.append(("renew_both", k, self._other(k), patron, 1))
        if ("push_killed", None) not in kinds:
            history.append(("push_killed", k, round(rng.uniform(0.0, 0.1), 3)))
        if self.postgres and ("pg_kill", None) not in kinds:
            history.append(("pg_kill", k))

    def healed(self) -> list[tuple]:
        """The history, and the healing of every fault still on at its end."""
        return (self.history + [("online", k) for k in sorted(self.offline)] + [("lossy", k, 0.0) for k in
                                                                                sorted(self.lossy)]
                + [("cache", k, "") for k in sorted(self.cache_fault)])


def _place_later_pushes(history: list[tuple]) -> list[tuple]:
    """A ``push_both_later`` marker becomes a ``push_both`` right after both its kiosks are online again."""
    placed: list[tuple] = []
    waiting: list[tuple] = []
    online: set[int] = set()
    for step in history:
        if step[0] == "push_both_later":
            waiting.append(step)
            online -= {step[1], step[2]}
            continue
        if step[0] == "online":
            online.add(step[1])
        elif step[0] == "offline":
            online.discard(step[1])
        placed.append(step)
        for marker in list(waiting):
            if {marker[1], marker[2]} <= online:
                waiting.remove(marker)
                placed.append(("push_both", marker[1], marker[2]))
    return placed
