"""Library item tags on a pad: ItemPadReader against a private pcscd whose vpcd slots hold virtual ISO 15693 tags.

The pad is both slots of the pcscd fixture's virtual reader ("several tags at once": one tag a slot).
"""
import pytest

from hardware import client, iso28560
from hardware.config import ItemSecurity
from hardware.events import ITEM_TAGS, ReaderEvent, missing_parts
from hardware.iso15693_reader import ItemPadReader, SecurityNotSet, TagLost
from hardware.iso28560 import ItemData
from tests.hardware.reader_harness import RunningReader
from tests.hardware.service_process import ServiceProcess
from tests.hardware.vpcd_card import wait_card_state
from tests.hardware.vpcd_iso15693 import VirtualItemTag
from tests.helpers import wait_until

pytestmark = pytest.mark.pcsc
PAD = "Kiosk Test Reader"                                # both slots of the pcscd fixture
SLOT0, PORT0 = "Kiosk Test Reader 00 00", 36100
SLOT1, PORT1 = "Kiosk Test Reader 00 01", 36101
UID_A, UID_B = "E004010012345678", "E0040100ABCDEF01"


def make_pad(model=iso28560.MODEL_2, security=None):
    return ItemPadReader(name="Item pad", match=PAD, data_model=model, security=security,
                         retry_initial=0.2, retry_max=0.5)


def tag(uid, port, item, model=iso28560.MODEL_2, **options):
    return VirtualItemTag(uid, port, memory=iso28560.encode(item, model), **options)


def next_pad(run, count, timeout=8.0):
    """The next item_tags event listing ``count`` tags (earlier ones, while tags settle, are passed over)."""
    while True:
        event = run.expect(ITEM_TAGS, timeout=timeout)
        if len(event.items) == count:
            return event


def test_a_tag_placed_is_listed_with_its_item_and_taken_away_is_not(pcscd):
    item = ItemData("31234000567890", owner="DE-Heu1")
    with RunningReader(make_pad()) as run:
        run.expect("reader_back")
        with tag(UID_A, PORT0, item, afi=0x07, eas=True):
            event = next_pad(run, 1)
            (listed,) = event.items
            assert (listed.uid, listed.item_id, listed.owner, listed.parts, listed.part) == (
                UID_A, "31234000567890", "DE-Heu1", 1, 1)
            assert (listed.afi, listed.secured, listed.error) == (0x07, True, "")
            assert event.value == UID_A and event.technology == "iso15693"
        assert next_pad(run, 0).items == ()


def test_two_tags_at_once_and_a_set_missing_a_part(pcscd):
    first, second = ItemData("39001000000017", parts=2, part=1), ItemData("39001000000017", parts=2, part=2)
    with RunningReader(make_pad()) as run:
        run.expect("reader_back")
        with tag(UID_A, PORT0, first), tag(UID_B, PORT1, second):
            both = next_pad(run, 2)
            assert sorted((t.uid, t.part, t.parts) for t in both.items) == [(UID_A, 1, 2), (UID_B, 2, 2)]
            assert missing_parts(both.items) == {}
        one = next_pad(run, 0, timeout=8)
        assert one.items == ()
        with tag(UID_B, PORT1, second):
            alone = next_pad(run, 1)
            assert missing_parts(alone.items) == {"39001000000017": [1]}


@pytest.mark.parametrize("mode", ["afi", "eas", "both"])
def test_security_is_cleared_at_checkout_and_set_on_return_and_read_back(pcscd, mode):
    pad = make_pad(security=ItemSecurity(mode, afi_on_loan=0xC2, afi_in_library=0x07))
    with RunningReader(pad) as run:
        run.expect("reader_back")
        with tag(UID_A, PORT0, ItemData("31234000567890"), afi=0x07, eas=True) as chip:
            assert next_pad(run, 1).items[0].secured is True
            on_loan = pad.set_security(UID_A, secured=False)
            assert on_loan.secured is False
            assert (chip.afi, chip.eas) == ((0xC2 if mode != "eas" else 0x07), mode == "afi")
            back = pad.set_security(UID_A, secured=True)
            assert back.secured is True and (chip.afi, chip.eas) == (0x07, True)
            assert pad.tags()[0].secured is True                  # the pad's listing follows


