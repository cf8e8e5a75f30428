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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# ruff: noqa: E501  (a setting's meaning is the comment on its line, whole: appliance/example_config.py copies
# each into deploy/kiosk.example.toml, so a long one cannot wrap)

# The configuration is the tree of tables TOML gives: ``config["kiosk"]["port"]``. Its values are of many
# kinds (the defaults below say which), so a table is ``dict[str, Any]`` and a reader converts what it takes.
DEFAULTS: dict[str, Any] = {
    "data_dir": "var",  # databases, keys and credentials; {data_dir} below stands for it
    "central": {
        "database_url": "sqlite:///{data_dir}/central.db",  # or postgresql://USER@HOST:5432/NAME for a fleet
        "host": "127.0.0.1",  # the central store API listens here
        "port": 8082,
        "allowed_networks": [],  # answer only these ranges (CIDR); empty: any address (device tokens guard it)
        "max_request_mib": 4.0,  # a larger request body is refused (413) before it is read: a push holds 500 operations
        "tls_cert": "",  # HTTPS: the server certificate (PEM, with its chain), e.g. from `kiosk tls init`; empty: plain HTTP (docs/tls.md)
        "tls_key": "",  # the private key of tls_cert (PEM, mode 0600); both or neither
        "pin_max_attempts": 5,  # wrong PINs (or passwords) in a row, at any kiosks, before the patron is locked at every kiosk
        "pin_lockout_minutes": 15,  # how long the central store's lock lasts; PINs are not checked meanwhile
        "pin_checks_per_device_per_minute": 30,  # more PIN/password checks a minute from one device token get 429
        "letters_per_patron_per_hour": 5,  # letters kiosks may send one patron within an hour; more are refused (429)
        "visit_minutes": 15,  # a patron's visit at a kiosk (opened at identification) lets the kiosk act for them until unused this long (docs/security.md)
        "offline_gap_seconds": 30,  # a kiosk silent this long was out of contact: operations it queued meanwhile need no visit (docs/sync.md)
        "sync_recent_days": 0,  # kiosks hold only patrons active within this many days (a kiosk or a loan); 0: every patron (docs/sync.md, least privilege)
        "offline_pin_check_bits": 6,  # bits of a PIN's offline check value kiosks hold (0-16; 0: PIN patrons not served offline; docs/security.md)
    },
    "kiosk": {
        "host": "127.0.0.1",  # the kiosk web app listens here (the touch screen's browser opens it)
        "port": 8080,
        "max_request_kib": 64,  # a larger request body is refused (413): the kiosk's own pages send a few fields
        "allowed_networks": ["127.0.0.0/8", "::1/128"],  # only the box's own screen; [] answers any address
        "central_url": "http://127.0.0.1:8082",  # where this kiosk finds the central store: https://, or http:// on this machine only
        "central_ca": "",  # the CA (PEM) the central store's certificate must chain to, e.g. the fleet CA's ca.pem; empty: the system's (docs/tls.md)
        "cache_url": "sqlite:///{data_dir}/kiosk-cache.db",  # the local cache and outbox (SQLite only)
        "central_timeout_seconds": 3.0,  # how long to wait for the central store before working offline
        "read_through_seconds": 2.5,  # at a tap, how long to wait for the library system's fresh account (docs/upstream.md)
        "device_name": "kiosk-1",  # this kiosk's name at the central store (enrolment, fleet view)
        "keys_file": "",  # where the keys from the central store are kept; empty: $RUNTIME_DIRECTORY (tmpfs), else {data_dir}/run
        "secret_key": "",  # Flask's key (sessions and tap tokens are kept on the kiosk, never signed into the page); empty: made once under {data_dir}/session/
        "library_name": "Main Library",  # shown at the top of every screen
        # The kiosk's look (issue 15): the library's logo and colour, the attract screen's picture, a tap's sound.
        "logo": "",  # the library's logo beside its name (a .svg, .png, .jpg or .webp file, at most 1 MiB); empty: none
        "accent_colour": "#0b4f9c",  # buttons, tabs and the top bar: a CSS hex colour ("#rrggbb") with white text on it (contrast 4.5:1 at least, checked at start)
        "attract_image": "",  # the attract screen's picture of where to tap or scan (.svg, .png, .jpg or .webp); empty: the one shipped (kiosk/static/attract.svg)
        "tap_sound": False,  # true: a short click when the screen is touched or a card is read
        "tap_volume": 0.5,  # the click's volume, 0 to 1
        "currency": "GBP",  # the fines and fees' currency (ISO 4217 code), written as the screen's language writes it ("£7.00", "7,00 £")
        "expiry_warning_days": 14,  # warn a patron whose membership ends within this many days
        # Serving (docs/operations.md, "Serving"): reader event streams are bounded so pages always have threads.
        "page_threads": 8,  # threads for page requests, beyond those the event streams may hold
        "event_streams": 4,  # open reader event streams at most; one more is refused with a retry hint
        "event_streams_per_client": 2,  # per browser address; a new one ends that address's oldest
        "event_keepalive_seconds": 5.0,  # a stream writes at least this often, so one whose browser left ends
        "request_timeout_seconds": 15,  # a page request unanswered this long shows "Try again" (after 2 s: "Still working")
        # Offline-tolerant sync (issue 5); see docs/sync.md.
        "credential_file": "{data_dir}/device.json",  # the device token from `kiosk enrol CODE` (mode 0600)
        "offline_renewals": "refuse",  # central store down: "refuse", or "local" (decided here, marked pending)
        "offline_checkout": "refuse",  # central store down: "refuse" borrowing, or "allow" it (cached blocks and expiry checked, queued, decided again on replay; docs/circulation.md)
        "offline_checkout_limit": 3,  # with offline_checkout = "allow": items lent one patron offline, not yet confirmed by the central store, at most
        "library_code": "",  # this kiosk's library (the items' library codes): an item of another library given back here goes to transit; empty: every item is this library's
        "trusted_time_hours": 24.0,  # with no time learnt from the central store for this long, offline decisions by date (renewals) are refused (docs/sync.md "Trusted time")
        "sync_interval_seconds": 5.0,  # between cycles of `kiosk sync run`
        "offline_after_seconds": 20.0,  # no answer from the central store for this long: the kiosk is offline
        # Patron kiosk screens (issue 3); see docs/kiosk.md for each key.
        "pin_max_attempts": 5,  # wrong PINs in a row before the card is locked at this kiosk
        "pin_lockout_minutes": 15,  # how long a locked card stays locked at this kiosk
        "idle_timeout_seconds": 60,  # a session with no touch ends after this long
        "idle_warning_seconds": 20,  # the "are you still there?" countdown shown before the end
        "goodbye_seconds": 6,  # "Thank you. Your session has ended." goes after this long (not left for the next patron)
        "show_loans_on_open": True,  # false: loans stay hidden until the patron asks (shared screens)
        "receipts": "ask",  # how receipts go (renewals, account screen): "ask" (email and/or print) | "email" | "print" | "none"
        # receipt_when: "ask" (the renewals screen offers the receipt) | "always" (it goes at once, by `receipts`;
        # email first when that is "ask") | "on_timeout" (emailed when a session that renewed ends, by Done or the
        # idle timeout, and no receipt was taken; with receipts = "print" the kiosk refuses to start) | "never".
        "receipt_when": "ask",  # loans receipt after renewals: "ask" | "always" (at once) | "on_timeout" (emailed at session end; not with receipts = "print") | "never"
        "languages": ["en", "fr"],  # offered on screen; the first is the default
        "high_contrast_default": False,  # true: each session starts in high contrast (the patron can switch it off)
        "password_sign_in": True,  # "No card? Sign in": user name and password on an on-screen keyboard
        "signin_max_failures": 5,  # failed sign-ins at this kiosk (any user name) within ...
        "signin_window_seconds": 60,  # ... this many seconds pause sign-in here for ...
        "signin_pause_seconds": 30,  # ... this many seconds
        "wrong_pins_per_minute": 10,  # wrong PINs at this kiosk (any cards) within a minute that pause PIN entry here for ...
        "wrong_pins_pause_seconds": 60,  # ... this many seconds
        "templates_dir": "",  # a folder of template overrides, e.g. _help_text.html (library-editable)
        "referrals": {  # what to do when expired/inactive/blocked; first match: user group, source, type
            "default": "Please ask at the library desk.",
            "INTERNAL": "Please ask at the library desk to renew your membership.",
            "STUDENT": "Please contact your department or askUCL.",
            "HR": "Please contact your department or Human Resources (HR).",
            "VISITORS": "Please contact the department that registered you.",
        },
        "help": {  # the help screen's library-editable text
            "desk": "The library desk is on the ground floor, next to the entrance.",
            "hours": "Monday to Friday 9:00-21:00, Saturday and Sunday 11:00-18:00.",
            "text": "",
        },
        "printer": {  # the receipt printer (python-escpos)
            "kind": "none",  # "none" | "usb" | "network" | "file"
            "usb_vendor_id": 0,
            "usb_product_id": 0,
            "host": "",
            "port": 9100,
            "path": "",  # the device or file for kind = "file", e.g. /dev/usb/lp0
            "profile": "default",
            "width": 42,  # characters per line
        },
    },
    "provisioning": {
        "host": "127.0.0.1",  # the staff station listens here
        "port": 8081,
        "allowed_networks": ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                             "fc00::/7"],  # answer only these ranges (the private ones); [] answers any address
        "secret_key": "",  # signs staff sessions and CSRF tokens; empty: made once under {data_dir}
        "session_timeout_minutes": 15,  # a staff session with no activity ends after this long
        "max_request_mib": 64.0,  # a larger upload (a feed file) is refused (413) before it is read
        "session_max_hours": 10.0,  # a staff session ends after this long however active (log in again)
        "login_max_failures": 5,  # wrong passwords in a row that lock a user name for login_lock_minutes
        "login_max_failures_per_address": 20,  # wrong passwords from one computer that make it wait as long
        "login_lock_minutes": 15.0,
        "card_replacement_fee": "5.00",
        "lost_item_fee": "45.00",
        "rs_libraries": [],  # the registration form's "Resource sharing library" choices (User.rs_library)
        "fleet_quiet_minutes": 10,  # the fleet page marks a kiosk "quiet" when its last heartbeat is older
        "page_threads": 8,  # threads for page requests, beyond those the event streams may hold
        "event_streams": 16,  # open desk-reader event streams at most; one more is refused with a retry hint
        "event_streams_per_client": 4,  # per staff browser address; a new one ends that address's oldest
        "event_keepalive_seconds": 5.0,  # a stream writes at least this often, so one whose browser left ends
        "request_timeout_seconds": 30,  # a page request unanswered this long shows "Try again" (after 2 s: "Still working")
        "tls_cert": "",  # HTTPS: the station's certificate (PEM, with its chain); empty: plain HTTP (docs/tls.md)
        "tls_key": "",  # the private key of tls_cert (PEM, mode 0600); both or neither
        "secure_cookies": False,  # mark the session cookie Secure even without tls_cert (a TLS proxy in front); with tls_cert it always is
    },
    "mail": {  # the SMTP server letters (requests reports, receipts, refused renewals) go through
        "host": "localhost",
        "port": 25,
        "from_address": "library@localhost",  # the letters' From address
        "starttls": False,  # upgrade the connection with STARTTLS
        "username": "",  # SMTP login, if the server asks for one
        "password": "",  # better from the environment: KIOSK_MAIL_PASSWORD
        "timeout_seconds": 10.0,
        "demo_sink_dir": "",  # set by `kiosk demo` only: the demo mail sink's folder of .eml files, listed on the station's Demo mail page; empty: no such page
    },
    "letters": {
        "templates_dir": "",  # a folder whose files replace the shipped letter templates (store/letter_templates/)
        "library_name": "Main Library",  # signs the letters
        "currency": "GBP",  # the fines and fees' currency in letters and at the staff station (ISO 4217), as the kiosk's [kiosk] currency
        "locale": "en_GB",  # how letters and the staff station write money, days and times ("£7.00", "4 December 2026, 13:53", in the machine's time zone); the text is English
    },
    "readers": {
        "service_url": "http://127.0.0.1:8083",  # the reader service (its own process)
        "secret_file": "{data_dir}/reader.secret",  # the reader service's shared secret (made once, mode 0600): taps and simulated taps need it; "" turns it off
        "log_key_file": "{data_dir}/reader-log.key",  # key of the fingerprints the reader service logs instead of card numbers and barcodes (made once, mode 0600)
        "debounce_seconds": 2.0,  # the same card again within this window is one tap
        "uid_format": "hex",  # card serial numbers as the card office prints them: hex, hex_reversed, decimal, decimal_reversed
        "uid_width": 0,  # zero-pad card serial numbers to this many characters (0: no padding)
        "uid_byte_length": 0,  # card serial numbers typed in decimal: their length in bytes (0: the smallest of 4, 7, 10)
        "item_data_model": "28560-2",  # library items' RFID tags (ISO 15693): "28560-2" (the object-based model) or "28560-3" (the Danish model) (docs/rfid.md)
        "item_security": "afi",  # how an item's tag tells the exit gate it is on loan: "afi", "eas" (NXP ICODE EAS bit) or "both"; every write is read back
        "afi_on_loan": 194,  # the AFI written at checkout: 0xC2 (194) in ISO 28560-1 / NISO RP-6; 3M gates use 0xDA (218)
        "afi_in_library": 7,  # the AFI written on return, the gate alarms on it: 0x07 (7); 3M gates use 0xD7 (215)
        "devices": [],  # readers to open (see hardware/config.py); the simulator only for development (`kiosk demo` adds it)
        "barcode": {  # the library's card barcodes: the kiosk refuses other codes unread, the station will not register them
            "min_length": 1,
            "max_length": 40,
            "prefix": "",  # every card barcode starts with this, e.g. "2"
            "pattern": "",  # a regular expression the whole barcode must match, e.g. "2[0-9]{13}"
            "check_digit": "none",  # "none" | "luhn" | "codabar_mod10" (the last digit checks the others)
        },
    },
    "feed": {  # the patron feed and the administration jobs (docs/feed.md)
        "user_groups": {},  # user group codes in feed files -> our user groups, e.g. {"UGRAD": "21"}
        "missing_purge_days": 90,  # a full feed: records missing from it get purge date = today + this
        "max_deactivate_share": 0.10,  # a full feed that would deactivate more of a source's records stops
        "anonymise_after_days": 60,  # returned loans lose their patron link this many days after return
        "create_groups": False,  # true: a feed row's unknown user group is created (code, desc) instead of refused
        "default_group_policy": {  # a new group's policy: one the feed creates, or a field a groups CSV leaves out
            "pin_required": True,
            "loan_limit": 20,
            "loan_period_days": 21,
            "max_renewals": 3,
            "fine_limit": 10.0,  # owing more blocks loans at the kiosk
            "overdue_limit": 5,
            "statistics_required": False,
        },
    },
    "screen": {  # the kiosk's browser (appliance/screen.py, deploy/kiosk.example.toml)
        "url": "",  # the page Chromium shows; empty: http://<kiosk.host>:<kiosk.port>/
        "compositor": "cage",  # cage (locked-down, tty1) or labwc (desktop autostart)
        "rotation": 0,  # 0, 90, 180 or 270 degrees
        "output": "",  # the output to rotate (wlr-randr name, e.g. HDMI-A-1); empty: every output
        "touch_calibration": "",  # libinput calibration matrix, six numbers, e.g. "0 1 0 -1 0 1"
        "extra_flags": [],  # more Chromium flags
        "page_silent_seconds": 180.0,  # restart the browser when the kiosk has not heard from its page this long; 0: never
    },
    "upstream": {  # the library system in front of which the central store sits (docs/upstream.md)
        "kind": "local",  # "local" (the central store itself) | "alma" | "sip2"
        "secrets_file": "",  # TOML with alma_api_key / sip2_login_password; must not be readable by others
        "fresh_seconds": 30.0,  # an account read this recently is served from the central store
        "test_patron": "",  # identifier used by `kiosk upstream check`
        "test_pin": "",
        "alma_base_url": "https://api-eu.hosted.exlibrisgroup.com",
        "alma_api_key": "",  # better: KIOSK_UPSTREAM_ALMA_API_KEY or secrets_file
        "alma_timeout_seconds": 10.0,
        "alma_max_per_second": 20.0,  # stay under Alma's per-second limit (about 25 per institution)
        "alma_max_retries": 3,  # on 429 PER_SECOND_THRESHOLD and connection errors
        "alma_quota_reserve": 500,  # below this X-Exl-Api-Remaining, serve from cache instead
        "alma_page_size": 100,  # limit= for lists (Alma's maximum is 100)
        "alma_fee_owner": "MAIN",  # the library code that owns fees the station adds in Alma
        "alma_circ_desk": "DEFAULT_CIRC_DESK",  # the circulation desk kiosk loans and returns are made at in Alma
        "alma_library": "MAIN",  # that desk's library code (Alma asks for both on a loan and a scan-in)
        "sip2_host": "127.0.0.1",
        "sip2_port": 6001,
        "sip2_tls": False,
        "sip2_tls_verify": True,
        "sip2_ca_file": "",
        "sip2_login_user": "",  # empty: no login (93) message
        "sip2_login_password": "",  # better: KIOSK_UPSTREAM_SIP2_LOGIN_PASSWORD or secrets_file
        "sip2_location_code": "",
        "sip2_institution_id": "",
        "sip2_terminal_password": "",
        "sip2_error_detection": True,  # AY sequence numbers and AZ checksums
        "sip2_line_ending": "CR",  # "CR" | "CRLF"
        "sip2_encoding": "utf-8",  # or the ILS's code page, e.g. "cp1252", "cp850"
        "sip2_timeout_seconds": 10.0,
        "sip2_pool_size": 2,  # connections per central process
        "sip2_idle_seconds": 120.0,  # reconnect before using a connection idle this long
        "sip2_renew_all": "auto",  # "auto" (65 if the status message says so) | "yes" | "no" (one by one)
    },
}


