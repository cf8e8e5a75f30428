"""What ``kiosk demo`` prints at start (library_kiosk/demo.py): besides the barcodes to try, the patrons who sign in
without a card with their passwords, and where the demo's mail goes."""
from library_kiosk import demo
from library_kiosk.central.store import demo as store_demo
from tests.helpers import TODAY


def test_the_welcome_prints_the_sign_in_patrons_and_the_mail_sink(central_db, config, capsys):
    store_demo.generate(30, seed=1, today=TODAY)
    store_demo.add_sign_in_patrons(TODAY)
    demo._welcome(config, "email is kept by the demo mail sink on 127.0.0.1:2600, as .eml files in var/demo-mail")
    printed = capsys.readouterr().out
    lines = [line.split() for line in printed.splitlines()]
    assert ([line[:2] for line in lines if line and line[0].startswith("DEMO-")],
            "Mail: email is kept by the demo mail sink on 127.0.0.1:2600" in printed) == (
        [["DEMO-READER", "Reading-room-2026"], ["DEMO-LONGNAME", "Long-names-welcome-7"]], True)


def test_the_welcome_taps_a_card_asked_for_a_pin_and_lists_items_to_borrow(central_db, config, capsys):
    """The card to tap is DEMO-READER's (in good standing, asked for the PIN: the whole flow, where a generated
    patron could be blocked), and every demo item is listed with what it shows at the kiosk."""
    store_demo.generate(30, seed=1, today=TODAY)
    store_demo.add_sign_in_patrons(TODAY)
    demo._welcome(config)
    printed = capsys.readouterr().out
    tap = next(line for line in printed.splitlines() if "reader tap" in line)
    items = [line.split()[0] for line in printed.splitlines() if line.strip().startswith("3999")]
    assert (tap.split("reader tap ")[1].split()[0], items) == (
        "04DE0000000001", [row[0] for row in store_demo.DEMO_ITEMS])
