"""Signing in without a card (kiosk/signin.py): user name + password typed on the on-screen keyboard,
checked by the central store; the card's PIN lockout shared; a per-kiosk throttle; nothing of the
password in a log, a URL or a page."""
import datetime as dt
import logging

import pytest

from library_kiosk.central.store.staff import AuditEntry

HX = {"HX-Request": "true"}
PASSWORD = "Orchid-lantern-73"


@pytest.fixture
def signin(kiosk, central_db):
    """The kiosk with P1 (PIN 2468) holding the password PASSWORD (set at the provisioning station)."""
    from library_kiosk.central.store.models import User
    from library_kiosk.domain.hashing import hash_secret

    User.update(password_hash=hash_secret(PASSWORD)).where(User.primary_id == "P1").execute()
    return kiosk


def _sign_in(client, user_name="P1", password=PASSWORD, **kwargs):
    return client.post("/sign-in", data={"user_name": user_name, "password": password}, **kwargs)


def _failures(primary_id):
    from kiosk import lockout
    from kiosk.cache import cache_db

    with cache_db.connection_context():
        row = lockout.PinFailure.get_or_none(lockout.PinFailure.primary_id == primary_id)
        return row.failures if row else 0


def _end_pause():
    from kiosk import lockout
    from kiosk.cache import cache_db

    with cache_db.connection_context():
        lockout.SignInThrottle.update(paused_until=dt.datetime(2000, 1, 1)).execute()


def test_the_attract_screen_offers_sign_in_without_a_card(signin):
    html = signin.get("/").get_data(as_text=True)
    assert "No card? Sign in" in html and 'hx-get="/sign-in"' in html
    screen = signin.get("/sign-in", headers=HX).get_data(as_text=True)
    assert "Sign in without a card" in screen and 'data-testid="keyboard"' in screen
    assert screen.count('inputmode="none"') == 2  # neither field calls up a system keyboard
    assert 'id="password" name="password" type="password"' in screen and "Show password" in screen
    for key in ("kb-q", "kb-0", "kb-at", "kb-shift", "kb-back", "kb-space"):
        assert f'data-testid="{key}"' in screen
    assert 'data-personal="true"' in screen  # the idle countdown runs on this screen


def test_right_password_opens_the_account_as_card_and_pin_do(signin):
    response = _sign_in(signin, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Zoë Ólafsdóttir" in html and "Middlemarch" in html
    assert "Enter your PIN" not in html  # the password stands for card + PIN
    with signin.session_transaction() as session:
        assert session["patron"] == "P1" and session["stage"] == "pin_ok"
        assert PASSWORD not in repr(dict(session))
    assert "Middlemarch" in signin.get("/account").get_data(as_text=True)
    signin.post("/done")
    assert signin.get("/account").status_code == 302  # Done ends it as it ends a card session


@pytest.mark.parametrize("user_name", ["20000000000011", "04a1b2c3d4e5f6", "  P1 "])
def test_the_user_name_is_the_primary_id_or_an_identifier(signin, user_name):
    assert "Middlemarch" in _sign_in(signin, user_name).get_data(as_text=True)


def test_wrong_password_counts_on_the_cards_pin_lockout_and_tells_staff(signin, central_db):
    wrong = _sign_in(signin, password="not-it")
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 401 and "That user name or password is not right." in html
    assert "not-it" not in html and "Middlemarch" not in html
    assert _failures("P1") == 1
    for _ in range(3):
        _sign_in(signin, password="not-it")
    assert _failures("P1") == 4
    signin.post("/identify", data={"identifier": "20000000000011"})
    locked = signin.post("/pin", data={"pin": "1111"})  # the fifth wrong secret is a PIN: the same counter
    assert locked.status_code == 423 and "This card is locked" in locked.get_data(as_text=True)
    entry = AuditEntry.get(AuditEntry.action == "kiosk.pin_lockout")
    assert entry.primary_id == "P1" and entry.operator.startswith("kiosk:")
    refused = _sign_in(signin)  # even the right password, while locked
    assert refused.status_code == 423 and "This account is locked" in refused.get_data(as_text=True)
    assert signin.get("/account").status_code == 302


def test_wrong_pins_then_a_wrong_password_lock_the_account(signin, central_db):
    signin.post("/identify", data={"identifier": "20000000000011"})
    for _ in range(4):
        signin.post("/pin", data={"pin": "1111"})
    locked = _sign_in(signin, password="still-not-it")
    assert locked.status_code == 423 and "The PIN or password was wrong too many times" in locked.get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.action == "kiosk.pin_lockout").count() == 1
    assert signin.post("/identify", data={"identifier": "20000000000011"}).status_code == 423  # the card too


