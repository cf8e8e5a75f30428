"""The product's one clock: shifted, it ticks on; 'today' is the local day; nothing else reads the system clock."""
import ast
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from library_kiosk.domain import clock

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ["library_kiosk", "kiosk", "provisioning", "hardware"]


def test_shifted_clock_reads_noon_on_the_day_and_ticks_on():
    before = clock.offset()  # the pin of tests/conftest.py
    with clock.shifted_to(dt.date(2028, 2, 29)):
        first = clock.local_now()
        assert first.date() == dt.date(2028, 2, 29) == clock.today()
        assert abs(first.replace(tzinfo=None) - dt.datetime(2028, 2, 29, 12)) < dt.timedelta(seconds=5)
        assert clock.now() >= first.astimezone(dt.UTC).replace(tzinfo=None)
    assert clock.offset() == before


def _in_zone(zone: str, code: str) -> str:
    env = dict(os.environ, TZ=zone, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_today_is_the_local_day_not_the_utc_day():
    # 23:30 on 31 December in Auckland is 10:30 UTC the same day; 00:30 on 1 January there is still 31 December UTC
    code = ("import datetime as dt; from library_kiosk.domain import clock; "
            "clock.set_offset(dt.datetime(2026, 12, 31, 11, 30, tzinfo=dt.timezone.utc) - clock.now_aware() "
            "+ clock.offset()); print(clock.today(), clock.now().date())")
    assert _in_zone("Pacific/Auckland", code) == "2027-01-01 2026-12-31"


def test_shifted_to_a_day_across_a_daylight_saving_change_is_noon_local():
    code = ("import datetime as dt; from library_kiosk.domain import clock; "
            "clock.set_offset(clock.offset_to(dt.date(2027, 3, 28))); "
            "print(clock.local_now().strftime('%Y-%m-%d %H %Z'))")
    assert _in_zone("Europe/London", code) == "2027-03-28 12 BST"


def _reads_system_clock(tree: ast.AST) -> list[int]:
    """Lines that call datetime.now(), datetime.utcnow(), date.today() or datetime.today()."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("now", "utcnow", "today") and \
                getattr(node.func.value, "attr", getattr(node.func.value, "id", None)) in ("datetime", "date"):
            lines.append(node.lineno)
    return lines


def test_only_the_clock_module_reads_the_calendar_from_the_system():
    found = []
    for package in PRODUCT:
        for path in sorted((REPO / package).rglob("*.py")):
            if path == REPO / "library_kiosk" / "domain" / "clock.py":
                continue
            found += [f"{path.relative_to(REPO)}:{line}" for line in _reads_system_clock(ast.parse(path.read_text()))]
    assert found == [], "read domain.clock instead: " + ", ".join(found)


def test_a_process_started_with_kiosk_clock_day_runs_on_that_day():
    code = "from library_kiosk.domain import clock; print(clock.today(), clock.local_now().hour)"
    env = dict(os.environ, TZ="Europe/London", PYTHONPATH=str(REPO), KIOSK_CLOCK_DAY="2028-02-29")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["2028-02-29", "12"]
