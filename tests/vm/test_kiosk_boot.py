"""The kiosk box boots for real: its image (deploy/install.sh --role kiosk) under QEMU, systemd as PID 1, the screen
from the guest's own display, enrolment with a central store on the host, and a reboot.

One machine for the module (a boot costs a minute or more under emulation): it boots fresh, is enrolled as staff
would enrol it (``kiosk enrol CODE``), and reboots; the tests then read that second boot, the box as it comes up
every morning. The last test reboots it once more.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from library_kiosk.appliance.install import ROLES
from tests.helpers import wait_until
from tests.vm.conftest import ARTIFACTS, CENTRAL_PORT_IN_GUEST
from tests.vm.image import MISSING_FROM_THE_KIOSK_ROLE, fresh_disk
from tests.vm.machine import Machine

KIOSK = "kiosk"                # /usr/local/bin/kiosk: the release's, reading /etc/kiosk/kiosk.toml
UNITS = ("kiosk-reader.service", "kiosk-web.service", "kiosk-sync.service", "kiosk-browser.service")
ATTRACT_WORDS = ("Tap", "card", "scan", "barcode")     # "Tap your card or scan your barcode"
HELP_WORDS = ("Opening", "hours", "staff")            # the help screen: "Opening hours", "Call a member of staff"
SCREEN_SECONDS = 240          # Chromium's first page under emulation (TCG) on 2 shared cores
BLANK_SECONDS = 120           # a display blank this long gets one restart of the browser (attract_on_screen)
PATRONS = 20                  # demo patrons in the central store on the host (HostCentral.load_demo)
PATRON = "P0000011"           # demo patron 11: active to 2028, in a group that asks for a PIN
CARD = "20000000000011"       # its card's barcode
PIN_WORDS = ("Enter", "PIN")  # the PIN screen after a card is scanned: "Enter your PIN"
OUT_OF_ORDER_WORDS = ("kiosk", "out", "order")   # "This kiosk is out of order"
STARTING_WORDS = ("still", "starting")           # "This kiosk is still starting": no keys yet
OTHER_ANSWERS = (OUT_OF_ORDER_WORDS, STARTING_WORDS)


@dataclass
class Box:
    machine: Machine
    sync_before_enrolment: dict   # kiosk sync status on the first boot, before kiosk enrol
    enrolled_at: float            # the guest's realtime clock at enrolment, seconds


@pytest.fixture(scope="module")
def kiosk_box(kiosk_image, central, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vm-kiosk")
    machine = Machine(fresh_disk("kiosk", folder), folder, {CENTRAL_PORT_IN_GUEST: central.port})
    central.load_demo(PATRONS)
    try:
        machine.start()
        machine.wait_running()
        before = sync_status(machine)
        enrolled_at = float(machine.run("date +%s.%N").out)
        enrol(machine, central)
        machine.reboot()
        machine.wait_running()
        yield Box(machine, before, enrolled_at)
    finally:
        machine.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "kiosk-boot-seconds.json").write_text(json.dumps(machine.boot_seconds) + "\n")


def enrol(machine: Machine, central) -> None:
    """As staff enrol a kiosk: trust the fleet CA ([kiosk] central_ca), then ``kiosk enrol CODE``."""
    machine.write("/etc/kiosk/fleet-ca.pem", central.ca_pem)
    machine.run("sed -i 's|^\\[kiosk\\]$|[kiosk]\\ncentral_ca = \"/etc/kiosk/fleet-ca.pem\"|' /etc/kiosk/kiosk.toml",
                check=True)
    machine.run(f"{KIOSK} enrol {central.code('kiosk-vm')} --central {central.guest_url}", check=True)


def unit_property(machine: Machine, unit: str, name: str) -> str:
    return machine.run(f"systemctl show -P {name} {unit}", check=True).out.strip()


def test_every_kiosk_unit_is_active_and_none_failed(kiosk_box):
    machine = kiosk_box.machine
    states = {unit: machine.run(f"systemctl is-active {unit}").out.strip() for unit in UNITS}
    assert states == dict.fromkeys(UNITS, "active"), machine.failed_report()
    assert machine.run("systemctl --failed --no-legend --plain").out.strip() == ""


def test_reader_and_web_are_up_before_the_browser_starts(kiosk_box):
    machine = kiosk_box.machine
    ready = {unit: int(unit_property(machine, unit, "ActiveEnterTimestampMonotonic")) for unit in UNITS}
    started = {unit: int(unit_property(machine, unit, "InactiveExitTimestampMonotonic")) for unit in UNITS}
    assert ready["kiosk-reader.service"] <= started["kiosk-web.service"], (ready, started)
    assert ready["kiosk-web.service"] <= started["kiosk-browser.service"], (ready, started)


def sync_status(machine: Machine) -> dict:
    return json.loads(machine.run(f"{KIOSK} sync status", check=True).out)


def test_sync_pulls_from_the_central_store_only_once_enrolled(kiosk_box):
    assert kiosk_box.sync_before_enrolment["last_pull_ok"] is None, kiosk_box.sync_before_enrolment
    pulled = wait_until(lambda: sync_status(kiosk_box.machine)["last_pull_ok"], 120, "a pull after enrolment")
    assert datetime.fromisoformat(pulled).replace(tzinfo=UTC).timestamp() > kiosk_box.enrolled_at


def ocr(shot: Path) -> str:
    return subprocess.run(["tesseract", str(shot), "-"], capture_output=True, text=True, check=True).stdout


def words_shown(machine: Machine, shot: Path, wanted: tuple[str, ...]) -> bool:
    text = ocr(machine.screendump(shot))
    return [word for word in wanted if re.search(rf"\b{word}\b", text, re.I)] == list(wanted)


def test_the_kiosk_role_installs_what_cage_needs():
    """cage stops at once without Xwayland and, hung in its clean-up, leaves kiosk-browser "active" on a black
    screen; Debian's cage only recommends xwayland, and the installer does not install recommends. The image
    added it (tests/vm/image.py) so that the rest could be tested, until the kiosk role listed it."""
    assert {"xwayland", *MISSING_FROM_THE_KIOSK_ROLE} <= set(ROLES["kiosk"].packages), ROLES["kiosk"].packages


def test_chromium_runs_under_cage(kiosk_box):
    """What ``systemctl is-active kiosk-browser`` cannot tell: cage alive with no browser in it."""
    machine = kiosk_box.machine
    try:
        wait_until(lambda: machine.run("pgrep -u kiosk-display -x chromium").status == 0, SCREEN_SECONDS,
                   "Chromium started by kiosk-browser.service", every=2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n" + machine.run("journalctl -b -u kiosk-browser --no-pager | tail -30").out
                             ) from None


def test_the_screen_shows_the_attract_page(kiosk_box):
    """Read from the guest's own display (QMP screendump), by OCR; Chromium takes its time under emulation."""
    attract_on_screen(kiosk_box.machine, ARTIFACTS / "kiosk-attract.png")


