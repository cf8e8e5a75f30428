"""Plain helpers for the kiosk's tests of the item pad: library items' tags put on the real reader service's
simulated pad, taken off, and the pad read back (each tag's security as the service holds it now)."""
from __future__ import annotations

import json

from hardware import client as reader_client
from hardware.events import ItemTag, ReaderEvent

PROBE = "E0040100FFFFFFFF"  # a tag only ``read_pad`` puts down (and takes away at once)


def place(service_url: str, uid: str, item_id: str, **options) -> ReaderEvent:
    """Put an item's tag on the simulated pad; the ``item_tags`` event the service published (every tag now)."""
    answer = reader_client.simulate(service_url, "item", uid, item_id=item_id, **options)
    return ReaderEvent.from_json(json.dumps(answer["accepted"]))


def take_off(service_url: str, uid: str) -> ReaderEvent:
    answer = reader_client.simulate(service_url, "item_removed", uid)
    return ReaderEvent.from_json(json.dumps(answer["accepted"]))


def read_pad(service_url: str) -> dict[str, ItemTag]:
    """Each tag on the simulated pad as the reader service holds it now (uid -> ItemTag): a probe tag put down and
    taken away again, whose last event lists every tag there with its security state. (A page open at the borrow or
    return screen would take the probe as an item: read the pad from another screen.)"""
    place(service_url, PROBE, "PROBE")
    return {tag.uid: tag for tag in take_off(service_url, PROBE).items}
