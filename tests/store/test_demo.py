import re

import pytest

from library_kiosk.central.store import demo
from library_kiosk.central.store.accounts import build_accounts
from library_kiosk.central.store.models import Email, Fee, Identifier, Loan, Request, User, UserGroup
from library_kiosk.domain.blocks import active_blocks
from tests.store.factories import TODAY


def _snapshot():
    return [(u.primary_id, u.first_name, u.last_name, u.user_group_id, u.expiry_date) for u in
            User.select().order_by(User.id)]


def test_demo_library_is_realistic(central_db):
    counts = demo.generate(300, seed=7, today=TODAY)
    assert counts["users"] == User.select().count() == 300
    assert UserGroup.select().count() == 13
    assert {u.account_type for u in User.select()} == {"INTERNAL", "EXTERNAL"}
    assert User.select().where(User.first_name.contains("ë") | User.last_name.contains("ó")).exists()
    assert Identifier.select().count() >= 600
    statuses = {r.status for r in Request.select()}
    assert statuses == {"ON_HOLD_SHELF", "IN_PROCESS", "NOT_STARTED"}
    assert {l.status for l in Loan.select()} >= {"ON_LOAN", "LOST"}
    assert len({f.fee_type for f in Fee.select()}) >= 3
    accounts = build_accounts(list(User.select()))
    assert any(l.requested_by_other for a in accounts for l in a.loans)
    assert any(l.renewals >= a.policy.max_renewals for a in accounts for l in a.loans)
    assert any(l.is_overdue(TODAY) for a in accounts for l in a.loans)
    codes = [b.code for a in accounts for b in active_blocks(a, TODAY)]
    assert "expired" in codes and "inactive" in codes and any(c.startswith("manual:") for c in codes)


def test_demo_is_deterministic_for_a_seed(central_db):
    demo.generate(50, seed=3, today=TODAY)
    first = _snapshot()
    for model in (Fee, Request, Loan, Identifier, User):
        model.delete().execute()
    demo.generate(50, seed=3, today=TODAY)
    second = _snapshot()
    assert second == first


def test_showcase_names_barcodes_for_each_situation(central_db):
    demo.generate(200, seed=1, today=TODAY)
    found = demo.showcase(TODAY)
    assert all(found[key] for key in ("ok, PIN asked", "ok, no PIN", "expired", "blocked"))


def test_the_demo_library_comes_with_its_kiosk_documents_built(central_db, builds):
    from library_kiosk.central.store import documents, sync

    calls = []
    counts = demo.generate(120, seed=5, today=TODAY, progress=lambda done, total, phase="": calls.append(
        (phase, done, total)))
    assert counts["documents"] == 120 and documents.PatronDocument.select().count() == 120
    assert calls[-2:] == [(demo.DOCUMENTS_PHASE, 0, 120), (demo.DOCUMENTS_PHASE, 120, 120)]
    builds.clear()
    cursor, served = 0, 0
    while True:  # the first kiosk sync streams stored documents
        page = sync.page(cursor, 50)
        assert page.built == 0
        served += len(page.records)
        cursor = page.cursor
        if not page.more:
            break
    assert served == 120 and builds == []
    plain = []  # a two-argument callback counts patrons only
    demo.generate(10, seed=6, today=TODAY, progress=lambda done, total: plain.append((done, total)))
    assert plain == [(10, 10)]
    demo.generate(10, seed=7, today=TODAY, documents=False)
    assert documents.PatronDocument.select().count() == 130
    assert sync.refresh_documents() == 10  # what the first sync would build


def test_a_demo_email_address_keeps_the_letters_of_an_accented_name(central_db):
    demo.add_sign_in_patrons(today=TODAY)
    user = User.get(User.primary_id == "DEMO-LONGNAME")
    assert [e.email_address for e in user.emails] == ["maria-jose.9000002@example.org"]


@pytest.mark.parametrize("names, expected", [
    (("Zoë", "Ólafsdóttir-Wójcik"), "zoe.olafsdottir-wojcik.7@example.org"),
    (("Đorđe", "Łukasiewicz"), "dorde.lukasiewicz.7@example.org"),
    (("Siobhán", "O'Brien"), "siobhan.obrien.7@example.org"),
    (("Anne Marie", "van der Berg"), "anne-marie.van-der-berg.7@example.org"),
    (("王", "明"), "patron.7@example.org"),
], ids=["accents", "letters-without-decomposition", "apostrophe", "spaces", "no-latin-letters"])
def test_a_demo_email_address_is_made_from_the_ascii_folded_name(names, expected):
    assert demo.email_address(*names, number=7) == expected


def test_every_generated_email_address_is_plain_ascii(central_db):
    demo.generate(300, seed=7, today=TODAY)
    addresses = [e.email_address for e in Email.select()]
    assert [a for a in addresses if not re.fullmatch(r"[a-z0-9]+(?:[.-][a-z0-9]+)*\.\d+@example\.org", a)] == []
