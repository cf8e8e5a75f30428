"""The one formatter letters and the staff station share (library_kiosk/domain/formatting.py): money in the
library's currency and locale, days written out, stored moments (naive UTC) on the library's clock."""
import datetime as dt
import os
import time
from decimal import Decimal

import pytest

from library_kiosk.domain import formatting


@pytest.fixture
def zone():
    """Set the machine's zone (the library's) for one test: ``zone("Europe/Paris")``."""
    before = os.environ.get("TZ")

    def use(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()

    yield use
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_money_in_pounds_as_british_english_writes_it():
    assert formatting.money(Decimal("1234.5"), "GBP", "en_GB") == "£1,234.50"


def test_money_in_euros_as_french_writes_it():
    assert formatting.money("7", "eur", "fr_FR") == "7,00\u00a0€"


def test_no_amount_is_zero():
    assert formatting.money(None) == "£0.00"


def test_a_day_written_out():
    assert formatting.long_date(dt.date(2026, 12, 4), "en_GB") == "4 December 2026"


def test_a_moment_near_midnight_utc_is_on_the_library_s_next_day(zone):
    zone("Europe/Paris")
    assert formatting.moment(dt.datetime(2026, 12, 4, 23, 30, 1, 311097)) == "5 December 2026, 00:30"


def test_a_moment_near_midnight_utc_is_on_the_library_s_previous_day(zone):
    zone("America/New_York")
    assert formatting.moment(dt.datetime(2026, 12, 5, 0, 30)) == "4 December 2026, 19:30"


def test_a_moment_in_summer_time(zone):
    zone("Europe/London")
    assert formatting.moment(dt.datetime(2026, 7, 1, 23, 30)) == "2 July 2026, 00:30"


def test_the_machine_readable_instant_is_utc_to_the_second(zone):
    zone("Europe/Paris")
    assert formatting.instant_text(dt.datetime(2026, 12, 4, 13, 53, 58, 311097)) == "2026-12-04T13:53:58Z"
