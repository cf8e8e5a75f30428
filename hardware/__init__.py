"""Card readers and barcode scanners for the kiosk (project issue #4).

Every back end turns its device into one stream of :class:`hardware.events.ReaderEvent`.
The reader service (:mod:`hardware.service`) runs the configured readers and publishes
their events over a small local HTTP server; :mod:`hardware.client` reads them.
Back ends that need optional packages (the ``readers`` extra) are imported only when used.
"""
