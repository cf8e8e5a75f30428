"""Items at the central store (store/items.py): the items feed (``kiosk admin items import``), the closed days
(``kiosk admin calendar``) and the demo items (``kiosk demo load``)."""
import datetime as dt

from library_kiosk import cli
from library_kiosk.central.store import circulation, demo, items
from library_kiosk.central.store.items import ClosedDay, Item
from library_kiosk.central.store.models import Request
from tests.store.factories import TODAY

HEADER = "barcode,title,author,call_number,material_type,library,location,loan_period_days,renewals,circulates," \
         "kiosk_checkout\n"


def test_a_feed_loads_its_good_rows_and_refuses_each_bad_one_with_its_line_and_why(central_db):
    report = items.import_csv(HEADER
                              + "39001,Middlemarch,\"Eliot, George\",PR4662,BOOK,MAIN,STACKS,14,2,true,true\n"
                              + ",No barcode,,,BOOK,MAIN,STACKS,,,true,true\n"
                              + "39003,Beloved,Morrison,PS35,BOOK,MAIN,STACKS,soon,,true,true\n"
                              + "39004,Reference,,R1,BOOK,MAIN,REF,,,maybe,false\n"
                              + "39005,Dubliners,Joyce,PR60,,MAIN,STACKS,,,,\n"
                              + "39001,Again,,,BOOK,MAIN,STACKS,,,true,true\n")
    assert (report.created, report.updated) == (2, 0)
    assert report.refused == [(3, "barcode is empty"),
                              (4, "loan_period_days must be a whole number of 0 to 3650 or empty, not 'soon'"),
                              (5, "circulates must be true or false, not 'maybe'"),
                              (7, "barcode 39001 is already on line 2")]
    first = Item.get(Item.barcode == "39001")
    assert (first.title, first.author, first.loan_period_days, first.renewals, first.circulates) == (
        "Middlemarch", "Eliot, George", 14, 2, True)
    dubliners = Item.get(Item.barcode == "39005")
    assert (dubliners.material_type, dubliners.loan_period_days, dubliners.kiosk_checkout) == ("BOOK", None, True)


def test_a_feed_updates_the_items_it_already_holds(central_db):
    items.import_csv(HEADER + "39001,Middlemarch,,,BOOK,MAIN,STACKS,,,true,true\n")
    report = items.import_csv(HEADER + "39001,Middlemarch,,,BOOK,MAIN,REF,,,false,false\n")
    assert (report.created, report.updated) == (0, 1)
    assert Item.get(Item.barcode == "39001").circulates is False


def test_a_feed_without_the_header_loads_nothing(central_db):
    try:
        items.import_csv("barcode,title\n39001,Middlemarch\n")
    except items.FeedError as exc:
        assert "author" in str(exc)
    else:
        raise AssertionError("a feed without the header was accepted")
    assert Item.select().count() == 0


def test_a_dry_run_changes_nothing(central_db):
    report = items.import_csv(HEADER + "39001,Middlemarch,,,BOOK,MAIN,STACKS,,,true,true\n", dry_run=True)
    assert report.created == 1 and Item.select().count() == 0


def test_the_command_loads_the_feed_and_exits_1_when_a_row_was_refused(central_db, central_url, tmp_path,
                                                                         monkeypatch, capsys):
    monkeypatch.setenv("KIOSK_CENTRAL_DATABASE_URL", central_url)
    path = tmp_path / "items.csv"
    path.write_text(HEADER + "39001,Middlemarch,,,BOOK,MAIN,STACKS,,,true,true\n"
                             "39002,,,,BOOK,MAIN,STACKS,,,true,true\n", encoding="utf-8")
    assert cli.main(["admin", "items", "import", str(path)]) == 1
    out = capsys.readouterr().out
    assert "items created: 1, updated: 0, refused: 1" in out and "line 3: title is empty" in out
    assert [i.barcode for i in Item.select()] == ["39001"]


def test_the_command_refuses_an_unreadable_file(central_db, central_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KIOSK_CENTRAL_DATABASE_URL", central_url)
    assert cli.main(["admin", "items", "import", str(tmp_path / "missing.csv")]) == 1
    assert "nothing loaded" in capsys.readouterr().err


def test_the_calendar_command_closes_and_opens_days(central_db, central_url, monkeypatch, capsys):
    monkeypatch.setenv("KIOSK_CENTRAL_DATABASE_URL", central_url)
    day = (TODAY + dt.timedelta(days=10)).isoformat()
    assert cli.main(["admin", "calendar", "close", day, "--library", "MAIN", "--description", "Holiday"]) == 0
    assert items.closed_days("MAIN", TODAY) == frozenset({TODAY + dt.timedelta(days=10)})
    assert items.closed_days("SCIENCE", TODAY) == frozenset()
    assert cli.main(["admin", "calendar", "list", "--today", TODAY.isoformat()]) == 0
    assert "Holiday" in capsys.readouterr().out
    assert cli.main(["admin", "calendar", "open", day, "--library", "MAIN"]) == 0
    assert ClosedDay.select().count() == 0


def test_the_demo_items_show_every_situation(central_db):
    demo.add_sign_in_patrons(TODAY)
    assert demo.add_demo_items(TODAY) >= len(demo.DEMO_ITEMS)
    assert demo.add_demo_items(TODAY) == 0  # once
    reader = demo.User.get(demo.User.primary_id == "DEMO-READER")
    outcomes = {barcode: circulation.checkout(reader, barcode, TODAY, f"demo:{barcode}").reason
                for barcode, *_rest in demo.DEMO_ITEMS}
    assert outcomes == {"3999000000011": "", "3999000000029": "", "3999000000037": "", "3999000000045": "",
                        "3999000000052": "",  # on the hold shelf for DEMO-READER: lent, the hold fulfilled
                        "3999000000060": "on_hold_for_other", "3999000000078": "not_circulating",
                        "3999000000086": ""}
    assert Request.select().where(Request.item_barcode == "3999000000052").count() == 0
    assert circulation.checkin("3999000000086", TODAY, "demo:r", "MAIN").route == "transit"
    [own_loan, *_] = [loan for loan in reader.loans if loan.item_barcode.startswith("39000")]
    assert circulation.checkin(own_loan.item_barcode, TODAY, "demo:r2", "MAIN").returned
