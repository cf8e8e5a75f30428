"""Calls for staff made at a kiosk ("call staff" on the help screen).

The kiosk posts a call to the central store; the staff station lists the open ones
(``open_calls``) and closes them when someone has gone to help (``close_call``).
"""
from __future__ import annotations

import peewee as pw

from library_kiosk.central.store.models import BaseModel, _now

REASONS = {"help": "Needs help", "card": "Problem with a card", "pin": "Problem with a PIN",
           "renewal": "Problem with a renewal", "other": "Other",
           "out_of_order": "Kiosk out of order (its storage)"}  # called by the kiosk itself (kiosk/services.py)


class StaffCall(BaseModel):
    created = pw.DateTimeField(default=_now, index=True)
    device = pw.CharField(max_length=100, default="")
    reason = pw.CharField(max_length=20, default="help")
    primary_id = pw.CharField(max_length=100, default="")  # the patron on screen, if any
    status = pw.CharField(max_length=10, default="open", index=True)  # open / closed
    closed = pw.DateTimeField(null=True)


def create_call(device: str, reason: str, primary_id: str = "") -> StaffCall:
    if not isinstance(reason, str) or reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}; one of {', '.join(REASONS)}")
    return StaffCall.create(device=device[:100], reason=reason, primary_id=(primary_id or "")[:100])


def open_calls(limit: int = 100) -> list[StaffCall]:
    return list(StaffCall.select().where(StaffCall.status == "open").order_by(StaffCall.created, StaffCall.id)
                .limit(limit))


def close_call(call_id: int) -> bool:
    return StaffCall.update(status="closed", closed=_now()).where(
        (StaffCall.id == call_id) & (StaffCall.status == "open")).execute() == 1
