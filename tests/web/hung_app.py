"""A small app served exactly as the kiosk is (kiosk/serving.py), whose ``/block`` handler blocks until the
file named by ``HUNG_APP_RELEASE`` exists (each request in it adds a byte
to that name + ``.entered``): with every thread in it, the app is hung. Run as
``python -m tests.web.hung_app PORT THREADS``."""
import os
import sys
import time

from flask import Flask

from library_kiosk.web import health
from library_kiosk.web.serving import serve


def create_app() -> Flask:
    app = Flask(__name__)
    app.register_blueprint(health.bp)

    @app.get("/block")
    def block():
        with open(os.environ["HUNG_APP_RELEASE"] + ".entered", "a") as entered:
            entered.write("x")
        while not os.path.exists(os.environ["HUNG_APP_RELEASE"]):
            time.sleep(0.05)
        return "released"

    return app


if __name__ == "__main__":
    serve(create_app(), "127.0.0.1", int(sys.argv[1]), threads=int(sys.argv[2]))
