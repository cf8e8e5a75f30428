"""Letters to patrons (requests report, borrowing activity, refused renewals), shared
by the provisioning station and the kiosk.

``render_letter`` fills the library's editable Jinja templates: the shipped defaults in
``store/letter_templates/`` (``<LetterType>.subject.txt``, ``.txt``, ``.html``) unless
the folder ``config["letters"]["templates_dir"]`` holds a file of the same name.
``send_letter`` renders, sends by email (``store.mail``) or marks it printed, and records
the ``Letter`` as sent or failed (with the error); it never raises for a failed send.
"""
from __future__ import annotations

import datetime as dt
import os

import jinja2
import peewee as pw

from domain import codes
from domain.account import Account
from store import mail
from store.models import ALL_MODELS, BaseModel, User, _now

SHIPPED = os.path.join(os.path.dirname(__file__), "letter_templates")
LETTER_TYPES = {
    "FulRequestsReportLetter": "Requests report",
    "FulUserBorrowingActivityLetter": "Borrowing activity",
    "RenewalRefusedLetter": "Renewal refused",
}
REQUEST_SECTIONS = (("ON_HOLD_SHELF", "Ready for pickup on the hold shelf"), ("IN_PROCESS", "In process"),
                    ("NOT_STARTED", "Not yet active"))


class Letter(BaseModel):
    user = pw.ForeignKeyField(User, backref="letters", on_delete="CASCADE")
    letter_type = pw.CharField(max_length=60)
    channel = pw.CharField(max_length=10, default="email")  # email / print
    recipient = pw.CharField(max_length=200, default="")
    subject = pw.CharField(max_length=300, default="")
    body_text = pw.TextField(default="")
    body_html = pw.TextField(default="")
    status = pw.CharField(max_length=10, default="sent")  # sent / failed
    error = pw.TextField(default="")
    created = pw.DateTimeField(default=_now, index=True)
    sent_by = pw.CharField(max_length=60, default="")


if Letter not in ALL_MODELS:
    ALL_MODELS.append(Letter)


def _environment(templates_dir: str = "") -> jinja2.Environment:
    folders = [templates_dir] if templates_dir else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders + [SHIPPED]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.globals.update(describe=codes.describe, codes=codes)
    return env


def request_sections(account: Account) -> list[dict]:
    """The requests report's three sections, each with its requests (possibly none)."""
    return [{"status": status, "title": title, "requests": [r for r in account.requests if r.status == status]}
            for status, title in REQUEST_SECTIONS]


def render_letter(letter_type: str, account: Account, templates_dir: str = "", **context) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of ``letter_type`` for ``account``."""
    if letter_type not in LETTER_TYPES:
        raise ValueError(f"unknown letter type {letter_type!r}")
    env = _environment(templates_dir)
    values = {"account": account, "today": dt.date.today(), "library_name": "the Library",
              "sections": request_sections(account), **context}
    subject = env.get_template(f"{letter_type}.subject.txt").render(values).strip()
    text = env.get_template(f"{letter_type}.txt").render(values)
    html = env.get_template(f"{letter_type}.html").render(values)
    return subject, text, html


def send_letter(user: User, letter_type: str, config: dict, operator: str, channel: str = "email",
                **context) -> Letter:
    """Render, send (or mark printed) and record one letter; look at ``status``/``error``."""
    from store.accounts import build_account

    account = build_account(user)
    letters_config = config.get("letters", {})
    context.setdefault("library_name", letters_config.get("library_name") or "the Library")
    subject, text, html = render_letter(letter_type, account, letters_config.get("templates_dir", ""), **context)
    recipient = account.preferred_email if channel == "email" else "print"
    status, error = "sent", ""
    if channel == "email":
        try:
            mail.send(config.get("mail", {}), recipient, subject, text, html)
        except mail.MailError as exc:
            status, error = "failed", f"The letter was not sent: {exc}."
    elif channel != "print":
        raise ValueError(f"unknown channel {channel!r}: email or print")
    return Letter.create(user=user, letter_type=letter_type, channel=channel, recipient=recipient, subject=subject,
                         body_text=text, body_html=html, status=status, error=error, sent_by=operator)


def letters_of(user: User) -> list[Letter]:
    return list(Letter.select().where(Letter.user == user).order_by(Letter.created.desc(), Letter.id.desc()))
