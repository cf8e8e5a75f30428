"""Card serial numbers: one canonical form, many presentations.

The canonical form is the upper-case hex of the full UID in the order the reader returns
it (``04A1B2C3D4E5F6``). Libraries print and store card numbers differently, so each
library configures a presentation:

========================  ===========================================  ==================
style                     meaning                                      04A1B2C3 shows as
========================  ===========================================  ==================
``hex``                   hex in reader order                          ``04A1B2C3``
``hex_reversed``          hex with the byte order reversed             ``C3B2A104``
``decimal``               the reader-order bytes as a big-endian int   ``77705923``
``decimal_reversed``      the reversed bytes as a big-endian int       ``3283263748``
========================  ===========================================  ==================

``width`` zero-pads the presentation to a fixed number of characters (0: no padding).
Nothing is ever truncated, and converting back needs the UID's byte length, which comes
from configuration or, by default, is the smallest of 4, 7 and 10 bytes that fits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

UID_LENGTHS = (4, 7, 10)       # ISO 14443-A single, double and triple size UIDs
MAX_UID_BYTES = 16             # FeliCa IDm is 8 bytes; leave room for others
UidStyle: TypeAlias = Literal["hex", "hex_reversed", "decimal", "decimal_reversed"]
STYLES: tuple[UidStyle, ...] = ("hex", "hex_reversed", "decimal", "decimal_reversed")
_SEPARATORS = re.compile(r"[\s:\-]")


class UidError(ValueError):
    """A card number that cannot be read or converted."""


def canonical_uid(raw: bytes | bytearray | list[int] | str) -> str:
    """The canonical form of UID bytes (or of hex text such as ``"04:a1:b2:c3"``)."""
    if isinstance(raw, str):
        text = _SEPARATORS.sub("", raw)
        if not text or len(text) % 2 or not re.fullmatch(r"[0-9A-Fa-f]+", text):
            raise UidError(f"{raw!r} is not a UID in hex (an even number of hex digits)")
        data = bytes.fromhex(text)
    else:
        data = bytes(raw)
    if not 1 <= len(data) <= MAX_UID_BYTES:
        raise UidError(f"a UID has 1 to {MAX_UID_BYTES} bytes, got {len(data)}")
    return data.hex().upper()


def format_uid(canonical: str, style: UidStyle = "hex", width: int = 0) -> str:
    """Present a canonical UID in a library's configured style (see the module doc)."""
    data = bytes.fromhex(canonical_uid(canonical))
    _check_style(style)
    if style.endswith("_reversed"):
        data = data[::-1]
    text = data.hex().upper() if style.startswith("hex") else str(int.from_bytes(data, "big"))
    return text.zfill(width)


def parse_uid(text: str, style: UidStyle = "hex", byte_length: int = 0) -> str:
    """The canonical UID for a card number written in ``style``.

    ``byte_length`` is the UID's length in bytes; 0 keeps a hex number's own length when
    it is 4, 7 or 10 bytes and otherwise infers the smallest of 4, 7 and 10 that fits.
    """
    _check_style(style)
    cleaned = _SEPARATORS.sub("", text)
    if style.startswith("hex"):
        if not re.fullmatch(r"[0-9A-Fa-f]+", cleaned):
            raise UidError(f"card number {text!r} is not hexadecimal")
        if not byte_length and len(cleaned) % 2 == 0 and len(cleaned) // 2 in UID_LENGTHS:
            byte_length = len(cleaned) // 2          # keep the digits exactly as written
        number = int(cleaned, 16)
    else:
        if not cleaned.isdigit() or not cleaned.isascii():
            raise UidError(f"card number {text!r} is not a decimal number")
        number = int(cleaned)
    length = byte_length or _smallest_length(number, text)
    try:
        data = number.to_bytes(length, "big")
    except OverflowError:
        raise UidError(f"card number {text!r} does not fit in {length} bytes") from None
    if style.endswith("_reversed"):
        data = data[::-1]
    return canonical_uid(data)


@dataclass(frozen=True)
class UidFormat:
    """A library's configured presentation: style, fixed width and UID byte length."""

    style: UidStyle = "hex"
    width: int = 0
    byte_length: int = 0

    def __post_init__(self) -> None:
        _check_style(self.style)
        if self.width < 0:
            raise UidError("uid_width must be 0 (no padding) or a positive number of characters")
        if self.byte_length and not 1 <= self.byte_length <= MAX_UID_BYTES:
            raise UidError(f"uid_byte_length must be 0 (infer) or 1 to {MAX_UID_BYTES}")

    def format(self, canonical: str) -> str:
        return format_uid(canonical, self.style, self.width)

    def parse(self, text: str) -> str:
        return parse_uid(text, self.style, self.byte_length)


def _smallest_length(number: int, text: str) -> int:
    for length in UID_LENGTHS:
        if number < 1 << (8 * length):
            return length
    raise UidError(f"card number {text!r} is too large for a 10-byte UID")


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise UidError(f"unknown UID format {style!r}; expected one of {', '.join(STYLES)}")
