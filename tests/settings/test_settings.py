"""A configuration file is checked before it is used: a misspelt key or a wrong kind of value stops the
start with a message naming it, instead of being ignored; ``kiosk config show`` exports what is in
effect and reads back."""
import pytest

from library_kiosk import settings
from library_kiosk.cli import main
from library_kiosk.settings.cli import as_toml


def test_misspelt_keys_unknown_tables_and_wrong_kinds_are_named():
    found = settings.problems({"kiosk": {"idle_timout_seconds": 30, "port": "8080", "central_timeout_seconds": 3},
                               "kiosks": {}, "data_dir": 7,
                               "feed": {"user_groups": {"UGSTUDENT": "25"}}})  # the library's own mapping
    assert found == ["[kiosk] unknown setting 'idle_timout_seconds' (did you mean 'idle_timeout_seconds'?)",
                     "[kiosk] port must be a whole number, not '8080'",
                     "unknown setting 'kiosks' (did you mean 'kiosk'?)",
                     "data_dir must be text, not 7"]  # 3 for a float is fine
    assert settings.problems({"kiosk": {"show_loans_on_open": 1}}) == [
        "[kiosk] show_loans_on_open must be true or false, not 1"]


def test_a_file_with_a_misspelt_key_stops_the_start_and_changes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", "")  # main(["--config", ...]) sets it; monkeypatch removes it after the test
    path = tmp_path / "kiosk.toml"
    path.write_text("[kiosk]\nidle_timout_seconds = 30\n")
    with pytest.raises(settings.SettingsError, match=r"kiosk\.toml: \[kiosk\] unknown setting 'idle_timout_seconds'"):
        settings.load(path, environ={})
    assert main(["--config", str(path), "config", "show"]) == 2  # a message, not a traceback
    assert "configuration error" in capsys.readouterr().err
    assert main(["config", "check", str(path)]) == 1
    path.write_text("[kiosk\n")
    with pytest.raises(settings.SettingsError, match="not valid TOML"):
        settings.load(path, environ={})


def test_show_exports_what_is_in_effect_and_it_reads_back(tmp_path, capsys):
    environ = {"KIOSK_KIOSK_IDLE_TIMEOUT_SECONDS": "45", "KIOSK_UPSTREAM_ALMA_API_KEY": "l7xx-secret"}
    config = settings.load(environ=environ, overrides={"kiosk": {"referrals": {"group:25": "Ask at the desk."}}})
    text = as_toml(config)
    assert "idle_timeout_seconds = 45" in text and '"group:25" = "Ask at the desk."' in text
    assert "l7xx-secret" not in text and 'alma_api_key = "***"' in text  # secrets never leave the box
    path = tmp_path / "exported.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 0 and "ok" in capsys.readouterr().out
    again = settings.load(path, environ={})
    assert again["kiosk"] == config["kiosk"] and again["readers"] == config["readers"]


def test_the_readers_table_as_hardware_config_documents_it_is_accepted(tmp_path):
    import re

    import hardware.config
    from hardware.config import ReaderSettings

    example = re.search(r"Example::\n\n(.*?)\n\n", hardware.config.__doc__, re.S).group(1)
    path = tmp_path / "kiosk.toml"
    path.write_text("\n".join(line[4:] for line in example.splitlines()))
    config = settings.load(path, environ={})
    assert config["readers"]["barcode"] == {"min_length": 5, "max_length": 14, "prefix": "", "pattern": "",
                                            "check_digit": "none"}
    assert ReaderSettings.from_mapping(config["readers"]).uid_byte_length == 0
    assert settings.problems({"readers": {"barcode": {"check_digits": "luhn"}, "uid_byte_lenght": 7}}) == [
        "[readers.barcode] unknown setting 'check_digits' (did you mean 'check_digit'?)",
        "[readers] unknown setting 'uid_byte_lenght' (did you mean 'uid_byte_length'?)"]
    assert settings.problems({"kiosk": {"printer": {"kind": "usb", "with": 42}}}) == [
        "[kiosk.printer] unknown setting 'with' (did you mean 'width'?)"]


def test_show_hides_the_identifier_key_and_the_upstream_test_pin():
    config = settings.load(environ={}, overrides={"kiosk": {"identifier_key": "k3y-of-the-cache"},
                                                  "upstream": {"test_pin": "2468"}})
    text = as_toml(config)
    assert "k3y-of-the-cache" not in text and 'identifier_key = "***"' in text
    assert "2468" not in text and 'test_pin = "***"' in text
    assert "pin_lockout_minutes = " in text  # a PIN setting that is no secret stays readable
