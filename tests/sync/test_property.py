"""A property: 2 to 5 kiosks doing random operations (online and offline), random partial syncs and
staff changes at the central store; after a full sync every kiosk's view equals the central store's.

Patrons renew as at a kiosk: identified by their card (online, read through the central store, which opens
their visit: they need no PIN; offline, from the cache), and an outage lasts long enough for the central store to
record the kiosk's time out of contact, within which what it queued needs no visit (tests/central/test_visits.py)."""
from __future__ import annotations

import json

from flask import g
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import kiosk
from kiosk import outbox, services, sync
from kiosk.cache import CACHE_MODELS, cache_db
from kiosk.central_client import CentralClient, CentralError, CentralUnavailable
from kiosk.devices import credential_path, save_credential
from library_kiosk.central.store import changes, devices
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Identifier, User
from library_kiosk.central.store.schema import ALL_MODELS
from library_kiosk.domain import clock
from tests.helpers import pass_time
from tests.store.factories import group, hold, loan, patron
from tests.sync.served import served

PATRONS = 4


class InProcessCentral(CentralClient):
    """The central app through Flask's test client (same routes, no sockets), and a switch to cut it off."""

    def __init__(self, app, token):
        super().__init__("http://central.invalid", token=token)
        self.client, self.up = app.test_client(), True

    def _call(self, method, path, **kwargs):
        if not self.up:
            raise CentralUnavailable("cut off", not_sent=True)
        headers = {"Authorization": f"Bearer {self.token}"}
        response = self.client.open(path, method=method, headers=headers, query_string=kwargs.get("params"),
                                    json=kwargs.get("json"))
        body = response.get_json()
        if response.status_code >= 500:
            raise CentralUnavailable(str(response.status_code))
        if response.status_code >= 400:
            raise CentralError(response.status_code, body["error"]["code"], body["error"]["message"], body)
        return body

    def _get_text(self, path, params):
        if not self.up:
            raise CentralUnavailable("cut off", not_sent=True)
        response = self.client.get(path, headers={"Authorization": f"Bearer {self.token}"}, query_string=params)
        if response.status_code >= 400:
            body = response.get_json()
            raise CentralError(response.status_code, body["error"]["code"], body["error"]["message"], body)
        return response.get_data(as_text=True)

    def health(self):
        return self.up


def _reset_central():
    tables = set(database.get_tables())
    with database.atomic():
        for model in reversed(ALL_MODELS):
            if model._meta.table_name in tables:
                model.delete().execute()


def _reset_kiosk(db):
    cache_db.initialize(db)
    from kiosk.lockout import LOCKOUT_MODELS

    with cache_db.atomic():
        for model in CACHE_MODELS + LOCKOUT_MODELS + outbox.OUTBOX_MODELS:
            model.delete().execute()


def _central_view() -> dict:
    return {pid: json.dumps(doc, sort_keys=True) for pid, doc in served(0, 5000).items() if doc is not None}


def _kiosk_view() -> dict:
    from kiosk.cache import CachedPatron

    return {row.primary_id: json.dumps(json.loads(row.document), sort_keys=True) for row in CachedPatron.select()}


step = st.one_of(
    st.tuples(st.just("renew"), st.integers(0, 4), st.integers(0, PATRONS - 1), st.integers(0, 1), st.booleans()),
    st.tuples(st.just("sync"), st.integers(0, 4), st.integers(1, 3), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("staff"), st.sampled_from(["loan", "hold", "delete", "card", "rename"]),
              st.integers(0, PATRONS - 1)),
    st.tuples(st.just("lockout"), st.integers(0, 4), st.integers(0, PATRONS - 1)),
    st.tuples(st.just("outage"), st.integers(0, 4), st.booleans()),
)


