"""The faults, injected into a running cluster (tests/faults/cluster.py) and healed; ``injected`` counts them by
kind. The clock fault is a kiosk started under libfaketime (``Kiosk(clock_offset=...)``), counted here too."""
from __future__ import annotations

import collections
import time

OUTAGE_SECONDS = 11.0  # an outage lasts longer than the central store's contact note (visits.CONTACT_NOTE_SECONDS)


class Nemesis:
    def __init__(self, kiosks, database_url: str):
        self.kiosks = kiosks
        self.database_url = database_url
        self.injected: collections.Counter = collections.Counter()
        self.down_since: dict[int, float] = {}
        self.cache_faults: dict[int, str] = {}

    def offline(self, k: int) -> None:
        if k in self.down_since:
            return
        self.kiosks[k].proxy.down()
        self.down_since[k] = time.monotonic()
        self.injected["central_unreachable"] += 1

    def online(self, k: int) -> None:
        if k not in self.down_since:
            return
        # an outage shorter than the central store's contact note is no gap there (the kiosk's offline renewals
        # would be refused as made outside a visit): the fault lasts at least that long, by design
        left = OUTAGE_SECONDS - (time.monotonic() - self.down_since.pop(k))
        if left > 0:
            time.sleep(left)
        self.kiosks[k].proxy.up()

    def lossy(self, k: int, share: float) -> None:
        self.kiosks[k].proxy.loss = share
        if share:
            self.injected["answers_dropped_phase"] += 1

    def cache(self, k: int, fault: str) -> None:
        if self.cache_faults.get(k, "") == fault:
            return
        self.kiosks[k].ask({"op": "fault", "fault": fault})
        if fault:
            self.cache_faults[k] = fault
            self.injected[f"cache_{fault}"] += 1
        else:
            self.cache_faults.pop(k, None)

    def pg_kill(self) -> int:
        """Terminate the central store's PostgreSQL connections (not the checker's own)."""
        import psycopg2

        from library_kiosk.central.store.models import User

        own = User._meta.database.connection().get_backend_pid()

        connection = psycopg2.connect(self.database_url, connect_timeout=5)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND pid <> pg_backend_pid() AND pid <> %s", (own,))
                killed = sum(1 for (ok,) in cursor.fetchall() if ok)
        finally:
            connection.close()
        self.injected["postgres_backends_killed"] += killed
        self.injected["postgres_kill_rounds"] += 1
        return killed

    def heal(self) -> None:
        for k in list(self.down_since):
            self.online(k)
        for k, kiosk in enumerate(self.kiosks):
            kiosk.proxy.loss = 0.0
            self.cache(k, "")

    def dropped(self) -> int:
        return sum(kiosk.proxy.dropped for kiosk in self.kiosks)
