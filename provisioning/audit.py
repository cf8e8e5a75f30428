"""The audit log page's filters and paging (issue 16): who, what action, which patron, from and to (the library's
local days), newest first unless a column header sorts it (time, who, action, patron; ``sort_of``), one page of
``paging.PAGE_SIZE`` at a time; each action by its description, its code on
hover. The entries are ``library_kiosk.central.store.staff.AuditEntry`` rows (stamped in naive UTC)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from library_kiosk.central.store.staff import AuditEntry
from provisioning import paging

ACTIONS = {
    "login": "Logged in", "logout": "Logged out", "login.failed": "Wrong password at login",
    "login.refused": "Login refused (locked after wrong passwords)",
    "staff.create": "Staff user created", "staff.password_change": "Own password changed",
    "staff.password_set": "Staff password set", "staff.deactivate": "Staff user deactivated",
    "staff.reactivate": "Staff user reactivated", "staff.role": "Staff role changed",
    "patron.register": "Patron registered", "patron.update": "General information changed",
    "patron.rs_library": "Resource sharing library changed",
    "fee.add": "Fine or fee added", "fee.payment": "Fee paid", "fee.waive": "Fee waived",
    "card.replace": "Card replaced", "card.unlink": "Card unlinked", "card.batch": "Card linked (batch)",
    "card.batch_undo": "Card batch step undone", "card.import": "Card imported",
    "loan.lost": "Loan marked lost", "loan.claimed_returned": "Loan claimed returned", "loan.found": "Loan found",
    "loan.renew": "Loan renewed at the desk", "loan.renew_refused": "Renewal refused at the desk",
    "loan.checkout": "Item checked out at the desk", "loan.checkout_refused": "Checkout refused at the desk",
    "loan.checkin_shelf": "Item checked in at the desk: to the shelf",
    "loan.checkin_hold_shelf": "Item checked in at the desk: to the hold shelf",
    "loan.checkin_transit": "Item checked in at the desk: in transit", "loan.checkin_desk":
    "Item checked in at the desk: kept at the desk", "loan.checkin_refused": "Check-in refused at the desk",
    "kiosk.pin_check": "PIN or password checked at a kiosk", "kiosk.pin_lockout": "Locked out at a kiosk",
    "station.pin_unlock": "Kiosk lockout ended at the station", "kiosk.call_closed": "Staff call closed",
    "conflict.dealt_with": "Sync conflict dealt with", "device.revoke": "Kiosk revoked",
    "device.reenrol": "Kiosk re-enrolment code made", "group:create": "User group created",
    "group:edit": "User group changed",
}
JOB_TITLES = {"feed": "patron feed", "purge": "purge user records", "waive": "bulk fine waiving",
              "merge": "merge users", "groups.move": "move a user group's users",
              "groups.remove": "remove a user group", "groups.import": "user groups import",
              "anonymise": "anonymise loan history"}
VERBS = {"add": "added", "edit": "changed", "delete": "deleted", "duplicate": "duplicated"}
SEGMENTS = {"email": "Email", "address": "Address", "phone": "Phone number", "identifier": "Identifier",
            "statistic": "Statistic", "note": "Note"}


def describe_action(action: str) -> str:
    """An audit action in words: "fee.waive" reads "Fee waived", "note.add" "Note added", "job:purge" "Job run:
    purge"; an action not known here is shown as it is."""
    if action in ACTIONS:
        return ACTIONS[action]
    if action.startswith("job:"):
        return f"Job run: {JOB_TITLES.get(action[4:], action[4:])}"
    kind, _, verb = action.partition(".")
    if kind in SEGMENTS and verb in VERBS:
        return f"{SEGMENTS[kind]} {VERBS[verb]}"
    return action


@dataclass
class Filters:
    who: str = ""
    action: str = ""
    patron: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    errors: dict = field(default_factory=dict)  # field -> what is wrong; a bad filter shows no rows

    def as_args(self) -> dict:
        return {"who": self.who, "action": self.action, "patron": self.patron,
                "from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else ""}


def _day(args, name: str, label: str, errors: dict) -> dt.date | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = f"The {label} date is not a date: choose one in the date field."
        return None


def read_filters(args) -> Filters:
    """The filters from the query string; a bad date or a range that ends before it starts is an error."""
    errors: dict[str, str] = {}
    found = Filters(who=(args.get("who") or "").strip()[:60], action=(args.get("action") or "").strip()[:60],
                    patron=(args.get("patron") or "").strip()[:100], start=_day(args, "from", "From", errors),
                    end=_day(args, "to", "To", errors), errors=errors)
    if found.start and found.end and found.start > found.end:
        errors["to"] = "The To date is before the From date."
    return found


def utc_start_of(day: dt.date) -> dt.datetime:
    """The first instant of a local day (the library's zone), as naive UTC like the stored stamps."""
    return dt.datetime.combine(day, dt.time(0)).astimezone().astimezone(dt.UTC).replace(tzinfo=None)


SORTS = {"when": AuditEntry.created, "who": AuditEntry.operator, "action": AuditEntry.action,
         "patron": AuditEntry.primary_id}
SORT_WORDS = {"when": "time", "who": "who", "action": "action", "patron": "patron"}


def sort_of(args) -> tuple[str, bool]:
    """The column the log is sorted by and whether descending: ``?sort=who&dir=asc``; newest first by default."""
    if not args.get("sort"):
        return "when", True
    return paging.sort_order(args, SORTS, "when")


def query(filters: Filters, sort: str = "when", descending: bool = True):
    if sort == "when":
        order = [AuditEntry.created.desc(), AuditEntry.id.desc()] if descending else \
            [AuditEntry.created.asc(), AuditEntry.id.asc()]
    else:  # within one value of the column: newest first
        column = SORTS[sort]
        order = [column.desc() if descending else column.asc(), AuditEntry.created.desc(), AuditEntry.id.desc()]
    found = AuditEntry.select().order_by(*order)
    if filters.who:
        found = found.where(AuditEntry.operator == filters.who)
    if filters.action:
        found = found.where(AuditEntry.action == filters.action)
    if filters.patron:
        found = found.where(AuditEntry.primary_id == filters.patron)
    if filters.start:
        found = found.where(AuditEntry.created >= utc_start_of(filters.start))
    if filters.end:
        found = found.where(AuditEntry.created < utc_start_of(filters.end + dt.timedelta(days=1)))
    return found


def page(filters: Filters, number: int, sort: str = "when", descending: bool = True) -> paging.Page:
    if filters.errors:
        return paging.Page([], 0, 1)
    return paging.paginate(query(filters, sort, descending), number)


JOBS = tuple(JOB_TITLES)


def known_actions() -> list[str]:
    """Every action the product writes to the log (a fixed list: reading the log's own would scan it whole)."""
    return (list(ACTIONS) + [f"{kind}.{verb}" for kind in SEGMENTS for verb in VERBS]
            + [f"job:{job}" for job in JOBS])


def choices(selected: str = "") -> tuple[list[str], list[tuple[str, str]]]:
    """The names that have written to the log (from its index), and the actions, by description."""
    who = [name for (name,) in AuditEntry.select(AuditEntry.operator).distinct().order_by(AuditEntry.operator)
           .tuples()]
    actions = known_actions()
    if selected and selected not in actions:  # an action from an older release, asked for by its code
        actions.append(selected)
    return who, sorted(((a, describe_action(a)) for a in actions), key=lambda pair: pair[1].lower())
