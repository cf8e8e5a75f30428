"""systemd's sd_notify protocol, by hand: one datagram to ``$NOTIFY_SOCKET``.

Does nothing when ``NOTIFY_SOCKET`` is unset (not run by systemd with Type=notify).
"""
from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send e.g. ``"READY=1"`` or ``"WATCHDOG=1"``; True if it was sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):                     # abstract namespace socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode())
        except OSError:
            return False
    return True


def watchdog_interval() -> float | None:
    """How often to send ``WATCHDOG=1`` (half of ``$WATCHDOG_USEC``), or None."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6
