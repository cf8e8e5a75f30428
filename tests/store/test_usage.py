"""store/usage.py: cumulative daily counters per kiosk (the larger value kept), reports by kiosk, day, week
and month, and ``kiosk usage report`` on the console."""
from __future__ import annotations

import datetime as dt

import pytest

from library_kiosk.central.store import usage
from tests.store.factories import TODAY


def test_record_keeps_the_larger_value_and_never_adds(central_db):
    usage.record("lobby", [(TODAY, "sessions_tap", 3)])
    usage.record("lobby", [(TODAY, "sessions_tap", 3)])  # a resend
    usage.record("lobby", [(TODAY, "sessions_tap", 2)])  # an older heartbeat arriving late
    assert usage.totals(TODAY, TODAY, "kiosk") == {"lobby": {"sessions_tap": 3}}
    usage.record("lobby", [(TODAY, "sessions_tap", 7), (TODAY, "pins_wrong", 1)])
    assert usage.totals(TODAY, TODAY, "kiosk") == {"lobby": {"sessions_tap": 7, "pins_wrong": 1}}
    assert usage.KioskUsage.select().count() == 2


def test_totals_by_day_week_and_month_over_a_range(central_db):
    days = [dt.date(2026, 10, 31), dt.date(2026, 11, 1), dt.date(2026, 11, 2), TODAY]
    for number, day in enumerate(days, start=1):
        usage.record("lobby", [(day, "sessions_tap", number)])
        usage.record("basement", [(day, "sessions_tap", 10)])
    start, end = dt.date(2026, 11, 1), TODAY
    assert usage.totals(start, end, "month") == {"2026-11": {"sessions_tap": 2 + 3 + 4 + 30}}
    assert usage.totals(dt.date(2026, 10, 1), end, "month", "lobby") == {"2026-10": {"sessions_tap": 1},
                                                                         "2026-11": {"sessions_tap": 9}}
    assert usage.totals(start, end, "week") == {"2026-W44": {"sessions_tap": 12}, "2026-W45": {"sessions_tap": 13},
                                                "2026-W48": {"sessions_tap": 14}}
    assert usage.totals(start, dt.date(2026, 11, 2), "day", "lobby") == {
        "2026-11-01": {"sessions_tap": 2}, "2026-11-02": {"sessions_tap": 3}}
    report = usage.table(start, end, "kiosk")
    assert report["columns"] == ["basement", "lobby"]
    assert report["rows"] == [{"counter": "sessions_tap", "label": "Sessions started by card tap",
                               "values": [30, 9], "total": 39}]


def test_parse_refuses_what_is_not_a_count():
    assert usage.parse({"2026-11-25": {"sessions_tap": 2, "language_pt_br": 1}}, TODAY) == [
        (TODAY, "sessions_tap", 2), (TODAY, "language_pt_br", 1)]
    for bad in ({"2026-11-25": {"Zoë Ólafsdóttir": 1}}, {"2026-11-25": {"sessions_tap": None}},
                {"20000000000011": {"sessions_tap": 1}}, {"2026-11-25": {"sessions_tap": 10**13}}):
        with pytest.raises(usage.UsageError):
            usage.parse(bad, TODAY)


def test_the_console_report(central_db, central_url, tmp_path, monkeypatch, capsys):
    from library_kiosk import cli

    usage.record("lobby", [(TODAY, "sessions_tap", 4), (TODAY, "renewals_granted", 2)])
    usage.record("basement", [(TODAY, "sessions_tap", 1)])
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[central]\ndatabase_url = "{central_url}"\n')
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    day = TODAY.isoformat()
    assert cli.main(["usage", "report", "--from", day, "--to", day]) == 0
    text = capsys.readouterr().out
    assert "basement" in text and "lobby" in text
    assert [line.split()[-3:] for line in text.splitlines() if line.startswith("Sessions started by card tap")] == [
        ["1", "4", "5"]]
    assert cli.main(["usage", "report", "--from", day, "--to", day, "--csv", "--by", "day"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"counter,label,{day},total", "sessions_tap,Sessions started by card tap,5,5",
        "renewals_granted,Renewals granted,2,2"]
    assert cli.main(["usage", "report", "--from", "2026-11-31"]) == 2
    assert "From must be a date" in capsys.readouterr().err
