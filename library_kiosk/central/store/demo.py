"""Deterministic demo libraries of any size: ``generate(patrons=N, seed=S)``.

Internal and external users across the Harvard user groups, non-ASCII names,
several identifiers each, loans (some overdue, some at their renewal limit, some
requested by another patron), requests in every state, fees of several types,
and a few expired, inactive and blocked patrons. Rows go in with bulk inserts so a
library of a million patrons loads in minutes.

Every demo patron's PIN is ``DEMO_PIN``. Hashing a PIN takes tens of
milliseconds by design, so the generator hashes it once and reuses the hash:
acceptable for demo data only.

Once the patrons are in, their kiosk documents are built in the sync read model
(``library_kiosk.central.store.documents.refresh_patrons``), so a kiosk's first sync streams them.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from decimal import Decimal

from library_kiosk.central.store import changes
from library_kiosk.central.store import documents as read_model
from library_kiosk.central.store.bulk import insert_rows
from library_kiosk.central.store.db import database, is_postgres
from library_kiosk.central.store.fleet_keys import pin_check_key
from library_kiosk.central.store.jobs.report import DOCUMENTS_PHASE, phase_progress
from library_kiosk.central.store.models import (
    Address,
    Block,
    Email,
    Fee,
    Identifier,
    Loan,
    Phone,
    Request,
    Statistic,
    User,
    UserGroup,
)
from library_kiosk.domain import clock, offline_pin
from library_kiosk.domain.codes import HARVARD_USER_GROUPS
from library_kiosk.domain.hashing import hash_secret

DEMO_PIN = "2468"
BATCH = 2000

FIRST_NAMES = ["Zoë", "José", "Åsa", "Siobhán", "Łukasz", "Chloé", "Mäx", "Nguyễn", "Øyvind", "Ana", "Björk",
               "Ngozi", "Mei", "Yusuf", "Olivia", "Jamal", "Priya", "Tomás", "Ines", "Kwame", "Hana", "Dmitri",
               "Fatima", "Oliver", "Amélie", "Søren", "Raúl", "Aiko", "Emma", "Noah", "François", "Małgorzata"]
LAST_NAMES = ["Ólafsdóttir", "García", "Müller", "O'Brien", "Nowak", "Dubois", "Øster", "Smith", "Jones",
              "Papadopoulos", "Kowalczyk", "Yılmaz", "Tanaka", "Okafor", "Patel", "Nguyen", "Fernández", "Lévesque",
              "Brown", "Williams", "Ng", "Hernández", "Schröder", "Đorđević", "Al-Sayed", "Chen", "Lindqvist",
              "Ivanova", "Kim", "Moreau", "Santos", "Wójcik"]
TITLES = ["Middlemarch", "The Origin of Species", "Principia Mathematica", "Les Misérables", "Cien años de soledad",
          "Der Zauberberg", "Pride and Prejudice", "A Brief History of Time", "The Structure of Scientific Revolutions",
          "Gödel, Escher, Bach", "Crime and Punishment", "The Wealth of Nations", "Introduction to Algorithms",
          "Things Fall Apart", "Beloved", "The Second Sex", "Orientalism", "Silent Spring", "Ulysses", "Dubliners"]
AUTHORS = ["Eliot, George", "Darwin, Charles", "Newton, Isaac", "Hugo, Victor", "García Márquez, Gabriel",
           "Mann, Thomas", "Austen, Jane", "Hawking, Stephen", "Kuhn, Thomas S.", "Hofstadter, Douglas",
           "Dostoevsky, Fyodor", "Smith, Adam", "Cormen, Thomas H.", "Achebe, Chinua", "Morrison, Toni",
           "Beauvoir, Simone de", "Said, Edward W.", "Carson, Rachel", "Joyce, James", "Joyce, James"]
PICKUP = ["Main Library", "Science Library", "Law Library", "Medical Library"]
CITIES = ["London", "Cambridge", "Gainesville", "Ghent", "Kraków", "Reykjavík"]

# Policies for the demo groups: (pin_required, loan_period, max_renewals, fine_limit, registration fee)
GROUP_POLICIES = {
    "21": (True, 28, 5, "25.00", "0"), "22": (True, 28, 5, "25.00", "0"), "23": (True, 28, 5, "25.00", "0"),
    "25": (True, 21, 3, "10.00", "0"), "27": (False, 14, 2, "10.00", "0"), "30": (True, 21, 3, "10.00", "0"),
    "41": (True, 21, 3, "10.00", "0"), "42": (True, 21, 2, "10.00", "25.00"), "45": (True, 21, 2, "10.00", "0"),
    "57": (False, 14, 1, "5.00", "0"), "58": (False, 14, 1, "5.00", "10.00"), "59": (True, 21, 3, "15.00", "0"),
    "84": (False, 28, 0, "0.00", "0"),
}


def barcode_for(number: int) -> str:
    """A 14-digit library card barcode for patron ``number``."""
    return f"2{number:013d}"


def card_serial_for(rng: random.Random) -> str:
    """A 7-byte ISO 14443-A UID (NXP manufacturer byte 04) in canonical upper-case hex."""
    return "04" + "".join(f"{rng.randrange(256):02X}" for _ in range(6))


def ensure_groups() -> None:
    for code, description in HARVARD_USER_GROUPS.items():
        pin, period, renewals, fine_limit, fee = GROUP_POLICIES[code]
        UserGroup.insert(
            code=code, description=description, pin_required=pin, loan_period_days=period,
            max_renewals=renewals, fine_limit=Decimal(fine_limit), overdue_limit=5,
            registration_fee_type="MEMBERSHIP" if Decimal(fee) else "", registration_fee_amount=Decimal(fee),
            statistics_required=code in ("41", "59"),
        ).on_conflict_ignore().execute()


def _insert(model, rows: list[dict]) -> None:
    insert_rows(model, rows, BATCH)


def _reset_sequences() -> None:
    if not is_postgres():
        return
    for model in (User, Loan, Request, Fee):
        table = model._meta.table_name
        database.execute_sql(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), COALESCE(MAX(id), 1)) FROM \"{table}\""
        )


def generate(patrons: int = 200, seed: int = 1, today: dt.date | None = None, progress=None,
             documents: bool = True) -> dict:
    """Add ``patrons`` demo patrons; return counts. Deterministic for a given seed and day.

    ``progress(done, total)`` counts the patrons generated. Then, with ``documents``, their kiosk documents are
    built in the sync read model (counted as ``documents``); that phase is reported to ``progress`` only if it
    takes a third argument, the phase name (``progress(done, total, DOCUMENTS_PHASE)``)."""
    today = today or clock.today()
    rng = random.Random(seed)
    pins = (hash_secret(DEMO_PIN), pin_check_key())  # one slow hash for all; a check value per patron
    ensure_groups()
    codes = list(HARVARD_USER_GROUPS)
    start_id = (User.select(User.id).order_by(User.id.desc()).scalar() or 0) + 1
    loan_id = (Loan.select(Loan.id).order_by(Loan.id.desc()).scalar() or 0) + 1
    counts = dict(users=0, identifiers=0, loans=0, requests=0, fees=0)
    done = 0
    while done < patrons:
        size = min(5000, patrons - done)
        with database.atomic():
            loan_id = _generate_batch(rng, start_id + done, size, codes, pins, today, loan_id, counts)
        done += size
        if progress:
            progress(done, patrons)
    added = [p for (p,) in User.select(User.primary_id).where(User.id >= start_id).order_by(User.id).tuples()]
    with database.atomic():
        changes.record_many(added)
    _reset_sequences()
    if documents:
        counts["documents"] = read_model.refresh_patrons(
            added, progress=phase_progress(progress, DOCUMENTS_PHASE, restart=False))
    return counts


# The tables a batch fills, in insert order (the users first: the others point at them), and the counts kept.
BATCH_TABLES = (User, Identifier, Email, Address, Phone, Statistic, Block, Loan, Request, Fee)
BATCH_COUNTS = {"users": User, "identifiers": Identifier, "loans": Loan, "requests": Request, "fees": Fee}


def _generate_batch(rng, first, size, codes, pins, today, loan_id, counts) -> int:
    """Generate and insert patrons ``first`` to ``first + size - 1``; returns the next loan id.

    The helpers draw from ``rng`` in a fixed order, patron by patron: keep it, or a seed stops giving the same
    library."""
    rows = {model: [] for model in BATCH_TABLES}
    held = []  # (user id, item barcode) of loans, for "requested by another patron"
    for number in range(first, first + size):
        user = _user(rng, number, codes, pins, today)
        rows[User].append(user)
        _add_segments(rows, rng, number, user)
        loan_id = _add_loans(rows, held, rng, number, user["user_group"], today, loan_id)
        _add_other_fee(rows[Fee], rng, number)
        _add_requests(rows[Request], rng, number, today)
    _add_requests_by_others(rows[Request], held, rng, first, size, today)
    for model in BATCH_TABLES:
        _insert(model, rows[model])
    for key, model in BATCH_COUNTS.items():
        counts[key] += len(rows[model])
    return loan_id


def _user(rng, number, codes, pins, today) -> dict:
    """A patron's row: 60% external, a few expired, inactive or expiring soon."""
    external = rng.random() < 0.6
    group = rng.choice(codes)
    expiry, status = _expiry_and_status(rng, today)
    first_name, last_name = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return dict(
        id=number, primary_id=f"P{number:07d}", first_name=first_name, last_name=last_name, user_group=group,
        expiry_date=expiry, purge_date=expiry + dt.timedelta(days=365) if external else None,
        account_type="EXTERNAL" if external else "INTERNAL",
        external_id=rng.choice(["STUDENT", "HR", "VISITORS"]) if external else "",
        record_type="PUBLIC" if external else "STAFF", status=status, pin_hash=pins[0],
        pin_check=offline_pin.check_value(pins[1], f"P{number:07d}", DEMO_PIN),
        preferred_language=rng.choice(["en", "en", "en", "fr"]),
    )


