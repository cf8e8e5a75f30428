"""Pages of changes from the central store, as the kiosk receives them: the line format parsed
(``parse_lines``) and each part checked, so a corrupt or truncated page raises ``PageError`` and
nothing of it is applied (kiosk/cache.py applies checked pages)."""
from __future__ import annotations

import datetime as dt
import json


class PageError(ValueError):
    """A page from the central store is malformed (corrupt or truncated): nothing is applied."""


def check_head(page) -> None:
    if not isinstance(page, dict) or not isinstance(page.get("records"), list) \
            or not isinstance(page.get("cursor"), int) or not isinstance(page.get("more"), bool):
        raise PageError("the page lacks its cursor, more flag or records")
    unlocks_of(page)


def unlocks_of(page: dict) -> dict[str, dt.datetime]:
    """The staff unlocks a page carries (``{primary_id: "...Z"}``, the central store's UTC time of each) as naive
    UTC times; ``PageError`` if the field is there but malformed."""
    found = page.get("unlocks")
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise PageError("the page's unlocks are garbled")
    times = {}
    for primary_id, text in found.items():
        try:
            if not isinstance(text, str) or not text.endswith("Z"):
                raise ValueError(text)
            times[primary_id] = dt.datetime.fromisoformat(text[:-1])
        except ValueError:
            raise PageError("the page's unlocks are garbled") from None
        if times[primary_id].tzinfo is not None:
            raise PageError("the page's unlocks are garbled")
    return times


def check_record(record) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("primary_id"), str) \
            or not isinstance(record.get("seq"), int) or record.get("kind") not in ("upsert", "delete"):
        raise PageError("a record lacks its primary id, seq or kind")
    if record["kind"] == "upsert":
        identifiers = record.get("identifiers")
        if "document" in record:  # the line format: the document's JSON text, stored as is
            if not document_of(record["document"], record["primary_id"]):
                raise PageError(f"the document of {record['primary_id']!r} is incomplete")
        else:
            account = record.get("account")
            if not isinstance(account, dict) or account.get("primary_id") != record["primary_id"]:
                raise PageError(f"the record of {record['primary_id']!r} is incomplete")
        if not isinstance(identifiers, list) \
                or not all(isinstance(i, dict) and isinstance(i.get("key"), str) for i in identifiers):
            raise PageError(f"the record of {record['primary_id']!r} is incomplete")


def document_of(document, primary_id: str) -> bool:
    """A document sent as JSON text: an object that starts with its own primary id (``Account.to_dict``
    order, compact JSON as the central store writes it) and is closed."""
    return isinstance(document, str) and document.endswith("}") \
        and document.startswith('{"primary_id":' + json.dumps(primary_id) + ",")


def parse_lines(text: str) -> dict:
    """A page in the line format (``library_kiosk.central.store.sync.changes_lines``) as a page dict whose upserts carry
    ``document`` (the JSON text) instead of ``account``. Raises ``PageError`` if it is cut off or garbled."""
    lines = text.split("\n")
    if len(lines) < 3 or lines[-1] != "":
        raise PageError("the page is cut off")
    try:
        head = json.loads(lines[0])
        end = json.loads(lines[-2])
    except ValueError:
        raise PageError("the page's first or last line is not JSON") from None
    body = lines[1:-2]
    if not isinstance(head, dict) or not isinstance(end, dict) or head.get("count") != len(body) \
            or end.get("end") != len(body):
        raise PageError("the page is cut off (its record count does not match)")
    prefixes, docs = [], []
    for line in body:
        prefix, _tab, document = line.partition("\t")
        prefixes.append(prefix)
        docs.append(document)
    try:
        heads = json.loads("[" + ",".join(prefixes) + "]") if prefixes else []
    except ValueError:
        raise PageError("a record line is garbled") from None
    records = []
    for fields, document in zip(heads, docs):
        if not isinstance(fields, list) or len(fields) < 3:
            raise PageError("a record line is garbled")
        if fields[2] == "upsert" and len(fields) == 4 and document_of(document, fields[1]):
            records.append({"seq": fields[0], "primary_id": fields[1], "kind": "upsert", "document": document,
                            "identifiers": fields[3]})
        elif fields[2] == "delete" and len(fields) == 3 and not document:
            records.append({"seq": fields[0], "primary_id": fields[1], "kind": fields[2]})
        else:
            raise PageError("a record line is garbled")
    page = {"cursor": head.get("cursor"), "more": head.get("more"), "records": records}
    for name in ("horizon", "key_id", "scope", "unlocks"):
        if name in head:
            page[name] = head[name]
    return page
