"""The kiosk in real Chromium: the kiosk and the central store served over HTTP (threads),
the real reader service in a subprocess with its simulator, axe-core injected by the tests."""
from __future__ import annotations

import os

import pytest

from tests.conftest import LiveServer, reader_service_process, screenshot
from tests.kiosk.conftest import fill_cache, make_patrons

AXE = os.path.join(os.path.dirname(__file__), "axe.min.js")
SIZES = {"1280x800": (1280, 800), "800x480": (800, 480)}


@pytest.fixture(scope="session")
def reader_service(tmp_path_factory):
    """The real reader service with a simulated reader, for the whole session."""
    with reader_service_process(tmp_path_factory.mktemp("readers"), "Simulated reader") as url:
        yield url


@pytest.fixture
def kiosk_url(kiosk_app, central_db, kiosk_config, reader_service):
    kiosk_app.config["KIOSK"]["readers"]["service_url"] = reader_service
    make_patrons()
    fill_cache(kiosk_app)
    server = LiveServer(kiosk_app)
    yield server.url
    server.stop()


def axe_check(page, name: str) -> None:
    """No serious or critical WCAG 2.x A/AA violation on the current screen (axe-core)."""
    page.add_script_tag(path=AXE)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe on {name}: {bad}"


def shots(page, name: str) -> None:
    """Screenshots of the current screen at the kiosk's two sizes."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(50)
        screenshot(page, "kiosk", f"{name}-{size}")
    page.set_viewport_size({"width": 1280, "height": 800})


def scan_and_pin(page, url: str, barcode: str, pin: str = "2468") -> None:
    """Open the kiosk at ``url``, scan ``barcode`` (a USB scanner types it) and type ``pin`` on the keypad, then OK;
    returns at once, without waiting for the answer."""
    page.goto(url)
    page.get_by_test_id("identifier").wait_for()
    page.keyboard.type(barcode + "\n")
    for digit in pin:
        page.get_by_test_id(f"key-{digit}").click()
    page.get_by_test_id("pin-ok").click()
