"""The library's card barcodes: length, prefix, pattern and check digit (``[readers.barcode]``).

The kiosk refuses a scanned code that breaks these rules without looking it up (a book's barcode,
a loyalty card), and the station refuses to register or replace a card with such a barcode. The
defaults accept any code of 1 to 40 characters; a library sets its own card format.

Check digit methods:

* ``none`` - no check digit;
* ``luhn`` - the Luhn algorithm (double every second digit from the right of the payload);
* ``codabar_mod10`` - the "mod 10" of 14-digit Codabar library barcodes: double the digits
  in odd positions counted from the left of the payload (1st, 3rd, ...). For the usual
  13-digit payload this equals Luhn.

The check digit is always the last character.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

CheckDigitMethod: TypeAlias = Literal["none", "luhn", "codabar_mod10"]
CHECK_DIGIT_METHODS: tuple[CheckDigitMethod, ...] = ("none", "luhn", "codabar_mod10")


class BarcodeError(ValueError):
    """A scanned code that is not a valid card barcode; the message says why."""


@dataclass(frozen=True)
class BarcodeRules:
    """What a library's card barcodes look like (the ``[readers.barcode]`` config table)."""

    min_length: int = 1
    max_length: int = 40
    prefix: str = ""
    pattern: str = ""            # a regular expression the whole code must match
    check_digit: CheckDigitMethod = "none"

    def __post_init__(self) -> None:
        if self.check_digit not in CHECK_DIGIT_METHODS:
            raise BarcodeError(f"unknown check digit method {self.check_digit!r}; "
                               f"expected one of {', '.join(CHECK_DIGIT_METHODS)}")
        if not 1 <= self.min_length <= self.max_length:
            raise BarcodeError("barcode lengths need 1 <= min_length <= max_length, "
                               f"got {self.min_length} and {self.max_length}")
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise BarcodeError(f"barcode pattern {self.pattern!r} is not a valid "
                                   f"regular expression: {exc}") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> BarcodeRules:
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise BarcodeError(f"unknown barcode settings: {', '.join(sorted(unknown))}")
        return cls(**data)


def card_barcode_rules(config: Mapping[str, Any]) -> BarcodeRules:
    """The library's rules from the configuration (``[readers.barcode]``)."""
    return BarcodeRules.from_mapping(config.get("readers", {}).get("barcode"))


def validate_barcode(code: str, rules: BarcodeRules = BarcodeRules()) -> str:
    """Return ``code`` without surrounding whitespace, or raise :class:`BarcodeError`."""
    code = code.strip()
    if len(code) < rules.min_length:
        raise BarcodeError(f"barcode {code!r} is too short: {len(code)} characters, "
                           f"at least {rules.min_length} expected")
    if len(code) > rules.max_length:
        raise BarcodeError(f"barcode {code!r} is too long: {len(code)} characters, "
                           f"at most {rules.max_length} expected")
    if not code.startswith(rules.prefix):
        raise BarcodeError(f"barcode {code!r} does not start with {rules.prefix!r}")
    if rules.pattern and not re.fullmatch(rules.pattern, code):
        raise BarcodeError(f"barcode {code!r} does not match the pattern {rules.pattern!r}")
    if rules.check_digit != "none":
        if not code.isdigit() or not code.isascii():
            raise BarcodeError(f"barcode {code!r} must be digits only for a "
                               f"{rules.check_digit} check digit")
        expected = check_digit(code[:-1], rules.check_digit)
        if code[-1] != expected:
            raise BarcodeError(f"barcode {code!r} has a wrong check digit: expected "
                               f"{expected}, found {code[-1]} ({rules.check_digit})")
    return code


def check_digit(payload: str, method: str) -> str:
    """The check digit to append to the digits in ``payload``."""
    if method == "luhn":
        doubled = {len(payload) - 1 - i for i in range(0, len(payload), 2)}   # from the right
    elif method == "codabar_mod10":
        doubled = set(range(0, len(payload), 2))                                # from the left
    else:
        raise BarcodeError(f"no check digit for method {method!r}")
    total = 0
    for index, char in enumerate(payload):
        digit = int(char)
        if index in doubled:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)
