"""Creating, emptying and seeding the central store's tables."""
from __future__ import annotations

from library_kiosk.central.store.db import bind, database
from library_kiosk.central.store.devices import AppliedOp, Device, SyncConflict, SyncConflictDealt
from library_kiosk.central.store.documents import PatronDocument
from library_kiosk.central.store.jobs.models import JobRun
from library_kiosk.central.store.kiosk_calls import StaffCall
from library_kiosk.central.store.letters import Letter, LetterQueue
from library_kiosk.central.store.models import PATRON_MODELS
from library_kiosk.central.store.staff import AuditEntry, StaffUser
from library_kiosk.central.store.staff_logins import LoginFailures, StaffSession
from library_kiosk.central.store.usage import KioskUsage

# Every table of the central store, in an order that creates a table after those it refers to. The upstream
# connectors' own tables (library_kiosk/central/upstream/models.py) are created by the connector that uses them.
ALL_MODELS = [
    *PATRON_MODELS,         # patrons, identifiers, loans, requests, fees, changes (models.py)
    StaffUser, AuditEntry,  # the station's staff and the audit log (staff.py)
    LoginFailures, StaffSession,  # wrong passwords counted, live station sessions (staff_logins.py)
    Letter, LetterQueue,    # letters and their queue (letters.py)
    JobRun,                 # the administration jobs' runs and reports (jobs/models.py)
    Device, SyncConflict, SyncConflictDealt, AppliedOp,  # kiosks and the operations applied once (devices.py)
    StaffCall,              # "call staff" at a kiosk (kiosk_calls.py)
    PatronDocument,         # the sync read model (documents.py)
    KioskUsage,             # kiosk usage statistics, counts only (usage.py)
]


def create_tables(db=None) -> None:
    (db or database).create_tables(ALL_MODELS, safe=True)


def init(url: str):
    db = bind(url)
    with db.connection_context():
        create_tables(db)
    if hasattr(db, "close_all"):
        # A pooled connection must not outlive this call: gunicorn forks its workers after the
        # app is built, and two processes on one PostgreSQL connection corrupt each other's results.
        db.close_all()
    return db

