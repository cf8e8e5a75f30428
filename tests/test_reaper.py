"""A test run ends every process it started, even one whose starter lost track of it, and even when it fails."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

LEAKY_TEST = '''
import subprocess

def test_leaves_a_server_behind():
    # the shell exits at once; its background child is orphaned, as npx leaves Prism's server
    started = subprocess.run(["sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    open({pidfile!r}, "w").write(started.stdout.strip())
    assert False, "this run fails"
'''


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_failed_run_leaves_no_process_behind(tmp_path):
    pidfile = tmp_path / "orphan.pid"
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST.format(pidfile=str(pidfile)))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.reaper", "-p", "no:cacheprovider",
                          "--rootdir", str(tmp_path), str(tmp_path / "test_leaky.py")],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    orphan = int(pidfile.read_text())
    alive = _alive(orphan)
    if alive:
        os.kill(orphan, 9)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "processes left running by the tests, now ended" in run.stdout and "sleep 600" in run.stdout
    assert not alive
