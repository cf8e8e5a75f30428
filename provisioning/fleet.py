"""The fleet of kiosks (issue 8), for administrators: every enrolled device with its last
heartbeat (version, uptime, readers, outbox, last errors, reported through sync and kept on
the device row by ``POST /api/v1/sync/heartbeat``) and the central store's own view of it
(last pull and push). A device whose last heartbeat is older than
``[provisioning] fleet_quiet_minutes`` — or that never sent one — is marked *quiet*.
The table refreshes itself every 30 s; an administrator can revoke a device here (the same
``library_kiosk.central.store.devices.revoke`` as ``kiosk devices revoke NAME``, plus an audit entry) or re-enrol it
(the same ``store.devices.add(NAME, replace=True)`` as ``kiosk devices add NAME --replace``: the
old token stops working at once, and the new one-time enrolment code is shown once, outside the
refreshing table, and is never stored in clear).
"""
from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, current_app, request, url_for
from htmx_flask import request as htmx_request

from library_kiosk.central.store import devices, staff
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import _now
from provisioning import formats, paging
from provisioning.views import done, operator, render, requires

bp = Blueprint("fleet", __name__, url_prefix="/fleet")
REFRESH_SECONDS = 30


def passive(view):
    """A polling request: it does not count as the staff user's activity (session timeout)."""
    view.passive = True
    return view


def quiet_minutes() -> int:
    return int(current_app.config["KIOSK"]["provisioning"].get("fleet_quiet_minutes", 10))


def now() -> dt.datetime:
    """UTC now, like the store's timestamps (``app.config["NOW"]`` pins it in tests)."""
    return current_app.config.get("NOW", _now)()


def is_quiet(last_heartbeat: dt.datetime | None, at: dt.datetime, minutes: int) -> bool:
    """Quiet: never heard from, or heard from more than ``minutes`` ago (exactly ``minutes`` is not quiet)."""
    return last_heartbeat is None or at - last_heartbeat > dt.timedelta(minutes=minutes)


def age_text(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "never"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days} d {hours % 24} h ago"
    if hours:
        return f"{hours} h {minutes % 60} min ago"
    return f"{minutes} min ago"


def uptime_text(seconds) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "unknown"
    seconds = int(seconds)
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    return f"{days} d {hours} h" if days else f"{hours} h {minutes} min"