def _expiry_and_status(rng, today) -> tuple[dt.date, str]:
    roll = rng.random()
    expiry = today + dt.timedelta(days=rng.randint(30, 900))
    status = "ACTIVE"
    if roll < 0.03:
        expiry = today - dt.timedelta(days=rng.randint(1, 400))
    elif roll < 0.04:
        status = "INACTIVE"
    elif roll < 0.06:
        expiry = today + dt.timedelta(days=rng.randint(1, 13))  # expiring soon
    return expiry, status


# letters NFKD leaves whole, as a plain Latin letter (lower case)
_PLAIN_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŧ": "t", "æ": "ae", "œ": "oe",
                                "þ": "th", "ð": "d", "ß": "ss"})


def _ascii_words(name: str) -> str:
    """``name`` folded to ASCII for an email address: "María-José" reads "maria-jose", "O'Brien" "obrien", "van der
    Berg" "van-der-berg" (NFKD, accents dropped; letters that do not decompose as their plain Latin letter)."""
    folded = unicodedata.normalize("NFKD", name).lower().translate(_PLAIN_LETTERS)
    kept = "".join(ch for ch in folded if not unicodedata.combining(ch) and ch not in "'’")
    return "-".join(re.findall(r"[a-z0-9]+", kept.encode("ascii", "ignore").decode()))


