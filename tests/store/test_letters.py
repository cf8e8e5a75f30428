"""The mail outbox (store/letters.py): ``queue_letter`` in the caller's transaction, ``send_queued`` after commit.

A real SMTP server (aiosmtpd) counts what arrives.
"""
import datetime as dt

import pytest

from library_kiosk.central.store import letters
from library_kiosk.central.store.db import database
from library_kiosk.central.store.models import Email, _now
from tests.helpers import free_port
from tests.store.factories import patron


def _patron():
    user = patron("P1")
    Email.create(user=user, email_address="zoe@example.org", preferred=True)
    return user


def _use(config, server):
    config["mail"].update(host="127.0.0.1", port=server.port if server else free_port(), timeout_seconds=2)


def _queue(user, config):
    return letters.queue_letter(user, "FulRequestsReportLetter", config, "kiosk:kiosk-1")


def test_a_letter_queued_in_a_transaction_that_rolls_back_is_never_sent(central_db, config, smtp_server):
    _use(config, smtp_server)
    user = _patron()
    with pytest.raises(RuntimeError), database.atomic():
        letter = _queue(user, config)
        assert letter.status == "queued"
        assert letters.send_queued(config, [letter.id]) == {"sent": 0, "failed": 0, "queued": 0}  # not committed
        raise RuntimeError("the operation failed after its letter was prepared")
    assert letters.send_queued(config) == {"sent": 0, "failed": 0, "queued": 0}
    assert smtp_server.handler.messages == [] and letters.Letter.select().count() == 0

    with database.atomic():  # the retry commits: its letter goes once
        letter = _queue(user, config)
    assert letters.send_queued(config, [letter.id])["sent"] == 1
    assert letters.send_queued(config, [letter.id])["sent"] == 0 and letters.send_queued(config)["sent"] == 0
    assert len(smtp_server.handler.messages) == 1 and letters.Letter.get().status == "sent"


def test_a_letter_claimed_by_a_sender_that_died_is_sent_once_after_the_claim_runs_out(central_db, config,
                                                                                       smtp_server):
    _use(config, smtp_server)
    with database.atomic():
        letter = _queue(_patron(), config)
    now = _now()
    letters.LetterQueue.update(claimed_until=now + dt.timedelta(seconds=letters.CLAIM_SECONDS)).execute()
    assert letters.send_queued(config, now=now)["sent"] == 0  # still held by its (dead) sender
    later = now + dt.timedelta(seconds=letters.CLAIM_SECONDS + 1)
    assert letters.send_queued(config, now=later)["sent"] == 1
    assert letters.send_queued(config, now=later)["sent"] == 0
    [message] = smtp_server.handler.messages
    assert message["Message-ID"] == f"<letter-{letter.id}.{letter.created:%Y%m%d%H%M%S%f}@library.invalid>"


def test_the_mail_server_down_keeps_the_letter_queued_with_its_error_until_it_goes(central_db, config, smtp_server):
    _use(config, None)
    with database.atomic():
        first, second = _queue(_patron(), config), _queue(letters.User.get(), config)
    assert letters.send_queued(config) == {"sent": 0, "failed": 0, "queued": 1}  # the first failure ends the round
    row = letters.LetterQueue.get(letters.LetterQueue.letter == first.id)
    assert row.attempts == 1 and row.claimed_until is None and row.next_attempt > _now()
    assert letters.Letter.get_by_id(first.id).status == "queued"
    assert "did not accept the message" in letters.Letter.get_by_id(first.id).error

    _use(config, smtp_server)
    later = _now() + dt.timedelta(minutes=2)
    assert letters.send_queued(config, now=later)["sent"] == 2
    assert [letters.Letter.get_by_id(i).status for i in (first.id, second.id)] == ["sent", "sent"]
    assert letters.Letter.get_by_id(first.id).error == "" and letters.queued_count() == 0
    assert len(smtp_server.handler.messages) == 2


def test_a_letter_is_given_up_after_the_last_attempt(central_db, config):
    _use(config, None)
    with database.atomic():
        letter = _queue(_patron(), config)
    letters.LetterQueue.update(attempts=letters.MAX_ATTEMPTS - 1).execute()
    assert letters.send_queued(config)["failed"] == 1
    letter = letters.Letter.get_by_id(letter.id)
    assert letter.status == "failed" and "did not accept" in letter.error and letters.queued_count() == 0


def test_a_letter_without_an_address_is_failed_at_once_and_never_queued(central_db, config):
    letter = _queue(patron("P1"), config)
    assert letter.status == "failed" and "no usable email address" in letter.error
    assert letters.queued_count() == 0


def test_a_letter_writes_money_in_the_library_s_currency_and_dates_as_its_locale_writes_them(central_db):
    from library_kiosk.central.store.accounts import build_account
    from tests.store.factories import fine, loan

    user = _patron()
    fine(user, "7.5")
    loan(user, "Middlemarch", due=dt.date(2026, 12, 16))
    account = build_account(user)
    _subject, text, html = letters.render_letter("FulUserBorrowingActivityLetter", account)
    assert "due 16 December 2026" in text and "Total owed: £7.50" in text and "2026-12-16" not in text
    _subject, text, html = letters.render_letter("FulFinesFeesNotificationLetter", account, currency="EUR",
                                                 locale="fr_FR")
    assert "7,50\u00a0€" in text and "7,50\u00a0€" in html and "Total owed" in text


def _borrowed_today_letter():
    from library_kiosk.central.store.accounts import build_account
    from tests.store.factories import TODAY, loan

    user = _patron()
    loan(user, "Old Loan", due=TODAY + dt.timedelta(days=3))  # lent 18 days ago
    loan(user, "Brighton Rock", due=TODAY + dt.timedelta(days=21), barcode="39100")  # lent today
    return letters.render_letter("FulUserBorrowingActivityLetter", build_account(user), today=TODAY)


def test_the_loans_letter_lists_the_items_borrowed_today_with_barcode_and_due_date(central_db):
    _subject, text, _html = _borrowed_today_letter()
    borrowed = text.split("Borrowed today")[1].split("Your loans")[0]
    assert borrowed.strip("-\n ") == "* Brighton Rock (barcode 39100), due 16 December 2026"


def test_the_loans_letter_in_html_lists_the_items_borrowed_today(central_db):
    _subject, _text, html = _borrowed_today_letter()
    assert "<li>Brighton Rock (barcode 39100), due 16 December 2026</li>" in html.split("<h2>Your loans</h2>")[0]


def test_the_loans_letter_without_loans_borrowed_today_has_no_such_section(central_db):
    from library_kiosk.central.store.accounts import build_account
    from tests.store.factories import loan

    user = _patron()
    loan(user, "Old Loan")
    _subject, text, html = letters.render_letter("FulUserBorrowingActivityLetter", build_account(user))
    assert "Borrowed today" not in text + html
