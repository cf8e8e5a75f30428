"""TLS for the central store and the station (docs/tls.md): the fleet CA, server certificates, and the files an
app is given.

``init(folder, hosts)`` makes, once, a fleet CA (``ca.pem``, ``ca.key``) and then a server certificate for the
given host names and addresses signed by it (``NAME.pem``, ``NAME.key``). Keys are written mode 0600. Kiosks trust
``ca.pem`` (``[kiosk] central_ca``); the central store serves ``NAME.pem`` (``[central] tls_cert``, ``tls_key``).
A library that brings its own certificate needs none of this: it names its files in the same settings.

``server_files(config, table)`` is what the serving path asks before it starts: the configured certificate and
key, refused with a clear message when only one is given, a file is missing or unreadable, or the two do not
belong together.
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from library_kiosk.domain import clock
from library_kiosk.settings import SettingsError

CA_DAYS = 3650  # the fleet CA: ten years (kiosks hold it; replacing it means giving every kiosk the new one)
SERVER_DAYS = 825  # a server certificate: the longest that clients commonly accept; `kiosk tls init` renews it
CA_NAME = "Library kiosk fleet CA"


class TLSError(SettingsError):
    """A TLS file that cannot be used; the message says which and why (the ``kiosk`` command prints it)."""


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` with ``mode`` from its first byte (a key is never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.new{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _validity(days: int) -> tuple[datetime.datetime, datetime.datetime]:
    now = clock.now()  # naive UTC, as cryptography reads it
    return now - datetime.timedelta(days=1), now + datetime.timedelta(days=days)  # a day's slack for skewed clocks


def parse_hosts(text: str | Iterable[str]) -> list[str]:
    """``"central.library.local, 10.0.0.5"`` (or a list) as a clean list; an empty one is refused."""
    words = text.split(",") if isinstance(text, str) else list(text)
    hosts = [word.strip() for word in words if word.strip()]
    if not hosts:
        raise TLSError("say which host names and addresses the certificate is for, e.g. "
                       "--hosts central.library.local,10.0.0.5")
    return hosts


def _alternative_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def create_ca(folder: str | os.PathLike[str], common_name: str = CA_NAME,
              days: int = CA_DAYS) -> tuple[Path, Path, bool]:
    """The fleet CA in ``folder`` (``ca.pem``, ``ca.key`` mode 0600): made once, kept if there.
    Returns (certificate, key, True if it was made now)."""
    folder = Path(folder)
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path, False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start, end = _validity(days)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256()))
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path, True


def issue(folder: str | os.PathLike[str], name: str, hosts: Iterable[str], ca_cert: str | os.PathLike[str],
          ca_key: str | os.PathLike[str], days: int = SERVER_DAYS) -> tuple[Path, Path]:
    """A server certificate for ``hosts`` signed by the CA: ``NAME.pem`` (the certificate, then the CA's, so
    the chain is served whole) and ``NAME.key`` (mode 0600) in ``folder``; replaces an earlier one."""
    hosts = parse_hosts(hosts)
    authority = x509.load_pem_x509_certificate(Path(ca_cert).read_bytes())
    authority_key = serialization.load_pem_private_key(Path(ca_key).read_bytes(), password=None)
    if not isinstance(authority_key, ec.EllipticCurvePrivateKey):
        raise TLSError(f"{ca_key}: not the fleet CA's key (an EC key made by `kiosk tls init`)")
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = _validity(days)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(authority.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(_alternative_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
                       critical=False)
        .sign(authority_key, hashes.SHA256()))
    folder = Path(folder)
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM)
           + authority.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert_path, key_path


def init(folder: str | os.PathLike[str], hosts: str | Iterable[str], name: str = "central") -> dict[str, Any]:
    """``kiosk tls init``: the fleet CA in ``folder`` (made once) and a server certificate ``name`` for ``hosts``.
    Returns the paths: ``ca``, ``cert``, ``key``, and ``ca_created``."""
    host_list = parse_hosts(hosts)
    ca_cert, ca_key, created = create_ca(folder)
    cert, key = issue(folder, name, host_list, ca_cert, ca_key)
    return {"ca": str(ca_cert), "cert": str(cert), "key": str(key), "ca_created": created, "hosts": host_list}


def fingerprint(der: bytes) -> str:
    """A certificate's SHA-256 fingerprint, lowercase hex without separators."""
    return hashlib.sha256(der).hexdigest()


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """The SHA-256 fingerprint of the first certificate in a PEM file (a CA file's own certificate)."""
    try:
        certificate = x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise TLSError(f"{path}: not a readable PEM certificate ({exc})") from None
    return fingerprint(certificate.public_bytes(serialization.Encoding.DER))


def check_files(cert: str, key: str, table: str) -> None:
    """Refuse, saying which and why, a certificate and key that cannot be served: only one given, a file
    missing or unreadable, not PEM, or a key that is not the certificate's."""
    if bool(cert) != bool(key):
        raise TLSError(f"[{table}] tls_cert and tls_key go together: set both (HTTPS) or neither (plain HTTP)")
    for setting, path in (("tls_cert", cert), ("tls_key", key)):
        if not os.path.isfile(path):
            raise TLSError(f"[{table}] {setting} {path}: no such file")
        if not os.access(path, os.R_OK):
            raise TLSError(f"[{table}] {setting} {path}: this user ({os.geteuid()}) cannot read it")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TLSError(f"[{table}] tls_cert {cert} and tls_key {key} cannot be served: {exc} (PEM files, the key "
                       f"the certificate's own, without a passphrase)") from None


def server_files(config: Mapping[str, Any], table: str) -> tuple[str, str] | None:
    """The certificate and key ``[table]`` configures (checked, ``check_files``), or None for plain HTTP."""
    options = config[table]
    cert, key = str(options.get("tls_cert") or ""), str(options.get("tls_key") or "")
    if not cert and not key:
        return None
    check_files(cert, key, table)
    return cert, key