def _heartbeat(device) -> dict:
    try:
        data = json.loads(device.heartbeat or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _readers(data: dict) -> dict:
    readers = data.get("readers")
    if not isinstance(readers, list):
        return {"known": False, "online": [], "offline": []}
    named = [r for r in readers if isinstance(r, dict)]
    return {"known": True, "online": [str(r.get("name", "?")) for r in named if r.get("online")],
            "offline": [str(r.get("name", "?")) for r in named if not r.get("online")]}


def _errors(data: dict, limit: int = 3) -> list[str]:
    found = []
    for error in data.get("errors") or []:
        if isinstance(error, dict):
            found.append(f"{_at(error.get('at'))} {error.get('message', '')}".strip())
        else:
            found.append(str(error))
    if data.get("heartbeat_error"):
        found.append(f"heartbeat: {data['heartbeat_error']}")
    clock = _clock(data)
    if clock:
        found.append(clock)
    return [e[:300] for e in found[-limit:]]


def _at(value) -> str:
    """A heartbeat error's UTC stamp ("2026-11-25T09:12:00Z") on the library's clock; as sent when unreadable."""
    try:
        return formats.moment_text(dt.datetime.fromisoformat(str(value))) + ":"
    except ValueError:
        return str(value or "")


def _clock(data: dict) -> str:
    """What the kiosk's heartbeat says of its clock against the central store's (kiosk/trusted_clock.py): a
    clock more than a minute off (corrected at the kiosk, but its NTP wants fixing), or no trusted time (offline
    renewals refused there); "" when neither."""
    clock = data.get("clock")
    if not isinstance(clock, dict):
        return ""
    offset = clock.get("offset_seconds")
    off = ""
    if isinstance(offset, (int, float)) and not isinstance(offset, bool) and abs(offset) > 60:
        ahead = "ahead of" if offset < 0 else "behind"
        amount = f"{abs(offset) / 86400:.1f} days" if abs(offset) >= 86400 else f"{abs(offset):.0f} s"
        off = f"clock: {amount} {ahead} the central store's (corrected here; check its time sync)"
    if clock.get("trusted") is False:
        problem = str(clock.get("problem") or "")[:120]
        return (f"{off}; " if off else "clock: ") + f"no trusted time ({problem}): offline renewals refused"
    return off


def _storage(data: dict) -> str:
    """The kiosk cache's storage fault its heartbeat reports (kiosk/heartbeat.py ``storage``): "full",
    "read-only", "missing" or "corrupt"; "" when fine or not reported (an older kiosk)."""
    found = data.get("storage")
    if not isinstance(found, dict) or found.get("ok") is not False:
        return ""
    return str(found.get("problem") or "fault")[:20]


def _outbox(data: dict):
    value = data.get("outbox_length")
    if value is None and isinstance(data.get("sync"), dict):
        value = data["sync"].get("outbox_length")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def fleet_rows(at: dt.datetime, minutes: int) -> list[dict]:
    rows = []
    for device in devices.Device.select().order_by(devices.Device.name):
        data = _heartbeat(device)
        revoked = device.status == "revoked"
        age = at - device.last_heartbeat if device.last_heartbeat else None
        rows.append({
            "name": device.name, "status": device.status, "enrolled": device.enrolled, "revoked": device.revoked,
            "last_heartbeat": device.last_heartbeat, "age": age_text(age),
            "quiet": not revoked and is_quiet(device.last_heartbeat, at, minutes),
            "version": data.get("version") or "", "uptime": uptime_text(data.get("uptime_seconds")),
            "readers": _readers(data), "outbox": _outbox(data), "last_pull": device.last_pull,
            "last_push": device.last_push, "errors": _errors(data), "storage": _storage(data),
        })
    return rows


# the fleet table's sortable columns (?sort=NAME&dir=desc)
SORTS = {
    "name": lambda row: row["name"],
    "status": lambda row: (row["status"], row["name"]),
    "heartbeat": lambda row: (row["last_heartbeat"] is not None, row["last_heartbeat"] or dt.datetime.min),
    "version": lambda row: (row["version"], row["name"]),
}


def _page(status: int = 200, notice: str = "", error: str = "", enrolment: dict | None = None):
    """The whole fleet page, or only its table for htmx (the 30 s refresh, a revoke); after a re-enrolment
    the code comes too (out of band for htmx, into the box above the table)."""
    minutes, at = quiet_minutes(), now()
    rows = fleet_rows(at, minutes)
    sort, descending = paging.sort_order(request.args, SORTS, "name")  # sorted, then paged, on the server
    rows.sort(key=SORTS[sort], reverse=descending)
    found = paging.paginate_list(rows, paging.page_number(request.args))
    if htmx_request.htmx:
        template = "_fleet_reenrolled.html" if enrolment else "_fleet_table.html"
    else:
        template = "fleet.html"
    return render(template, status, rows=found.rows, found=found, sort=sort, descending=descending, minutes=minutes,
                  at=at, refresh=REFRESH_SECONDS, quiet_count=sum(1 for r in rows if r["quiet"]), notice=notice,
                  error=error, enrolment=enrolment)


@bp.get("")
@requires("administrator")
def index():
    return _page()


@bp.get("/table")
@requires("administrator")
@passive
def table():
    return _page()


@bp.post("/revoke")
@requires("administrator")
def revoke():
    name = request.form.get("name", "").strip()
    device = devices.Device.get_or_none(devices.Device.name == name)
    if device is None:
        return _page(404, error=f"There is no device called {name!r}.")
    if device.status == "revoked":
        return _page(409, error=f"{name} is already revoked.")
    with database.atomic():
        devices.revoke(name)  # the same as `kiosk devices revoke NAME`
        staff.audit(operator(), "device.revoke", detail=f"Revoked kiosk device {name} at the station")
    notice = f"{name} is revoked: the central store refuses it from its next request."
    return _page(notice=notice) if htmx_request.htmx else done(url_for("fleet.index"), notice)


@bp.post("/reenrol")
@requires("administrator")
def reenrol():
    name = request.form.get("name", "").strip()
    if devices.Device.get_or_none(devices.Device.name == name) is None:
        return _page(404, error=f"There is no device called {name!r}.")
    with database.atomic():
        code = devices.add(name, replace=True)  # the same as `kiosk devices add NAME --replace`
        staff.audit(operator(), "device.reenrol", detail=f"New enrolment code for kiosk device {name} at the station")
    return _page(notice=f"{name} must be enrolled again: its old credential no longer works.",
                 enrolment={"name": name, "code": code, "hours": devices.CODE_VALID_HOURS})
