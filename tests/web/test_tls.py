"""TLS on the network (docs/tls.md), with real TLS and no mocks: a fleet CA and certificates made in a temporary
folder, the central store and the station served over HTTPS by the real gunicorn serving path, the kiosk's
central client trusting (or not) the CA, enrolment pinning, and a relay that sees every byte on the wire."""
from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

from kiosk.central_client import CentralClient, CentralError, CentralUnavailable, CentralUntrusted, InsecureCentralURL
from kiosk.devices import enrol, load_credential
from library_kiosk import settings
from library_kiosk.cli import main
from library_kiosk.web import tls
from library_kiosk.web.serving import answers, plain_http_warning, probe_url
from tests import reaper
from tests.helpers import free_port, wait_until

HOSTS = "localhost,127.0.0.1"
PIN = "8642"


class Relay:
    """A TCP relay on a free loopback port in front of ``target_port`` that keeps every byte either way: what
    someone sniffing the network between a kiosk and the central store sees."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.captured = bytearray()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while True:
            try:
                near, _address = self.listener.accept()
            except OSError:
                return
            far = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [near, far]
            for source, sink in ((near, far), (far, near)):
                thread = threading.Thread(target=self._pump, args=(source, sink), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                with self.lock:
                    self.captured += data
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone does not)
        except OSError:
            pass
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self.threads:
            thread.join(5)


def _kiosk(*args, env):
    return subprocess.run([sys.executable, "-m", "library_kiosk", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def _serve(folder, command, port, env, scheme):
    log = open(folder / f"{command[0]}-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "library_kiosk", *command], env=env, stdout=log, stderr=log,
                               start_new_session=True)
    log.close()

    def ready():
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited: {(folder / f'{command[0]}-{port}.log').read_text()}")
        return answers(probe_url("127.0.0.1", port, tls=scheme == "https"), 0.5)

    try:
        wait_until(ready, 30, f"{' '.join(command)} answers on {port}")
    except BaseException:
        reaper.stop(process)
        raise
    return process


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """The fleet CA with the central store's certificate, and another CA with one of its own (an impostor)."""
    folder = tmp_path_factory.mktemp("pki")
    return {"fleet": tls.init(folder / "fleet", HOSTS), "other": tls.init(folder / "other", HOSTS)}


@pytest.fixture(scope="module")
def central(tmp_path_factory, pki):
    """One central store database served twice by ``kiosk central serve``: over HTTPS with the fleet certificate,
    and over plain HTTP on loopback (the control); enrolment codes for three kiosks."""
    folder = tmp_path_factory.mktemp("central")
    https_port, http_port = free_port(), free_port()
    fleet = pki["fleet"]
    base = (f'data_dir = "{folder}"\n[central]\ndatabase_url = "sqlite:///{folder}/central.db"\n')
    (folder / "https.toml").write_text(base + f'port = {https_port}\ntls_cert = "{fleet["cert"]}"\n'
                                              f'tls_key = "{fleet["key"]}"\n')
    (folder / "http.toml").write_text(base + f"port = {http_port}\n")
    env = {name: dict(os.environ, KIOSK_CONFIG=str(folder / f"{name}.toml")) for name in ("https", "http")}
    codes = {}
    for name in ("kiosk-1", "kiosk-2", "kiosk-3"):
        result = _kiosk("devices", "add", name, env=env["https"])
        assert result.returncode == 0, result.stderr
        codes[name] = re.search(r"kiosk enrol ([0-9A-Fa-f-]+)", result.stdout).group(1)
    processes = []
    try:
        processes.append(_serve(folder, ["central", "serve", "--workers", "1"], https_port, env["https"], "https"))
        processes.append(_serve(folder, ["central", "serve", "--workers", "1"], http_port, env["http"], "http"))
        yield {"https": f"https://localhost:{https_port}", "https_port": https_port,
               "http": f"http://127.0.0.1:{http_port}", "http_port": http_port, "codes": codes, "folder": folder,
               "env": env}
    finally:
        for process in processes:
            reaper.stop(process)


def _kiosk_config(tmp_path, central_url, ca=""):
    return settings.load(environ={}, overrides={
        "data_dir": str(tmp_path / "kiosk"), "kiosk": {"central_url": central_url, "central_ca": ca}})


