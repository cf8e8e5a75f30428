"""Item tags on the simulated pad: the item_tags events the kiosk consumes, directly and through the service."""
import json

import pytest

from hardware import client
from hardware.base import SecurityNotSet, TagLost
from hardware.events import ITEM_TAGS, ItemTag, ReaderEvent, missing_parts
from hardware.simulator import SimulatorReader
from tests.hardware.reader_harness import RunningReader
from tests.hardware.service_process import ServiceProcess

UID_A, UID_B, UID_C = "E004010012345678", "E0040100ABCDEF01", "E004010000000003"


def test_placing_and_removing_items_lists_every_tag_on_the_pad():
    pad = SimulatorReader(name="Sim")
    with RunningReader(pad) as run:
        run.expect("reader_back")
        pad.place_item(UID_A.lower(), "31234000567890", owner="DK-710100")
        first = run.expect(ITEM_TAGS, UID_A)
        assert first.items == (ItemTag(UID_A, "31234000567890", owner="DK-710100", secured=True),)
        assert first.technology == "iso15693"
        pad.place_item(UID_B, "39001000000017", parts=2, part=1)
        both = run.expect(ITEM_TAGS, f"{UID_A} {UID_B}")
        assert [t.uid for t in both.items] == [UID_A, UID_B]
        assert missing_parts(both.items) == {"39001000000017": [2]}
        pad.remove_item(UID_A)
        assert run.expect(ITEM_TAGS).items == (ItemTag(UID_B, "39001000000017", parts=2, part=1, secured=True),)
        pad.remove_item(UID_B)
        assert run.expect(ITEM_TAGS, "").items == ()


def test_an_unreadable_tag_is_listed_with_its_error_and_no_item():
    pad = SimulatorReader()
    event = pad.place_item(UID_C, error="the tag holds no item data")
    assert event.items == (ItemTag(UID_C, "", secured=True, error="the tag holds no item data"),)


def test_security_is_set_and_cleared_and_a_write_that_does_not_take_is_refused():
    pad = SimulatorReader()
    pad.place_item(UID_A, "1")
    pad.place_item(UID_B, "2", security_fails=True)
    assert pad.set_security(UID_A, secured=False).secured is False
    assert pad.tags()[0].secured is False
    assert pad.set_security(UID_A, secured=True).secured is True
    with pytest.raises(SecurityNotSet, match=UID_B):
        pad.set_security(UID_B, secured=False)
    assert pad.tags()[1].secured is True                     # unchanged
    with pytest.raises(TagLost, match="not on the pad"):
        pad.set_security(UID_C, secured=False)


@pytest.mark.parametrize("call, message", [
    (lambda pad: pad.place_item(UID_A, "  "), "needs an item id"),
    (lambda pad: pad.place_item(UID_A, "1", parts=2, part=3), "part 3 of 2"),
    (lambda pad: pad.place_item("not hex", "1"), "hex"),
    (lambda pad: pad.remove_item(UID_C), "no item tag"),
    (lambda pad: pad.inject(ITEM_TAGS, UID_A), "unknown event kind"),
])
def test_bad_requests_are_refused_and_change_nothing(call, message):
    pad = SimulatorReader()
    pad.place_item(UID_B, "2")
    with pytest.raises(ValueError, match=message):
        call(pad)
    assert [t.uid for t in pad.tags()] == [UID_B]


def test_item_tags_events_round_trip_and_card_events_keep_their_shape():
    event = ReaderEvent(ITEM_TAGS, "Pad", UID_A, "iso15693", 1700000000.5,
                        items=(ItemTag(UID_A, "31234000567890", 3, 2, "DK-710100", False, 0xC2, False),))
    assert ReaderEvent.from_json(event.to_json()) == event
    empty = ReaderEvent(ITEM_TAGS, "Pad", "", "iso15693", 1700000000.5)
    assert json.loads(empty.to_json())["items"] == []
    card = ReaderEvent("card", "Desk", "04A1B2C3", "iso14443a", 1700000000.5, "04A1B2C3")
    assert card.to_json() == ('{"kind":"card","reader":"Desk","value":"04A1B2C3","technology":"iso14443a",'
                              '"at":1700000000.5,"raw":"04A1B2C3","formatted":""}')


