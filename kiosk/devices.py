"""This kiosk's identity: enrolment with a one-time code, and the credential file.

``enrol(central_url, code)`` exchanges an administrator's one-time code (from
``kiosk devices add NAME`` at the central store) for this kiosk's own device
token and keeps it in the credential file (``[kiosk] credential_file``, mode
0600, default ``{data_dir}/device.json``). Nothing secret is in the code or the
repository; a revoked device is refused by the central store at its next request.

Over HTTPS, enrolment also pins the central store (docs/tls.md): the credential file records the SHA-256
fingerprint of the CA this kiosk trusted (``[kiosk] central_ca``) or, with the system's trust store, of the
certificate it was shown; later connections showing another are refused.
"""
from __future__ import annotations

import json
import os

from library_kiosk import settings


def credential_path(config: dict) -> str:
    return config["kiosk"].get("credential_file") or os.path.join(config["data_dir"], "device.json")


def save_credential(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_credential(config: dict) -> dict | None:
    try:
        with open(credential_path(config)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("token") else None


def enrol(central_url: str, code: str, config: dict | None = None) -> dict:
    """Enrol this kiosk at ``central_url`` with a one-time ``code``; return {device, central_url, credential_file}.

    Raises ``kiosk.central_client.CentralError`` (refused code) or ``CentralUnavailable``.
    """
    from kiosk.central_client import CentralClient

    config = config or settings.load()
    client = CentralClient(central_url, config["kiosk"]["central_timeout_seconds"],
                           ca=config["kiosk"].get("central_ca", ""), pin={})  # an earlier enrolment's pin is not asked
    pin = client.observe_pin()  # over HTTPS: checked against [kiosk] central_ca or the system's trust store
    if pin:  # the code goes to exactly the certificate observed
        client.pin_certificate(pin["certificate_sha256"])
    answer = client.enrol(code)
    path = credential_path(config)
    credential = {"device": answer["device"], "token": answer["token"], "central_url": central_url}
    if pin:  # later connections must show the same CA (or certificate): kiosk/central_client.py
        credential["central_pin"] = pin
    save_credential(path, credential)
    return {"device": answer["device"], "central_url": central_url, "credential_file": path, "central_pin": pin}