def email_address(first: str, last: str, number: int) -> str:
    """A demo patron's email address from the ASCII-folded name: "Zoë Ólafsdóttir" -> "zoe.olafsdottir.7@...";
    a name with no Latin letter at all reads "patron"."""
    local = ".".join(part for part in (_ascii_words(first), _ascii_words(last)) if part) or "patron"
    return f"{local}.{number}@example.org"


def _add_segments(rows, rng, number, user) -> None:
    """The patron's identifiers, email, address, and sometimes a phone, a statistic or a block."""
    external = user["account_type"] == "EXTERNAL"
    segment = "External" if external else "Internal"
    rows[Identifier].append(dict(user=number, id_type="BARCODE", value=barcode_for(number), segment_type=segment))
    rows[Identifier].append(dict(user=number, id_type="CARD_SERIAL_NUMBER", value=card_serial_for(rng),
                                 segment_type="Internal"))
    if external:
        rows[Identifier].append(dict(user=number, id_type="UNIV_ID", value=f"U{number:08d}", segment_type=segment))
    rows[Email].append(dict(user=number, email_address=email_address(user["first_name"], user["last_name"], number),
                            email_types="school" if external else "personal", preferred=True, segment_type=segment))
    rows[Address].append(dict(user=number, line1=f"{rng.randint(1, 200)} High Street", city=rng.choice(CITIES),
                              postal_code=f"{rng.randint(10000, 99999)}", country="GB", address_types="home",
                              preferred=True, segment_type=segment))
    if rng.random() < 0.3:
        rows[Phone].append(dict(user=number, phone_number=f"+44 7{rng.randint(100000000, 999999999)}",
                                phone_types="mobile", preferred=True, segment_type=segment))
    if rng.random() < 0.1:
        rows[Statistic].append(dict(user=number, statistic_category=rng.choice(["UOL", "LEARNED_SOCIETY", "NHS"])))
    if rng.random() < 0.02:
        rows[Block].append(dict(user=number, block_type=rng.choice(["GENERAL", "LOST_CARD"]),
                                block_description="Card reported lost" if rng.random() < 0.5
                                else "Please contact the Library Help Desk"))


