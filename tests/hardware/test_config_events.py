import pytest

from hardware.config import ConfigError, ReaderSettings
from hardware.events import ReaderEvent, ReaderStatus, StatusEvent


def test_defaults_open_no_reader_and_never_the_simulator():
    settings = ReaderSettings.from_mapping({})
    assert settings.devices == ()
    assert settings.address == ("127.0.0.1", 8083)
    assert settings.debounce_seconds == 2.0


def test_a_full_readers_table():
    settings = ReaderSettings.from_mapping({
        "service_url": "http://127.0.0.1:9000", "debounce_seconds": 1, "uid_format": "decimal",
        "uid_width": 10, "devices": [{"type": "pcsc", "name": "Desk"}],
        "barcode": {"min_length": 14, "max_length": 14, "check_digit": "codabar_mod10"}})
    assert settings.address == ("127.0.0.1", 9000)
    assert settings.uid().format("000000FF") == "0000000255"
    assert not hasattr(settings, "barcode")  # the card barcode rules are the kiosk's and the station's


@pytest.mark.parametrize("table, message", [
    ({"debounce": 2}, "unknown \\[readers\\] settings: debounce"),
    ({"uid_format": "octal"}, "unknown UID format"),
    ({"devices": [{"path": "usb"}]}, "needs a type"),
    ({"service_url": "127.0.0.1:8083"}, "service_url must look like"),
    ({"debounce_seconds": -1}, "must not be negative"),
    ({"item_data_model": "28560-4"}, "item_data_model must be one of 28560-2, 28560-3"),
    ({"item_security": "rfid"}, "item_security must be one of afi, eas, both"),
    ({"afi_on_loan": 7, "afi_in_library": 7}, "must differ"),
    ({"afi_on_loan": 300}, "must be a byte"),
])
def test_mistakes_are_reported(table, message):
    with pytest.raises(ConfigError, match=message):
        ReaderSettings.from_mapping(table)


def test_events_round_trip_through_json():
    event = ReaderEvent("card", "Desk", "04A1B2C3", "iso14443a", 1700000000.5, "04A1B2C3")
    assert ReaderEvent.from_json(event.to_json()) == event
    status = StatusEvent((ReaderStatus("Desk", True, "iso14443a"),))
    assert StatusEvent.from_json(status.to_json()) == status
    assert status.to_json() == '{"readers":[{"name":"Desk","online":true,"technology":"iso14443a"}]}'
    with pytest.raises(ValueError, match="unknown reader event kind"):
        ReaderEvent("tap", "Desk")


def test_item_pads_get_the_librarys_data_model_and_security():
    settings = ReaderSettings.from_mapping({
        "item_data_model": "28560-3", "item_security": "both", "afi_on_loan": 0xDA, "afi_in_library": 0xD7,
        "devices": [{"type": "iso15693", "name": "Pad"}, {"type": "iso15693", "name": "Own", "data_model": "28560-2"},
                    {"type": "pcsc", "name": "Desk"}]})
    pad, own, desk = settings.device_specs()
    assert (pad["data_model"], pad["security"].mode, pad["security"].afi_on_loan) == ("28560-3", "both", 0xDA)
    assert own["data_model"] == "28560-2"
    assert desk == {"type": "pcsc", "name": "Desk"}
    assert settings.security().secured(0xD7, True) is True
    assert settings.security().secured(0xDA, False) is False
    assert settings.security().secured(0xD7, False) is None          # AFI and EAS disagree
