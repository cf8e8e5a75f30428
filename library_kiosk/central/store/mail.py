"""Sending email through the library's SMTP server (``[mail]`` settings).

Settings: ``host``, ``port`` (default localhost:25), ``from_address``, ``starttls``,
``username`` and ``password`` (login only when a user name is set), ``timeout_seconds``.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server; the text says why.

    ``permanent``: trying again will not help (no usable address, the recipient refused with a 5xx code);
    otherwise (server down, timeout, 4xx, a login the administrator can fix) a later attempt may succeed.
    """

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def usable_address(to: str) -> bool:
    return bool(to) and "@" in to


def build_message(settings: dict, to: str, subject: str, text: str, html: str = "",
                  message_id: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.get("from_address") or "library@localhost"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id or make_msgid(domain="library.invalid")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send(settings: dict, to: str, subject: str, text: str, html: str = "", message_id: str = "") -> None:
    """Send one message; raise ``MailError`` with a readable reason when it fails.

    ``message_id``: a stable Message-ID (a letter sent again after a crash carries the same one)."""
    if not usable_address(to):
        raise MailError(f"no usable email address ({to or 'none'})", permanent=True)
    message = build_message(settings, to, subject, text, html, message_id)
    host, port = settings.get("host") or "localhost", int(settings.get("port") or 25)
    try:
        with smtplib.SMTP(host, port, timeout=float(settings.get("timeout_seconds") or 10)) as smtp:
            if settings.get("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if settings.get("username"):
                smtp.login(settings["username"], settings.get("password") or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise MailError(f"the mail server {host}:{port} did not accept the message: {exc}",
                        permanent=all(code >= 500 for code in codes)) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the mail server {host}:{port} did not accept the message: {exc}") from exc