def _add_loans(rows, held, rng, number, group, today, loan_id) -> int:
    """Up to 8 loans (some overdue, lost or at their renewal limit) and their fines; returns the next loan id."""
    policy = GROUP_POLICIES[group]
    for _ in range(rng.choice([0, 1, 2, 3, 3, 4, 5, 8])):
        loan_date = today - dt.timedelta(days=rng.randint(1, 120))
        due = loan_date + dt.timedelta(days=policy[1])
        kind = rng.random()
        status = "LOST" if kind < 0.02 else "CLAIMED_RETURNED" if kind < 0.04 else "ON_LOAN"
        renewals = policy[2] if rng.random() < 0.15 else rng.randint(0, max(0, policy[2] - 1))
        title_index = rng.randrange(len(TITLES))
        item = f"3{loan_id:012d}"
        rows[Loan].append(dict(id=loan_id, user=number, user_group=group, item_barcode=item,
                               title=TITLES[title_index], author=AUTHORS[title_index],
                               call_number=f"{rng.choice('ABCDHPQ')}{rng.randint(1, 999)} .{rng.choice('ABCKMS')}"
                                           f"{rng.randint(10, 99)}", loan_date=loan_date, due_date=due,
                               renewals=renewals, status=status))
        held.append((number, item))
        if due < today - dt.timedelta(days=7) and rng.random() < 0.4:
            amount = Decimal(rng.randint(1, 30)) / 2
            rows[Fee].append(dict(user=number, loan=loan_id, fee_type="OVERDUEFINE", original_amount=amount,
                                  balance=amount, title=TITLES[title_index]))
        if status == "LOST":
            rows[Fee].append(dict(user=number, loan=loan_id, fee_type="LOSTITEMREPLACEMENTFEE",
                                  original_amount=Decimal("45.00"), balance=Decimal("45.00"),
                                  title=TITLES[title_index]))
        loan_id += 1
    return loan_id


def _add_other_fee(fees, rng, number) -> None:
    """Now and then a fee of no loan: a replacement card or another charge."""
    if rng.random() < 0.05:
        fees.append(dict(user=number, fee_type=rng.choice(["CARD_REPLACEMENT", "OTHER"]),
                         original_amount=Decimal("5.00"), balance=Decimal("5.00")))