def test_a_security_write_that_does_not_take_is_refused(pcscd):
    pad = make_pad(security=ItemSecurity("afi"))
    with RunningReader(pad) as run:
        run.expect("reader_back")
        with tag(UID_A, PORT0, ItemData("31234000567890"), afi=0x07, ignore_security_writes=True) as chip:
            next_pad(run, 1)
            with pytest.raises(SecurityNotSet, match="AFI reads back 0x07, not 0xc2"):
                pad.set_security(UID_A, secured=False)
            assert chip.afi == 0x07


def test_security_of_a_tag_not_on_the_pad_is_refused(pcscd):
    pad = make_pad()
    with RunningReader(pad) as run:
        run.expect("reader_back")
        with pytest.raises(TagLost, match="not on the pad"):
            pad.set_security(UID_A, secured=False)


def test_a_tag_removed_mid_read_is_a_clear_error_and_no_item(pcscd):
    item = ItemData("31234000567890", owner="DE-Heu1")            # three blocks and more to read
    pad = make_pad()
    pad.open()
    try:
        with tag(UID_A, PORT0, item, vanish_after_reads=1):
            wait_card_state(SLOT0, True)
            with pytest.raises(TagLost, match="left the pad during reading block 1"):
                pad.read_tag(SLOT0)
    finally:
        pad.close()
    wait_card_state(SLOT0, False)
    with RunningReader(make_pad()) as run:                        # the running pad: no event for it at all
        run.expect("reader_back")
        with tag(UID_A, PORT0, item, vanish_after_reads=1) as chip:
            wait_until(lambda: chip.reads >= 2, 10, "the pad reading the tag up to where it leaves")
        wait_card_state(SLOT0, False, timeout=10)
        with tag(UID_B, PORT1, ItemData("39001000000017")):
            assert [t.uid for t in next_pad(run, 1).items] == [UID_B]


def test_danish_model_tags_are_written_and_read_back_through_pcscd(pcscd):
    pad = make_pad(model=iso28560.MODEL_3)
    item = ItemData("5010203040", parts=3, part=2, owner="DK-710100", type_of_usage=1)
    with RunningReader(pad) as run:
        run.expect("reader_back")
        with VirtualItemTag(UID_A, PORT0, blocks=8) as chip:
            blank = next_pad(run, 1).items[0]
            assert blank.item_id == "" and blank.error == "the tag holds no item data"
            pad.write_item(UID_A, item, blocks=8)
            assert iso28560.decode_3(bytes(chip.memory)) == item
            assert pad.read_tag(SLOT0).item_id == "5010203040"
            assert (pad.read_tag(SLOT0).part, pad.read_tag(SLOT0).parts) == (2, 3)


def test_object_model_tags_round_trip_through_pcscd(pcscd):
    pad = make_pad()
    item = ItemData("0012345", parts=12, part=3, owner="GB-UkOxU")
    with RunningReader(pad) as run:
        run.expect("reader_back")
        with VirtualItemTag(UID_B, PORT1, blocks=28) as chip:
            next_pad(run, 1)
            pad.write_item(UID_B, item, blocks=28)
            assert bytes(chip.memory) == iso28560.encode_2(item, blocks=28)
            read = pad.read_tag(SLOT1)
            assert (read.item_id, read.parts, read.part, read.owner) == ("0012345", 12, 3, "GB-UkOxU")


@pytest.fixture(autouse=True)
def empty_pad(pcscd):
    """Each test starts with both slots empty as pcscd sees them (a tag placed right after the last test's
    removal would find pcscd's state stale)."""
    wait_card_state(SLOT0, False, timeout=10)
    wait_card_state(SLOT1, False, timeout=10)


def test_the_reader_service_relays_a_pad_and_sets_security_as_the_library_configures(pcscd, tmp_path):
    service = ServiceProcess(tmp_path, f"""
item_data_model = "28560-3"
item_security = "both"
afi_on_loan = 0xDA
afi_in_library = 0xD7
devices = [{{type = "iso15693", name = "Item pad", match = "{SLOT1}"}}]
""")
    try:
        stream = client.subscribe(service.url, timeout=10)
        item = ItemData("5010203040", parts=1, part=1, owner="DK-710100", type_of_usage=1)
        with tag(UID_B, PORT1, item, model=iso28560.MODEL_3, afi=0xD7, eas=True) as chip:
            event = next(e for e in stream if isinstance(e, ReaderEvent) and e.kind == ITEM_TAGS and e.items)
            assert (event.reader, event.items[0].item_id, event.items[0].secured) == ("Item pad", "5010203040", True)
            assert client.set_item_security(service.url, UID_B, secured=False).secured is False
            assert (chip.afi, chip.eas) == (0xDA, False)
    finally:
        assert service.terminate() == 0