def test_a_right_password_clears_the_count(signin):
    _sign_in(signin, password="not-it")
    assert _failures("P1") == 1
    _sign_in(signin)
    assert _failures("P1") == 0


def test_an_unknown_user_name_gets_the_same_answer_as_a_wrong_password(signin):
    known = _sign_in(signin, "P1", "not-it", headers=HX)
    unknown = _sign_in(signin, "Q9", "not-it", headers=HX)
    assert known.status_code == unknown.status_code == 401
    assert (known.get_data(as_text=True).replace('value="P1"', "")
            == unknown.get_data(as_text=True).replace('value="Q9"', ""))
    assert "not registered" not in unknown.get_data(as_text=True)


def test_an_unknown_user_name_locks_like_a_real_one(signin):
    """Five tries at a name that is nobody's end as five at a real account do, so the lock tells nothing."""
    answers = []
    for _ in range(5):
        _end_pause()
        answers.append(_sign_in(signin, "Q9", "not-it"))
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 423]
    assert "This account is locked" in answers[-1].get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.action == "kiosk.pin_lockout").count() == 0  # nobody to report


def test_failed_sign_ins_pause_the_kiosk(signin):
    for name in ("Q1", "Q2", "Q3", "Q4"):
        assert _sign_in(signin, name, "guess").status_code == 401
    paused = _sign_in(signin, "Q5", "guess")
    html = paused.get_data(as_text=True)
    assert paused.status_code == 429 and "Please wait 30 seconds" in html
    still = _sign_in(signin)  # even the right password is not checked during the pause
    assert still.status_code == 429 and "Middlemarch" not in still.get_data(as_text=True)
    assert signin.get("/account").status_code == 302
    assert _failures("P1") == 0  # ... and nothing counted against P1
    _end_pause()
    assert "Middlemarch" in _sign_in(signin).get_data(as_text=True)


