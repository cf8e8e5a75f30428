"""The test suite's own HTTP server (tests/helpers.LiveServer) closes every answer, even one whose browser went away."""

import socket
import struct
import threading

from tests.helpers import LiveServer


class Answer:
    """A WSGI answer that notes when the server closes it (a static file's handle is closed the same way)."""

    def __init__(self):
        self.closed = threading.Event()

    def __iter__(self):
        yield b"icon"

    def close(self):
        self.closed.set()


def test_an_answer_is_closed_when_the_browser_resets_the_connection():
    answer = Answer()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "image/svg+xml"), ("Content-Length", "4")])
        return answer

    server = LiveServer(app)
    try:
        client = socket.create_connection(("127.0.0.1", server.server.server_port))
        # a few bytes past the request keep the server's drain after the answer blocked on this connection,
        # so the reset below lands inside that drain, where werkzeug's own handler skips close()
        client.sendall(b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\nextra")
        received = b""
        while b"icon" not in received:
            received += client.recv(4096)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        assert answer.closed.wait(10)
    finally:
        server.stop()
