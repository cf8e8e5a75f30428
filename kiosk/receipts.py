"""Printing receipts on the kiosk's ESC/POS printer (python-escpos).

``[kiosk.printer] kind``: ``none`` (no printer), ``usb`` (``usb_vendor_id``,
``usb_product_id``), ``network`` (``host``, ``port``) or ``file`` (``path``: a
device node such as /dev/usb/lp0, or a plain file in tests). Text goes through
escpos's "magic" encoder, which switches the printer's code page for each
character it needs (CP858 for é, ø, ß; CP852 for ł, ő; and so on), so names in
most European scripts print as written; a character no code page of the printer
profile holds prints as "?".
"""
from __future__ import annotations

import datetime as dt
import logging
import textwrap

log = logging.getLogger(__name__)


def open_printer(config: dict):
    kind = config.get("kind", "none")
    profile = config.get("profile") or "default"
    if kind == "file":
        from escpos.printer import File

        return File(config["path"], profile=profile)
    if kind == "network":
        from escpos.printer import Network

        return Network(config["host"], int(config.get("port") or 9100), timeout=10, profile=profile)
    if kind == "usb":
        from escpos.printer import Usb

        return Usb(int(config["usb_vendor_id"]), int(config["usb_product_id"]), profile=profile)
    return None


def receipt_lines(library: str, title: str, name: str, lines: list[str], today: dt.date, width: int) -> list[str]:
    """The receipt as text lines, wrapped to the printer's width."""
    out = [library, title, "", name, f"{today.day} {today:%B %Y}", "-" * width]
    for line in lines:
        out.extend(textwrap.wrap(line, width) or [""])
    out += ["-" * width, ""]
    return out


def print_receipt(config: dict, library: str, title: str, name: str, lines: list[str], today: dt.date) -> bool:
    """Print one receipt; False (and a log line) when there is no printer or it fails."""
    try:
        printer = open_printer(config)
        if printer is None:
            return False
        try:
            printer.open() if hasattr(printer, "open") and config.get("kind") == "network" else None
        except TypeError:
            pass
        width = int(config.get("width") or 42)
        text = receipt_lines(library, title, name, lines, today, width)
        printer.set(align="center", bold=True, double_height=True)
        printer.textln(text[0])
        printer.set(align="center", bold=True, normal_textsize=True)
        printer.textln(text[1])
        printer.set(align="left", bold=False, normal_textsize=True)
        for line in text[2:]:
            printer.textln(line)
        printer.cut()
        printer.close()
        return True
    except Exception as exc:  # any printer trouble: the patron is told, the kiosk goes on
        log.warning("receipt not printed: %s", exc)
        return False
