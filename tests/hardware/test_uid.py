import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.uid import STYLES, UID_LENGTHS, UidError, UidFormat, canonical_uid, format_uid, parse_uid

uids = st.sampled_from(UID_LENGTHS).flatmap(lambda n: st.binary(min_size=n, max_size=n))


def test_canonical_form_is_upper_case_hex_in_reader_order():
    assert canonical_uid(bytes([0x04, 0xA1, 0xB2, 0xC3])) == "04A1B2C3"
    assert canonical_uid("04:a1:b2:c3") == "04A1B2C3"
    assert canonical_uid([0, 0, 0, 1]) == "00000001"


@pytest.mark.parametrize("style, expected", [
    ("hex", "04A1B2C3"), ("hex_reversed", "C3B2A104"),
    ("decimal", "77705923"), ("decimal_reversed", "3283263748"),
])
def test_presentations_of_a_4_byte_uid(style, expected):
    assert format_uid("04A1B2C3", style) == expected
    assert parse_uid(expected, style) == "04A1B2C3"


def test_width_zero_pads_and_leading_zeros_survive():
    assert format_uid("000000FF", "decimal", width=10) == "0000000255"
    assert parse_uid("0000000255", "decimal") == "000000FF"
    assert parse_uid("255", "decimal") == "000000FF"          # zeros lost by another system
    assert format_uid("00A1B2C3D4E5F6", "hex") == "00A1B2C3D4E5F6"
    assert parse_uid("00A1B2C3D4E5F6", "hex") == "00A1B2C3D4E5F6"


def test_decimal_needs_the_byte_length_for_long_uids_with_leading_zeros():
    seven = "00000000000001"
    assert parse_uid(format_uid(seven, "decimal"), "decimal") == "00000001"   # inferred 4
    assert parse_uid(format_uid(seven, "decimal"), "decimal", byte_length=7) == seven


def test_inference_picks_smallest_of_4_7_10():
    assert parse_uid(str(2**32), "decimal") == "00000100000000"
    assert len(parse_uid(str(2**56), "decimal")) == 20


def test_errors_are_clear():
    with pytest.raises(UidError, match="not a decimal"):
        parse_uid("12AB", "decimal")
    with pytest.raises(UidError, match="not hexadecimal"):
        parse_uid("XYZ", "hex")
    with pytest.raises(UidError, match="unknown UID format"):
        format_uid("04A1B2C3", "octal")
    with pytest.raises(UidError, match="does not fit in 4 bytes"):
        parse_uid(str(2**32), "decimal", byte_length=4)
    with pytest.raises(UidError, match="too large"):
        parse_uid(str(2**80), "decimal")
    with pytest.raises(UidError, match="even number"):
        canonical_uid("ABC")


@given(uid=uids, style=st.sampled_from(STYLES), width=st.sampled_from([0, 8, 14, 20, 26]))
def test_every_format_round_trips_with_the_configured_length(uid, style, width):
    canonical = canonical_uid(uid)
    fmt = UidFormat(style, width, byte_length=len(uid))
    text = fmt.format(canonical)
    assert len(text) >= width
    assert fmt.parse(text) == canonical


@given(uid=uids, style=st.sampled_from(["hex", "hex_reversed"]))
def test_hex_round_trips_without_configured_length(uid, style):
    canonical = canonical_uid(uid)
    assert parse_uid(format_uid(canonical, style), style) == canonical


@given(uid=uids, style=st.sampled_from(["decimal", "decimal_reversed"]),
       width=st.sampled_from([0, 12, 26]))
def test_decimal_infers_the_smallest_length_that_fits(uid, style, width):
    number = int.from_bytes(uid[::-1] if style.endswith("reversed") else uid, "big")
    smallest = next(n for n in UID_LENGTHS if number < 1 << (8 * n))
    canonical = canonical_uid(uid)
    parsed = parse_uid(format_uid(canonical, style, width), style)
    if smallest == len(uid):
        assert parsed == canonical
    else:                                           # leading zero bytes: length is ambiguous
        assert len(parsed) // 2 == smallest
