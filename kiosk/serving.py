"""Serving a Flask app under gunicorn, in the foreground, from our own CLI."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):
    def __init__(self, app, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def serve(app, host: str, port: int, workers: int = 1, threads: int = 8) -> None:
    """Run ``app`` under gunicorn's threaded workers (long-lived SSE streams need threads)."""
    _Server(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 120,
        "graceful_timeout": 3,
        "accesslog": None,
        "loglevel": "warning",
    }).run()
