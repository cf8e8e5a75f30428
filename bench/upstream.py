"""upstream: how many calls to the library system one patron visit costs, per back end.

A visit is: tap (the central store reads the account from the upstream), account
(the kiosk shows it: served from the central store, read a moment ago), renew all,
done (SIP2: end session). The patron has 2 loans and 1 request and owes nothing;
a second figure is given for a patron with loans, requests and fees. Alma is the
recorded-example layer of the tests (no Prism: validation is the tests' job); SIP2
is pysip2's server. Target: at most 4 calls for Alma.
"""
from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time

TODAY = dt.date(2026, 11, 25)


def _visit(upstream, identifier: str, forward, done=None) -> dict:
    from library_kiosk.central.store import circulation
    from library_kiosk.central.store.accounts import find_user
    from library_kiosk.central.upstream import cache

    steps, started = {}, time.perf_counter()
    before = upstream.calls
    user, source = cache.refresh(upstream, identifier, TODAY)
    steps["tap"] = upstream.calls - before
    before = upstream.calls
    user, source = cache.refresh(upstream, identifier, TODAY)
    assert source == "cache", source
    steps["account"] = upstream.calls - before
    before = upstream.calls
    decisions = circulation.renew(find_user(identifier), None, TODAY, forward)
    steps["renew_all"] = upstream.calls - before
    before = upstream.calls
    if done:
        done(user.primary_id)
    steps["done"] = upstream.calls - before
    steps["calls_per_visit"] = sum(steps.values())
    steps["renewed"] = sum(d.renewed for d in decisions)
    steps["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return steps


def _fresh_db(folder: str, name: str):
    from library_kiosk.central.store import schema
    from library_kiosk.central.upstream.models import create_tables

    db = schema.init(f"sqlite:///{folder}/{name}.db")
    db.connect(reuse_if_open=True)
    create_tables(db)
    return db


def alma(folder: str) -> dict:
    from library_kiosk.central.upstream import cache
    from library_kiosk.central.upstream.alma.backend import AlmaUpstream
    from tests.helpers import LiveServer
    from tests.upstream.alma_fake import FakeAlma, example_user

    fake = FakeAlma(None)
    fake.add_user(example_user())
    fake.add_loan("AL1", "39000000001", "Middlemarch")
    fake.add_loan("AL1", "39000000002", "Ulysses")
    fake.add_request("AL1", "Beloved")
    fake.add_user(example_user("AL2", barcode="20000000000222", card=""))
    fake.add_loan("AL2", "39000000003", "Beloved")
    fake.add_request("AL2", "Jazz")
    fake.add_fee("AL2", 2.5)
    server = LiveServer(fake)
    try:
        upstream = AlmaUpstream({"alma_base_url": server.url, "alma_api_key": "bench", "alma_max_per_second": 25,
                                 "fresh_seconds": 30})
        db = _fresh_db(folder, "alma")
        forward = cache.renewal_forward(upstream, 30)  # what the central app passes to circulation.renew
        typical = _visit(upstream, "04AABBCCDDEE01", forward)
        typical["api_minimum"] = _alma_minimum(fake, "AL1", typical["renewed"])
        full = _visit(upstream, "20000000000222", forward)
        full["api_minimum"] = _alma_minimum(fake, "AL2", full["renewed"])
        db.close()
    finally:
        server.stop()
    return {"typical": typical, "with_fees": full}


def _alma_minimum(fake, primary_id: str, renewed: int) -> int:
    """The fewest calls Alma's Users API allows for this visit: the user (found by any identifier,
    with counts), each non-empty list (loans, requests, fees: there is no combined read), and one
    ``op=renew`` per loan renewed (there is no renew-all)."""
    lists = (fake.loans[primary_id], fake.requests[primary_id], fake.fees[primary_id])
    return 1 + sum(1 for items in lists if items) + renewed


def sip2(folder: str) -> dict:
    from library_kiosk.central.upstream import cache
    from library_kiosk.central.upstream.sip2.backend import Sip2Upstream
    from tests.upstream.sip2_servers import Library, PysipILS, pysip2_app

    library = Library()
    library.items["39000000002"]["holds"] = 0
    server = PysipILS(pysip2_app(library))
    try:
        upstream = Sip2Upstream({"sip2_port": server.port, "sip2_login_user": "kiosk", "sip2_login_password": "s3cret",
                                 "sip2_institution_id": "MAIN", "fresh_seconds": 30})
        upstream.supported()  # the status message is sent once per process, not per visit
        db = _fresh_db(folder, "sip2")
        forward = cache.renewal_forward(upstream, 30)
        result = _visit(upstream, "21000000001", forward, done=upstream.end_session)
        db.close()
        upstream.close()
    finally:
        server.stop()
    return {"with_fees": result}


def main(argv: list[str]) -> dict:
    import logging

    argparse.ArgumentParser(prog="python -m bench upstream").parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        a = alma(folder)
        s = sip2(folder)
    return {"benchmark": "upstream",
            "alma_calls_per_visit": a["typical"]["calls_per_visit"],
            "alma_calls_per_visit_with_requests_and_fees": a["with_fees"]["calls_per_visit"],
            "sip2_calls_per_visit": s["with_fees"]["calls_per_visit"],
            "calls_per_visit": {"alma": a["typical"]["calls_per_visit"], "sip2": s["with_fees"]["calls_per_visit"]},
            "alma_target_max": 4,
            "alma_api_minimum": a["typical"]["api_minimum"],
            "alma_api_minimum_with_requests_and_fees": a["with_fees"]["api_minimum"],
            "alma_formula": "1 (user with counts) + 1 if loans + 1 if requests + 1 if fees + 1 per loan sent for "
                            "renewal (loans our cached rules refuse: lost, claimed returned, at the limit, "
                            "requested by another patron, are not sent)", "detail": {"alma": a, "sip2": s}}
