"""Creating, emptying and seeding the central store's tables."""
from __future__ import annotations

from library_kiosk.central.store import patron_search
from library_kiosk.central.store.db import bind, database, is_postgres
from library_kiosk.central.store.devices import AppliedOp, Device, SyncConflict, SyncConflictDealt
from library_kiosk.central.store.documents import PatronDocument
from library_kiosk.central.store.fleet_keys import FleetKey
from library_kiosk.central.store.items import ITEM_MODELS
from library_kiosk.central.store.jobs.models import JobRun
from library_kiosk.central.store.kiosk_calls import StaffCall
from library_kiosk.central.store.lending import LENDING_MODELS
from library_kiosk.central.store.letters import Letter, LetterQueue
from library_kiosk.central.store.models import PATRON_MODELS
from library_kiosk.central.store.pin_checks import PinFailures
from library_kiosk.central.store.staff import AuditEntry, StaffUser
from library_kiosk.central.store.staff_logins import LoginFailures, StaffSession
from library_kiosk.central.store.sync_scope import PatronActivity, ScopeSweep
from library_kiosk.central.store.usage import KioskUsage
from library_kiosk.central.store.visits import DeviceGap, Visit

# Every table of the central store, in an order that creates a table after those it refers to. The upstream
# connectors' own tables (library_kiosk/central/upstream/models.py) are created by the connector that uses them.
ALL_MODELS = [
    *PATRON_MODELS,         # patrons, identifiers, loans, requests, fees, changes (models.py)
    StaffUser, AuditEntry,  # the station's staff and the audit log (staff.py)
    LoginFailures, StaffSession,  # wrong passwords counted, live station sessions (staff_logins.py)
    PinFailures,            # kiosks' wrong PINs counted per patron, the central lock (pin_checks.py)
    Letter, LetterQueue,    # letters and their queue (letters.py)
    JobRun,                 # the administration jobs' runs and reports (jobs/models.py)
    Device, SyncConflict, SyncConflictDealt, AppliedOp,  # kiosks and the operations applied once (devices.py)
    FleetKey,               # the PIN check key kiosks are given (fleet_keys.py)
    StaffCall,              # "call staff" at a kiosk (kiosk_calls.py)
    PatronDocument,         # the sync read model (documents.py)
    KioskUsage,             # kiosk usage statistics, counts only (usage.py)
    Visit, DeviceGap,       # patrons' visits at kiosks, kiosks' times out of contact (visits.py)
    PatronActivity, ScopeSweep,  # who used a kiosk lately, for the kiosks' scope (sync_scope.py)
    *ITEM_MODELS,           # items, loan limits per material type, closed days (items.py)
    *LENDING_MODELS,        # checkouts and returns applied once, by key (lending.py)
]


def create_tables(db=None) -> None:
    db = db or database
    db.create_tables(ALL_MODELS, safe=True)
    add_missing_columns(db)
    patron_search.prepare(db)  # the search key's index, and the key of records written without it


def add_missing_columns(db, models=None) -> list[str]:
    """Add the columns a newer version of a model has to a table made by an older one (a new column always has a
    default or allows NULL); return ``table.column`` of each added. Columns are never dropped or changed here.
    ``models``: the store's (default), or a connector's own tables (upstream/models.py)."""
    from playhouse.migrate import SchemaMigrator, migrate

    models = ALL_MODELS if models is None else models
    db = db.obj if hasattr(db, "obj") else db
    migrator = SchemaMigrator.from_database(db)
    added, operations = [], []
    columns = _columns(db, models)
    for model in models:
        table = model._meta.table_name
        for field in model._meta.sorted_fields:
            if field.column_name not in columns.get(table, set()):
                operations.append(migrator.add_column(table, field.column_name, field))
                added.append(f"{table}.{field.column_name}")
    if operations:
        with db.atomic():
            migrate(*operations)
    return added


def _columns(db, models) -> dict[str, set[str]]:
    """Every table's column names, in one statement on PostgreSQL (a test creates the store hundreds of times)."""
    found: dict[str, set[str]] = {}
    if is_postgres(db):
        rows = db.execute_sql("SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE table_schema = current_schema()").fetchall()
        for table, column in rows:
            found.setdefault(table, set()).add(column)
        return found
    for model in models:
        table = model._meta.table_name
        found[table] = {row[1] for row in db.execute_sql(f'PRAGMA table_info("{table}")').fetchall()}
    return found


def init(url: str):
    db = bind(url)
    with db.connection_context():
        create_tables(db)
    if hasattr(db, "close_all"):
        # A pooled connection must not outlive this call: gunicorn forks its workers after the
        # app is built, and two processes on one PostgreSQL connection corrupt each other's results.
        db.close_all()
    return db

