"""The domain core: patron records, membership rules, blocks and renewal decisions.

Plain Python only. Nothing here imports Flask, peewee or a reader library, so the
same rules run in the central store, in a kiosk working offline, and in tests.
"""
