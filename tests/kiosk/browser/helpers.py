"""Plain helpers for the kiosk's browser tests: axe-core on a screen, screenshots at the kiosk's two sizes,
and scanning a barcode and typing a PIN as a patron does."""
from __future__ import annotations

import os

from tests.helpers import screenshot

AXE = os.path.join(os.path.dirname(__file__), "axe.min.js")
SIZES = {"1280x800": (1280, 800), "800x480": (800, 480)}


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
    """Screenshots of the current screen at the kiosk's two sizes; the page is left at the size it had."""
    before = page.viewport_size
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function("([w, h]) => innerWidth === w && innerHeight === h", arg=[width, height])  # laid out
        screenshot(page, "kiosk", f"{name}-{size}")
    page.set_viewport_size(before)


def scan_and_pin(page, url: str, barcode: str, pin: str = "2468") -> None:
    """Open the kiosk at ``url``, scan ``barcode`` (a USB scanner types it) and type ``pin`` on the keypad, then OK;
    returns at once, without waiting for the answer."""
    page.goto(url)
    page.get_by_test_id("identifier").wait_for()
    page.keyboard.type(barcode + "\n")
    for digit in pin:
        page.get_by_test_id(f"key-{digit}").click()
    page.get_by_test_id("pin-ok").click()


def watch_reader_stream(page) -> None:
    """Count the ``readers`` messages of the kiosk page's event stream (page.html: ``sse-swap="readers"``), on
    every page this tab opens from now on: call it before ``page.goto``. See ``wait_for_reader_stream``."""
    page.add_init_script("""document.addEventListener("htmx:sseMessage", (event) => {
        if (event.detail && event.detail.type === "readers") {
            window.readerMessages = (window.readerMessages || 0) + 1;
        }
    });""")


def wait_for_reader_stream(page, timeout: float = 15_000) -> None:
    """Wait until the page's event stream has carried a ``readers`` message: the kiosk sends one once its
    subscription to the reader service answers (web/streams.py, ``ReaderHub``), so from then on a tap on a
    reader reaches this page. Needs ``watch_reader_stream`` before the page was opened."""
    page.wait_for_function("() => window.readerMessages > 0", timeout=timeout)
