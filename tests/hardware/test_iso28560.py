"""ISO 28560-2 and -3 item data: round trips, and byte sequences published elsewhere (cited per test)."""
import pytest

from hardware import iso28560
from hardware.iso28560 import (
    FIVE_BIT,
    INTEGER,
    NUMERIC,
    OCTET,
    SEVEN_BIT,
    SIX_BIT,
    UTF8,
    BlankTag,
    Incomplete,
    ItemData,
    TagDataError,
)

# GOST R ISO 28560-2-2014 (ISO 28560-2:2014 adopted), Annex D, table D.5 (https://ajdocs.ru/gsp/38726/39):
# primary item identifier 123456789012 (integer, offset byte 00), content parameter D0, set information 1203.
ANNEX_D = bytes.fromhex("91 00 05 1C BE 99 1A 14" "02 01 D0" "14 02 04 B3" "00")
# libdanrfid (github.com/GallusMax/libdanrfid), DDMDataTest.java: item 11223344, CRC 3E51, ISIL DE-705.
LIBDANRFID = bytes.fromhex("11010131313232333334340000000000000000513e4445373035000000000000")


def test_annex_d_example_decodes():
    assert iso28560.decode_2(ANNEX_D) == ItemData("123456789012", parts=12, part=3)


def test_annex_d_primary_item_identifier_and_set_information_encode_to_its_bytes():
    memory = iso28560.encode_2(ItemData("123456789012", parts=12, part=3))
    assert memory[:8] == bytes.fromhex("91 00 05 1C BE 99 1A 14")      # locked: ends on a block boundary
    assert memory[8:11] == bytes.fromhex("02 01 40")                    # content parameter: OID 4 only
    assert memory[11:16] == bytes.fromhex("14 02 04 B3 00")


def test_annex_d_shelf_location_in_6_bit():
    # Annex D.3.5: "QA268.L55" -> 44 1C B6 E2 E3 35 D6 (the scan reads 86 and "Об" for B6 and D6)
    assert iso28560.compact("QA268.L55", SIX_BIT) == (SIX_BIT, bytes.fromhex("44 1C B6 E2 E3 35 D6"))
    assert iso28560.expand(SIX_BIT, bytes.fromhex("44 1C B6 E2 E3 35 D6")) == "QA268.L55"


def test_annex_c_isil_compaction():
    # Annex C.6.1, table C.3 (https://ajdocs.ru/gsp/38726/36): "DE-Heu1" -> 21 40 8E 16 BF 1F
    memory = iso28560.encode_2(ItemData("1", owner="DE-Heu1"))
    sets = iso28560.data_sets(memory)
    assert (sets[2].oid, sets[2].scheme, sets[2].data) == (3, 0, bytes.fromhex("21 40 8E 16 BF 1F"))
    assert iso28560.decode_2(memory).owner == "DE-Heu1"


def test_danish_model_vector_from_libdanrfid():
    assert iso28560.decode_3(LIBDANRFID) == ItemData("11223344", parts=1, part=1, owner="DE-705", type_of_usage=1)
    assert iso28560.encode_3(ItemData("11223344", owner="DE-705", type_of_usage=1)) == LIBDANRFID
    assert iso28560.danish_crc(LIBDANRFID) == 0x3E51


@pytest.mark.parametrize("text, scheme", [
    ("123456789012", INTEGER), ("0012345", NUMERIC), ("HELLO", FIVE_BIT), ("QA 268.L55", SIX_BIT),
    ("Abc-123", SEVEN_BIT), ("Bibliothèque", OCTET), ("Книга", UTF8),
])
def test_the_shortest_scheme_is_chosen_and_reads_back(text, scheme):
    chosen, data = iso28560.compact(text)
    assert chosen == scheme
    assert iso28560.expand(chosen, data) == text


@pytest.mark.parametrize("scheme", [FIVE_BIT, SIX_BIT, SEVEN_BIT])
@pytest.mark.parametrize("length", range(1, 12))
def test_bit_schemes_round_trip_at_every_pad_width(scheme, length):
    text = ("ABCDEFGHIJKLMNOP" if scheme == FIVE_BIT else "A1-B2.C3 D4E5F6")[:length].rstrip() or "A"
    assert iso28560.expand(*iso28560.compact(text, scheme)) == text


