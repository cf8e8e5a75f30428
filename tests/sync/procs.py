"""Real processes for the sync tests: the central store (gunicorn, ``kiosk central serve``), a kiosk
pusher that can be killed, and an HTTP proxy that loses answers."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import free_port, start, stop

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Central:
    """``kiosk central serve`` on a free loopback port, over ``database_url``; stop() and start() again."""

    def __init__(self, database_url: str, data_dir: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"KIOSK_CENTRAL_DATABASE_URL": database_url, "KIOSK_CENTRAL_PORT": str(self.port),
                    "KIOSK_DATA_DIR": data_dir, "KIOSK_CONFIG": "", "PYTHONPATH": ROOT}
        self.process = None

    def start(self):
        self.process = start([sys.executable, "-m", "library_kiosk", "central", "serve", "--workers", "1"], self.env,
                             self.url + "/health")
        return self

    def stop(self):
        if self.process is not None:
            stop(self.process)
            self.process = None


def kiosk_env(cache_url: str, central_url: str, data_dir: str, credential: str) -> dict:
    return {**os.environ, "KIOSK_KIOSK_CACHE_URL": cache_url, "KIOSK_KIOSK_CENTRAL_URL": central_url,
            "KIOSK_DATA_DIR": data_dir, "KIOSK_KIOSK_CREDENTIAL_FILE": credential, "KIOSK_CONFIG": "",
            "KIOSK_KIOSK_IDENTIFIER_KEY": "test-key", "PYTHONPATH": ROOT}


PUSHER = """
import sys
from library_kiosk import settings
from kiosk import outbox
from kiosk.cli import _sync_parts
config = settings.load()
db, cache, client = _sync_parts(config)
with db.connection_context():
    print("ready", flush=True)
    outbox.push(client, cache, batch=int(sys.argv[1]))
print("done", flush=True)
"""


def pusher(env: dict, batch: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PUSHER, str(batch)], env=env, stdout=subprocess.PIPE, text=True)


def lossy_handler(proxy) -> type[BaseHTTPRequestHandler]:
    """A handler forwarding every request to ``proxy.upstream_port`` and dropping the share ``proxy.loss`` of the
    answers after the upstream answered (the connection closed without a response, so the client cannot know
    the request was applied); ``proxy.rng``, ``proxy.lock`` and the count ``proxy.dropped`` are the proxy's."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            try:
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
            except OSError:
                self.close_connection = True
                return
            with proxy.lock:
                drop = proxy.rng.random() < proxy.loss
                proxy.dropped += drop
            if drop:
                self.close_connection = True
                return
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

    return Handler


class LossyProxy:
    """Forwards every request to ``upstream``; drops ``loss`` of the answers after the upstream answered
    (the connection is closed without a response), so the client cannot know the request was applied."""

    def __init__(self, upstream_port: int, loss: float, seed: int = 7):
        self.upstream_port, self.loss = upstream_port, loss
        self.rng, self.lock = random.Random(seed), threading.Lock()
        self.dropped = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), lossy_handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def central_checksum() -> tuple[int, str]:
    """(patrons, digest) of every document the central store serves to kiosks."""
    from tests.sync.served import served

    digest, count = hashlib.sha256(), 0
    documents = served(0, 5000)
    for primary_id in sorted(d for d in documents if documents[d] is not None):
        digest.update(f"{primary_id}\t{json.dumps(documents[primary_id], sort_keys=True)}\n".encode())
        count += 1
    return count, digest.hexdigest()


def cache_checksum(path: str) -> tuple[int, str]:
    """(patrons, digest) of the kiosk cache file at ``path``, comparable with ``central_checksum``."""
    digest = hashlib.sha256()
    connection = sqlite3.connect(path, timeout=30)
    try:
        rows = connection.execute("SELECT primary_id, document FROM cached_patron ORDER BY primary_id").fetchall()
    finally:
        connection.close()
    for primary_id, document in rows:
        digest.update(f"{primary_id}\t{json.dumps(json.loads(document), sort_keys=True)}\n".encode())
    return len(rows), digest.hexdigest()
