"""Pages of changes after a cursor, as kiosks pull them.

A page holds the current account document of every patron changed after the
cursor (each patron once, at its latest change in the page), or a delete. The
cursor is the central store's change sequence, never a wall-clock time, and a
page never goes past the *safe horizon* (``store.changes.safe_horizon``): on
PostgreSQL a change with a lower seq may commit after one with a higher seq, and
serving only up to the horizon means no kiosk ever skips it.

``horizon`` in the page is the highest seq known safe when the page was cut, so a
kiosk can show the progress of a first sync (``cursor / horizon``).
"""
from __future__ import annotations

from store.accounts import build_accounts, identifiers_of
from store.changes import safe_horizon
from store.models import Change, User, UserGroup


def changes_after(cursor: int, limit: int = 500, horizon: int | None = None) -> dict:
    horizon = safe_horizon() if horizon is None else horizon
    if cursor >= horizon:
        return {"cursor": cursor, "more": False, "horizon": horizon, "records": []}
    rows = list(Change.select(Change.seq, Change.primary_id, Change.kind)
                .where((Change.seq > cursor) & (Change.seq <= horizon)).order_by(Change.seq).limit(limit).tuples())
    if not rows:
        return {"cursor": horizon, "more": False, "horizon": horizon, "records": []}
    latest = {}
    for seq, primary_id, _kind in rows:
        latest[primary_id] = seq  # later rows win
    primary_ids = list(latest)
    users = []
    for start in range(0, len(primary_ids), 2000):
        users += list(User.select(User, UserGroup).join(UserGroup)
                      .where(User.primary_id.in_(primary_ids[start:start + 2000])))
    by_id = {user.primary_id: user for user in users}
    accounts = dict(zip([u.primary_id for u in users], build_accounts(users)))
    identifiers = identifiers_of([u.id for u in users])
    records = []
    for primary_id, seq in sorted(latest.items(), key=lambda item: item[1]):
        user = by_id.get(primary_id)
        if user is None:
            records.append({"seq": seq, "primary_id": primary_id, "kind": "delete"})
        else:
            records.append({
                "seq": seq,
                "primary_id": primary_id,
                "kind": "upsert",
                "account": accounts[primary_id].to_dict(),
                "identifiers": identifiers[user.id],
            })
    last = rows[-1][0]
    more = len(rows) == limit and last < horizon
    return {"cursor": last, "more": more, "horizon": horizon, "records": records}


def account_record(primary_id: str) -> dict:
    """One patron's record as a page carries it (an upsert, or a delete if gone), at its latest seq."""
    seq = (Change.select(Change.seq).where(Change.primary_id == primary_id)
           .order_by(Change.seq.desc()).limit(1).scalar()) or 0
    user = User.select(User, UserGroup).join(UserGroup).where(User.primary_id == primary_id).first()
    if user is None:
        return {"seq": seq, "primary_id": primary_id, "kind": "delete"}
    return {"seq": seq, "primary_id": primary_id, "kind": "upsert", "account": build_accounts([user])[0].to_dict(),
            "identifiers": identifiers_of([user.id])[user.id]}
