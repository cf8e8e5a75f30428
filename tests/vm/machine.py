"""The boot harness: one QEMU virtual machine of a box, driven from outside.

- ``start()`` boots the disk (the image's own kernel, KVM or TCG: tests/vm/qemu.py), with a virtual display
  (``-vga virtio``, no window) and a virtual tablet (absolute pointer, as a touch panel), a user-mode network
  with no route out (``restrict=on``) on which the guest reaches only the host services a test names
  (``forward(guest_port, host_port)``: 10.0.2.100:PORT in the guest), the serial console logged to
  ``console.log`` and qemu-guest-agent on a virtio-serial port;
- ``run(command)`` runs a shell command in the guest as root (the agent's ``guest-exec``) and returns its exit
  status and output;
- ``wait_running()`` waits for ``systemctl is-system-running --wait``, failing with the failed units and their
  journal;
- ``screendump(path)`` writes the guest's display to a PNG (QMP ``screendump``); ``tap(x, y)`` presses and
  releases at a point of it (QMP ``input-send-event`` on the virtual tablet: the guest's kernel, libinput, cage
  and Chromium see a touch panel's tap);
- ``power_cut()`` kills QEMU (no shutdown: what the guest had not flushed is lost, as at a power cut; the disk is
  ``cache=writeback``, so what the guest flushed is on the host's file); ``start()`` boots it again.
"""
from __future__ import annotations

import base64
import json
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests import reaper
from tests.vm import arm64
from tests.vm.image import base_paths
from tests.vm.qemu import CPUS, KERNEL_ARGS, KERNEL_ARGS_ARM64, Boot

GUEST_HOST = "10.0.2.100"          # where the guest finds the host's services (guestfwd)
RELAY = Path(__file__).with_name("relay.py")
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8"


@dataclass
class Result:
    status: int
    out: str
    err: str

    @property
    def both(self) -> str:
        return self.out + self.err


class GuestError(AssertionError):
    """The guest did not do what the harness waited for; the message has what it printed."""


