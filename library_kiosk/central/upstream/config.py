"""The ``[upstream]`` settings, and secrets kept out of the configuration file.

Secrets (the Alma API key, the SIP2 login password) come from the environment
(``KIOSK_UPSTREAM_ALMA_API_KEY``, ``KIOSK_UPSTREAM_SIP2_LOGIN_PASSWORD``) or from
the TOML file named by ``secrets_file``, which must be readable only by the
service user: a file that others may read is refused with a clear message.
"""
from __future__ import annotations

import os
import stat
import tomllib

SECRET_KEYS = ("alma_api_key", "sip2_login_password", "sip2_terminal_password")


class UpstreamConfigError(ValueError):
    pass


def read_secrets_file(path: str) -> dict:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UpstreamConfigError(f"cannot read the upstream secrets file {path}: {exc.strerror}") from None
    if info.st_mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP):
        raise UpstreamConfigError(
            f"refusing the upstream secrets file {path}: other users can read or change it "
            f"(mode {stat.filemode(info.st_mode)}); run: chmod 600 {path}")
    with open(path, "rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise UpstreamConfigError(f"the upstream secrets file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(SECRET_KEYS))
    if unknown:
        raise UpstreamConfigError(f"unknown keys in the upstream secrets file {path}: {', '.join(unknown)}")
    return data


def upstream_settings(config: dict) -> dict:
    """The ``[upstream]`` table with secrets filled in (environment first, then the secrets file)."""
    values = dict(config.get("upstream") or {})
    values.setdefault("kind", "local")
    path = values.get("secrets_file") or ""
    if path:
        for key, value in read_secrets_file(path).items():
            if not values.get(key):  # the environment (already applied to the table) wins
                values[key] = value
    return values


