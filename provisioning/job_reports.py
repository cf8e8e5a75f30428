"""An administration job's report as tables people read (issue 16): one table per list of affected records, each
patron by name and primary ID, amounts as money, fee types by their descriptions; and the same tables as one CSV
file (``csv_text``).

A report (``JobReport.as_dict`` or ``JobRun.as_dict``) lists patrons by primary ID only. Names are looked up in
the store when the report is shown; a record the job deleted (a purge, the duplicate of a merge) no longer has
one there, so the station keeps the names a dry run found (``names_in``) for the real run it confirms, and a
stored report read later says "no longer in the store" for those: the store keeps no name of a purged patron."""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from flask import url_for
from markupsafe import Markup

from library_kiosk.central.store.models import User
from library_kiosk.domain import codes
from provisioning import formats

GONE = "no longer in the store"
LABELS = {"primary_id": "Primary ID", "name": "Name", "owed": "Owed", "amount": "Amount", "fees": "Fees",
          "fees_waived": "Fees waived", "line": "Line", "reason": "Reason", "warning": "Warning", "code": "Group",
          "description": "Description", "users": "Users", "active_users": "Active users",
          "last_activity": "Last activity", "feed_codes": "Feed codes", "loan_id": "Loan"}
MONEY = frozenset({"owed", "amount", "amount_waived", "max_owed", "max_threshold"})
LIST_TITLES = {"purged": "Purged", "spared_owing": "Spared: owing more than the limit",
               "spared_loans": "Spared: loans still out", "users_waived": "Fines waived",
               "skipped_over_threshold": "Skipped: owing more than the threshold",
               "skipped_overdue": "Skipped: overdue loans", "deleted": "Deleted (the duplicate)",
               "kept": "Kept", "moved": "Moved", "removed": "Removed", "anonymised": "Anonymised loans",
               "groups": "User groups", "rejected": "Rejected rows", "warnings": "Warnings",
               "groups_created": "User groups created", "created": "Created", "updated": "Updated",
               "deactivated": "Deactivated"}


@dataclass
class Table:
    key: str
    title: str
    total: int  # the count of the list (the stored report keeps at most 10,000 of them)
    columns: list[str] = field(default_factory=list)
    rows: list[list[tuple[object, str]]] = field(default_factory=list)  # (shown, CSV text) per cell

    @property
    def labels(self) -> list[str]:
        return [LABELS.get(c, c.replace("_", " ").capitalize()) for c in self.columns]


def _string_kind(job: str) -> str:
    """What a report's plain strings are: group codes, loan ids or (most jobs) patrons' primary ids."""
    if job in ("groups.remove", "groups.import"):
        return "code"
    return "loan_id" if job == "anonymise" else "primary_id"


def _items(job: str, items: list) -> list[dict]:
    kind = _string_kind(job)
    return [item if isinstance(item, dict) else {kind: item} for item in items]


def primary_ids(report: dict) -> set[str]:
    found = set()
    for items in (report.get("details") or {}).values():
        for item in _items(report.get("job", ""), items):
            if item.get("primary_id"):
                found.add(str(item["primary_id"]))
    return found


def names_in(report: dict | None, known: dict[str, str] | None = None) -> dict[str, str]:
    """The names of the patrons a report lists, as the store has them now (with ``known`` ones kept)."""
    names = dict(known or {})
    wanted = sorted(primary_ids(report or {}) - set(names))
    for start in range(0, len(wanted), 500):
        query = (User.select(User.primary_id, User.first_name, User.last_name)
                 .where(User.primary_id.in_(wanted[start:start + 500])).tuples())
        for pid, first, last in query:
            names[pid] = f"{first} {last}".strip()
    return names


def _fees_text(fees) -> str:
    if not isinstance(fees, list):
        return str(fees)
    return "; ".join(f"{codes.describe(codes.FEE_TYPES, f.get('fee_type'))} {formats.money(f.get('amount'))}"
                     if isinstance(f, dict) else str(f) for f in fees)


