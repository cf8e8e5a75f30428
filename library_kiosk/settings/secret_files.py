"""Secrets a box makes for itself: a random value in a file, made once with mode 0600, read ever after.

The kiosk's and the station's Flask keys and the reader service's shared secret and log key are made this way
when the configuration names none; two processes starting together read the same one.
"""
from __future__ import annotations

import contextlib
import os
import secrets


def made_once(path: str) -> str:
    """The secret in ``path``, made (random, mode 0600) if the file does not exist yet."""
    if not os.path.exists(path):
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process made it first: read theirs
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip()
