"""``kiosk config show`` (export the configuration in effect, secrets hidden) and ``kiosk config check
[FILE]`` (say what is wrong with a file before it is used)."""
from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

from library_kiosk import settings

# What a setting can be in TOML: a value, an inline table or an array.
TomlValue: TypeAlias = bool | int | float | str | Mapping[str, Any] | Sequence[Any]
_V = TypeVar("_V")

SECRET = re.compile(r"(password|secret|api_key|token|identifier_key|_pin$)", re.IGNORECASE)
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(name: str) -> str:
    return name if BARE_KEY.match(name) else json.dumps(name)


def toml_value(value: TomlValue) -> str:
    """``value`` written as TOML (inline tables and arrays; keys quoted where they must be)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def _shown(key: str, value: _V) -> _V | str:
    """A secret's value as ``***``; a path to a secret (``*_file``) as it is: it names the file, not its content."""
    secret = SECRET.search(key) and not key.endswith("_file")
    return "***" if secret and isinstance(value, str) and value else value


def as_toml(config: Mapping[str, Any]) -> str:
    """The whole configuration as TOML that ``kiosk --config`` reads back; secrets shown as ``***``."""
    lines = [f"{_key(k)} = {toml_value(_shown(k, v))}" for k, v in config.items() if not isinstance(v, dict)]
    for table, values in config.items():
        if isinstance(values, dict):
            lines += ["", f"[{table}]"] + [f"{_key(k)} = {toml_value(_shown(k, v))}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def cmd_config(args: argparse.Namespace) -> int:
    if args.config_command == "show":
        print(as_toml(settings.load()), end="")
        return 0
    path = args.file or __import__("os").environ.get("KIOSK_CONFIG", "")
    if not path:
        print("no file to check: give one, or --config, or KIOSK_CONFIG", file=sys.stderr)
        return 2
    try:
        with open(path, "rb") as handle:
            found = settings.problems(tomllib.load(handle))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    warnings: list[str] = []
    if not found:  # the file is well formed: what the configuration it gives would refuse or warn about
        try:
            warnings = settings.transport_warnings(settings.load(path))
        except settings.SettingsError as exc:
            found = [str(exc).removeprefix(f"{path}: ")]
    for problem in found:
        print(f"{path}: {problem}")
    for warning in warnings:
        print(f"{path}: warning: {warning}")
    if not found:
        print(f"{path}: ok")
    return 1 if found else 0


def add_subcommands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("config", help="show the configuration in effect, or check a file")
    sub = parser.add_subparsers(dest="config_command", required=True)
    sub.add_parser("show", help="the configuration in effect (defaults, file, environment) as TOML, "
                                "secrets hidden: a file to copy to another box")
    check = sub.add_parser("check", help="unknown or misspelt settings and values of the wrong kind")
    check.add_argument("file", nargs="?", default="", help="the file (default: --config or $KIOSK_CONFIG)")
    parser.set_defaults(func=cmd_config)
