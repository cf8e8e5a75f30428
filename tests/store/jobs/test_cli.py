import json

from library_kiosk import cli
from library_kiosk.central.store.models import Change, User
from tests.store import factories


def test_admin_feed_purge_and_jobs_commands(groups, write, tmp_path, monkeypatch, capsys, central_url):
    monkeypatch.setenv("KIOSK_CENTRAL_DATABASE_URL", central_url)
    monkeypatch.setenv("KIOSK_FEED_USER_GROUPS", '{"UGRAD": "21"}')
    path = write("f.csv", "primary_id,last_name,user_group,expiry_date,purge_date\n"
                          "S1,Ó,UGRAD,2027-09-30,2026-01-01\nS2,Ng,21,2027-09-30,\n")
    args = ["admin", "feed", "load", path, "--format", "csv", "--source", "STUDENT", "--operator", "ops"]
    assert cli.main(args + ["--dry-run"]) == 0
    assert User.select().count() == 0
    assert cli.main(args) == 1  # no terminal to confirm on: nothing happens
    assert cli.main(args + ["--yes"]) == 0
    assert User.select().count() == 2 and Change.select().count() == 2
    out = capsys.readouterr().out
    assert "feed: done" in out and "created 2" in out
    assert cli.main(["admin", "purge", "--yes", "--today", "2026-11-25", "--operator", "ops"]) == 0
    assert [u.primary_id for u in User.select()] == ["S2"]
    assert cli.main(["admin", "groups", "remove", "21", "--yes"]) == 1
    assert "still in group 21" in capsys.readouterr().out
    factories.group("15")
    assert cli.main(["admin", "groups", "report", "--json", "--today", "2026-11-25"]) == 0
    rows = {r["code"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["21"]["users"] == 1 and rows["21"]["feed_codes"] == ["UGRAD"] and rows["15"]["users"] == 0
    assert cli.main(["admin", "jobs", "list"]) == 0
    assert "purge" in capsys.readouterr().out
    assert cli.main(["admin", "jobs", "show", "1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["job"] == "feed" and shown["dry_run"] is True and shown["counts"]["created"] == 2
