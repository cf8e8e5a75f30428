"""Letters to patrons (requests report, borrowing activity, fines and fees, refused renewals), shared
by the provisioning station and the kiosk.

``render_letter`` fills the library's editable Jinja templates: the shipped defaults in
``store/letter_templates/`` (``<LetterType>.subject.txt``, ``.txt``, ``.html``) unless
the folder ``config["letters"]["templates_dir"]`` holds a file of the same name.
``send_letter`` renders, sends by email (``library_kiosk.central.store.mail``) or marks it printed, and records
the ``Letter`` as sent or failed (with the error); it never raises for a failed send. Call it
only outside a transaction that may still roll back (a desk action, a kiosk's direct request).

A letter decided inside a transaction that may roll back (a kiosk operation applied by
``store/idempotency.py``) goes through the mail outbox instead: ``queue_letter`` renders it and
records it as ``queued`` (with a ``LetterQueue`` row) in the caller's transaction, and sends
nothing; ``send_queued`` sends queued letters once that transaction has committed — right after
the batch (``central/sync_api.py``) and, as the sweeper for letters a crash or a mail server
outage left behind, at each kiosk heartbeat. A rolled-back transaction leaves no letter, so
nothing is sent for it; a committed one is sent once (claimed in one UPDATE before sending).
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import os

import jinja2
import peewee as pw

from library_kiosk.central.store import mail
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import BaseModel, User, _now
from library_kiosk.domain import clock, codes
from library_kiosk.domain.account import Account

log = logging.getLogger(__name__)

SHIPPED = os.path.join(os.path.dirname(__file__), "letter_templates")
LETTER_TYPES = {
    "FulRequestsReportLetter": "Requests report",
    "FulUserBorrowingActivityLetter": "Borrowing activity",
    "RenewalRefusedLetter": "Renewal refused",
    "FulFinesFeesNotificationLetter": "Fines and fees",  # Alma's fines/fees notification: active fees and total
    "DeskSlipLetter": "Desk slip",  # what was done at the desk (renewals, an unlock), printed or emailed
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
    status = pw.CharField(max_length=10, default="sent")  # sent / failed / queued (waiting in LetterQueue)
    error = pw.TextField(default="")
    created = pw.DateTimeField(default=_now, index=True)
    sent_by = pw.CharField(max_length=60, default="")


class LetterQueue(BaseModel):
    """The mail outbox: one row per letter whose status is ``queued``, written in the same transaction as
    the operation that decided the letter and deleted when the letter is sent or given up (``send_queued``).
    A new table, so ``kiosk migrate`` (CREATE TABLE IF NOT EXISTS) adds it to an existing store."""

    letter = pw.ForeignKeyField(Letter, unique=True, on_delete="CASCADE")
    attempts = pw.IntegerField(default=0)
    next_attempt = pw.DateTimeField(default=_now, index=True)
    claimed_until = pw.DateTimeField(null=True)  # a sender holds it until then; a crashed one lets it go
    device = pw.CharField(max_length=60, default="")  # the kiosk operation that queued it: its SyncConflict
    op_key = pw.CharField(max_length=80, default="")  # rows take the letter's final status


CLAIM_SECONDS = 120  # longer than any SMTP timeout: a live sender finishes well within it
MAX_ATTEMPTS = 30  # with the back-off below, about a day of trying before a letter is marked failed
SWEEP_LIMIT = 20


@functools.lru_cache(maxsize=8)
def _environment(templates_dir: str = "", currency: str = "GBP", locale: str = "en_GB") -> jinja2.Environment:
    """The letters' templates, with ``money`` (in ``currency``, ISO 4217) and ``long_date`` as ``locale`` writes
    them (made once per folder, currency and locale, and kept: Jinja caches the compiled templates in it, and still
    sees a template the library edits, the loader checking each file's time): a letter reads "£7.00" and
    "4 December 2026", never "7.00" or "2026-12-04" (the same formatter as the staff station's:
    ``library_kiosk.domain.formatting``)."""
    from library_kiosk.domain import formatting

    folders = [templates_dir] if templates_dir else []
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders + [SHIPPED]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.globals.update(describe=codes.describe, codes=codes)
    env.filters["money"] = lambda value: formatting.money(value, currency, locale)
    env.filters["long_date"] = lambda value: formatting.long_date(value or None, locale)
    return env


REPLAY_REASONS = {  # a renewal the kiosk promised, refused at replay: what the letter says, true to the loan
    "limit": "This item has already been renewed the maximum number of times, so it could not be renewed again.",
    "requested": "Another patron requested this item before your renewal reached the library, so it could not "
                 "be renewed.",
    "returned": "This item has been returned, so there was nothing to renew.",
    "unknown_loan": "This loan is no longer on your account, so there was nothing to renew.",
}


def replay_item(title: str, result: dict, told: dict, due: dt.date | None, renewals: int | None,
                last_day: dt.date | None) -> dict:
    """One loan of a ``RenewalRefusedLetter``: a renewal a kiosk promised offline (``told``: its local decision,
    with ``renewals``, the count it saw, when it sent one) that the central store refused at replay (``result``);
    ``due``/``renewals``: the loan as it is now; ``last_day``: the membership's last valid day.

    Says what happened to the loan, never a reason that is not true: when the loan was renewed meanwhile (the
    same renewal made at another kiosk or at the desk), the refusal only means it was not renewed twice, so the
    letter says it *was* renewed, once, and until when."""
    seen = told.get("renewals")
    promised = told.get("new_due_date") or ""
    if due is not None and renewals is not None:
        renewed_meanwhile = (renewals > seen if isinstance(seen, int)
                             else bool(promised) and due.isoformat() >= promised[:10])
        if renewed_meanwhile:
            return {"title": title, "renewed": True, "due_date": due,
                    "reason": f"This loan was renewed once (the renewal reached the library from another kiosk or "
                              f"the desk first), so it was not renewed twice. It is due on {due:%d %B %Y}."}
    reason = result.get("reason", "")
    if reason == "no_extension" and due is not None:
        if last_day is not None and last_day <= due:
            text = (f"Your membership ends on {last_day:%d %B %Y} and this loan is already due then, so it could "
                    f"not be renewed. It is due on {due:%d %B %Y}.")
        else:
            text = (f"This loan is already due on {due:%d %B %Y}, as late as a renewal today would make it, so "
                    "it was not renewed.")
    else:
        text = REPLAY_REASONS.get(reason) or result.get("message") or "It could not be renewed."
    return {"title": title, "renewed": False, "due_date": due, "reason": text}


def request_sections(account: Account) -> list[dict]:
    """The requests report's three sections, each with its requests (possibly none)."""
    return [{"status": status, "title": title, "requests": [r for r in account.requests if r.status == status]}
            for status, title in REQUEST_SECTIONS]


def render_letter(letter_type: str, account: Account, templates_dir: str = "", currency: str = "GBP",
                  locale: str = "en_GB", **context) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of ``letter_type`` for ``account``, money in ``currency`` and dates as
    ``locale`` writes them (``[letters]``)."""
    if letter_type not in LETTER_TYPES:
        raise ValueError(f"unknown letter type {letter_type!r}")
    env = _environment(templates_dir, currency, locale)
    values = {"account": account, "today": clock.today(), "library_name": "the Library",
              "sections": request_sections(account), **context}
    subject = env.get_template(f"{letter_type}.subject.txt").render(values).strip()
    text = env.get_template(f"{letter_type}.txt").render(values)
    html = env.get_template(f"{letter_type}.html").render(values)
    return subject, text, html


def _render_for(user: User, letter_type: str, config: dict, channel: str, context: dict) -> tuple:
    """(recipient, subject, text, html) of one letter to ``user``."""
    from library_kiosk.central.store.accounts import build_account

    account = build_account(user)
    letters_config = config.get("letters", {})
    context.setdefault("library_name", letters_config.get("library_name") or "the Library")
    subject, text, html = render_letter(letter_type, account, letters_config.get("templates_dir", ""),
                                        letters_config.get("currency", "GBP"), letters_config.get("locale", "en_GB"),
                                        **context)
    recipient = account.preferred_email if channel == "email" else "print"
    return recipient, subject, text, html


def send_letter(user: User, letter_type: str, config: dict, operator: str, channel: str = "email",
                **context) -> Letter:
    """Render, send (or mark printed) and record one letter now; look at ``status``/``error``.

    Sends at once: never call it inside a transaction that may roll back (use ``queue_letter``)."""
    recipient, subject, text, html = _render_for(user, letter_type, config, channel, context)
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


def queue_letter(user: User, letter_type: str, config: dict, operator: str, device: str = "", op_key: str = "",
                 **context) -> Letter:
    """Render one email letter and record it as ``queued`` in the caller's transaction; nothing is sent here.

    ``send_queued`` sends it after the transaction commits; if the transaction rolls back, the letter is gone
    with it and nothing was sent. A letter without a usable address is recorded ``failed`` at once.
    ``device``/``op_key`` name the kiosk operation whose ``SyncConflict`` rows take the letter's final status."""
    recipient, subject, text, html = _render_for(user, letter_type, config, "email", context)
    fields = dict(user=user, letter_type=letter_type, channel="email", recipient=recipient, subject=subject,
                  body_text=text, body_html=html, sent_by=operator)
    with database.atomic():  # a savepoint inside the caller's transaction
        if not mail.usable_address(recipient):
            return Letter.create(**fields, status="failed",
                                 error=f"The letter was not sent: no usable email address ({recipient or 'none'}).")
        letter = Letter.create(**fields, status="queued")
        LetterQueue.create(letter=letter, device=device, op_key=op_key, next_attempt=letter.created)
    return letter


def kiosk_letter_limit(user: User, config: dict, now: dt.datetime | None = None) -> int | None:
    """``[central] letters_per_patron_per_hour`` when kiosks have already asked that many letters for ``user``
    within the last hour (any kiosk, sent, queued or failed), else None: the next one must be refused."""
    limit = int(config.get("central", {}).get("letters_per_patron_per_hour", 5))
    since = (now or _now()) - dt.timedelta(hours=1)
    count = (Letter.select().where((Letter.user == user) & Letter.sent_by.startswith("kiosk:")
                                   & (Letter.created > since)).count())
    return limit if count >= limit else None


def _message_id(letter: Letter) -> str:
    """The same Message-ID at every attempt, so a letter sent again after a crash can be recognised."""
    return f"<letter-{letter.id}.{letter.created:%Y%m%d%H%M%S%f}@library.invalid>"


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


def _finish(row: LetterQueue, status: str, error: str) -> None:
    with database.atomic():
        Letter.update(status=status, error=error).where(Letter.id == row.letter_id).execute()
        LetterQueue.delete().where(LetterQueue.id == row.id).execute()
        if row.op_key:
            from library_kiosk.central.store.devices import SyncConflict

            SyncConflict.update(letter_status=status).where(
                (SyncConflict.device == row.device) & (SyncConflict.op_key == row.op_key)
                & (SyncConflict.letter_status == "queued")).execute()


def send_queued(config: dict, letter_ids=None, now: dt.datetime | None = None, limit: int = SWEEP_LIMIT) -> dict:
    """Send queued letters whose transaction has committed; returns {"sent", "failed", "queued"} counts.

    ``letter_ids``: only those (the letters a batch just committed); otherwise, as the sweeper, up to ``limit``
    letters that are due (a crash left them queued, or an earlier attempt failed and its back-off is over).
    Each letter is claimed in one UPDATE (``claimed_until``) before it is sent, so two processes never send the
    same one; a sender that dies holding a claim lets it go after ``CLAIM_SECONDS``. A letter the mail server
    did not take stays queued with the error recorded and is tried again later (after ``MAX_ATTEMPTS``, or at
    once for a refused recipient, it is marked failed); the first failure ends this round, since the server
    is probably down. Never raises for a failed send. Inside a transaction it sends nothing: what the
    transaction queued is not committed yet (the sweeper sends it later)."""
    counts = {"sent": 0, "failed": 0, "queued": 0}
    if database.in_transaction():
        log.warning("send_queued called inside a transaction: queued letters are left to the sweeper")
        return counts
    now = now or _now()
    free = LetterQueue.claimed_until.is_null() | (LetterQueue.claimed_until < now)
    query = LetterQueue.select().where((LetterQueue.next_attempt <= now) & free)
    if letter_ids is not None:
        letter_ids = list(dict.fromkeys(letter_ids))
        if not letter_ids:
            return counts
        query = query.where(LetterQueue.letter.in_(letter_ids))
    settings = config.get("mail", {})
    for row in list(query.order_by(LetterQueue.next_attempt, LetterQueue.id).limit(limit)):
        claimed = LetterQueue.update(claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS)).where(
            (LetterQueue.id == row.id) & free).execute()
        if claimed != 1:
            continue  # another process has it
        letter = Letter.get_or_none(Letter.id == row.letter_id)
        if letter is None:
            continue
        try:
            mail.send(settings, letter.recipient, letter.subject, letter.body_text, letter.body_html,
                      message_id=_message_id(letter))
        except mail.MailError as exc:
            error = f"The letter was not sent: {exc}."
            attempts = row.attempts + 1
            if exc.permanent or attempts >= MAX_ATTEMPTS:
                _finish(row, "failed", error)
                counts["failed"] += 1
                continue
            with database.atomic():
                Letter.update(error=error).where(Letter.id == letter.id).execute()
                LetterQueue.update(attempts=attempts, next_attempt=now + _backoff(attempts), claimed_until=None).where(
                    LetterQueue.id == row.id).execute()
            counts["queued"] += 1
            log.warning("letter %s stays queued (attempt %s): %s", letter.id, attempts, exc)
            break
        _finish(row, "sent", "")
        counts["sent"] += 1
    return counts


def queued_count() -> int:
    return LetterQueue.select().count()


def letters_of(user: User) -> list[Letter]:
    return list(Letter.select().where(Letter.user == user).order_by(Letter.created.desc(), Letter.id.desc()))
