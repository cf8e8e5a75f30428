"""The fault checker's invariants do fail when broken (tests/faults/checker.py), on rows made here."""
from types import SimpleNamespace

from tests.faults import checker
from tests.store.factories import loan, patron


def _renewal(loan_id: int, renewed: bool, refused_pending: bool = False) -> dict:
    return {"status": "applied", "seq": 1, "type": "renew",
            "response": {"status": "applied", "result": {
                "results": [{"loan_id": loan_id, "renewed": renewed}],
                "pending_refused": [loan_id] if refused_pending else []}}}


def _told(loan_id: int, renewed: bool, pending: bool, key: str = "k1") -> SimpleNamespace:
    outcome = {"loan_id": loan_id, "renewed": renewed, "pending": pending, "reason": ""}
    record = {"kiosk": 0, "step": ("renew", 0, 0, [0]),
              "answer": {"outcomes": [outcome], "ops": [{"key": key, "type": "renew"}], "withdrawn": []}}
    return SimpleNamespace(records=[record], kiosks=[SimpleNamespace(name="kiosk-a")])


def test_a_renewal_applied_twice_is_a_violation(central_db):
    row = loan(patron("P1"), renewals=2)
    violations = checker._renewal_counts(SimpleNamespace(loans={row.id: (0, 5)}), {"k1": _renewal(row.id, True)})
    assert violations == [f"loan {row.id}: 2 renewals at the central store, but 0 at the start and 1 granted by "
                          f"applied operations"]


def test_a_loan_past_its_maximum_is_a_violation(central_db):
    row = loan(patron("P1"), renewals=3)
    applied = {f"k{i}": _renewal(row.id, True) for i in range(3)}
    assert checker._renewal_counts(SimpleNamespace(loans={row.id: (0, 2)}), applied) == [
        f"loan {row.id}: 3 renewals, past its maximum of 2"]


def test_a_renewal_told_confirmed_but_never_applied_is_a_violation():
    violations = checker._promises(_told(7, renewed=True, pending=False), {}, set())
    assert len(violations) == 1 and "no operation reached the central store" in violations[0]


def test_a_renewal_told_confirmed_but_refused_there_is_a_violation():
    violations = checker._promises(_told(7, renewed=True, pending=False), {"k1": _renewal(7, False)}, set())
    assert len(violations) == 1 and "told renewed, not renewed" in violations[0]


def test_a_pending_renewal_refused_at_replay_without_a_conflict_is_a_violation():
    violations = checker._promises(_told(7, renewed=True, pending=True), {"k1": _renewal(7, False, True)}, set())
    assert len(violations) == 1 and "neither renewed nor a visible conflict" in violations[0]


def test_a_pending_renewal_refused_at_replay_with_its_conflict_holds():
    assert checker._promises(_told(7, renewed=True, pending=True), {"k1": _renewal(7, False, True)}, {"k1"}) == []


def test_a_refusal_on_screen_renewed_at_the_central_store_is_a_violation():
    violations = checker._promises(_told(7, renewed=False, pending=False), {"k1": _renewal(7, True)}, set())
    assert len(violations) == 1 and "told refused" in violations[0]
