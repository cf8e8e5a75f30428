"""The staff provisioning station (registration of patrons and cards).

Placeholder until its issue lands: the app serves a page saying what is coming.
"""
from __future__ import annotations

from flask import Flask

import settings


def create_app(config: dict | None = None) -> Flask:
    config = config or settings.load()
    app = Flask(__name__)
    app.config["KIOSK"] = config

    @app.get("/")
    def index():
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Provisioning station</title></head>"
            "<body><main><h1>Provisioning station</h1><p>Staff registration of patrons and cards is not built yet. "
            "See the README, 'What is not done yet'.</p></main></body></html>"
        )

    return app
