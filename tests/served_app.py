"""One of the product's web apps served as systemd would serve it (``kiosk central serve`` or ``kiosk provisioning
serve``, gunicorn), on a free port, over the database URL a test gives, its output kept in a log file. Shared by
the tests of a database that cannot be reached at start (tests/central, tests/provisioning)."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers import free_port, wait_until
from tests.reaper import stop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def get(url: str) -> tuple[int, str]:
    """The status and text of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class ServedApp:
    """``kiosk NAME serve`` (``name``: central or provisioning; ``arguments`` after serve) over ``database_url``,
    started and answering /health, its output in ``log``."""

    def __init__(self, name: str, folder: Path, database_url: str, arguments: tuple[str, ...] = ()):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{name}.log"
        env = {**os.environ, "KIOSK_CONFIG": "", "KIOSK_DATA_DIR": str(folder / "data"), "PYTHONPATH": ROOT,
               "KIOSK_CENTRAL_DATABASE_URL": database_url, f"KIOSK_{name.upper()}_PORT": str(self.port)}
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "library_kiosk", name, "serve", *arguments],
                                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._answers, 60, f"{name} answering /health")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.process.returncode}: {self.log.read_text()}")
        try:
            return get(self.url + "/health")[0] == 200
        except OSError:
            return False

    def workers(self) -> list[int]:
        """The gunicorn workers' process ids (a restarted worker has a new one)."""
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as children:
            return [int(pid) for pid in children.read().split()]

    def stop(self) -> None:
        stop(self.process)
