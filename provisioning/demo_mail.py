"""The demo's mail, for administrators: what ``kiosk demo``'s mail sink kept (``library_kiosk/demo_mail.py``), newest
first, with subject, recipient, time and text. Only while ``[mail] demo_sink_dir`` names the sink's folder (the demo
sets it); otherwise the page does not exist (404) and the menu does not show it."""
from __future__ import annotations

import email
import email.policy
import os
from email.utils import parsedate_to_datetime

from flask import Blueprint, abort, current_app

from provisioning.views import render, requires

bp = Blueprint("demo_mail", __name__)
SHOWN = 100  # the newest messages listed


def sink_folder() -> str:
    return str(current_app.config["KIOSK"]["mail"].get("demo_sink_dir") or "")


def read_message(path: str) -> dict:
    """Subject, recipient, time (the Date header) and text body of one kept message."""
    with open(path, "rb") as kept:
        message = email.message_from_binary_file(kept, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",)) if hasattr(message, "get_body") else None
    try:
        sent = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        sent = None
    return {"file": os.path.basename(path), "subject": str(message["Subject"] or ""), "to": str(message["To"] or ""),
            "sent": sent, "text": body.get_content() if body is not None else ""}


def kept_messages(folder: str, shown: int = SHOWN) -> tuple[list[dict], int]:
    """The newest ``shown`` messages of ``folder`` (the file names begin with the time they came), and how many
    there are."""
    names = sorted((n for n in os.listdir(folder) if n.endswith(".eml")), reverse=True) if os.path.isdir(folder) else []
    return [read_message(os.path.join(folder, name)) for name in names[:shown]], len(names)


@bp.get("/demo-mail")
@requires("administrator")
def index():
    folder = sink_folder()
    if not folder:
        abort(404)
    messages, total = kept_messages(folder)
    return render("demo_mail.html", mail=messages, total=total, folder=folder, shown=SHOWN)


@bp.app_context_processor
def _demo_mail_on() -> dict:
    return {"demo_mail_on": bool(sink_folder())}