def test_every_kiosk_ends_with_the_central_view(central_app, config, tmp_path):
    apps, dbs = _kiosk_apps(central_app, config, tmp_path, count=5)
    start = clock.offset()

    @hsettings(max_examples=200, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(kiosks=st.integers(2, 5), steps=st.lists(step, max_size=14))
    def run(kiosks, steps):
        clock.set_offset(start)  # outages move the clock on: each example starts at the same moment
        _reset_central()
        group("58", description="Library Guest", pin_required=False)
        users = [patron(f"P{i}", barcode=f"B{i}", card=f"C{i}", group_code="58") for i in range(PATRONS)]
        loans = {u.primary_id: [loan(u, f"Book {u.primary_id}-{n}", barcode=f"3{u.id:05d}{n}").id
                                for n in range(2)] for u in users}
        clients = _enrol_kiosks(central_app, apps[:kiosks], dbs)
        for action, *args in steps:
            if action == "staff":
                _staff(*args, users, loans)
                continue
            i = args[0] % kiosks
            cache_db.initialize(dbs[i])
            with apps[i].test_request_context():
                _kiosk_step(action, args, clients[i], apps[i].extensions["patron_cache"])
        _sync_all(apps[:kiosks], dbs, clients)
        expected = _central_view()
        for i in range(kiosks):
            cache_db.initialize(dbs[i])
            assert _kiosk_view() == expected, f"kiosk {i} differs from the central store"

    run()


def _kiosk_apps(central_app, config, tmp_path, count):
    """``count`` kiosk apps, each with its own cache and device credential, on the central app's day; their
    apps and cache databases."""
    apps, dbs = [], []
    for i in range(count):
        name = f"kiosk-{i}"
        kiosk_config = json.loads(json.dumps(config))
        kiosk_config["kiosk"].update(cache_url=f"sqlite:///{tmp_path}/cache-{i}.db", offline_renewals="local",
                                     credential_file=str(tmp_path / f"device-{i}.json"), device_name=name)
        save_credential(credential_path(kiosk_config), {"device": name, "token": "unset"})
        apps.append(kiosk.create_app(kiosk_config, today=central_app.config["TODAY"]))
        dbs.append(cache_db.obj)
    return apps, dbs


def _enrol_kiosks(central_app, apps, dbs) -> list:
    """Enrol each kiosk afresh at the (reset) central store, give it an in-process client and empty its cache."""
    clients = []
    for i, app in enumerate(apps):
        token = devices.enrol(devices.add(f"kiosk-{i}", replace=True))[1]
        clients.append(InProcessCentral(central_app, token))
        app.extensions["central"] = clients[i]
        _reset_kiosk(dbs[i])
    return clients


def _kiosk_step(action, args, client, cache):
    """One random step at a kiosk (inside its request context): an outage, a partial sync, a renewal or a
    lockout."""
    if action == "outage":
        if client.up and not args[1]:
            pass_time(seconds=40)  # out of contact longer than [central] offline_gap_seconds
        client.up = args[1]
        sync.note_online(cache, client.up)
    elif action == "sync":
        _partial_sync(client, cache, page_size=args[1], pages=args[2], push_first=args[3])
    elif action == "renew":
        _renew_one(args[1], args[2])
    elif action == "lockout" and services.get_patron(f"P{args[1]}") is not None:
        services.record_lockout(f"P{args[1]}")


def _renew_one(index, loan_index):
    """Patron ``index`` identified (online by their card, read through the central store, which opens their visit;
    offline from the cache, with none) renews one of their loans, if any; refused offline is fine."""
    online = services.central_online()
    account = services.find_patron(f"B{index}") if online else services.get_patron(f"P{index}")
    if account is not None and account.loans:
        try:
            services.renew(account, [account.loans[loan_index % len(account.loans)].loan_id],
                           g.get("visit", "") if online else "")
        except CentralUnavailable:
            pass


def _sync_all(apps, dbs, clients):
    """Every kiosk back online and a full sync: nothing left in any outbox."""
    for i, app in enumerate(apps):
        clients[i].up = True
        cache_db.initialize(dbs[i])
        with app.test_request_context():
            assert sync.cycle(clients[i], app.extensions["patron_cache"])["error"] == ""
            assert outbox.length() == 0


def _partial_sync(client, cache, page_size, pages, push_first):
    try:
        if push_first:
            outbox.push(client, cache, batch=2, max_batches=1)
        for _ in range(pages):
            page = client.changes(cache.cursor(), page_size)
            cache.apply_page(page)
            if not page["more"]:
                break
    except CentralUnavailable:
        pass


def _staff(kind, index, users, loans):
    user = User.get_or_none(User.primary_id == f"P{index}")
    if user is None:
        return
    if kind == "loan":
        loan(user, "Another book", barcode=f"4{user.id:05d}{len(loans[user.primary_id])}")
    elif kind == "hold":
        other = users[(index + 1) % len(users)]
        if User.get_or_none(User.id == other.id) is not None and loans[user.primary_id]:
            from library_kiosk.central.store.models import Loan

            item = Loan.get_or_none(Loan.id == loans[user.primary_id][0])
            if item is not None:
                hold(other, item_barcode=item.item_barcode)
                changes.record(user.primary_id)  # the loan is now requested by another patron
    elif kind == "delete":
        primary_id = user.primary_id
        with database.atomic():
            user.delete_instance(recursive=True)
            changes.record(primary_id, "delete")
    elif kind == "card":
        Identifier.update(status="INACTIVE").where(Identifier.user == user.id).execute()
        changes.record(user.primary_id)
    else:
        User.update(first_name="Renamed").where(User.id == user.id).execute()
        changes.record(user.primary_id)
