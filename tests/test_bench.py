"""The benchmarks still run (at a small size) after a change elsewhere: each prints its figures as one JSON line,
and what it counts is checked here, never how fast (speed is `make bench`'s, against a floor)."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "bench", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _bench(*argv: str) -> dict:
    return json.loads(_run(*argv).stdout.strip().splitlines()[-1])


def test_upstream_counts_the_calls_alma_and_sip2_need_for_a_visit():
    figures = _bench("upstream")
    assert figures["alma_calls_per_visit"] == figures["alma_api_minimum"] == 5
    assert figures["sip2_calls_per_visit"] == 9


def test_replay_applies_every_queued_operation_once():
    figures = _bench("replay", "--ops", "200")
    assert (figures["applied_at_central"], figures["outbox_left"]) == (200, 0)


def test_sync_streams_documents_built_ahead_then_a_delta():
    figures = _bench("sync", "--patrons", "500")
    assert (figures["read_model_built"], figures["delta_records"]) == (0, 500)


def test_feed_loads_every_patron_then_updates_the_changed_ones():
    stderr = _run("feed", "--patrons", "500").stderr
    assert "'created': 500, 'updated': 0" in stderr and "'updated': 5, 'unchanged': 495" in stderr


def test_faults_plays_a_short_history_under_faults_with_no_violation(tmp_path):
    figures = _bench("faults", "--minutes", "0", "--steps", "8", "--seed", "4", "--dir", str(tmp_path / "faults"))
    assert (figures["violations"], figures["rounds"], figures["operations"] > 0) == (0, 1, True)
