"""Benchmarks: ``python -m bench NAME [options]``.

Each benchmark is a module ``bench/NAME.py`` with ``main(argv) -> dict``; the
runner prints progress to stderr and, as its last line on stdout, one JSON
object of figures. Figures come with a floor measured in the same run (for
example raw sqlite3 on the same data), because these machines are shared and
noisy: compare ratios, not absolute numbers.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import bench


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_")
                  and m.name not in ("common",))


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m bench NAME [options]; NAME is one of: {', '.join(available())}")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in available():
        print(f"unknown benchmark {name!r}; choose one of: {', '.join(available())}", file=sys.stderr)
        return 2
    figures = importlib.import_module(f"bench.{name}").main(rest)
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