@pytest.fixture(scope="module")
def enrolled(central, pki, tmp_path_factory):
    """kiosk-1 enrolled over HTTPS trusting the fleet CA: its configuration and credential (token and pin)."""
    folder = tmp_path_factory.mktemp("kiosk-1")
    config = _kiosk_config(folder, central["https"], pki["fleet"]["ca"])
    enrol(central["https"], central["codes"]["kiosk-1"], config)
    return config, load_credential(config)


def _client(url, credential, **trust):
    return CentralClient(url, 5.0, token=credential["token"], **trust)


# -- the fleet CA ------------------------------------------------------------------------------------------------

def test_the_fleet_ca_signs_a_certificate_for_the_hosts_and_keeps_keys_private(pki):
    fleet = pki["fleet"]
    for key in (fleet["key"], os.path.join(os.path.dirname(fleet["ca"]), "ca.key")):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    certificate = x509.load_pem_x509_certificate(Path(fleet["cert"]).read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    authority = x509.load_pem_x509_certificate(Path(fleet["ca"]).read_bytes())
    certificate.verify_directly_issued_by(authority)
    again = tls.init(os.path.dirname(fleet["ca"]), "central.library.local", "station")  # the CA is kept
    assert not again["ca_created"] and again["ca"] == fleet["ca"]


def test_kiosk_tls_init_makes_the_files_and_says_which_settings_name_them(tmp_path, capsys):
    assert main(["tls", "init", "--hosts", "central.library.local,10.0.0.5", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "created the fleet CA" in out and f'tls_cert = "{tmp_path}/central.pem"' in out and "central_ca" in out
    assert stat.S_IMODE(os.stat(tmp_path / "central.key").st_mode) == 0o600
    assert main(["tls", "fingerprint", str(tmp_path / "ca.pem")]) == 0
    assert tls.file_fingerprint(tmp_path / "ca.pem") in capsys.readouterr().out


# -- serving -----------------------------------------------------------------------------------------------------

def test_serving_refuses_a_missing_or_mismatched_certificate_with_a_clear_message(tmp_path, pki):
    fleet, other = pki["fleet"], pki["other"]
    config = {"central": {"tls_cert": str(tmp_path / "nothing.pem"), "tls_key": fleet["key"]}}
    with pytest.raises(tls.TLSError, match=r"\[central\] tls_cert .*nothing.pem: no such file"):
        tls.server_files(config, "central")
    with pytest.raises(tls.TLSError, match="go together"):
        tls.server_files({"central": {"tls_cert": fleet["cert"], "tls_key": ""}}, "central")
    with pytest.raises(tls.TLSError, match="cannot be served"):
        tls.server_files({"central": {"tls_cert": fleet["cert"], "tls_key": other["key"]}}, "central")
    assert tls.server_files({"central": {"tls_cert": "", "tls_key": ""}}, "central") is None
    path = tmp_path / "kiosk.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n[central]\nport = {free_port()}\ntls_cert = "{tmp_path}/gone.pem"\n'
                    f'tls_key = "{fleet["key"]}"\n')
    result = _kiosk("central", "serve", env=dict(os.environ, KIOSK_CONFIG=str(path)))
    assert result.returncode == 2 and "configuration error: [central] tls_cert" in result.stderr
    assert "gone.pem: no such file" in result.stderr


def test_plain_http_beyond_loopback_is_warned_about_loudly():
    assert "PLAIN HTTP" in plain_http_warning("0.0.0.0", None, "central")
    assert plain_http_warning("0.0.0.0", ("cert.pem", "key.pem"), "central") is None
    assert plain_http_warning("127.0.0.1", None, "central") is None
    config = settings.load(environ={}, overrides={"provisioning": {"host": "10.0.0.7"}})
    [warning] = settings.transport_warnings(config)
    assert warning.startswith("[provisioning] the staff station listens on 10.0.0.7 over plain HTTP")


# -- the kiosk's trust -------------------------------------------------------------------------------------------

def test_a_kiosk_trusting_the_fleet_ca_enrols_pins_the_ca_and_talks_to_the_central_store(central, pki, enrolled,
                                                                                        tmp_path, monkeypatch):
    config, credential = enrolled
    assert credential["central_pin"]["kind"] == "ca"
    assert credential["central_pin"]["sha256"] == tls.file_fingerprint(pki["fleet"]["ca"])
    assert credential["central_pin"]["certificate_sha256"] == tls.file_fingerprint(pki["fleet"]["cert"])
    # as the kiosk app and the sync worker make it: trust and pin from the configuration in effect
    path = tmp_path / "kiosk.toml"
    path.write_text(f'data_dir = "{config["data_dir"]}"\n[kiosk]\ncentral_url = "{central["https"]}"\n'
                    f'central_ca = "{pki["fleet"]["ca"]}"\n')
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    client = CentralClient(central["https"], 5.0, token=lambda: credential["token"])
    try:
        assert client.health()
        assert client.changes_lines(0)["records"] == []
    finally:
        client.session.close()


def test_without_the_fleet_ca_or_with_another_ca_the_kiosk_refuses_before_sending(central, pki, enrolled):
    _config, credential = enrolled
    for ca in ("", pki["other"]["ca"]):
        client = _client(central["https"], credential, ca=ca, pin={})
        try:
            assert not client.health()
            with pytest.raises(CentralUntrusted, match="does not trust") as refused:
                client.changes(0)
            assert refused.value.not_sent and "central_ca" in str(refused.value)
        finally:
            client.session.close()
    with pytest.raises(CentralUntrusted, match="does not trust"):
        enrol(central["https"], central["codes"]["kiosk-3"], _kiosk_config(central["folder"] / "k3", central["https"],
                                                                           pki["other"]["ca"]))


def test_a_connection_closed_in_the_handshake_is_not_reachable_rather_than_untrusted(pki, enrolled):
    """A relay or proxy whose central store is down accepts the connection and closes it (seen from a kiosk booting
    with its central store away: tests/vm): the kiosk says the store is not reachable, not that its certificate is
    untrusted, which would send staff after the wrong fault."""
    _config, credential = enrolled
    with socket.create_server(("127.0.0.1", 0)) as listener:
        closing = threading.Thread(target=lambda: [listener.accept()[0].close() for _ in range(3)], daemon=True)
        closing.start()
        client = _client(f"https://127.0.0.1:{listener.getsockname()[1]}", credential, ca=pki["fleet"]["ca"], pin={})
        try:
            with pytest.raises(CentralUnavailable) as refused:
                client.changes(0)
        finally:
            client.session.close()
    assert not isinstance(refused.value, CentralUntrusted) and refused.value.not_sent
    assert "closed the connection during the TLS handshake" in str(refused.value)


def test_a_ca_or_certificate_other_than_the_enrolled_one_is_refused(central, pki, enrolled, tmp_path):
    _config, credential = enrolled
    swapped = _client(central["https"], credential, ca=pki["other"]["ca"], pin=credential["central_pin"])
    with pytest.raises(CentralUntrusted, match="is not the CA this kiosk enrolled with"):
        swapped.changes(0)
    # with the system's trust store the certificate itself is pinned
    leaf = tls.file_fingerprint(pki["fleet"]["cert"])
    right = _client(central["https"], credential, ca=pki["fleet"]["ca"], pin={"kind": "certificate", "sha256": leaf})
    wrong = _client(central["https"], credential, ca=pki["fleet"]["ca"],
                    pin={"kind": "certificate", "sha256": tls.file_fingerprint(pki["other"]["cert"])})
    try:
        assert right.changes_lines(0)["records"] == []
        with pytest.raises(CentralUntrusted, match="not the one this kiosk enrolled with"):
            wrong.changes(0)
    finally:
        for client in (swapped, right, wrong):
            client.session.close()
    config = _kiosk_config(tmp_path, central["https"], pki["fleet"]["ca"])
    enrol(central["https"], central["codes"]["kiosk-2"], config)  # a second kiosk, the same way
    assert load_credential(config)["central_pin"] == credential["central_pin"]


def test_plain_http_to_another_machine_is_refused_at_configuration(tmp_path, capsys):
    with pytest.raises(settings.SettingsError, match="plain HTTP to another machine"):
        settings.load(environ={}, overrides={"kiosk": {"central_url": "http://10.0.0.5:8082"}})
    for url in ("http://127.0.0.1:8082", "http://localhost:8082", "http://[::1]:8082", "https://10.0.0.5"):
        settings.load(environ={}, overrides={"kiosk": {"central_url": url}})
    client = CentralClient("http://central.library.local:8082", 1.0, token="secret-token")
    with pytest.raises(InsecureCentralURL, match="plain HTTP to another machine"):
        client.changes(0)
    path = tmp_path / "kiosk.toml"
    path.write_text('[kiosk]\ncentral_url = "http://central.library.local:8082"\n')
    assert main(["config", "check", str(path)]) == 1
    assert "plain HTTP to another machine" in capsys.readouterr().out
    path.write_text('[central]\nhost = "0.0.0.0"\n')
    assert main(["config", "check", str(path)]) == 0
    assert "warning: [central] the central store listens on 0.0.0.0 over plain HTTP" in capsys.readouterr().out


# -- what the network sees ---------------------------------------------------------------------------------------

def _verify_pin_through(relay_url, credential, **trust):
    client = _client(relay_url, credential, **trust)
    try:
        with pytest.raises(CentralError) as answer:  # the token was accepted (not 401): no such patron
            client._call("POST", "/api/v1/patrons/P-SNIFFED/verify-pin", json={"pin": PIN})
        assert answer.value.status == 404
    finally:
        client.session.close()


def test_a_sniffer_between_kiosk_and_central_store_sees_no_token_and_no_pin(central, enrolled, pki):
    _config, credential = enrolled
    token = credential["token"].encode()
    relay = Relay(central["https_port"])
    try:
        _verify_pin_through(f"https://localhost:{relay.port}", credential, ca=pki["fleet"]["ca"],
                            pin=credential["central_pin"])
    finally:
        relay.close()
    assert len(relay.captured) > 500  # the handshake and the request went through the relay
    assert token not in relay.captured and PIN.encode() not in relay.captured
    assert b"P-SNIFFED" not in relay.captured and b"Authorization" not in relay.captured

    control = Relay(central["http_port"])  # the same request over plain HTTP (loopback only): all of it is there
    try:
        _verify_pin_through(f"http://127.0.0.1:{control.port}", credential)
    finally:
        control.close()
    assert token in control.captured and f'"pin": "{PIN}"'.encode() in control.captured
    assert b"P-SNIFFED" in control.captured


# -- the station -------------------------------------------------------------------------------------------------

def test_the_station_over_https_marks_its_session_cookie_secure(central, pki, tmp_path):
    port = free_port()
    path = tmp_path / "station.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n[central]\ndatabase_url = "sqlite:///{central["folder"]}/central.db"\n'
                    f'[provisioning]\nport = {port}\nsecret_key = "station-secret"\n'
                    f'tls_cert = "{pki["fleet"]["cert"]}"\n'
                    f'tls_key = "{pki["fleet"]["key"]}"\n[readers]\nservice_url = "http://127.0.0.1:9"\n')
    process = _serve(tmp_path, ["provisioning", "serve"], port, dict(os.environ, KIOSK_CONFIG=str(path)), "https")
    try:
        import ssl

        context = ssl.create_default_context(cafile=pki["fleet"]["ca"])
        with urllib.request.urlopen(f"https://localhost:{port}/login", timeout=10, context=context) as response:
            cookies = response.headers.get_all("Set-Cookie")
    finally:
        reaper.stop(process)
    [session] = [cookie for cookie in cookies if cookie.startswith("session=")]
    assert "; Secure" in session and "; HttpOnly" in session and "SameSite=Strict" in session


def test_the_station_cookie_is_secure_with_tls_or_when_asked_and_not_otherwise(central_db, station_config, pki):
    import provisioning

    for options, secure in (({}, False), ({"tls_cert": pki["fleet"]["cert"], "tls_key": pki["fleet"]["key"]}, True),
                            ({"secure_cookies": True}, True)):
        config = {**station_config, "provisioning": {**station_config["provisioning"], **options}}
        app = provisioning.create_app(config)
        assert app.config["SESSION_COOKIE_SECURE"] is secure
        assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Strict"
