"""Sync between this kiosk and the central store: pull changes, push the outbox, heartbeat, status.

``pull`` applies pages of changes after the cache's cursor (each page and its
cursor in one transaction: a crash resumes from the last page). ``push`` sends
the outbox (kiosk/outbox.py). ``cycle`` does one round of both plus a heartbeat
and records what happened (last successful pull and push, errors, online or
not) in the cache, where ``status`` (``kiosk sync status``, ``GET /sync/status``)
and ``kiosk.services.central_online`` read it. See docs/sync.md.
"""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from kiosk import outbox, trusted_clock
from kiosk.cache import PatronCache
from kiosk.central_client import CentralClient, CentralError, CentralUnavailable
from library_kiosk.domain import clock


def _now() -> str:
    return clock.now().isoformat() + "Z"


def pull(client: CentralClient, cache: PatronCache, page_size: int = 1000, progress=None) -> int:
    """Apply every change after the cache's cursor; return how many records were applied.

    ``progress(applied, cursor)`` is called after each page (the page's ``horizon``,
    kept in the cache's state, gives the end point of a first sync).

    Pages come in the line format (documents stored as the central store wrote them),
    and the next page is fetched while this one is applied (one page ahead, in a
    thread), then checked and turned into rows (identifier hashes) in that thread
    while this page commits: pages are still applied in order, each with its cursor
    in one transaction, so a crash leaves the cache at a page boundary as before.
    """
    applied = 0
    prepared = cache.prepare_page(client.changes_lines(cache.cursor(), page_size))
    if cache.must_refill(prepared.page):  # enrolled again (the hashes are under the old key), or another scope
        cache.reset()
        prepared = cache.prepare_page(client.changes_lines(0, page_size))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull") as ahead:
        while True:
            page = prepared.page
            committing = threading.Event()
            following = ahead.submit(_fetch_ahead, client, cache, page["cursor"], page_size, committing) \
                if page["more"] else None
            try:
                applied += cache.apply_prepared(prepared, before_commit=committing.set)
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            finally:
                committing.set()  # never leave the thread waiting
            if progress:
                progress(applied, page["cursor"])
            if following is None:
                keep_time(client)
                cache.set_state(last_pull_ok=_now())
                cache.fetch_keys()  # so cards can be found even if the central store is away at the next tap
                return applied
            prepared = following.result()


def _fetch_ahead(client: CentralClient, cache: PatronCache, cursor: int, page_size: int, committing):
    """Fetch the page after ``cursor`` (waiting on the socket, without the interpreter lock), then, once the
    page being applied is committing (SQLite waits on the disk without the lock), parse and check it and
    make its rows. Never while the cache's statements run: a Python thread busy beside ``executemany``
    would take the lock from it at every row."""
    text = client.changes_text(cursor, page_size)
    committing.wait()
    return cache.prepare_page(client.parse_changes(text))


def push(client: CentralClient, cache: PatronCache, batch: int = 100) -> dict:
    return outbox.push(client, cache, batch=batch)


def keep_time(client: CentralClient) -> None:
    """Keep the central store's time from the client's latest answer as this kiosk's trusted time
    (kiosk/trusted_clock.py; docs/sync.md "Trusted time"). Never stops the sync."""
    try:
        trusted_clock.learn(getattr(client, "time_sample", None))
    except Exception:  # (learnt again at the next exchange)
        logging.getLogger(__name__).exception("the central store's time was not kept")


def note_online(cache: PatronCache, online: bool, error: str = "") -> None:
    values = {"central_online": "1" if online else "0", "central_checked": _now()}
    if error:
        values.update(last_error=error[:500], last_error_at=_now())
    cache.set_state(**values)


def heartbeat_data(cache: PatronCache, trusted_hours: float | None = None) -> dict:
    """What this kiosk reports each cycle: the box's own figures (kiosk/heartbeat.py), its sync state and its
    trusted time (``clock``: trusted or not, the offset from the central store's time, when it was learnt)."""
    from kiosk.heartbeat import collect

    data = {}
    try:
        data.update(collect() or {})
    except Exception as exc:  # a broken probe must not stop the sync
        data["heartbeat_error"] = str(exc)[:200]
    summary = status(cache, trusted_hours)
    data["sync"] = {key: summary[key] for key in ("cursor", "outbox_length", "oldest_pending", "rejected_count",
                                                  "last_pull_ok", "last_push_ok")}
    data["clock"] = summary["clock"]
    data["storage"] = summary["storage"]
    try:  # daily usage counters, cumulative, nothing personal (kiosk/usage.py; docs/sync.md "Usage statistics")
        from kiosk import usage

        usage.redate_future(trusted_clock.today())  # counted under a clock that was ahead: today's, not sent ahead
        found = usage.unsent()
        if found:
            data["usage"] = found
    except Exception as exc:  # counting must never stop the sync
        data["usage_error"] = str(exc)[:200]
    return data


def cache_url() -> str:
    """The kiosk cache's URL, from the open database (kiosk/cache_db.py)."""
    from kiosk.cache_db import cache_db

    path = getattr(cache_db.obj, "database", "") if cache_db.obj is not None else ""
    return f"sqlite:///{path}" if path else ""


def storage_fault(client: CentralClient, exc: BaseException, url: str = "", config: dict | None = None) -> str | None:
    """A storage fault of the kiosk cache met by the sync worker (full, read-only, missing, damaged): remembered
    for ``kiosk sync status``, ``kiosk doctor`` and the heartbeat, and told to the central store at once by a
    heartbeat made without the cache (the fleet page shows it). Its problem; None for any other error."""
    from kiosk import heartbeat

    problem = heartbeat.note_storage(exc, url or cache_url())
    if problem is None:
        return None
    logging.getLogger(__name__).warning("kiosk cache: %s (%s)", heartbeat.STORAGE_WORDS[problem], exc)
    try:
        beat = heartbeat.collect(config) if config is not None else {}
        beat["storage"] = heartbeat.storage(url or cache_url())
        client.heartbeat(beat)
    except Exception as sent:  # (the central store away too: the next cycle tries again)
        logging.getLogger(__name__).info("the storage fault was not reported by heartbeat: %s", sent)
    return problem


