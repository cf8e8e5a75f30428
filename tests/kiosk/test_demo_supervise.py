"""`kiosk demo` (make run) starts a process that exits again, as systemd does on the appliance, and stops
everything when one keeps dying."""
import signal
import subprocess
import threading

from library_kiosk.demo import RESTARTS_PER_MINUTE, _supervise
from tests.helpers import wait_until


def test_a_child_that_dies_is_started_again_and_one_that_keeps_dying_stops_the_demo():
    commands = [["sleep", "600"]]
    children = [subprocess.Popen(commands[0])]
    stopped = threading.Event()
    result = []
    supervisor = threading.Thread(target=lambda: result.append(_supervise(children, commands, ["sync worker"],
                                                                          stopped.set)), daemon=True)
    supervisor.start()
    first = children[0]
    first.send_signal(signal.SIGKILL)  # the sync worker dies
    wait_until(lambda: children[0] is not first, 10, "the dead child is started again")
    assert children[0].poll() is None and not stopped.is_set()  # running again
    commands[0] = ["sh", "-c", "exit 3"]  # from now on it dies at once, every time
    children[0].kill()
    supervisor.join(RESTARTS_PER_MINUTE * 2 + 10)
    assert result == [1] and stopped.is_set()
    first.wait()
