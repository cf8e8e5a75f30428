"""Issue 20: a patron at the kiosk, attacked through the browser's cookie and the reader's tap tokens.

- The cookie carries a random session id only (kiosk/sessions.py): decoded, it holds no primary id and no
  renewal outcome; copied during a visit, it opens nothing after Done, after the idle timeout (on the
  product's clock) or after the next identification.
- A tap reaches the page as an opaque, one-time token (kiosk/events.py): it does not contain the card's
  number, works once, and not after 30 s.
"""
import datetime as dt
import re

import pytest
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, base64_decode

from hardware.events import ReaderEvent
from kiosk.events import TAP_TOKEN_MAX_AGE, read_tap_token, render_item, tap_token
from kiosk.sessions import IDLE_GRACE_SECONDS, _key, store
from library_kiosk.domain import clock
from tests.kiosk.helpers import login

UID = "04A1B2C3D4E5F6"  # P1's card (tests/kiosk/helpers.py make_patrons)


def _cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def _replay(kiosk_app, value: str):
    """A second browser (the attacker's) holding a copy of the cookie."""
    thief = kiosk_app.test_client()
    thief.set_cookie("session", value)
    return thief


def _nothing_personal(thief):
    account = thief.get("/account")
    assert account.status_code == 302  # back to the attract screen
    for path, data in (("/pin", {"pin": "2468"}), ("/renew", {}), ("/account/loans", {}),
                       ("/receipt", {"how": "email"}), ("/requests-report", {})):
        html = thief.post(path, data=data).get_data(as_text=True)
        assert "Zoë" not in html and "Middlemarch" not in html, path
    assert "Zoë" not in thief.post("/language", data={"lang": "en"}).get_data(as_text=True)


def _move_clock(seconds: float) -> None:
    clock.set_offset(clock.offset() + dt.timedelta(seconds=seconds))  # the pinned_day fixture restores it


def _kept(kiosk_app, value: str) -> bool:
    """Whether the kiosk still keeps the session of this cookie."""
    return value in store(kiosk_app)


def test_the_cookie_holds_nothing_but_a_random_id(kiosk, kiosk_app):
    login(kiosk)
    assert "Middlemarch" in kiosk.post("/renew").get_data(as_text=True)  # renewal outcomes are in the session
    value = _cookie(kiosk)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value  # no payload, no signature: 32 random bytes
    decoded = base64_decode(value)
    assert len(decoded) == 32
    for secret in (b'"P1"', b"patron", b"renewed", b"pin_ok", b"20000000000011", UID.encode()):
        assert secret not in decoded and secret.decode() not in value
    with pytest.raises(BadSignature):  # it is not Flask's signed cookie session either
        SecureCookieSessionInterface().get_signing_serializer(kiosk_app).loads(value)
    kept = store(kiosk_app).stored(value)
    assert '"P1"' in kept and "renewed" in kept  # the session is here, on the kiosk
    stored_under = store(kiosk_app).hashes()
    assert _key(value) in stored_under and value not in stored_under  # under a hash of the id, not the id


def test_a_cookie_copied_during_a_visit_opens_nothing_after_done(kiosk, kiosk_app):
    login(kiosk)
    kiosk.post("/renew")
    copied = _cookie(kiosk)
    assert "Zoë" in _replay(kiosk_app, copied).get("/account").get_data(as_text=True)  # the attack works before
    html = kiosk.post("/done").get_data(as_text=True)
    assert "Thank you" in html
    assert not _kept(kiosk_app, copied)  # the session is gone from the kiosk
    _nothing_personal(_replay(kiosk_app, copied))
    assert kiosk.get("/account").status_code == 302


