import pytest

from library_kiosk.domain.barcodes import BarcodeError, BarcodeRules, check_digit, validate_barcode


def test_accepts_a_code_within_the_rules_and_strips_whitespace():
    assert validate_barcode(" 12345\n", BarcodeRules(min_length=5, max_length=14)) == "12345"


@pytest.mark.parametrize("code, rules, message", [
    ("1234", BarcodeRules(min_length=5), "too short: 4 characters, at least 5"),
    ("123456789012345", BarcodeRules(max_length=14), "too long: 15 characters, at most 14"),
    ("1234567", BarcodeRules(prefix="2"), "does not start with '2'"),
    ("12345X", BarcodeRules(pattern=r"\d+"), "does not match the pattern"),
    ("12A45", BarcodeRules(check_digit="luhn"), "digits only"),
    ("79927398710", BarcodeRules(check_digit="luhn"), "expected 3, found 0"),
])
def test_rejections_say_why(code, rules, message):
    with pytest.raises(BarcodeError, match=message):
        validate_barcode(code, rules)


def test_luhn():
    assert check_digit("7992739871", "luhn") == "3"
    assert validate_barcode("79927398713", BarcodeRules(max_length=20, check_digit="luhn"))


def test_codabar_mod10_library_barcode():
    # 14-digit library barcode: 2 (patron) + 4-digit institution + 8 digits + check digit
    payload = "2123400001234"
    digit = check_digit(payload, "codabar_mod10")
    assert digit == check_digit(payload, "luhn")         # same for a 13-digit payload
    rules = BarcodeRules(min_length=14, max_length=14, prefix="2", check_digit="codabar_mod10")
    assert validate_barcode(payload + digit, rules) == payload + digit
    wrong = str((int(digit) + 1) % 10)
    with pytest.raises(BarcodeError, match="wrong check digit"):
        validate_barcode(payload + wrong, rules)


def test_codabar_mod10_counts_from_the_left_for_even_payloads():
    assert check_digit("12", "codabar_mod10") == "6"     # 1*2 + 2 = 4 -> 6
    assert check_digit("12", "luhn") == "5"              # 1 + 2*2 = 5 -> 5


def test_bad_rules_are_reported():
    with pytest.raises(BarcodeError, match="unknown check digit"):
        BarcodeRules(check_digit="mod11")
    with pytest.raises(BarcodeError, match="min_length <= max_length"):
        BarcodeRules(min_length=9, max_length=3)
    with pytest.raises(BarcodeError, match="not a valid regular expression"):
        BarcodeRules(pattern="(")
    with pytest.raises(BarcodeError, match="unknown barcode settings: lenght"):
        BarcodeRules.from_mapping({"lenght": 3})