@pytest.mark.parametrize("item", [
    ItemData("31234000567890"),
    ItemData("0000001"),
    ItemData("B000123x", owner="DK-710100"),
    ItemData("39001000000017", parts=3, part=1, owner="GB-UkOxU"),     # an ISIL beyond Annex C's examples: 7-bit
    ItemData("39001000000017", parts=3, part=3, type_of_usage=1),
    ItemData("9" * 40, parts=100, part=7),
    ItemData("Ünïcode-Ид"),
])
def test_object_model_round_trips(item):
    memory = iso28560.encode_2(item, blocks=28)
    assert len(memory) == 112
    assert iso28560.decode_2(memory) == item


@pytest.mark.parametrize("item", [
    ItemData("31234000567890"),
    ItemData("1234567890123456", parts=2, part=2, owner="DK-710100", type_of_usage=1),
])
def test_danish_model_round_trips(item):
    item = ItemData(item.item_id, item.parts, item.part, item.owner, 1)
    assert iso28560.decode_3(iso28560.encode_3(item, blocks=8)) == item


def test_set_information_of_one_of_three_survives_its_leading_zero():
    memory = iso28560.encode_2(ItemData("42", parts=3, part=1))
    assert iso28560.data_sets(memory)[2].data == bytes([31])          # "31" as an integer
    assert iso28560.decode_2(memory).set_text == "1 of 3"
    assert iso28560.decode_2(bytes.fromhex("91 00 01 2A" "02 01 40" "14 02 01 2D" "00")).set_text == "1 of 3"  # 0301


def test_blank_and_incomplete_memory():
    with pytest.raises(BlankTag):
        iso28560.decode_2(bytes(16))
    with pytest.raises(BlankTag):
        iso28560.decode_3(bytes(32))
    with pytest.raises(Incomplete):
        iso28560.decode_2(ANNEX_D[:6])
    with pytest.raises(Incomplete):
        iso28560.decode_2(ANNEX_D[:-1])                                # no terminator yet
    assert not iso28560.complete(ANNEX_D[:8], iso28560.MODEL_2)
    assert iso28560.complete(ANNEX_D, iso28560.MODEL_2)


@pytest.mark.parametrize("memory, message", [
    (bytes.fromhex("13 01 05 00"), "not the primary item identifier"),
    (bytes.fromhex("11 00 00"), "length 0"),
    (bytes.fromhex("91 00 01 2A 14 01 23 00"), "not a part of a set"),             # "35": part 5 of 3
    (bytes.fromhex("91 00 01 2A 74 02 C3 28 00"), "not UTF-8"),
])
def test_bad_object_model_data_is_refused_with_a_reason(memory, message):
    with pytest.raises(TagDataError, match=message):
        iso28560.decode_2(memory)


def test_danish_model_with_a_wrong_crc_is_refused():
    broken = bytearray(LIBDANRFID)
    broken[5] ^= 0x01
    with pytest.raises(TagDataError, match="CRC does not match"):
        iso28560.decode_3(bytes(broken))


@pytest.mark.parametrize("item, message", [
    (ItemData("12345678901234567"), "at most 16"),
    (ItemData("1", owner="DENMARK-1"), "2-letter country"),
])
def test_what_the_danish_model_cannot_hold_is_refused(item, message):
    with pytest.raises(TagDataError, match=message):
        iso28560.encode_3(item)


def test_items_that_cannot_be_items_are_refused():
    with pytest.raises(TagDataError, match="primary item identifier"):
        ItemData("")
    with pytest.raises(TagDataError, match="part 4 of 3"):
        ItemData("1", parts=3, part=4)
    with pytest.raises(TagDataError, match="needs 28 bytes; the tag holds 16"):
        iso28560.encode_2(ItemData("A" * 30), blocks=4)
    with pytest.raises(TagDataError, match="5-bit"):
        iso28560.compact("abc", FIVE_BIT)
