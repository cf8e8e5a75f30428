"""Configuration: one TOML file plus environment variables, with safe defaults.

Every setting has a default in ``DEFAULTS``. A TOML file (path in ``KIOSK_CONFIG``,
or passed explicitly) overrides them table by table, and environment variables
override both: ``KIOSK_<TABLE>_<KEY>`` (for example ``KIOSK_CENTRAL_DATABASE_URL``).
The documented example is ``config/kiosk.example.toml``.
"""
from __future__ import annotations

import copy
import json
import os
import tomllib
from pathlib import Path

DEFAULTS: dict = {
    "data_dir": "var",
    "central": {
        "database_url": "sqlite:///{data_dir}/central.db",
        "host": "127.0.0.1",
        "port": 8082,
    },
    "kiosk": {
        "host": "127.0.0.1",
        "port": 8080,
        "central_url": "http://127.0.0.1:8082",
        "cache_url": "sqlite:///{data_dir}/kiosk-cache.db",
        "central_timeout_seconds": 3.0,
        "device_name": "kiosk-1",
        "identifier_key": "",
        "secret_key": "",
        "library_name": "Main Library",
        "expiry_warning_days": 14,
    },
    "provisioning": {
        "host": "127.0.0.1",
        "port": 8081,
        "secret_key": "",
    },
    "readers": {
        "service_url": "http://127.0.0.1:8083",
        "debounce_seconds": 2.0,
        "uid_format": "hex",
        "uid_width": 0,
        "devices": [{"type": "simulator", "name": "Simulated reader"}],
    },
}


def _merge(base: dict, override: dict) -> dict:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _coerce(text: str, like):
    """Read an environment string as the type of the default it replaces."""
    if isinstance(like, bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        return int(text)
    if isinstance(like, float):
        return float(text)
    if isinstance(like, (list, dict)):
        return json.loads(text)
    return text


def _apply_environment(config: dict, environ) -> None:
    for key, value in list(config.items()):
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                name = f"KIOSK_{key}_{inner}".upper()
                if name in environ:
                    value[inner] = _coerce(environ[name], inner_value)
        else:
            name = f"KIOSK_{key}".upper()
            if name in environ:
                config[key] = _coerce(environ[name], value)


def _expand(config: dict, data_dir: str) -> None:
    for key, value in config.items():
        if isinstance(value, dict):
            _expand(value, data_dir)
        elif isinstance(value, str) and "{data_dir}" in value:
            config[key] = value.replace("{data_dir}", data_dir)


def load(path: str | os.PathLike | None = None, environ=None, overrides: dict | None = None) -> dict:
    """Return the configuration as nested dictionaries.

    Order of precedence, lowest first: defaults, the TOML file, ``overrides``
    (used by tests), environment variables.
    """
    environ = os.environ if environ is None else environ
    config = copy.deepcopy(DEFAULTS)
    path = path or environ.get("KIOSK_CONFIG")
    if path:
        with open(path, "rb") as handle:
            _merge(config, tomllib.load(handle))
    if overrides:
        _merge(config, copy.deepcopy(overrides))
    _apply_environment(config, environ)
    data_dir = str(Path(config["data_dir"]))
    _expand(config, data_dir)
    return config