class SettingsError(ValueError):
    """A configuration file names a setting that does not exist, or gives one the wrong kind of value."""


def _kind(default: object) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list",
            dict: "a table"}[type(default)]


def _fits(value: object, default: object) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _unknown(key: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    return f"unknown setting {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


# Tables whose keys are the library's own (user group codes, account types, help text parts): only their kind is
# checked. Every other table, at any depth, has a fixed set of keys.
OPEN_TABLES = frozenset({"kiosk.referrals", "kiosk.help", "feed.user_groups"})


def problems(data: Mapping[str, Any], defaults: Mapping[str, Any] = DEFAULTS, where: str = "") -> list[str]:
    """What is wrong with a configuration file's contents: unknown tables or keys (with the closest known
    name) and values of the wrong kind, at every depth (``[readers.barcode]``, ``[kiosk.printer]``)."""
    found = []
    label = f"[{where}] " if where else ""
    for key, value in data.items():
        name = f"{where}.{key}" if where else key
        if key not in defaults:
            found.append(label + _unknown(key, defaults))
        elif isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                found.append(f"[{name}] must be a table")
            elif name not in OPEN_TABLES:
                found.extend(problems(value, defaults[key], name))
        elif not _fits(value, defaults[key]):
            found.append(f"{label}{key} must be {_kind(defaults[key])}, not {value!r}")
    return found


def loopback(host: str) -> bool:
    """True if ``host`` (a name or an address, IPv6 in brackets or not) can only be this machine."""
    import ipaddress

    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_refusal(url: str, what: str = "[kiosk] central_url") -> str | None:
    """Why ``url`` may not be used to reach the central store (plain HTTP to another machine), or None."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "http" and not loopback(parts.hostname or ""):
        return (f"{what} {url} is plain HTTP to another machine: device tokens, PINs and patron records would "
                f"cross the network readable; use https:// (and [kiosk] central_ca, docs/tls.md)")
    return None


def transport_warnings(config: Mapping[str, Any]) -> list[str]:
    """The apps that will listen beyond this machine without TLS (``kiosk config check``, the serving log)."""
    found = []
    for table, what in (("central", "the central store"), ("provisioning", "the staff station")):
        options = config.get(table, {})
        if not options.get("tls_cert") and not loopback(str(options.get("host", ""))):
            found.append(f"[{table}] {what} listens on {options.get('host') or 'every address'} over plain HTTP: "
                         f"set [{table}] tls_cert and tls_key (kiosk tls init, docs/tls.md)")
    return found


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _coerce(text: str, like: object) -> object:
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


def _apply_environment(config: dict[str, Any], environ: Mapping[str, str]) -> None:
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


def _expand(config: dict[str, Any], data_dir: str) -> None:
    for key, value in config.items():
        if isinstance(value, dict):
            _expand(value, data_dir)
        elif isinstance(value, str) and "{data_dir}" in value:
            config[key] = value.replace("{data_dir}", data_dir)


def load(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None,
         overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the configuration as nested dictionaries.

    Order of precedence, lowest first: defaults, the TOML file, ``overrides``
    (used by tests), environment variables.
    """
    environ = os.environ if environ is None else environ
    config = copy.deepcopy(DEFAULTS)
    path = path or environ.get("KIOSK_CONFIG")
    if path:
        with open(path, "rb") as handle:
            try:
                data = tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"{path}: not valid TOML: {exc}") from None
        found = problems(data)
        if found:  # a misspelt key would otherwise be ignored without a word
            raise SettingsError(f"{path}: " + "; ".join(found))
        _merge(config, data)
    if overrides:
        _merge(config, copy.deepcopy(overrides))
    _apply_environment(config, environ)
    data_dir = str(Path(config["data_dir"]))
    _expand(config, data_dir)
    refusal = plain_http_refusal(str(config["kiosk"]["central_url"]))
    if refusal:  # the start stops here, before anything is sent in clear (docs/tls.md)
        raise SettingsError(refusal)
    return config
