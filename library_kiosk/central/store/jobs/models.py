"""The stored job report: one ``JobRun`` row per run of an administration job.

Parameters, counts and the affected records are kept as JSON text so the same
row works on SQLite and PostgreSQL. Until the provisioning station's audit log
exists, this row is also the audit record of who ran what, when.
"""
from __future__ import annotations

import json

import peewee as pw

from library_kiosk.central.store.models import BaseModel, _now


class JobRun(BaseModel):
    job = pw.CharField(max_length=40, index=True)  # feed / purge / waive / merge / groups.move / ...
    operator = pw.CharField(max_length=100)
    parameters = pw.TextField(default="{}")
    dry_run = pw.BooleanField(default=False)
    status = pw.CharField(max_length=10, default="running")  # running / done / refused / failed
    message = pw.TextField(default="")
    counts = pw.TextField(default="{}")
    details = pw.TextField(default="{}")
    started = pw.DateTimeField(default=_now)
    finished = pw.DateTimeField(null=True)

    def as_dict(self) -> dict:
        return {
            "id": self.id, "job": self.job, "operator": self.operator, "dry_run": self.dry_run,
            "status": self.status, "message": self.message, "parameters": json.loads(self.parameters),
            "counts": json.loads(self.counts), "details": json.loads(self.details),
            "started": self.started.isoformat(sep=" ", timespec="seconds") if self.started else None,
            "finished": self.finished.isoformat(sep=" ", timespec="seconds") if self.finished else None,
        }


JOB_MODELS = [JobRun]
