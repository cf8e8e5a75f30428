"""The reader service as a real subprocess, for the hardware tests: its output read line by line."""
import os
import pathlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
PCSC_SLOT, PCSC_PORT = "Kiosk Test Reader 00 01", 36101      # slot 1 of the pcscd fixture


class ServiceProcess:
    """``python -m hardware.service`` on a free port, its stdout collected."""

    def __init__(self, tmp_path, readers_toml, env=None):
        config = tmp_path / "kiosk.toml"
        config.write_text("[readers]\n" + readers_toml)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hardware.service", "--config", str(config), "--port", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **(env or {})})
        threading.Thread(target=self._collect, daemon=True).start()
        self.url = self.wait_for(r"listening on (http://\S+)").group(1)

    def _collect(self):
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                match = re.search(pattern, self.lines.get(timeout=0.1))
            except queue.Empty:
                assert self.proc.poll() is None, "service exited:\n" + "".join(self.output)
                continue
            if match:
                return match
        raise AssertionError(f"service never logged {pattern!r}:\n" + "".join(self.output))

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(10)
        self.proc.stdout.close()
        return code