class Machine:
    def __init__(self, disk: Path, folder: Path, forwards: dict[int, int] | None = None,
                 extra_disks: list[Path] | None = None, cpus: int = CPUS, arch: str = "amd64"):
        self.disk = disk
        self.arch = arch                  # amd64, or arm64: tests/vm/arm64.py's image, emulated
        self.cpus = cpus
        self.folder = folder
        self.extra_disks = list(extra_disks or [])   # raw, read-only: /dev/vdb...
        self.forwards = dict(forwards or {})     # guest port on GUEST_HOST -> host loopback port
        self.process: subprocess.Popen | None = None
        self.boots = 0
        self.boot_seconds: list[float] = []     # each boot: from QEMU's start to ``is-system-running``
        self._started_at = 0.0
        self._agent: socket.socket | None = None
        self._buffer = b""

    # -- the machine -------------------------------------------------------------------------------------
    @property
    def console_log(self) -> Path:
        return self.folder / "console.log"

    def _boot(self) -> Boot:
        _, kernel, initrd = arm64.base_paths() if self.arch == "arm64" else base_paths()
        netdev = "user,id=net0,restrict=on" + "".join(
            f",guestfwd=tcp:{GUEST_HOST}:{guest}-cmd:{sys.executable} {RELAY} {host}"
            for guest, host in self.forwards.items())
        return Boot(disk=self.disk, kernel=kernel, initrd=initrd, serial_log=self.console_log,
                    qmp_socket=self.folder / "qmp.sock", agent_socket=self.folder / "agent.sock", netdev=netdev,
                    extra_disks=self.extra_disks, cpus=self.cpus, arch=self.arch,
                    kernel_args=KERNEL_ARGS_ARM64 if self.arch == "arm64" else KERNEL_ARGS)

    def start(self, agent_timeout: float = 180) -> Machine:
        """Boot, and wait until the guest's agent answers (systemd has started it: the boot is under way)."""
        assert self.process is None or self.process.poll() is not None, "the machine is already running"
        for stale in ("qmp.sock", "agent.sock"):
            (self.folder / stale).unlink(missing_ok=True)
        if self.console_log.exists():                     # keep each boot's console
            self.console_log.rename(self.folder / f"console-{self.boots}.log")
        self.boots += 1
        self._started_at = time.monotonic()
        with open(self.folder / "qemu.log", "ab") as log:
            self.process = subprocess.Popen(self._boot().command(), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self._agent, self._buffer = None, b""
        self._connect_agent(agent_timeout)
        return self

    def power_cut(self) -> None:
        """Kill QEMU: the machine stops at once, as when the plug is pulled."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._close_agent()

    def stop(self) -> None:
        """The end of a test's machine: its disk is a throw-away overlay, so the power is cut (a clean shutdown
        costs 10-20 s under emulation and keeps nothing a test reads)."""
        self.power_cut()
        if self.process:
            reaper.stop(self.process, grace=1)

    def reboot(self, timeout: float = 180) -> None:
        """A clean reboot: the guest shuts down (QEMU exits, ``-no-reboot``), then boots again."""
        try:
            self.run("systemctl poweroff --no-block", timeout=30)
        except OSError:            # the agent stopped with the guest before it sent the command's status
            pass
        assert self.process is not None
        self.process.wait(timeout=120)
        self._close_agent()
        self.start(timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- QMP: the display ---------------------------------------------------------------------------------
    def _qmp(self, *commands: dict) -> list[dict]:
        answers = []
        with socket.socket(socket.AF_UNIX) as qmp:
            qmp.settimeout(30)
            qmp.connect(str(self.folder / "qmp.sock"))
            stream = qmp.makefile("rwb")
            json.loads(stream.readline())                                   # the greeting
            for command in ({"execute": "qmp_capabilities"}, *commands):
                stream.write(json.dumps(command).encode() + b"\n")
                stream.flush()
                while True:
                    answer = json.loads(stream.readline())
                    if "event" in answer:
                        continue
                    if "error" in answer:
                        raise GuestError(f"QMP {command['execute']}: {answer['error']}")
                    answers.append(answer)
                    break
        return answers[1:]

    def screendump(self, path: Path) -> Path:
        """The guest's display, as a PNG."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._qmp({"execute": "screendump", "arguments": {"filename": str(path), "format": "png"}})
        return path

    def type(self, text: str) -> None:
        """Type ``text`` (digits and letters) then Enter on the virtual keyboard, as a USB barcode scanner does."""
        keys = [{"type": "qcode", "data": char.lower()} for char in text] + [{"type": "qcode", "data": "ret"}]
        for key in keys:
            self._qmp({"execute": "send-key", "arguments": {"keys": [key]}})

    def freeze_disk(self, snapshot: Path) -> Path:
        """The disk as a power cut now would leave it: QEMU drains the guest's writes in flight, then writes every
        new one to a new overlay (``snapshot``, QMP ``blockdev-snapshot-sync``). The file the guest wrote until now
        is returned and never written again: a crash-consistent copy of this instant (what the guest had not yet
        sent to its disk is not in it, as at a power cut), to boot on an overlay of its own
        (``image.overlay(frozen, target, "qcow2")``)."""
        frozen = self.disk
        self._qmp({"execute": "blockdev-snapshot-sync",
                   "arguments": {"device": "root", "snapshot-file": str(snapshot), "format": "qcow2"}})
        self.disk = snapshot
        return frozen

    def tap(self, x: int, y: int, screen: tuple[int, int]) -> None:
        """Press and release at pixel (x, y) of a display of ``screen`` (width, height) pixels."""
        scale = [round(value * 0x7FFF / (size - 1)) for value, size in zip((x, y), screen, strict=True)]
        at = [{"type": "abs", "data": {"axis": axis, "value": value}} for axis, value in zip("xy", scale)]
        for down in (True, False):
            self._qmp({"execute": "input-send-event",
                       "arguments": {"events": [*at, {"type": "btn", "data": {"down": down, "button": "left"}}]}})

    # -- the guest agent: commands ------------------------------------------------------------------------
    def _close_agent(self) -> None:
        if self._agent:
            self._agent.close()
        self._agent, self._buffer = None, b""

    def _connect_agent(self, timeout: float) -> None:
        """Connect to the agent's port and sync with it (``guest-sync``), until it answers or ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise GuestError(f"QEMU exited ({self._qemu_output()}) before the agent answered:\n"
                                 f"{self.console_tail()}")
            agent = socket.socket(socket.AF_UNIX)
            try:
                agent.connect(str(self.folder / "agent.sock"))
            except OSError:
                agent.close()
                time.sleep(0.2)                    # QEMU has not made its socket yet
                continue
            self._agent, self._buffer = agent, b""
            token = random.randrange(1, 2**31)
            try:
                self._send({"execute": "guest-sync", "arguments": {"id": token}})
                while True:
                    answer = self._receive(3)
                    if answer.get("return") == token:
                        return
            except (OSError, TimeoutError):
                self._close_agent()                # not up yet: the port drops what it gets; try again
        raise GuestError(f"the guest agent did not answer within {timeout} s:\n{self.console_tail()}")

    def _send(self, message: dict) -> None:
        assert self._agent is not None
        self._agent.sendall(json.dumps(message).encode() + b"\n")

    def _receive(self, timeout: float) -> dict:
        assert self._agent is not None
        self._agent.settimeout(timeout)
        while b"\n" not in self._buffer:
            chunk = self._agent.recv(65536)
            if not chunk:
                raise OSError("the agent closed its port")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        line = line.lstrip(b"\xff").strip()
        return json.loads(line) if line else self._receive(timeout)

    def _call(self, command: str, arguments: dict, timeout: float = 30) -> dict:
        if self._agent is None:
            self._connect_agent(60)
        self._send({"execute": command, "arguments": arguments})
        answer = self._receive(timeout)
        if "error" in answer:
            raise GuestError(f"agent {command}: {answer['error']}")
        return answer["return"]

    def run(self, command: str, timeout: float = 120, check: bool = False) -> Result:
        """``sh -c command`` in the guest as root; its status and output. ``check``: fail unless status 0."""
        pid = self._call("guest-exec", {"path": "/bin/sh", "arg": ["-c", f"export {PATH}; {command}"],
                                        "capture-output": True})["pid"]
        deadline = time.monotonic() + timeout
        while True:
            status = self._call("guest-exec-status", {"pid": pid})
            if status.get("exited"):
                break
            if time.monotonic() > deadline:
                raise GuestError(f"`{command}` did not finish within {timeout} s")
            time.sleep(0.1)
        result = Result(status.get("exitcode", -status.get("signal", 0) or -1),
                        base64.b64decode(status.get("out-data", "")).decode(errors="replace"),
                        base64.b64decode(status.get("err-data", "")).decode(errors="replace"))
        if check and result.status != 0:
            raise GuestError(f"`{command}` exited {result.status}:\n{result.both[-4000:]}")
        return result

    def write(self, path: str, content: str, mode: str = "0644") -> None:
        """A file in the guest, written whole (through the shell, base64)."""
        encoded = base64.b64encode(content.encode()).decode()
        self.run(f"echo {encoded} | base64 -d > {path}.new && chmod {mode} {path}.new && mv {path}.new {path}",
                 check=True)

    # -- waiting on systemd -------------------------------------------------------------------------------
    def wait_running(self, timeout: float = 300) -> str:
        """``systemctl is-system-running --wait``: "running", or fail with the failed units and their journal."""
        state = self.run("systemctl is-system-running --wait", timeout=timeout).out.strip()
        if state != "running":
            raise GuestError(f"the system is {state!r}, not running:\n{self.failed_report()}")
        if len(self.boot_seconds) < self.boots:
            self.boot_seconds.append(round(time.monotonic() - self._started_at, 1))
        return state

    def failed_report(self) -> str:
        failed = self.run("systemctl --failed --no-legend --plain | cut -d' ' -f1").out.split()
        report = [f"failed units: {' '.join(failed) or 'none'}",
                  self.run("systemctl list-jobs --no-legend").out]
        for unit in failed:
            report.append(f"== journal of {unit}\n" + self.run(f"journalctl -b -u {unit} --no-pager -n 60").out)
        return "\n".join(report)

    def console_tail(self, characters: int = 6000) -> str:
        try:
            return self.console_log.read_text(errors="replace")[-characters:]
        except FileNotFoundError:
            return "(no console output)"

    def _qemu_output(self) -> str:
        log = self.folder / "qemu.log"
        status = self.process.returncode if self.process else None
        return f"status {status}: " + (log.read_text(errors="replace")[-2000:] if log.exists() else "")