def next_items(stream):
    for item in stream:
        if isinstance(item, ReaderEvent) and item.kind == ITEM_TAGS:
            return item
    raise AssertionError("event stream ended")


def test_the_service_relays_item_tags_and_sets_security(tmp_path):
    service = ServiceProcess(tmp_path, """
devices = [{type = "simulator", name = "Sim"}]
""")
    try:
        stream = client.subscribe(service.url, timeout=10)
        next(stream)                                                     # the status
        accepted = client.simulate(service.url, "item", UID_A, item_id="31234000567890", parts=2, part=2)
        assert accepted["accepted"]["items"][0]["item_id"] == "31234000567890"
        event = next_items(stream)
        assert event.items == (ItemTag(UID_A, "31234000567890", 2, 2, secured=True),)

        assert client.set_item_security(service.url, UID_A, secured=False) == ItemTag(
            UID_A, "31234000567890", 2, 2, secured=False)
        client.simulate(service.url, "item", UID_B, item_id="2", security_fails=True)
        assert [t.uid for t in next_items(stream).items] == [UID_A, UID_B]
        with pytest.raises(SecurityNotSet, match=UID_B):
            client.set_item_security(service.url, UID_B, secured=False)
        with pytest.raises(client.ServiceError, match="404.*no item pad holds"):
            client.set_item_security(service.url, UID_C, secured=False)
        with pytest.raises(client.ServiceError, match="400"):
            client.set_item_security(service.url, "not hex", secured=False)

        client.simulate(service.url, "item_removed", UID_A)
        assert [t.uid for t in next_items(stream).items] == [UID_B]
        with pytest.raises(client.ServiceError, match="400.*no item tag"):
            client.simulate(service.url, "item_removed", UID_A)
        service.wait_for(r"item_tags at Sim: 1 item tag\(s\)")          # the log counts tags, names none
        assert not any(UID_A in line for line in service.output)
    finally:
        assert service.terminate() == 0


def test_kiosk_reader_item_puts_a_tag_on_the_pad_and_item_off_takes_it_away(capsys):
    import argparse

    from hardware.cli import add_subcommands, describe
    from hardware.config import ReaderSettings
    from hardware.service import ReaderService

    service = ReaderService(ReaderSettings.from_mapping({"service_url": "http://127.0.0.1:0",
                                                         "devices": [{"type": "simulator", "name": "Sim"}]}))
    service.start()
    try:
        settings = ReaderSettings.from_mapping({"service_url": service.url})
        subscriber = service.hub.subscribe()
        assert subscriber.get(timeout=2)[0] == "status"

        def run(*argv):
            parser = argparse.ArgumentParser(prog="kiosk")
            add_subcommands(parser.add_subparsers(dest="command", required=True), lambda: settings)
            args = parser.parse_args(list(argv))
            return args.func(args)

        assert run("reader", "item", UID_A, "39001000000017", "--part", "2", "--parts", "3", "--on-loan") == 0
        placed = ReaderEvent.from_json(subscriber.get(timeout=2)[1])
        assert placed.items == (ItemTag(UID_A, "39001000000017", 3, 2, secured=False),)
        assert describe(placed) == "item_tags    Sim: 1 tag(s): 39001000000017 (2 of 3) on loan"
        assert run("reader", "item-off", UID_A) == 0
        assert ReaderEvent.from_json(subscriber.get(timeout=2)[1]).items == ()
        assert "sent item_removed (pad empty)" in capsys.readouterr().out
        assert run("reader", "item-off", UID_A) == 1                    # not there: refused, says why
        assert "no item tag" in capsys.readouterr().err
    finally:
        service.stop()
