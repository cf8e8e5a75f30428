"""What each kiosk screen shows, computed from an account and the day.

Plain functions the routes call, so templates stay simple and the rules stay in
the domain core. Messages shown to patrons are translated here (Flask-Babel);
the domain's reason codes pick the message.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import gettext as _

from library_kiosk.domain.account import Account, Loan
from library_kiosk.domain.blocks import BlockReason, active_blocks
from library_kiosk.domain.membership import days_until_expiry, last_valid_day
from library_kiosk.domain.renewal import decide, no_extension_detail, renewals_left


@dataclass(frozen=True)
class LoanRow:
    loan: Loan
    overdue: bool
    renewals_left: int
    renewable_now: bool = True
    why_not: str = ""  # the domain's reason code when it cannot be renewed now (renewal_message words it)


@dataclass(frozen=True)
class AccountScreen:
    account: Account
    blocks: list[BlockReason]
    loans: list[LoanRow]
    expiry_days: int | None
    expiry_warning: bool
    referral: str = ""

    @property
    def last_valid_day(self) -> dt.date | None:
        return last_valid_day(self.account.expiry_date)

    @property
    def ready_requests(self):
        return [r for r in self.account.requests if r.ready_for_pickup]

    @property
    def other_requests(self):
        return [r for r in self.account.requests if not r.ready_for_pickup]

    @property
    def expired(self) -> bool:
        return any(b.code in ("expired", "inactive") for b in self.blocks)


def block_message(block: BlockReason, account: Account, today: dt.date) -> str:
    """The block's reason in the patron's language."""
    from kiosk.filters import long_date, money

    if block.code == "inactive":
        return _("Your library account is not active.")
    if block.code == "expired":
        return _("Your membership expired on %(date)s.", date=long_date(account.expiry_date))
    if block.code == "fines":
        return _("You owe %(owed)s, more than the limit of %(limit)s.", owed=money(account.total_owed()),
                 limit=money(account.policy.fine_limit))
    if block.code == "overdue":
        return _("You have %(count)s overdue items; please return some first.",
                 count=len(account.overdue_loans(today)))
    return block.message  # a manual block: the description staff wrote


RENEWAL_REASONS = {
    "lost": lambda: _("This item is recorded as lost. Please ask at the desk."),
    "claimed_returned": lambda: _("This item is recorded as claimed returned. Please ask at the desk."),
    "returned": lambda: _("This item has already been returned."),
    "expired": lambda: _("Your membership has expired, so loans cannot be renewed."),
    "blocked": lambda: _("Your account is blocked, so loans cannot be renewed."),
    "limit": lambda: _("This item has been renewed the maximum number of times."),
    "item_no_renewals": lambda: _("This item is lent without renewals. Please ask at the desk if you need it "
                                  "longer."),
    "requested": lambda: _("Another patron has requested this item, so it cannot be renewed."),
    "no_extension": lambda: _("This item was renewed as far as it can be for now. Please try again nearer the due "
                              "date."),
    "membership_ends": lambda: _("Your membership ends too soon for this item to be renewed."),
    "unknown_loan": lambda: _("This loan was not found on your account."),
    "not_renewable": lambda: _("This item cannot be renewed. Please ask at the desk."),
    "renewals_denied": lambda: _("Renewals are not allowed on your account. Please ask at the desk."),
    "upstream_unavailable": lambda: _("The library system cannot be reached just now. Please try again later."),
    "unconfirmed": lambda: _("Your renewal was sent, but the library system did not confirm it. It will be "
                             "checked, and staff will see the outcome."),
    # the central store knew of no visit of this patron here (docs/sync.md): nothing was renewed
    "no_visit": lambda: _("This item cannot be renewed here. Please ask at the desk."),
}


def renewal_message(reason: str, fallback: str = "", account: Account | None = None, loan_id: int = 0) -> str:
    """The reason in the patron's language; a "no_extension" worded for the loan when the account is given
    (``renewal.no_extension_detail``: the membership ends, or it was renewed as far as it can be for now)."""
    loan = next((x for x in account.loans if x.loan_id == loan_id), None) if account else None
    if reason == "no_extension" and account is not None and loan is not None:
        reason = no_extension_detail(account, loan)
    found = RENEWAL_REASONS.get(reason)
    return found() if found else (fallback or _("This item cannot be renewed here. Please ask at the desk."))


def referral(account: Account, referrals: dict) -> str:
    """What an expired, inactive or blocked patron should do, from ``[kiosk.referrals]``.

    The first key found wins: ``group:<user group code>``, the user group code, the
    source system (STUDENT, HR, VISITORS), the account type (INTERNAL, EXTERNAL), ``default``.
    """
    for key in (f"group:{account.policy.code}", account.policy.code, account.source_system, account.account_type,
                "default"):
        if key and referrals.get(key):
            return _(referrals[key])  # the shipped texts are in the catalogue; a library's own stay as written
    return _("Please ask at the library desk.")


def _loan_row(account: Account, loan: Loan, today: dt.date, unblocked: bool) -> LoanRow:
    """A loan as the account shows it; renewable now exactly when the renewal rules would grant it today (no
    Renew button that can only be refused: no renewals left, or already due on the membership's last day)."""
    decision = decide(account, loan, today)
    return LoanRow(loan, loan.is_overdue(today), renewals_left(account, loan), unblocked and decision.renewed,
                   "" if decision.renewed else decision.detail or decision.reason)


def account_screen(account: Account, today: dt.date, warning_days: int, referrals: dict | None = None
                   ) -> AccountScreen:
    days = days_until_expiry(account.expiry_date, today)
    blocks = active_blocks(account, today)
    blocks = [BlockReason(b.code, block_message(b, account, today)) for b in blocks]
    renewable = not blocks
    return AccountScreen(
        account=account,
        blocks=blocks,
        loans=[_loan_row(account, loan, today, renewable) for loan in account.loans],
        expiry_days=days,
        expiry_warning=days is not None and 0 < days <= warning_days,
        referral=(referral(account, referrals or {}) if any(b.code in ("expired", "inactive") for b in blocks)
                  else _("Please ask at the library desk.") if blocks else ""),
    )


# --- The kiosk's look: the library's logo and colour, the attract screen's picture, a tap's sound (issue 15) ------

IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".webp": "image/webp"}
IMAGE_MAX_BYTES = 1024 * 1024
_LIGHTEST_GROUND = "#dfe9f6"  # kiosk.css --current: a chosen language's button, the accent colour's text on it