def _add_requests(requests, rng, number, today) -> None:
    """Up to 3 requests, in every state."""
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        title_index = rng.randrange(len(TITLES))
        state = rng.choice(["ON_HOLD_SHELF", "IN_PROCESS", "NOT_STARTED"])
        requests.append(dict(
            user=number, request_type=rng.choice(["HOLD", "HOLD", "HOLD", "DIGITIZATION", "BOOKING"]),
            title=TITLES[title_index], author=AUTHORS[title_index], status=state,
            pickup_location=rng.choice(PICKUP), place_in_queue=None if state == "ON_HOLD_SHELF" else
            rng.randint(1, 6), request_date=today - dt.timedelta(days=rng.randint(0, 30)),
            expiry_date=today + dt.timedelta(days=rng.randint(1, 7)) if state == "ON_HOLD_SHELF" else None,
        ))


def _add_requests_by_others(requests, held, rng, first, size, today) -> None:
    """Some loans are requested by another patron of the batch: a hold on the same item barcode."""
    for holder, item in held:
        if rng.random() < 0.08:
            other = rng.randrange(first, first + size)
            if other != holder:
                requests.append(dict(user=other, request_type="HOLD", item_barcode=item, title="Requested item",
                                     status="NOT_STARTED", pickup_location=rng.choice(PICKUP), place_in_queue=1,
                                     request_date=today))


def showcase(today: dt.date | None = None, limit: int = 1) -> dict[str, list[str]]:
    """Barcodes worth trying in a demo, by situation."""
    from library_kiosk.central.store.accounts import build_account
    from library_kiosk.domain.blocks import active_blocks

    today = today or clock.today()
    found: dict[str, list[str]] = {"ok, PIN asked": [], "ok, no PIN": [], "expired": [], "blocked": []}
    query = (User.select(User, UserGroup).join(UserGroup).order_by(User.id).limit(400))
    for user in query:
        account = build_account(user)
        blocks = active_blocks(account, today)
        if any(b.code == "expired" for b in blocks):
            key = "expired"
        elif blocks:
            key = "blocked"
        elif not account.loans:
            continue
        else:
            key = "ok, PIN asked" if account.policy.pin_required else "ok, no PIN"
        if len(found[key]) < limit:
            barcode = Identifier.get((Identifier.user == user) & (Identifier.id_type == "BARCODE")).value
            found[key].append(barcode)
    return found


# Patrons a newcomer signs in with without a card (the kiosk's user name and password: the primary id, or any of
# their identifiers, is the user name), one of them with a very long hyphenated name with accents (within
# store/limits.py), each with loans to renew, an email address for receipts, a barcode, a card and the demo PIN.
SIGN_IN_PATRONS = (
    # primary id, first name, last name, user group, password, number (barcode_for), card serial number
    ("DEMO-READER", "Ada", "Quillfeather", "25", "Reading-room-2026", 9_000_001, "04DE0000000001"),
    ("DEMO-LONGNAME", "María-José Anaïs", "Fernández-de-Córdoba-Ólafsdóttir-Wójcik-Đorđević-Saint-Léger", "21",
     "Long-names-welcome-7", 9_000_002, "04DE0000000002"),
)


def add_sign_in_patrons(today: dt.date | None = None) -> list[dict]:
    """Add the ``SIGN_IN_PATRONS`` that are missing (the PIN and password slow hashes are made for each) and
    return what ``kiosk demo`` prints of all of them: primary id, name, password, barcode, card."""
    from library_kiosk.central.store import patron_search
    from library_kiosk.central.store.fleet_keys import pin_fields

    today = today or clock.today()
    ensure_groups()
    shown = []
    for primary_id, first, last, group, password, number, card in SIGN_IN_PATRONS:
        shown.append({"primary_id": primary_id, "name": f"{first} {last}", "password": password,
                      "barcode": barcode_for(number), "card": card})
        if User.get_or_none(User.primary_id == primary_id) is not None:
            continue
        with database.atomic():
            user = User.create(primary_id=primary_id, first_name=first, last_name=last, user_group=group,
                               expiry_date=today + dt.timedelta(days=365), account_type="INTERNAL",
                               record_type="PUBLIC", password_hash=hash_secret(password),
                               **pin_fields(primary_id, DEMO_PIN))
            Identifier.create(user=user, id_type="BARCODE", value=barcode_for(number))
            Identifier.create(user=user, id_type="CARD_SERIAL_NUMBER", value=card)
            Email.create(user=user, email_address=email_address(first.split()[0], "", number), preferred=True)
            Address.create(user=user, line1="1 Library Walk", city="London", postal_code="WC1E 7HU", country="GB",
                           preferred=True)
            for days_left, title_index in ((3, 0), (-4, 7)):  # one due in three days, one overdue
                due = today + dt.timedelta(days=days_left)
                Loan.create(user=user, user_group=group, item_barcode=f"39{number:012d}{title_index}",
                            title=TITLES[title_index], author=AUTHORS[title_index],
                            loan_date=due - dt.timedelta(days=21), due_date=due)
            patron_search.refresh([user.id])
            changes.record(primary_id)
        read_model.refresh_patrons([primary_id])
    return shown


