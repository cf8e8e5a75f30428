"""Issue 20: a local process on the kiosk gets nothing from the reader service.

Attacks on the real service process (``python -m hardware.service``): reading the taps and injecting one
without the shared secret (401), and reading card numbers and barcodes in its log (only keyed fingerprints).
"""
import hashlib
import hmac
import os
import pathlib
import stat
import urllib.error
import urllib.request

import pytest

from hardware import client
from hardware.auth import authorized, client_secret
from hardware.events import StatusEvent
from tests.hardware.service_process import ServiceProcess

UID = "04A1B2C3D4E5F6"
BARCODE = "21000000000999"


@pytest.fixture
def guarded(tmp_path):
    """The service with a simulator, a shared secret and a log key, as `kiosk reader service` runs it."""
    service = ServiceProcess(tmp_path, f"""
secret_file = "{tmp_path}/reader.secret"
log_key_file = "{tmp_path}/reader-log.key"
debounce_seconds = 0.0
devices = [{{type = "simulator", name = "Sim"}}]
""")
    yield service, str(tmp_path / "reader.secret"), str(tmp_path / "reader-log.key")
    assert service.terminate() == 0


def test_the_service_makes_its_secret_and_log_key_readable_by_its_user_only(guarded):
    _service, secret_file, key_file = guarded
    for path in (secret_file, key_file):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert len(pathlib.Path(path).read_text().strip()) == 64
    assert pathlib.Path(secret_file).read_text() != pathlib.Path(key_file).read_text()


def test_a_tap_cannot_be_injected_without_the_secret(guarded):
    service, secret_file, _key = guarded
    secret = client_secret(secret_file)
    stream = client.subscribe(service.url, timeout=10, secret=secret)
    assert isinstance(next(stream), StatusEvent)
    with pytest.raises(client.ServiceError, match="401"):
        client.simulate(service.url, "card", UID)
    with pytest.raises(client.ServiceError, match="401"):
        client.simulate(service.url, "card", UID, secret="0" * 64)
    request = urllib.request.Request(service.url + "/simulate", data=b'{"kind": "card", "value": "04A1B2C3"}',
                                     headers={"Authorization": "Basic " + secret})  # the right value, wrong scheme
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    refused.value.close()
    assert refused.value.code == 401
    client.simulate(service.url, "barcode", BARCODE, secret=secret)  # with it: accepted
    event = next(item for item in stream if not isinstance(item, StatusEvent))
    stream.close()
    assert (event.kind, event.value) == ("barcode", BARCODE)  # the refused cards never reached the stream


def test_taps_cannot_be_read_without_the_secret(guarded):
    service, secret_file, _key = guarded
    with pytest.raises(client.ServiceError, match="401"):
        next(client.subscribe(service.url, timeout=10))
    with pytest.raises(client.ServiceError, match="401"):
        next(client.subscribe(service.url, timeout=10, secret="wrong"))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(service.url + "/events", timeout=5)
    refused.value.close()
    assert refused.value.code == 401
    assert [r.name for r in client.status(service.url).readers] == ["Sim"]  # reader names only: open
    service.wait_for(r"refused GET /events without the reader service's secret")


def test_the_log_shows_fingerprints_never_card_numbers_or_barcodes(guarded):
    service, secret_file, key_file = guarded
    secret = client_secret(secret_file)
    client.simulate(service.url, "card", UID, secret=secret)
    client.simulate(service.url, "barcode", BARCODE, secret=secret)
    client.simulate(service.url, "card", UID, secret=secret)  # the same card again: the same fingerprint
    key = pathlib.Path(key_file).read_text().strip().encode()

    def fingerprint(value):
        return "#" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:8]

    for kind, value in (("card", UID), ("removed", UID), ("barcode", BARCODE), ("card", UID), ("removed", UID)):
        service.wait_for(rf"{kind} at Sim: {fingerprint(value)}$")  # in the order they came
    log = "".join(service.output)
    for secret_value in (UID, BARCODE, UID.lower(), str(int(UID, 16)), secret):
        assert secret_value not in log


def test_the_fingerprint_key_is_kept_so_a_card_keeps_its_fingerprint(tmp_path):
    """Made once beside the service: the same card has the same fingerprint after a restart."""
    from hardware.auth import Fingerprints

    first = Fingerprints(str(tmp_path / "log.key"))(UID)
    assert Fingerprints(str(tmp_path / "log.key"))(UID) == first
    assert Fingerprints(str(tmp_path / "other.key"))(UID) != first
    assert UID not in first and len(first) == 9


def test_authorization_header():
    assert authorized(None, "")  # no secret configured (a bare development service)
    assert authorized("Bearer s3cret", "s3cret")
    assert not authorized(None, "s3cret")
    assert not authorized("Bearer s3cre", "s3cret")
    assert not authorized("s3cret", "s3cret")


def test_data_dir_in_a_readers_file():
    from hardware.config import ReaderSettings

    settings = ReaderSettings.from_mapping({"secret_file": "{data_dir}/reader.secret"}, "/var/lib/kiosk")
    assert settings.secret_file == "/var/lib/kiosk/reader.secret"


def test_the_installers_first_configuration_opens_no_simulator(tmp_path):
    from library_kiosk import settings
    from library_kiosk.appliance.install import ROLES, initial_config

    for role in sorted(ROLES):
        path = tmp_path / f"{role}.toml"
        path.write_text(initial_config(role))
        config = settings.load(path, environ={})
        assert config["readers"]["devices"] == [], role
        assert config["readers"]["secret_file"] == "/var/lib/kiosk/reader.secret", role
        assert "simulator" not in "".join(line.split("#")[0] for line in initial_config(role).splitlines()), role
    assert settings.load(environ={})["readers"]["devices"] == []  # nor do the defaults


def test_kiosk_reader_tap_sends_the_secret_the_service_made(tmp_path):
    """What `make run` does: `kiosk demo` gives its reader service the simulator (KIOSK_READERS_DEVICES, as
    library_kiosk/demo.py sets it); `kiosk reader tap` reads the secret the service made and is let in."""
    import json
    import subprocess
    import sys

    from library_kiosk.demo import DEMO_READERS
    from tests.helpers import free_port, wait_until

    url = f"http://127.0.0.1:{free_port()}"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[readers]\nservice_url = "{url}"\n')
    env = dict(os.environ, KIOSK_CONFIG=str(config), KIOSK_READERS_DEVICES=json.dumps(DEMO_READERS))
    service = subprocess.Popen([sys.executable, "-m", "library_kiosk", "reader", "service"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (tmp_path / "reader.secret").exists() and _answers(url), 20, "the reader service")
        tap = subprocess.run([sys.executable, "-m", "library_kiosk", "reader", "tap", UID], env=env,
                             capture_output=True, text=True, timeout=60)
        assert tap.returncode == 0 and f"sent card {UID}" in tap.stdout, tap.stderr
        with pytest.raises(client.ServiceError, match="401"):  # another user's process, without the file
            client.simulate(url, "card", UID)
    finally:
        service.terminate()
        service.wait(timeout=10)


def _answers(url) -> bool:
    try:
        client.status(url)
    except client.ServiceError:
        return False
    return True
