"""Pages of changes after a cursor, as kiosks pull them.

A page holds the current account document of every patron changed after the
cursor (each patron once, at its latest change), or a delete. The cursor is the
central store's change sequence, never a wall-clock time.
"""
from __future__ import annotations

from store.accounts import build_accounts, identifiers_of
from store.models import Change, User, UserGroup


def changes_after(cursor: int, limit: int = 500) -> dict:
    rows = list(Change.select().where(Change.seq > cursor).order_by(Change.seq).limit(limit))
    if not rows:
        return {"cursor": cursor, "more": False, "records": []}
    latest = {}
    for row in rows:
        latest[row.primary_id] = row  # later rows win
    primary_ids = list(latest)
    users = list(User.select(User, UserGroup).join(UserGroup).where(User.primary_id.in_(primary_ids)))
    by_id = {user.primary_id: user for user in users}
    accounts = dict(zip([u.primary_id for u in users], build_accounts(users)))
    identifiers = identifiers_of([u.id for u in users])
    records = []
    for primary_id, change in sorted(latest.items(), key=lambda item: item[1].seq):
        user = by_id.get(primary_id)
        if user is None:
            records.append({"seq": change.seq, "primary_id": primary_id, "kind": "delete"})
        else:
            records.append({
                "seq": change.seq,
                "primary_id": primary_id,
                "kind": "upsert",
                "account": accounts[primary_id].to_dict(),
                "identifiers": identifiers[user.id],
            })
    return {"cursor": rows[-1].seq, "more": len(rows) == limit, "records": records}
