"""Each app answers only its allowed networks ([kiosk|provisioning|central] allowed_networks)."""
import copy

import pytest

from library_kiosk.web.network import NetworkSettingError, is_allowed, parse_networks


def test_ranges_addresses_and_ipv4_mapped_ipv6():
    nets = parse_networks(["127.0.0.1", "192.168.0.0/16", "fd00::/8"], "[x] allowed_networks")
    assert is_allowed("127.0.0.1", nets) and is_allowed("192.168.40.7", nets) and is_allowed("fd12::1", nets)
    assert is_allowed("::ffff:192.168.1.2", nets)  # a dual-stack socket's form of an IPv4 address
    assert not is_allowed("127.0.0.2", nets) and not is_allowed("203.0.113.9", nets) and not is_allowed("::1", nets)
    assert not is_allowed("", nets) and not is_allowed(None, nets)
    assert is_allowed("203.0.113.9", parse_networks([], "x"))  # an empty list answers any address
    assert parse_networks("10.0.0.0/8, 127.0.0.1", "x") == parse_networks(["10.0.0.0/8", "127.0.0.1"], "x")


def test_a_bad_range_is_named_with_its_setting():
    with pytest.raises(NetworkSettingError, match=r"\[provisioning\] allowed_networks: 'library-lan'"):
        parse_networks(["10.0.0.0/8", "library-lan"], "[provisioning] allowed_networks")


def _from(client, path, address):
    return client.get(path, environ_base={"REMOTE_ADDR": address})


def test_the_station_answers_the_library_network_only(central_db, config):
    import provisioning

    app = provisioning.create_app(config)
    client = app.test_client()
    refused = _from(client, "/login", "203.0.113.9")
    assert refused.status_code == 403 and "203.0.113.9" in refused.get_data(as_text=True)
    assert "allowed_networks" in refused.get_data(as_text=True)
    assert _from(client, "/login", "192.168.10.20").status_code == 200  # the default: private ranges


def test_the_kiosk_answers_its_own_screen_only(kiosk_app):
    client = kiosk_app.test_client()
    assert _from(client, "/", "127.0.0.1").status_code == 200
    assert _from(client, "/", "10.1.2.3").status_code == 403


def test_the_central_store_answers_any_address_unless_told(central_db, config):
    from library_kiosk.central import api as central

    assert _from(central.create_app(config).test_client(), "/health", "203.0.113.9").status_code == 200
    narrowed = copy.deepcopy(config)
    narrowed["central"]["allowed_networks"] = ["10.20.0.0/16"]
    client = central.create_app(narrowed).test_client()
    refused = _from(client, "/health", "203.0.113.9")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "network_not_allowed"
    assert _from(client, "/health", "10.20.3.4").status_code == 200


def test_a_bad_setting_stops_the_app_at_start(central_db, config):
    from library_kiosk.central import api as central

    broken = copy.deepcopy(config)
    broken["central"]["allowed_networks"] = ["10.20.0.0/33"]
    with pytest.raises(NetworkSettingError, match="10.20.0.0/33"):
        central.create_app(broken)
