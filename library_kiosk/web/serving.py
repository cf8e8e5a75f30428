"""Serving a Flask app under gunicorn, in the foreground, from our own CLI.

The serving model (docs/operations.md, "Serving"): gunicorn's threaded worker, with
a pool of ``page_threads + event_streams`` threads. Reader event streams are bounded
to ``event_streams`` (web/streams.py refuses one more) and end when their browser
leaves, so at least ``page_threads`` threads are always free for pages.

Under systemd (``Type=notify``, ``WatchdogSec``) the arbiter sends ``WATCHDOG=1``
only after the app answered ``GET /health`` through its own worker within a
second, so an app whose threads are all stuck stops the pings and systemd restarts it.
"""
from __future__ import annotations

import logging
import ssl
import threading
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication

from hardware import sdnotify
from library_kiosk import settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.gthread import ThreadWorker

log = logging.getLogger(__name__)
PROBE_TIMEOUT_SECONDS = 1.0


class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints: its classes are Any
    def __init__(self, app: WSGIApplication, options: dict[str, object]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApplication:
        return self.application


def probe_url(host: str, port: int, tls: bool = False) -> str:
    """Where the app answers its own health probe (an any-address bind is probed on loopback)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    scheme = "https" if tls else "http"
    return f"{scheme}://[{host}]:{port}/health" if ":" in host else f"{scheme}://{host}:{port}/health"


def probe_context(url: str) -> ssl.SSLContext | None:
    """For an app asking itself over https: no certificate check (its names are the ones kiosks use)."""
    if not url.startswith("https:"):
        return None
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def answers(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """True if ``url`` answered 200 within ``timeout`` seconds. An https probe is the app asking itself whether
    its threads answer, so it does not check the certificate (whose names are the ones kiosks use)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=probe_context(url)) as response:
            status: int = response.status  # urlopen is typed as returning Any
            return status == 200
    except OSError:
        return False


def watchdog(url: str, interval: float, stop: threading.Event,
             notify: Callable[[str], object] = sdnotify.notify) -> None:
    """Every ``interval`` seconds: ``WATCHDOG=1`` if the app answered its probe in time, else a warning."""
    while not stop.wait(interval):
        if answers(url):
            notify("WATCHDOG=1")
        else:
            log.warning("the app did not answer %s within %s s: no watchdog ping", url, PROBE_TIMEOUT_SECONDS)


def start_every_thread(worker: ThreadWorker) -> None:
    """Start the worker's whole thread pool now (gunicorn starts threads as requests need them): the app's
    threads and memory are then fixed from its start, and any later growth is a leak (``bench soak``)."""
    pool = getattr(worker, "tpool", None)
    if pool is None:
        return
    everyone = threading.Barrier(worker.cfg.threads + 1)
    for _ in range(worker.cfg.threads):
        pool.submit(everyone.wait, 10)  # none is idle until all have started, so each submit starts a thread
    everyone.wait(10)


def plain_http_warning(host: str, tls: tuple[str, str] | None, table: str) -> str | None:
    """The loud warning for an app that listens beyond this machine without TLS, or None."""
    if tls or settings.loopback(host):
        return None
    return (f"WARNING: [{table}] listens on {host or 'every address'} over PLAIN HTTP: staff passwords, session "
            f"cookies, device tokens and patron records cross the network readable. Set [{table}] tls_cert and "
            f"tls_key (kiosk tls init; docs/tls.md).")


def serve(app: WSGIApplication, host: str, port: int, workers: int = 1, threads: int = 8,
          tls: tuple[str, str] | None = None, table: str = "") -> None:
    """Run ``app`` under gunicorn's threaded workers (long-lived SSE streams need threads).

    ``tls`` is (certificate, key) for HTTPS (``library_kiosk.web.tls.server_files``, which checked them); without
    it an app of ``table`` bound beyond loopback logs a loud warning at start."""
    url, stop = probe_url(host, port, tls=tls is not None), threading.Event()
    warning = plain_http_warning(host, tls, table or "this app")
    if warning:
        log.warning("%s", warning)

    def when_ready(_server: Arbiter) -> None:
        interval = sdnotify.watchdog_interval()
        if interval:
            threading.Thread(target=watchdog, args=(url, interval, stop), name="watchdog", daemon=True).start()

    _Server(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 120,
        "graceful_timeout": 3,
        "accesslog": None,
        "loglevel": "warning",
        "when_ready": when_ready,
        "post_worker_init": start_every_thread,
        "on_exit": lambda _server: stop.set(),
        **({"certfile": tls[0], "keyfile": tls[1]} if tls else {}),
    }).run()


def app_threads(config: Mapping[str, Any], table: str) -> int:
    """The thread pool of the kiosk (``table`` "kiosk") or the station ("provisioning"): pages plus streams."""
    options = config[table]
    return int(options["page_threads"]) + int(options["event_streams"])
