"""Every process a test run starts ends with the run, pass or fail.

Fixtures stop what they start, but a process can outlive its fixture: a wrapper
(``npx``) that starts the real server as its own child and exits on SIGTERM
without passing it on, a double fork, a crash before the fixture's ``finally``.
So the test session makes itself the *child subreaper* (Linux ``prctl``): an
orphan among its descendants is re-parented to the session instead of to init,
where it stays findable. At the end of the session every descendant still alive
is sent SIGTERM, then SIGKILL after a grace period, and the run says which.

This module is a pytest plugin (``pytest_plugins`` in tests/conftest.py).
``stop(process)`` is what fixtures use: the process's whole group (start them
with ``start_new_session=True``), not only the process itself.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time

import pytest

PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config):
    become_subreaper()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """End every process the run started and left behind, pass or fail, and say which."""
    ended = end_all()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if ended and reporter:
        lines = "\n".join(f"  {line}" for line in ended)
        reporter.write_line(f"processes left running by the tests, now ended:\n{lines}", yellow=True)


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants; False where the kernel has no such thing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, int]:
    """{pid: parent pid} of every process visible in /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":  # a zombie is already dead; its parent only has to reap it
            parents[int(entry)] = int(fields[1])
    return parents


def descendants(root: int | None = None) -> list[int]:
    """The live descendants of ``root`` (this process by default), children first."""
    root = os.getpid() if root is None else root
    parents = _parents()
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _reap_zombies() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def end_all(grace: float = 5.0) -> list[str]:
    """SIGTERM every live descendant, SIGKILL those left after ``grace`` seconds; the command lines ended."""
    left = descendants()
    ended = [f"{pid} {command_line(pid)}" for pid in left]
    for pid in left:
        with _ignore_gone():
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap_zombies()
        if not descendants():
            return ended
        time.sleep(0.05)
    for pid in descendants():
        with _ignore_gone():
            os.kill(pid, signal.SIGKILL)
    _reap_zombies()
    return ended


class _ignore_gone:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is ProcessLookupError


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """End ``process`` and everything in its process group (started with ``start_new_session=True``)."""
    if process.poll() is None or _group_alive(process.pid):
        with _ignore_gone():
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        with _ignore_gone():
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False