def _cell(column: str, value) -> tuple[object, str]:
    if value is None:
        return "", ""
    if column in MONEY:
        text = formats.money(value)
        return text, text
    if column in ("fees", "fees_waived"):
        text = _fees_text(value)
        return text, text
    if column == "last_activity" and isinstance(value, str) and len(value) == 10:
        day = dt.date.fromisoformat(value)
        return formats.day(day), formats.long_date(day)
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
        return text, text
    if column == "code" and isinstance(value, str):
        return value, value
    return value, str(value)


def _name_cell(pid: str, names: dict[str, str], links: bool) -> tuple[object, str]:
    name = names.get(pid)
    if name is None:
        return Markup('<em class="hint">{}</em>').format(GONE), f"({GONE})"
    if links:
        return Markup('<a href="{}">{}</a>').format(url_for("patrons.patron", primary_id=pid), name), name
    return name, name


def tables(report: dict, names: dict[str, str] | None = None, links: bool = True) -> list[Table]:
    """The report's lists as tables; ``names`` (``names_in``) for the patrons, looked up when not given."""
    names = names_in(report, names)
    found = []
    counts = report.get("counts") or {}
    for key, items in (report.get("details") or {}).items():
        rows = _items(report.get("job", ""), items)
        columns: list[str] = []
        for item in rows:
            columns.extend(c for c in item if c not in columns)
        if "primary_id" in columns:
            columns.insert(columns.index("primary_id") + 1, "name")
        table = Table(key=key, title=LIST_TITLES.get(key, key.replace("_", " ").capitalize()),
                      total=counts.get(key, len(items)) if isinstance(counts.get(key), int) else len(items),
                      columns=columns)
        for item in rows:
            table.rows.append([_name_cell(str(item.get("primary_id", "")), names, links) if c == "name"
                               else _cell(c, item.get(c)) for c in columns])
        found.append(table)
    return found


def counts(report: dict) -> list[tuple[str, str]]:
    """The report's counts, labelled, numbers grouped and amounts as money."""
    shown = []
    for key, value in (report.get("counts") or {}).items():
        label = LIST_TITLES.get(key, key.replace("_", " ").capitalize())
        if key in MONEY:
            shown.append((label, formats.money(value)))
        else:
            shown.append((label, f"{value:,}" if isinstance(value, int) else str(value)))
    return shown


PARAMETER_CODES = {"record_type": codes.RECORD_TYPES, "fee_type": codes.FEE_TYPES, "source": codes.SOURCE_SYSTEMS}


def parameters(values: dict) -> list[tuple[str, object]]:
    """A job's parameters, labelled: amounts as money, coded values by their descriptions, none as "(any)"."""
    shown: list[tuple[str, object]] = []
    for key, value in (values or {}).items():
        label = key.replace("_", " ").capitalize()
        if value is None or value == "":
            shown.append((label, "(any)"))
        elif key in MONEY:
            shown.append((label, formats.money(value)))
        elif key in PARAMETER_CODES:
            shown.append((label, formats.coded(PARAMETER_CODES[key], str(value))))
        elif isinstance(value, bool):
            shown.append((label, "yes" if value else "no"))
        elif isinstance(value, list):
            shown.append((label, ", ".join(str(v) for v in value)))
        else:
            shown.append((label, value))
    return shown


def csv_text(report: dict, names: dict[str, str] | None = None) -> str:
    """Every list of the report in one CSV file: a ``list`` column, then the union of the lists' columns."""
    found = tables(report, names, links=False)
    columns: list[str] = []
    for table in found:
        columns.extend(c for c in table.columns if c not in columns)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["list"] + [LABELS.get(c, c.replace("_", " ").capitalize()) for c in columns])
    for table in found:
        for row in table.rows:
            by_column = {c: cell[1] for c, cell in zip(table.columns, row)}
            writer.writerow([table.title] + [by_column.get(c, "") for c in columns])
    return out.getvalue()


def init_app(app) -> None:
    app.add_template_global(tables, "report_tables")
    app.add_template_global(counts, "report_counts")
    app.add_template_global(parameters, "job_parameters")
