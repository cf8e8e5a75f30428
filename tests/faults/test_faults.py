"""The fault checker's short schedule (issue 21): a central store (SQLite, or PostgreSQL under
``KIOSK_TEST_DB=postgres``) and three kiosks as real processes, through a history Hypothesis chooses (by its seed)
with SIGKILLs mid-push, lost answers, kiosks cut off and renewing the same loan, concurrent pushes, a full and a
read-only cache, PostgreSQL backends killed, one kiosk's clock 40 days fast; healed, then every invariant of
tests/faults/checker.py checked. A failure prints the seed and the history: ``python -m bench faults --seed S
--minutes 1`` replays it (the long run: ``python -m bench faults --minutes 30``)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.faults.run import FaultRun

STEPS = 40


@pytest.mark.slow  # about a minute: two histories of 40 steps, each on a fresh cluster of four processes
@settings(max_examples=2, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1))
def test_a_generated_history_under_faults_keeps_every_promise_exactly_once(central_db, central_url, tmp_path, seed):
    note(f"seed {seed}")
    run = FaultRun(central_url, str(tmp_path / f"faults-{seed}"), seed)
    try:
        run.start()
        violations = run.play_round(STEPS)
    finally:
        run.stop()
    assert violations == [], "\n".join(violations[:20]) + "\n" + run.replay_hint()
