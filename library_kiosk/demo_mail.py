"""The demo's mail sink: an SMTP server on a local port that keeps every message it is sent as a ``.eml`` file.

``kiosk demo`` (``make run``) starts one in its own process (``MailSink``) and points the demo's ``[mail]``
settings at it (``demo_environment``), so receipts and letters sent by the kiosk, the station and the central
store can be read: as files in ``{data_dir}/demo-mail/`` and on the station's *Demo mail* page
(administrators; shown only while ``[mail] demo_sink_dir`` names the folder). Nothing is relayed anywhere.
Needs aiosmtpd (installed with the test dependencies, which ``make run`` installs).
"""
from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from library_kiosk.domain import clock

FOLDER = "demo-mail"  # under the data directory


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def write_message(folder: str, data: bytes) -> str:
    """Keep one message as ``<UTC time>-<random>.eml`` (written under another name, then renamed: the station
    never reads half a message); returns its path."""
    os.makedirs(folder, exist_ok=True)
    name = f"{clock.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
    path = os.path.join(folder, name)
    partial = path + ".part"
    with open(partial, "wb") as out:
        out.write(data)
    os.replace(partial, path)
    return path


class _KeepAsFiles:
    def __init__(self, folder: str):
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # (aiosmtpd calls it so)
        data = envelope.original_content or envelope.content
        write_message(self.folder, data if isinstance(data, bytes) else str(data).encode("utf-8"))
        return "250 Message kept by the demo mail sink"


class MailSink:
    """An SMTP server (aiosmtpd, in a thread of this process) that writes what it receives into ``folder``."""

    def __init__(self, folder: str, host: str = "127.0.0.1", port: int | None = None):
        self.folder, self.host, self.port = folder, host, port or free_port(host)
        self._controller: Any = None

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        os.makedirs(self.folder, exist_ok=True)
        self._controller = Controller(_KeepAsFiles(self.folder), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def demo_environment(config: dict[str, Any], sink: MailSink) -> dict[str, str]:
    """The environment that points the demo's processes at ``sink``: its host and port as ``[mail]`` (unless the
    configuration names another mail server than the default localhost:25) and its folder as ``[mail]
    demo_sink_dir``, which shows the station's Demo mail page."""
    mail = config["mail"]
    if (mail.get("host"), int(mail.get("port") or 25)) not in (("localhost", 25), ("127.0.0.1", 25), ("", 25)):
        return {}  # a real mail server is configured: the demo sends there
    return {"KIOSK_MAIL_HOST": sink.host, "KIOSK_MAIL_PORT": str(sink.port), "KIOSK_MAIL_STARTTLS": "false",
            "KIOSK_MAIL_USERNAME": "", "KIOSK_MAIL_DEMO_SINK_DIR": os.path.abspath(sink.folder)}


def start_for_demo(config: dict[str, Any]) -> tuple[MailSink | None, str]:
    """Start the demo's sink under the data directory and set the environment the demo's processes inherit;
    (sink, what to tell the user). No sink when aiosmtpd is missing or a real mail server is configured."""
    sink = MailSink(os.path.join(config["data_dir"], FOLDER))
    environment = demo_environment(config, sink)
    if not environment:
        return None, f"email goes to the configured mail server {config['mail']['host']}:{config['mail']['port']}"
    try:
        sink.start()
    except ImportError:
        return None, "no demo mail sink (aiosmtpd is not installed: pip install aiosmtpd); email will fail"
    os.environ.update(environment)
    return sink, f"email is kept by the demo mail sink on {sink.host}:{sink.port}, as .eml files in {sink.folder}"