def attract_on_screen(machine: Machine, shot: Path) -> None:
    """The attract page on the display: as it is, after Done or Back on whatever message a scan left, or after one
    restart of the browser if the display stayed blank (nothing readable) for ``BLANK_SECONDS``: in the VM, cage
    renders with wlroots' software renderer (tests/vm/image.py VM_DISPLAY), and under load its first frame
    sometimes never reaches the display (a white screen: seen in about one run of four here, with other VMs
    beside it). A Pi renders with its GPU. Each such restart is written to screen-restarts.txt and printed."""
    blank_since = time.monotonic()
    restarted = False

    def back() -> bool:
        nonlocal blank_since, restarted
        if words_shown(machine, shot, ATTRACT_WORDS):
            return True
        text = ocr(shot)
        way_back = re.search(r"\b(Done|Back)\b", text)
        if way_back:
            machine.tap(*word_box(shot, way_back.group(1)), png_size(shot))
        if text.strip():
            blank_since = time.monotonic()
        elif not restarted and time.monotonic() - blank_since > BLANK_SECONDS:
            note = f"{shot.name}: blank for {BLANK_SECONDS} s; kiosk-browser restarted once\n"
            with open(ARTIFACTS / "screen-restarts.txt", "a") as restarts:
                restarts.write(note)
            print(note, end="")
            machine.run("systemctl restart kiosk-browser", check=True)
            restarted = True
        return False
    wait_until(back, SCREEN_SECONDS + BLANK_SECONDS, f"the attract page on the guest's display ({shot})", every=5)


