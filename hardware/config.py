"""Reader settings: the ``[readers]`` table of the product's TOML configuration.

Example::

    [readers]
    service_url = "http://127.0.0.1:8083"
    debounce_seconds = 2.0
    uid_format = "hex"          # hex, hex_reversed, decimal, decimal_reversed
    uid_width = 0               # zero-pad to this many characters (0: no padding)
    uid_byte_length = 0         # UID length for decimal input (0: smallest of 4/7/10)
    secret_file = "{data_dir}/reader.secret"   # clients send it; /events and /simulate need it
    log_key_file = "{data_dir}/reader-log.key" # key of the card fingerprints in the service's log
    item_data_model = "28560-2" # library item tags: 28560-2 (object-based) or 28560-3 (Danish model)
    item_security = "afi"       # how an item's tag tells the gate it is on loan: afi, eas or both
    afi_on_loan = 0xC2          # the AFI written at checkout (hardware/iso15693_reader.py)
    afi_in_library = 0x07       # the AFI written on return
    devices = [{type = "pcsc", name = "Desk reader", match = "ACR122"},
               {type = "iso15693", name = "Item pad", match = "OMNIKEY"},
               {type = "simulator", name = "Simulated reader"},   # development only
               {type = "nfcpy", path = "usb"},
               {type = "serial", path = "/dev/ttyACM0"},
               {type = "evdev", path = "/dev/input/by-id/usb-Scanner-event-kbd"}]
    [readers.barcode]           # the library's card barcodes: read by the kiosk and the station
    min_length = 5              # (library_kiosk/domain/barcodes.py), not by the readers, which
    max_length = 14             # report whatever they scan
    prefix = ""
    pattern = ""
    check_digit = "none"        # none, luhn, codabar_mod10

The keys and their defaults are in library_kiosk/settings (the one schema); this module turns
the table into the reader service's typed settings and checks what only readers know.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hardware.uid import UidFormat, UidStyle

DEFAULT_SERVICE_URL = "http://127.0.0.1:8083"
DEFAULT_DEVICES: tuple[dict[str, Any], ...] = ()  # no reader, and never the simulator, unless configured
ITEM_DATA_MODELS = ("28560-2", "28560-3")
SECURITY_MODES = ("afi", "eas", "both")


class ConfigError(ValueError):
    """The reader configuration is wrong; the message says where."""


@dataclass(frozen=True)
class ItemSecurity:
    """How the library marks an item's tag for the exit gate (``[readers] item_security`` and the AFIs)."""

    mode: str = "afi"
    afi_on_loan: int = 0xC2
    afi_in_library: int = 0x07

    def __post_init__(self) -> None:
        if self.mode not in SECURITY_MODES:
            raise ValueError(f"item_security must be one of {', '.join(SECURITY_MODES)}, not {self.mode!r}")
        for name in ("afi_on_loan", "afi_in_library"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{name} must be a byte (0-255), not {getattr(self, name)}")
        if self.mode != "eas" and self.afi_on_loan == self.afi_in_library:
            raise ValueError("afi_on_loan and afi_in_library must differ, or the gate cannot tell them apart")

    def secured(self, afi: int | None, eas: bool | None) -> bool | None:
        """Whether the gate alarms for a tag with this AFI and EAS bit (None: not known, or they disagree)."""
        by_afi = {self.afi_in_library: True, self.afi_on_loan: False}.get(afi) if afi is not None else None
        if self.mode == "afi":
            return by_afi
        if self.mode == "eas":
            return eas
        return by_afi if by_afi == eas else None


@dataclass(frozen=True)
class ReaderSettings:
    service_url: str = DEFAULT_SERVICE_URL
    debounce_seconds: float = 2.0
    uid_format: UidStyle = "hex"
    uid_width: int = 0
    uid_byte_length: int = 0
    devices: tuple[dict[str, Any], ...] = DEFAULT_DEVICES
    secret_file: str = ""      # empty: no shared secret (a bare test service); hardware/auth.py
    log_key_file: str = ""     # empty: a new fingerprint key at each start
    item_data_model: str = "28560-2"
    item_security: str = "afi"
    afi_on_loan: int = 0xC2
    afi_in_library: int = 0x07

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None = None, data_dir: str = "var") -> ReaderSettings:
        """Build settings from the ``[readers]`` table; missing keys take the defaults; ``{data_dir}``
        in a file's path stands for ``data_dir`` (library_kiosk.settings has expanded it already)."""
        data = {key: value.replace("{data_dir}", data_dir) if isinstance(value, str) else value
                for key, value in (data or {}).items()}
        data.pop("barcode", None)  # the card barcode rules: the kiosk's and the station's (domain/barcodes.py)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown [readers] settings: {', '.join(sorted(unknown))}")
        try:
            if "devices" in data:
                data["devices"] = tuple(_device(d) for d in data["devices"])
            for name, kind in (("debounce_seconds", float), ("uid_width", int),
                               ("uid_byte_length", int), ("afi_on_loan", int), ("afi_in_library", int)):
                if name in data:
                    data[name] = kind(data[name])
            settings = cls(**data)
            settings.uid()                          # validates the UID presentation
            settings.security()                     # and the item tags' security
            if settings.item_data_model not in ITEM_DATA_MODELS:
                raise ValueError(f"item_data_model must be one of {', '.join(ITEM_DATA_MODELS)}, "
                                 f"not {settings.item_data_model!r}")
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[readers]: {exc}") from None
        if settings.debounce_seconds < 0:
            raise ConfigError("[readers] debounce_seconds must not be negative")
        _ = settings.address                        # validates the URL
        return settings

    def security(self) -> ItemSecurity:
        """How item tags are marked for the exit gate."""
        return ItemSecurity(self.item_security, self.afi_on_loan, self.afi_in_library)

    def device_specs(self) -> list[dict[str, Any]]:
        """The ``devices`` entries, item pads given the library's data model and security unless they set
        their own."""
        items = {"data_model": self.item_data_model, "security": self.security()}
        return [{**items, **spec} if spec.get("type") == "iso15693" else dict(spec) for spec in self.devices]

    def uid(self) -> UidFormat:
        """The library's card number presentation."""
        return UidFormat(self.uid_format, self.uid_width, self.uid_byte_length)

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the reader service listens on, taken from ``service_url``."""
        parts = urlsplit(self.service_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ConfigError(f"[readers] service_url must look like http://127.0.0.1:8083, "
                              f"got {self.service_url!r}")
        return parts.hostname, 80 if parts.port is None else parts.port


def _device(spec: object) -> dict[str, Any]:
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(f"each entry of [readers] devices needs a type, got {spec!r}")
    return dict(spec)