def cycle(client: CentralClient, cache: PatronCache, page_size: int = 1000, progress=None,
          trusted_hours: float | None = None) -> dict:
    """One round: push, pull, push (what the pull made possible), heartbeat. Never raises for the network; a
    storage fault of the cache (full, read-only, missing, damaged) ends the round with ``report["storage"]``,
    reported by a heartbeat made without the cache (``storage_fault``)."""
    from kiosk import heartbeat

    try:
        report = _cycle(client, cache, page_size, progress, trusted_hours)
    except Exception as exc:
        problem = storage_fault(client, exc)
        if problem is None:
            raise
        return {"pushed": 0, "pulled": 0, "storage": problem,
                "error": f"kiosk cache: {heartbeat.STORAGE_WORDS[problem]} ({str(exc)[:200]})"}
    return report


def _cycle(client: CentralClient, cache: PatronCache, page_size: int = 1000, progress=None,
           trusted_hours: float | None = None) -> dict:
    report = {"pushed": 0, "pulled": 0, "error": ""}
    try:
        report["pushed"] += push(client, cache)["sent"]
        report["pulled"] = pull(client, cache, page_size, progress)
        report["pushed"] += push(client, cache)["sent"]
        from kiosk import heartbeat

        heartbeat.storage_ok(cache_url())  # the cache took this round's writes: a storage fault is over
        try:
            data = heartbeat_data(cache, trusted_hours)
            answer = client.heartbeat(data)
            keep_time(client)
            _usage_sent(data.get("usage"), answer)
        except CentralError as exc:
            if exc.status in (401, 403):
                raise
        note_online(cache, True)
    except CentralUnavailable as exc:
        report["error"] = f"central store not reachable: {exc}"
        note_online(cache, False, report["error"])
    except CentralError as exc:
        report["error"] = f"central store refused: {exc.code}: {exc.message}"
        note_online(cache, exc.status not in (401, 403), report["error"])
    return report


def _usage_sent(sent, answer=None) -> None:
    """The central store stored these cumulative counters (the heartbeat was answered): remember it, but for the
    days its answer says it skipped (``usage.skipped``: days ahead of its clock), which are sent again."""
    if not sent:
        return
    told = answer.get("usage") if isinstance(answer, dict) else None
    skipped = told.get("skipped") if isinstance(told, dict) else None
    if isinstance(skipped, list):
        sent = {day: counts for day, counts in sent.items() if day not in skipped}
    try:
        from kiosk import usage

        usage.mark_sent(sent, trusted_clock.today())
    except Exception:  # (they are sent again next cycle, which changes nothing there)
        logging.getLogger(__name__).exception("usage counters not marked as sent")


def status(cache: PatronCache, trusted_hours: float | None = None) -> dict:
    """The sync state staff see: last good pull and push, cursor, outbox, rejections, errors, and the trusted time
    (``clock``; ``trusted_hours``: ``[kiosk] trusted_time_hours``, its default when None)."""
    oldest = outbox.OutboxItem.select().order_by(outbox.OutboxItem.seq).first()
    rejected = outbox.rejected(20)
    return {
        "online": cache.state("central_online", "1") == "1",
        "checked": cache.state("central_checked") or None,
        "last_pull_ok": cache.state("last_pull_ok") or None,
        "last_push_ok": cache.state("last_push_ok") or None,
        "cursor": cache.cursor(),
        "horizon": int(cache.state("horizon", "0") or 0),
        "patrons": cache.count(),
        "outbox_length": outbox.length(),
        "oldest_pending": oldest.created.isoformat() + "Z" if oldest else None,
        "oldest_pending_error": oldest.last_error if oldest else "",
        "rejected_count": outbox.OpResult.select().count(),
        "rejected": rejected,
        "last_error": cache.state("last_error") or None,
        "last_error_at": cache.state("last_error_at") or None,
        "clock": trusted_clock.summary(trusted_clock.DEFAULT_HOURS if trusted_hours is None else trusted_hours),
        "storage": _storage(),
    }


def _storage() -> dict:
    """The cache's storage (kiosk/heartbeat.py ``storage``): ok, or full, read-only, missing, damaged."""
    from kiosk import heartbeat

    return heartbeat.storage(cache_url())


def storage_status_json(exc: BaseException, url: str) -> str:
    """``kiosk sync status`` for a cache that cannot be opened or read: its storage fault and the error."""
    from kiosk import heartbeat

    heartbeat.note_storage(exc, url)
    return json.dumps({"storage": heartbeat.storage(url), "error": str(exc)[:500]}, indent=2)


def status_json(cache: PatronCache, trusted_hours: float | None = None) -> str:
    return json.dumps(status(cache, trusted_hours), indent=2)


def cycle_push_only(client: CentralClient, cache: PatronCache) -> dict:
    """Push the outbox only (``kiosk sync push``): what a replay after an outage does."""
    report = {"sent": 0, "error": ""}
    try:
        report["sent"] = push(client, cache)["sent"]
        keep_time(client)
        note_online(cache, True)
    except CentralUnavailable as exc:
        report["error"] = f"central store not reachable: {exc}"
        note_online(cache, False, report["error"])
    except CentralError as exc:
        report["error"] = f"central store refused: {exc.code}: {exc.message}"
    report["outbox_length"] = outbox.length()
    return report
