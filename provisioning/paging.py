"""Server-side paging and sorting for the station's long lists (the audit log, the kiosk fleet, ...), shared by
every page that has one: ``Page`` is one page of rows with what a pager needs, ``page_number`` and ``sort_order``
read the query string, and ``_pager.html`` / ``_macros.sort_header`` draw the links (keeping the rest of the query
string). The patron search pages through ``patron_search.Results``, which has the same attributes."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

PAGE_SIZE = 50


@dataclass
class Page:
    """One page of ``total`` rows, ``page`` counted from 1."""

    rows: list = field(default_factory=list)
    total: int = 0
    page: int = 1
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first(self) -> int:
        """The position of the page's first row, from 1 (0 when there is none)."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def page_number(args, name: str = "page") -> int:
    """The page asked for in the query string: a positive whole number, 1 for anything else."""
    value = (args.get(name) or "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _clamp(total: int, page: int, page_size: int) -> int:
    return min(max(1, page), max(1, math.ceil(total / page_size)))


def paginate(query, page: int, page_size: int = PAGE_SIZE) -> Page:
    """One page of a peewee query (counted, then fetched with LIMIT/OFFSET); a page past the end shows the last."""
    total = query.count()
    page = _clamp(total, page, page_size)
    return Page(list(query.paginate(page, page_size)), total, page, page_size)


def paginate_list(rows: list, page: int, page_size: int = PAGE_SIZE) -> Page:
    """One page of rows already in memory (a list built from several tables, such as the fleet's)."""
    page = _clamp(len(rows), page, page_size)
    start = (page - 1) * page_size
    return Page(rows[start:start + page_size], len(rows), page, page_size)


def sort_order(args, columns: dict, default: str) -> tuple[str, bool]:
    """The column to sort by (one of ``columns``' keys, else ``default``) and whether it is descending, from
    ``?sort=NAME&dir=desc``."""
    column = args.get("sort", "")
    return (column if column in columns else default), args.get("dir", "") == "desc"
