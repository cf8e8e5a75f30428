"""search: the staff station's patron search (central/store/patron_search.py) in a store of N patrons.

``python -m bench search --patrons 1000000 [--db postgresql://...] [--queries 100]``

The store holds N patrons with varied names (about 1,700 surnames drawn unevenly, so the commonest is held by
roughly 0.7% of patrons, as "Smith" is; Greek, Cyrillic and Chinese names among them; hyphens and apostrophes), a
barcode, an email address each and a phone number for 30%. It is generated with bulk inserts, the trigram indexes
made once at the end, and kept between runs: SQLite under /tmp (``--dir``), PostgreSQL in the database ``--db``
names (reused when it holds exactly N patrons; anything else in it is replaced).

Each query kind is timed ``--queries`` times through ``patron_search.search`` (the count and the first page, as
the station asks), after a warm-up. Floor: the median of a raw driver (sqlite3 / psycopg2) lookup of a barcode in
the identifier table's index, on the same data in the same run; ``ratio_p50`` is each kind's median over it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import time

from bench.common import log, summary_ms

SURNAME_STARTS = ["Kow", "Now", "Wój", "Mül", "Schr", "Garc", "Fern", "Lév", "Ól", "Papad", "Ivan", "Tan", "Ok",
                  "Pat", "Lind", "Mor", "Sant", "Herm", "Dub", "Brow", "Will", "Jon", "Sm", "Kim", "Chen", "Ng",
                  "O'Br", "Al-S", "Đor", "Yıl", "Kar", "Rod", "Gonz", "Mart", "Nagy", "Szab", "Horv", "Tót",
                  "Petr", "Łuk", "Øst"]
SURNAME_ENDS = ["alski", "ak", "cik", "ler", "öder", "ía", "ández", "esque", "afsdóttir", "opoulos", "ova", "aka",
                "afor", "el", "qvist", "eau", "os", "ez", "ois", "n", "iams", "es", "ith", "", "sen", "sson", "escu",
                "ić", "ović", "maz", "ian", "uez", "inez", "ó", "y", "ová", "ek", "ski", "berg", "stein"]
OTHER_SURNAMES = ["Παπαδόπουλος", "Δημητρίου", "Γεωργίου", "Νικολάου", "Иванов", "Смирнов", "Кузнецов", "Попов",
                  "Соколов", "王", "李", "张", "刘", "陈", "杨", "黄", "赵"]
FIRST_NAMES = ["Zoë", "José", "Åsa", "Siobhán", "Łukasz", "Chloé", "Mäx", "Nguyễn", "Øyvind", "Ana", "Björk",
               "Ngozi", "Mei", "Yusuf", "Olivia", "Jamal", "Priya", "Tomás", "Inès", "Kwame", "Hana", "Dmitri",
               "Fatima", "Oliver", "Amélie", "Søren", "Raúl", "Aiko", "Emma", "Noah", "François", "Małgorzata",
               "Jean-Paul", "Anne-Marie", "D'Arcy", "Grzegorz", "Ιωάννης", "Δήμητρα", "Иван", "Мария", "小明", "丽华",
               "Sebastián", "Agnieszka", "Oskar", "Ingrid", "Matteo", "Giulia", "Lars", "Astrid", "Kofi", "Amara",
               "Rahul", "Ananya", "Hiroshi", "Yuki", "Seo-yeon", "Min-jun", "Pedro", "Lucía"]
KINDS = ("identifier", "surname", "name_part", "two_words", "two_letters", "one_letter", "email", "phone",
         "common_surname")


def surnames() -> list[str]:
    latin = [start + end for start in SURNAME_STARTS for end in SURNAME_ENDS]
    return latin + OTHER_SURNAMES


def people(count: int, seed: int = 7):
    """``(number, first, last, email, phone or None)`` for patrons 1..count, deterministic."""
    rng = random.Random(seed)
    names = surnames()
    rng.shuffle(names)
    weights, total = [], 0.0
    for rank in range(1, len(names) + 1):  # an uneven spread: the commonest surname ~0.7% of patrons
        total += rank ** -0.5
        weights.append(total)
    for number in range(1, count + 1):
        last = rng.choices(names, cum_weights=weights)[0]
        if rng.random() < 0.05:
            last = f"{last}-{rng.choices(names, cum_weights=weights)[0]}"
        first = rng.choice(FIRST_NAMES)
        ascii_name = f"{first}.{last}".encode("ascii", "ignore").decode().lower().replace("'", "") or "x"
        phone = f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}" if rng.random() < 0.3 else None
        yield number, first, last, f"{ascii_name}.{number}@example.org", phone


def barcode(number: int) -> str:
    return f"3{number:013d}"


def build(url: str, count: int) -> float:
    """A store of ``count`` bench patrons at ``url`` (kept if it holds them); the seconds the build took."""
    from library_kiosk.central.store import bulk, demo, patron_search, schema
    from library_kiosk.central.store.models import Email, Identifier, Phone, User
    from library_kiosk.domain import clock

    db = schema.init(url)
    with db.connection_context():
        if User.select().count() == count and Identifier.select().where(Identifier.value == barcode(count)).exists():
            log(f"reusing the store with {count:,} patrons at {url}")
            return 0.0
        started = time.monotonic()
        for model in (Phone, Email, Identifier, User):
            model.delete().execute()
        patron_search.drop_indexes(db)  # made once at the end: faster than row by row
        demo.ensure_groups()
        expiry = clock.today() + dt.timedelta(days=730)
        batch: dict[str, list] = {"users": [], "ids": [], "emails": [], "phones": []}

        def flush() -> None:
            with db.atomic():
                bulk.insert(User, ["id", "primary_id", "first_name", "last_name", "user_group", "expiry_date",
                                   "search_name"], batch["users"])
                bulk.insert(Identifier, ["user", "id_type", "value"], batch["ids"])
                bulk.insert(Email, ["user", "email_address", "preferred"], batch["emails"])
                bulk.insert(Phone, ["user", "phone_number"], batch["phones"])
            for rows in batch.values():
                rows.clear()

        for number, first, last, email, phone in people(count):
            batch["users"].append((number, f"B{number:07d}", first, last, "25",
                                   expiry, patron_search.search_key(last, first)))
            batch["ids"].append((number, "BARCODE", barcode(number)))
            batch["emails"].append((number, email, True))
            if phone:
                batch["phones"].append((number, phone))
            if len(batch["users"]) == 10000:
                flush()
                if number % 100000 == 0:
                    log(f"  inserted {number:,}/{count:,} ({time.monotonic() - started:.0f} s)")
        flush()
        log("making the search indexes")
        patron_search.prepare(db)
        if patron_search.index_problem():
            raise RuntimeError(patron_search.index_problem())
        db.execute_sql("VACUUM ANALYZE" if url.startswith("postgres") else "ANALYZE")  # the fill's old row versions
        log(f"generated {count:,} patrons in {time.monotonic() - started:.0f} s")
        return time.monotonic() - started


def queries(count: int, per_kind: int, seed: int = 11) -> dict[str, list[str]]:
    """``per_kind`` queries of each kind, about patrons of the store (re-generated, not read back)."""
    from library_kiosk.central.store.patron_search import normalise

    rng = random.Random(seed)
    wanted = {rng.randint(1, count) for _ in range(per_kind * 3)}
    chosen = [p for p in people(count) if p[0] in wanted]
    rng.shuffle(chosen)
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    counts: dict[str, int] = {}
    for _n, _f, last, _e, _p in people(min(count, 50000)):
        counts[last] = counts.get(last, 0) + 1
    commonest = normalise(max(counts, key=lambda k: counts[k]))
    phones = [p for p in chosen if p[4]]
    for i in range(per_kind):
        number, first, last, email, _phone = chosen[i % len(chosen)]
        surname, given = normalise(last), normalise(first)
        found["identifier"].append(barcode(number))
        found["surname"].append(surname.split()[0])
        word = max((surname + " " + given).split(), key=len)
        start = rng.randint(0, max(0, len(word) - 3))
        found["name_part"].append(word[start:start + rng.randint(3, 5)])
        found["two_words"].append(f"{surname.split()[0]} {given.split()[0]}")
        found["two_letters"].append(given[:2])
        found["one_letter"].append(surname[:1])
        found["email"].append(email.split("@")[0])
        found["phone"].append(phones[i % len(phones)][4][-10:].replace(" ", "") if phones else "79460958")
        found["common_surname"].append(commonest.split()[0])
    return found


def floor_samples(url: str, barcodes: list[str]) -> list[float]:
    """Raw driver lookups of ``barcodes`` in the identifier table's index."""
    if url.startswith("postgres"):
        import psycopg2

        connection = psycopg2.connect(url)
        mark = "%s"
    else:
        import sqlite3

        connection = sqlite3.connect(url[len("sqlite:///"):])
        mark = "?"
    cursor = connection.cursor()
    samples = []
    for value in barcodes:
        t0 = time.perf_counter()
        cursor.execute(f'SELECT "user_id" FROM "identifier" WHERE "value" = {mark}', (value,))
        cursor.fetchone()
        samples.append(time.perf_counter() - t0)
    connection.close()
    return samples


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench search")
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100, help="timed queries of each kind")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: a SQLite file under --dir)")
    parser.add_argument("--dir", default="/tmp/kiosk-bench-search", help="where the SQLite store is kept")
    args = parser.parse_args(argv)
    if args.patrons < 1 or args.queries < 1:
        parser.error("--patrons and --queries must be at least 1")
    if args.db:
        url = args.db
    else:
        os.makedirs(args.dir, exist_ok=True)
        url = f"sqlite:///{os.path.abspath(args.dir)}/patrons-{args.patrons}.db"

    from library_kiosk.central.store import patron_search
    from library_kiosk.central.store.db import bind

    started = time.monotonic()
    build_s = build(url, args.patrons)
    asked = queries(args.patrons, args.queries)
    db = bind(url)
    figures: dict = {"benchmark": "search", "database": "postgresql" if url.startswith("postgres") else "sqlite",
                     "patrons": args.patrons, "queries_per_kind": args.queries, "build_s": round(build_s, 1)}
    with db.connection_context():
        for kind, texts in asked.items():
            for text in texts[:5]:  # warm-up
                patron_search.search(text)
            samples, matched = [], []
            for text in texts:
                t0 = time.perf_counter()
                found = patron_search.search(text)
                samples.append(time.perf_counter() - t0)
                matched.append(found.total)
            if kind in ("identifier", "surname", "email") and min(matched) == 0:
                raise RuntimeError(f"a {kind} query found nothing: the store does not hold the generated patrons")
            figures[kind] = {**summary_ms(samples), "median_matches": statistics.median(matched)}
            log(f"{kind}: {figures[kind]}")
    floor = floor_samples(url, asked["identifier"])
    floor_ms = statistics.median(floor) * 1000
    figures["floor_p50_ms"] = round(floor_ms, 4)
    for kind in KINDS:
        figures[kind]["ratio_p50"] = round(figures[kind]["p50_ms"] / floor_ms, 1)
    figures["worst_p95_ms"] = max(figures[kind]["p95_ms"] for kind in KINDS)
    figures["total_s"] = round(time.monotonic() - started, 1)
    return figures
