"""The patron kiosk: a touch-screen Flask + HTMX app that reads through a local cache."""
from kiosk.app import create_app

__all__ = ["create_app"]