def test_the_throttle_follows_the_settings(signin, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"].update(signin_max_failures=2, signin_pause_seconds=90)
    assert _sign_in(signin, "Q1", "guess").status_code == 401
    paused = _sign_in(signin, "Q2", "guess")
    assert paused.status_code == 429 and "Please wait 90 seconds" in paused.get_data(as_text=True)


def test_the_throttle_counts_within_a_minute(kiosk_app):
    from kiosk import lockout
    from kiosk.cache import cache_db

    start = dt.datetime(2026, 11, 25, 10, 0, 0)
    with cache_db.connection_context():
        for minute in range(6):  # one failure a minute: never five within one
            assert lockout.signin_failure(start + dt.timedelta(minutes=minute)) is None
        for second in range(4):
            assert lockout.signin_failure(start + dt.timedelta(minutes=10, seconds=second)) is None
        until = lockout.signin_failure(start + dt.timedelta(minutes=10, seconds=5))
        assert until == start + dt.timedelta(minutes=10, seconds=35)
        assert lockout.signin_paused_until(start + dt.timedelta(minutes=10, seconds=34)) == until
        assert lockout.signin_paused_until(start + dt.timedelta(minutes=10, seconds=36)) is None


def test_empty_fields_are_asked_for_and_not_counted(signin):
    for data in ({"user_name": "P1", "password": ""}, {"user_name": "", "password": PASSWORD}):
        answer = signin.post("/sign-in", data=data)
        assert answer.status_code == 400 and "Type your user name and your password." in answer.get_data(as_text=True)
    assert _failures("P1") == 0


def test_offline_sign_in_is_refused_and_nothing_counted(signin, live_central):
    live_central.stop()
    refused = _sign_in(signin)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 503 and "not possible just now" in html and "Middlemarch" not in html
    assert signin.get("/account").status_code == 302  # an unchecked password never lets anyone in
    assert _failures("P1") == 0
    card = signin.post("/identify", data={"identifier": "20000000000011"})  # the card + PIN still work offline
    assert "Enter your PIN" in card.get_data(as_text=True)


def test_a_patron_without_a_password_cannot_sign_in(signin):
    answer = _sign_in(signin, "P3", "anything")
    assert answer.status_code == 401 and "That user name or password is not right." in answer.get_data(as_text=True)


def test_switched_off_the_screen_is_hidden_and_refused(signin, kiosk_app):
    kiosk_app.config["KIOSK"]["kiosk"]["password_sign_in"] = False
    assert "No card? Sign in" not in signin.get("/").get_data(as_text=True)
    assert signin.get("/sign-in").status_code == 404
    refused = _sign_in(signin)
    assert refused.status_code == 404 and "not offered at this kiosk" in refused.get_data(as_text=True)
    assert signin.get("/account").status_code == 302


def test_french(signin):
    signin.post("/language", data={"lang": "fr"})
    html = signin.get("/sign-in").get_data(as_text=True)
    assert "Se connecter sans carte" in html and "Mot de passe" in html and "Afficher le mot de passe" in html
    wrong = _sign_in(signin, password="not-it").get_data(as_text=True)
    assert "Cet identifiant ou ce mot de passe n&#39;est pas correct." in wrong
    english = signin.post("/language", data={"lang": "en"}).get_data(as_text=True)
    assert "Password" in english and "Tap your card" not in english  # still signing in, now in English
    signin.get("/")  # back at the attract screen: a language switch stays there
    assert "Posez votre carte" in signin.post("/language", data={"lang": "fr"}).get_data(as_text=True)


def test_the_password_never_in_a_url_a_log_or_a_page(kiosk_app, central_db, caplog):
    """The password goes in POST bodies only (kiosk form, then the central store's JSON body); no log of
    either server (access lines, urllib3's request lines, warnings) shows it, and no page sends it back."""
    import requests

    from library_kiosk.central.store.models import User
    from library_kiosk.domain.hashing import hash_secret
    from tests.helpers import LiveServer
    from tests.kiosk.helpers import fill_cache, make_patrons

    make_patrons()
    User.update(password_hash=hash_secret(PASSWORD)).where(User.primary_id == "P1").execute()
    fill_cache(kiosk_app)
    server = LiveServer(kiosk_app)
    try:
        with caplog.at_level(logging.DEBUG):
            session = requests.Session()
            wrong = session.post(server.url + "/sign-in", data={"user_name": "P1", "password": "Wrong-horse-42"})
            unknown = session.post(server.url + "/sign-in", data={"user_name": "Q9", "password": "Wrong-horse-43"})
            right = session.post(server.url + "/sign-in", data={"user_name": "P1", "password": PASSWORD})
    finally:
        server.stop()
    assert "Middlemarch" in right.text and wrong.status_code == unknown.status_code == 401
    for response, secret in ((wrong, "Wrong-horse-42"), (unknown, "Wrong-horse-43"), (right, PASSWORD)):
        assert secret not in response.url and secret not in response.text
        assert all(secret not in r.url for r in response.history)
    log = caplog.text
    assert "POST /sign-in" in log and "/verify-pin" in log  # the logs were captured
    for secret in ("Wrong-horse-42", "Wrong-horse-43", PASSWORD):
        assert secret not in log
