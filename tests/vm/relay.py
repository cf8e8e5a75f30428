"""One guest connection to one host service: QEMU's ``guestfwd=...-cmd:`` runs this for each TCP connection the
guest opens to 10.0.2.100:PORT, with the connection on stdin and stdout; it relays it to 127.0.0.1:HOST_PORT.
Standard library only (it runs under QEMU, outside pytest)."""
from __future__ import annotations

import os
import selectors
import socket
import sys


def relay(host_port: int) -> None:
    upstream = socket.create_connection(("127.0.0.1", host_port), timeout=30)
    upstream.settimeout(None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(upstream, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj == 0:
                data = os.read(0, 65536)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)
                    selector.unregister(0)
                    continue
                upstream.sendall(data)
            else:
                data = upstream.recv(65536)
                if not data:
                    return
                while data:
                    data = data[os.write(1, data):]


if __name__ == "__main__":
    relay(int(sys.argv[1]))