class LookSettingsError(ValueError):
    """``[kiosk] logo``, ``attract_image``, ``accent_colour``, ``tap_volume`` or ``currency`` cannot be used; the
    kiosk refuses to start and says which and why."""


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of "#rrggbb"."""
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two "#rrggbb" colours (1 to 21)."""
    a, b = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _image(kiosk_config: dict, key: str) -> str:
    path = str(kiosk_config.get(key) or "")
    if not path:
        return ""
    import os

    if os.path.splitext(path)[1].lower() not in IMAGE_TYPES:
        raise LookSettingsError(f"[kiosk] {key} = {path!r}: use a {', '.join(IMAGE_TYPES)} file.")
    if not os.path.isfile(path):
        raise LookSettingsError(f"[kiosk] {key} = {path!r}: no such file.")
    if os.path.getsize(path) > IMAGE_MAX_BYTES:
        raise LookSettingsError(f"[kiosk] {key} = {path!r}: larger than 1 MiB.")
    return path


def look(kiosk_config: dict) -> dict:
    """The checked look settings (called when the kiosk app is built): the accent colour as "#rrggbb", the logo's
    and the attract picture's files ("" for none / the shipped one), the tap sound's volume."""
    import re

    from babel.numbers import is_currency

    colour = str(kiosk_config.get("accent_colour") or "#0b4f9c").strip().lower()
    short = re.fullmatch(r"#([0-9a-f])([0-9a-f])([0-9a-f])", colour)
    if short:
        colour = "#" + "".join(c * 2 for c in short.groups())
    if not re.fullmatch(r"#[0-9a-f]{6}", colour):
        raise LookSettingsError(f"[kiosk] accent_colour = {kiosk_config.get('accent_colour')!r}: write a CSS hex "
                                f"colour, \"#rrggbb\" (or \"#rgb\").")
    worst = min(contrast(colour, "#ffffff"), contrast(colour, _LIGHTEST_GROUND))
    if worst < 4.5:
        raise LookSettingsError(f"[kiosk] accent_colour = {colour!r}: white text on it (and it on light grounds) "
                                f"would have a contrast of {worst:.1f}:1, under the 4.5:1 patrons need; use a "
                                f"darker colour.")
    volume = kiosk_config.get("tap_volume", 0.5)
    if isinstance(volume, bool) or not isinstance(volume, (int, float)) or not 0 <= volume <= 1:
        raise LookSettingsError(f"[kiosk] tap_volume = {volume!r}: a number from 0 to 1.")
    currency = str(kiosk_config.get("currency") or "GBP")
    if not is_currency(currency):
        raise LookSettingsError(f"[kiosk] currency = {currency!r}: not an ISO 4217 currency code (e.g. \"GBP\", "
                                f"\"EUR\").")
    return {"accent_colour": colour, "logo": _image(kiosk_config, "logo"),
            "attract_image": _image(kiosk_config, "attract_image"),
            "tap_sound": bool(kiosk_config.get("tap_sound")), "tap_volume": float(volume)}


def init_look(app) -> None:
    """Check the look settings, give the templates ``look``, and serve the library's own pictures: each from the
    one file its setting names (no path comes from a request), with its image type, never sniffed, and an SVG
    kept from running scripts or loading anything even when opened on its own."""
    from flask import Blueprint, abort, send_file, url_for

    found = look(app.config["KIOSK"]["kiosk"])
    bp = Blueprint("look", __name__)

    def image_url(key: str) -> str:
        return url_for("look.image", key=key) if found[key] else ""

    @bp.get("/look/<any(logo, attract_image):key>")
    def image(key: str):
        import os

        if not found[key]:
            abort(404)
        response = send_file(found[key], mimetype=IMAGE_TYPES[os.path.splitext(found[key])[1].lower()],
                             max_age=0)
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
        return response

    app.register_blueprint(bp)
    app.add_template_global({**found, "logo_url": lambda: image_url("logo"),
                             "attract_url": lambda: image_url("attract_image")
                             or url_for("static", filename="attract.svg")}, "look")