def word_box(shot: Path, word: str) -> tuple[int, int]:
    """The centre of ``word`` on the screenshot (tesseract's word boxes)."""
    rows = subprocess.run(["tesseract", str(shot), "-", "tsv"], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    for row in rows[1:]:
        cells = row.split("\t")
        if len(cells) == 12 and cells[11].strip() == word:
            left, top, width, height = map(int, cells[6:10])
            return left + width // 2, top + height // 2
    raise AssertionError(f"no {word!r} on {shot}")


def png_size(shot: Path) -> tuple[int, int]:
    header = shot.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def test_a_tap_on_the_screen_reaches_the_kiosk(kiosk_box):
    """A tap on the attract page's Help button (found by OCR), through the virtual tablet: the guest's kernel,
    libinput, cage, Chromium, the web app; the help screen then shows."""
    machine = kiosk_box.machine
    shot = ARTIFACTS / "kiosk-before-tap.png"
    attract_on_screen(machine, shot)
    machine.tap(*word_box(shot, "Help"), png_size(shot))
    after = ARTIFACTS / "kiosk-after-tap.png"
    wait_until(lambda: words_shown(machine, after, HELP_WORDS), 60, f"the help screen after the tap ({after})",
               every=3)


def test_a_card_tapped_on_the_reader_reaches_the_screen(kiosk_box, central):
    """A card tap made inside the guest (the reader service's simulator, configured for this test as a site
    configures a reader) goes through the reader service, the web app's event stream and Chromium: the PIN screen
    shows for the patron whose card it is. The simulator is taken out again afterwards (never on a real box)."""
    machine = kiosk_box.machine
    settings = "/etc/kiosk/kiosk.toml"
    machine.run(f"cp -p {settings} /run/kiosk.toml.kept && sed -i 's|^devices = \\[\\]$|devices = [{{type = "
                f"\"simulator\", name = \"Simulated reader\"}}]|' {settings} && grep -q simulator {settings} && "
                "systemctl restart kiosk-reader", check=True)
    try:
        attract_on_screen(machine, ARTIFACTS / "kiosk-before-card.png")
        machine.run(f"{KIOSK} reader tap {central.card_serial(PATRON)}", check=True)
        shot = ARTIFACTS / "kiosk-after-card.png"
        wait_until(lambda: words_shown(machine, shot, PIN_WORDS), 90, f"the PIN screen after the tap ({shot})",
                   every=3)
    finally:
        machine.run(f"mv /run/kiosk.toml.kept {settings} && systemctl restart kiosk-reader", check=True)


def test_the_kiosk_page_answers_on_the_guests_loopback(kiosk_box):
    page = kiosk_box.machine.run(
        "python3 -c \"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/', timeout=10)"
        ".read().decode())\"", check=True).out
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title and "self-service" in title.group(1), page[:2000]


def test_kiosk_doctor_fails_nothing_but_the_clock_sync_the_vm_cannot_have(kiosk_box):
    """Green but for NTP: the guest's network has no route out (restrict=on), so no time server; a Pi has one."""
    doctor = kiosk_box.machine.run(f"{KIOSK} doctor")
    failed = re.findall(r"^FAIL (.*?):", doctor.out, re.M)
    assert failed == ["clock sync"], doctor.both
    assert re.search(r"^PASS kiosk-browser.service: active$", doctor.out, re.M), doctor.out
    assert re.search(r"^PASS enrolled:", doctor.out, re.M), doctor.out


def test_a_killed_web_app_is_started_again_within_its_restart_delay(kiosk_box):
    machine = kiosk_box.machine
    restart_sec = float(unit_property(machine, "kiosk-web.service", "RestartUSec").rstrip("s"))
    before = int(unit_property(machine, "kiosk-web.service", "NRestarts"))
    killed_at = float(machine.run(
        "kill -KILL $(systemctl show -P MainPID kiosk-web.service) && "
        "python3 -c 'import time; print(time.monotonic())'", check=True).out)
    wait_until(lambda: int(unit_property(machine, "kiosk-web.service", "NRestarts")) == before + 1, 60,
               "systemd restarting kiosk-web")
    started = int(unit_property(machine, "kiosk-web.service", "ExecMainStartTimestampMonotonic")) / 1e6
    assert started - killed_at <= restart_sec + 2, (killed_at, started, restart_sec)
    wait_until(lambda: machine.run("systemctl is-active kiosk-web.service").out.strip() == "active", 120,
               "kiosk-web active again")


def test_a_reboot_comes_back_the_same(kiosk_box):
    machine = kiosk_box.machine
    before = {unit: machine.run(f"systemctl is-active {unit}").out.strip() for unit in UNITS}
    machine.reboot()
    assert machine.wait_running() == "running"
    after = {unit: machine.run(f"systemctl is-active {unit}").out.strip() for unit in UNITS}
    assert after == before == dict.fromkeys(UNITS, "active"), "\n".join(
        machine.run(f"journalctl -b -u {unit} --no-pager | tail -15").out for unit in UNITS if after[unit] != "active")


def test_after_the_reboot_the_screen_shows_the_attract_page_again(kiosk_box):
    attract_on_screen(kiosk_box.machine, ARTIFACTS / "kiosk-attract-after-reboot.png")


# -- faults ------------------------------------------------------------------------------------------------------
def test_a_hung_web_app_is_restarted_by_the_watchdog(kiosk_box):
    """Every process of kiosk-web stopped (SIGSTOP: the app hangs, its arbiter too, so gunicorn cannot heal it):
    no watchdog ping comes (library_kiosk/web/serving.py pings only while /health answers), and systemd aborts
    and restarts the unit once ``WatchdogSec`` has passed."""
    machine = kiosk_box.machine
    watchdog = float(unit_property(machine, "kiosk-web.service", "WatchdogUSec").rstrip("s"))
    abort = float(unit_property(machine, "kiosk-web.service", "TimeoutAbortUSec").rstrip("s"))
    restart_sec = float(unit_property(machine, "kiosk-web.service", "RestartUSec").rstrip("s"))
    before = int(unit_property(machine, "kiosk-web.service", "NRestarts"))
    hung_at = float(machine.run("systemctl kill -s SIGSTOP kiosk-web.service && "
                                "python3 -c 'import time; print(time.monotonic())'", check=True).out)
    wait_until(lambda: int(unit_property(machine, "kiosk-web.service", "NRestarts")) == before + 1,
               watchdog + abort + restart_sec + 60, "systemd restarting the hung kiosk-web", every=2)
    started = int(unit_property(machine, "kiosk-web.service", "ExecMainStartTimestampMonotonic")) / 1e6
    journal = machine.run("journalctl -b -u kiosk-web --no-pager | tail -40").out
    assert "watchdog timeout" in journal.lower(), journal
    assert started - hung_at <= watchdog + abort + restart_sec + 5, (hung_at, started, watchdog, abort)
    wait_until(lambda: machine.run("systemctl is-active kiosk-web.service").out.strip() == "active", 120,
               "kiosk-web active again")


def scan_card(machine: Machine, shot: Path, wanted: tuple[str, ...], seconds: float = 90) -> None:
    """From the attract page, the patron's card scanned (a USB scanner types it, then Enter: the virtual
    keyboard); then ``wanted`` on the display."""
    attract_on_screen(machine, shot)
    machine.type(CARD)
    wait_until(lambda: words_shown(machine, shot, wanted), seconds, f"{' '.join(wanted)} after the scan ({shot})",
               every=3)


def test_a_full_var_shows_the_out_of_order_screen_then_recovers_when_space_is_freed(kiosk_box):
    """/var filled (as a runaway log would fill it): a scanned card gets the kiosk's "out of order" screen, not a
    browser error; once the space is freed, the same scan reaches the PIN screen, without a restart."""
    machine = kiosk_box.machine
    restarts = unit_property(machine, "kiosk-web.service", "NRestarts")
    free = int(machine.run("df --output=avail -B1 /var/lib/kiosk | tail -1", check=True).out)
    machine.run(f"fallocate -l {free} /var/fill", check=True)
    try:
        left = int(machine.run("df --output=avail -B1 /var/lib/kiosk | tail -1", check=True).out)
        assert left < 1024 * 1024, f"/var still has {left} bytes for the kiosk"
        scan_card(machine, ARTIFACTS / "kiosk-var-full.png", OUT_OF_ORDER_WORDS)
    finally:
        machine.run("rm -f /var/fill", check=True)
    # the screens say out of order for kiosk/services.py STORAGE_RETRY_SECONDS after the fault, then try again
    wait_until(lambda: scan_then_read(machine, ARTIFACTS / "kiosk-var-freed.png", PIN_WORDS), 180,
               "the PIN screen once /var has room again", every=1)
    assert unit_property(machine, "kiosk-web.service", "NRestarts") == restarts


def scan_then_read(machine: Machine, shot: Path, wanted: tuple[str, ...]) -> bool:
    """One scan from the attract page; whether ``wanted`` then shows (else whatever it showed stays, for Done)."""
    attract_on_screen(machine, shot)
    machine.type(CARD)
    try:
        wait_until(lambda: any(words_shown(machine, shot, words) for words in (wanted, *OTHER_ANSWERS)), 60,
                   "an answer to the scan", every=3)
    except AssertionError:
        return False
    return words_shown(machine, shot, wanted)


def offline_status(machine: Machine) -> dict | None:
    status = sync_status(machine)
    return status if not status["online"] else None


def test_with_the_central_store_away_at_boot_the_kiosk_comes_up_offline_and_says_it_cannot_read_cards_yet(
        kiosk_box, central):
    """The central store down when the box boots: every unit still comes up and the kiosk knows within its first
    minute that it is offline. It cannot find a card yet: the keys it finds cards with live only in memory (never
    on the SD card: docs/security.md), and it has not reached the central store since it started. A scan says so
    plainly ("still starting", ask at the desk), not an error."""
    machine = kiosk_box.machine
    assert sync_status(machine)["patrons"] == central.patron_count() >= PATRONS   # every patron synced
    central.stop()
    try:
        machine.reboot()
        machine.wait_running()
        running_at = float(machine.run("python3 -c 'import time; print(time.monotonic())'").out)
        states = {unit: machine.run(f"systemctl is-active {unit}").out.strip() for unit in UNITS}
        assert states == dict.fromkeys(UNITS, "active"), machine.failed_report()
        offline = wait_until(lambda: offline_status(machine), 60, "kiosk sync status saying the central store is away",
                             every=2)
        known_at = float(machine.run("python3 -c 'import time; print(time.monotonic())'").out)
        assert known_at - running_at <= 60 and offline["last_error"], offline
        scan_card(machine, ARTIFACTS / "kiosk-offline-at-boot.png", STARTING_WORDS)
    finally:
        central.start()


def test_once_it_has_reached_the_central_store_the_kiosk_finds_its_patrons_offline(kiosk_box, central):
    """The central store back: the same scan reaches the PIN screen without a restart (the kiosk asks for its keys
    again every 10 s). Then the central store goes away again: the patron is found in the kiosk's own cache."""
    machine = kiosk_box.machine
    wait_until(lambda: scan_then_read(machine, ARTIFACTS / "kiosk-online-again.png", PIN_WORDS), 300,
               "the PIN screen once the central store is back", every=1)
    central.stop()
    try:
        wait_until(lambda: offline_status(machine), 120, "kiosk sync status saying the central store is away",
                   every=2)
        scan_card(machine, ARTIFACTS / "kiosk-offline-pin.png", PIN_WORDS)
    finally:
        central.start()
