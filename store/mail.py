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
    """The message could not be handed to the SMTP server; the text says why."""


def build_message(settings: dict, to: str, subject: str, text: str, html: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.get("from_address") or "library@localhost"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="library.invalid")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send(settings: dict, to: str, subject: str, text: str, html: str = "") -> None:
    """Send one message; raise ``MailError`` with a readable reason when it fails."""
    if not to or "@" not in to:
        raise MailError(f"no usable email address ({to or 'none'})")
    message = build_message(settings, to, subject, text, html)
    host, port = settings.get("host") or "localhost", int(settings.get("port") or 25)
    try:
        with smtplib.SMTP(host, port, timeout=float(settings.get("timeout_seconds") or 10)) as smtp:
            if settings.get("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if settings.get("username"):
                smtp.login(settings["username"], settings.get("password") or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the mail server {host}:{port} did not accept the message: {exc}") from exc