# Items to borrow and give back at a demo kiosk (issue 18): barcode, title, author, call number, material type,
# library, circulates, kiosk checkout, and who holds it (a SIGN_IN_PATRONS primary id and the hold's status).
DEMO_ITEMS = (
    ("3999000000011", "Middlemarch", "Eliot, George", "PR4662 .A1", "BOOK", "MAIN", True, True, None),
    ("3999000000029", "Dubliners", "Joyce, James", "PR6019 .O9 D8", "BOOK", "MAIN", True, True, None),
    ("3999000000037", "Beloved", "Morrison, Toni", "PS3563 .O8749 B4", "BOOK", "MAIN", True, True, None),
    ("3999000000045", "Metropolis", "Lang, Fritz", "PN1997 .M48", "DVD", "MAIN", True, True, None),
    ("3999000000052", "The Waves", "Woolf, Virginia", "PR6045 .O72 W3", "BOOK", "MAIN", True, True,
     ("DEMO-READER", "ON_HOLD_SHELF")),
    ("3999000000060", "Things Fall Apart", "Achebe, Chinua", "PR9387.9 .A3 T5", "BOOK", "MAIN", True, True,
     ("DEMO-LONGNAME", "NOT_STARTED")),
    ("3999000000078", "Oxford English Dictionary, vol. 1", "", "PE1625 .O87 v.1", "BOOK", "MAIN", False, False,
     None),
    ("3999000000086", "On the Origin of Species", "Darwin, Charles", "QH365 .O2", "BOOK", "SCIENCE", True, True,
     None),
)


def add_demo_items(today: dt.date | None = None) -> int:
    """Add the ``DEMO_ITEMS`` that are missing (with their holds), and an item record for each sign-in patron's
    loan, so a demo kiosk can lend and take back: some on the shelf, one on the hold shelf for DEMO-READER, one
    first in DEMO-LONGNAME's queue, one for use in the library only, one of another library (SCIENCE). Returns
    how many items were added."""
    from library_kiosk.central.store.items import Item

    today = today or clock.today()
    added = 0
    with database.atomic():
        for barcode, title, author, call_number, material, library, circulates, kiosk, held in DEMO_ITEMS:
            if Item.get_or_none(Item.barcode == barcode) is not None:
                continue
            Item.create(barcode=barcode, title=title, author=author, call_number=call_number, material_type=material,
                        library=library, location="STACKS", circulates=circulates, kiosk_checkout=kiosk)
            added += 1
            holder = User.get_or_none(User.primary_id == held[0]) if held else None
            if held and holder is not None:
                Request.create(user=holder, item_barcode=barcode, title=title, author=author, status=held[1],
                               pickup_location="Main Library", place_in_queue=None if held[1] == "ON_HOLD_SHELF"
                               else 1, request_date=today)
                changes.record(holder.primary_id)
        for loan in Loan.select().join(User).where(User.primary_id.in_([p[0] for p in SIGN_IN_PATRONS])):
            if Item.get_or_none(Item.barcode == loan.item_barcode) is None:
                Item.create(barcode=loan.item_barcode, title=loan.title, author=loan.author, library="MAIN",
                            location="STACKS")
                added += 1
    return added
