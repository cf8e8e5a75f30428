"""The fault checker (issue 21, docs/sync.md "Fault checker"): a central store and a few kiosks as real
processes, driven through a generated history of patron actions while faults are injected, then healed and
checked. ``history`` makes the operations, ``cluster`` runs the processes, ``nemesis`` injects the faults,
``checker`` verifies the invariants and ``run`` ties them together for the test (tests/faults/test_faults.py)
and for ``python -m bench faults``."""