def test_a_cookie_copied_during_a_visit_is_refused_after_the_idle_timeout(kiosk, kiosk_app):
    login(kiosk)
    copied = _cookie(kiosk)
    timeout = kiosk_app.config["KIOSK"]["kiosk"]["idle_timeout_seconds"]
    _move_clock(timeout)  # still within the page's own countdown and the server's grace: the session is there
    assert "Zoë" in kiosk.get("/account").get_data(as_text=True)
    copied = _cookie(kiosk)
    _move_clock(timeout + IDLE_GRACE_SECONDS + 1)  # nobody touched the screen since
    _nothing_personal(_replay(kiosk_app, copied))
    assert not _kept(kiosk_app, copied)
    assert kiosk.get("/account").status_code == 302  # the kiosk's own browser too


def test_an_abandoned_session_is_deleted_even_if_nobody_comes_back(kiosk, kiosk_app):
    login(kiosk)
    copied = _cookie(kiosk)
    _move_clock(3600)
    other = kiosk_app.test_client()
    assert _kept(kiosk_app, copied)
    other.post("/identify", data={"identifier": "20000000000033"})  # someone else's visit saves a session
    assert not _kept(kiosk_app, copied)


def test_a_cookie_from_before_the_tap_gets_nothing_of_the_patron(kiosk, kiosk_app):
    kiosk.post("/language", data={"lang": "fr"})  # a session exists before anyone is identified
    before = _cookie(kiosk)
    login(kiosk)
    assert _cookie(kiosk) != before  # each identification starts a new id
    _nothing_personal(_replay(kiosk_app, before))


def test_a_forged_or_unknown_cookie_is_an_empty_session(kiosk, kiosk_app):
    for value in ("x" * 43, "not a session id", "eyJwYXRyb24iOiJQMSIsInN0YWdlIjoicGluX29rIn0"):
        _nothing_personal(_replay(kiosk_app, value))


def _tap_page(kiosk_app, value=UID) -> tuple[str, str]:
    """What the page receives for a tap (the SSE text), and the token in it."""
    text = render_item(kiosk_app, ReaderEvent("card", "Sim", value, "iso14443a", formatted=value))
    return text, re.search(r'name="tap" value="([^"]+)"', text).group(1)


def test_a_tap_token_does_not_carry_the_card_number(kiosk, kiosk_app):
    text, token = _tap_page(kiosk_app)
    for shown in (UID, UID.lower(), str(int(UID, 16))):
        assert shown not in text
    decoded = base64_decode(token)
    assert UID.encode() not in decoded and bytes.fromhex(UID) not in decoded
    _, again = _tap_page(kiosk_app)
    assert again != token  # random: the same card gives another token
    assert "Enter your PIN" in kiosk.post("/identify", data={"tap": token}).get_data(as_text=True)


def test_a_tap_token_works_once(kiosk, kiosk_app):
    _, token = _tap_page(kiosk_app)
    assert "Enter your PIN" in kiosk.post("/identify", data={"tap": token}).get_data(as_text=True)
    replay = kiosk_app.test_client().post("/identify", data={"tap": token})  # a copy of the page's request
    assert replay.status_code == 400 and "Zoë" not in replay.get_data(as_text=True)
    assert kiosk.post("/identify", data={"tap": token}).status_code == 400


def test_a_tap_token_expires_after_30_seconds(kiosk, kiosk_app):
    _, late = _tap_page(kiosk_app)
    _, in_time = _tap_page(kiosk_app)
    _move_clock(TAP_TOKEN_MAX_AGE - 1)
    assert "Enter your PIN" in kiosk.post("/identify", data={"tap": in_time}).get_data(as_text=True)
    _move_clock(2)
    refused = kiosk_app.test_client().post("/identify", data={"tap": late})
    assert refused.status_code == 400 and "Zoë" not in refused.get_data(as_text=True)


def test_waiting_tokens_are_bounded(kiosk_app):
    first = tap_token(kiosk_app, UID)
    for _ in range(300):  # pages that never posted theirs
        tap_token(kiosk_app, UID)
    assert read_tap_token(kiosk_app, first) is None
