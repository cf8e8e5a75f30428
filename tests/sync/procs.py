"""Real processes for the sync tests: the central store (gunicorn, ``kiosk central serve``), a kiosk
pusher that can be killed, and an HTTP proxy that loses answers."""
from __future__ import annotations

import http.client
import os
import random
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


class LossyProxy:
    """Forwards every request to ``upstream``; drops ``loss`` of the answers after the upstream answered
    (the connection is closed without a response), so the client cannot know the request was applied."""

    def __init__(self, upstream_port: int, loss: float, seed: int = 7):
        rng = random.Random(seed)
        lock = threading.Lock()
        self.dropped = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                with lock:
                    drop = rng.random() < loss
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

            do_GET = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
