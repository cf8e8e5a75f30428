"""The kiosk's look and its writing (issue 15): money in ``[kiosk] currency`` as each language writes it, French
typography on pages, receipts and in the catalogue, dates never ISO; the look settings (accent colour, logo,
attract picture, tap sound, currency) checked at start; the library's pictures served safely."""
from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

import kiosk
from kiosk import screens
from kiosk.filters import money
from kiosk.i18n import HERE, NBSP, NNBSP
from kiosk.receipts import section_lines
from tests.kiosk.helpers import HX, decode_escpos, login
from tests.store.factories import TODAY

FRENCH_SIGNS = re.compile(r"(?<![\u00a0\u202f])[:;!?]")  # a sign with no no-break space before it


def _french_sign_problems(text: str) -> list[str]:
    """French ":", ";", "!", "?" in ``text`` without their no-break space (a time, "9:00", or "://" aside)."""
    return [text[max(0, m.start() - 20):m.end() + 5] for m in FRENCH_SIGNS.finditer(text)
            if not re.match(r"\d", text[m.start() - 1:m.start()]) and text[m.start():m.start() + 3] != "://"]


def _visible_text(html: str) -> str:
    """The words of a page as shown (tags, scripts and styles out; attributes such as aria-label kept)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    labels = " ".join(re.findall(r'aria-label="([^"]*)"', html))
    return re.sub(r"<[^>]+>|\{#.*?#\}", " ", html) + " " + labels


# --- money and numbers ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "currency", "written"), [
    ("en", "GBP", "£1,234.50"), ("fr", "GBP", f"1{NNBSP}234,50{NBSP}£"),
    ("en", "EUR", "€1,234.50"), ("fr", "EUR", f"1{NNBSP}234,50{NBSP}€"),
])
def test_money_is_written_with_its_currency_as_the_screens_language_writes_it(kiosk_app, lang, currency, written):
    kiosk_app.config["KIOSK"]["kiosk"]["currency"] = currency
    with kiosk_app.test_request_context(), force_locale(lang):
        assert money("1234.5") == written


def test_the_fees_tab_shows_money_with_its_currency_in_english_and_french(kiosk):
    login(kiosk)
    english = kiosk.get("/account/section/fees", headers=HX).get_data(as_text=True)
    kiosk.post("/language", data={"lang": "fr"})
    french = kiosk.get("/account/section/fees", headers=HX).get_data(as_text=True)
    assert ('data-testid="total">£2.50<' in english, f'data-testid="total">2,50{NBSP}£<' in french) == (True, True)


# --- French typography ---------------------------------------------------------------------------------------------

def test_every_french_message_has_a_no_break_space_before_its_signs():
    with open(f"{HERE}/fr/LC_MESSAGES/messages.po", "rb") as handle:
        catalogue = read_po(handle)
    found = []
    for message in catalogue:
        if not message.id:
            continue
        for text in message.string if isinstance(message.string, tuple) else (message.string,):
            found += _french_sign_problems(text)
    assert not found, found


def test_french_pages_have_a_no_break_space_before_their_signs_and_a_decimal_comma(kiosk):
    pages = [kiosk.post("/language", data={"lang": "fr"}).get_data(as_text=True)]  # the attract screen
    login(kiosk)
    pages += [kiosk.get(f"/account/section/{section}", headers=HX).get_data(as_text=True)
              for section in ("loans", "requests", "fees")]
    kiosk.post("/done", headers=HX)
    kiosk.post("/language", data={"lang": "fr"})
    kiosk.post("/identify", data={"identifier": "20000000000022"})  # P2, whose membership has ended
    pages.append(kiosk.post("/pin", data={"pin": "2468"}, headers=HX).get_data(as_text=True))
    text = " ".join(_visible_text(page) for page in pages)
    assert (_french_sign_problems(text), f"Que faire{NBSP}:" in text, f"Pas de carte{NNBSP}?" in text,
            f"2,50{NBSP}£" in text) == ([], True, True, True)


def test_a_french_receipt_has_a_no_break_space_before_its_colons_and_money_in_french(kiosk, kiosk_app):
    login(kiosk)
    from kiosk import services

    with kiosk_app.test_request_context(), force_locale("fr"):
        account = services.get_patron("P1")
        lines = [line for what in ("loans", "requests", "fees") for line in section_lines(what, account)[1]]
    text = "\n".join(lines)
    assert (_french_sign_problems(text), f"Total{NBSP}: 2,50{NBSP}£" in text) == ([], True)


def test_a_printed_french_receipt_keeps_its_no_break_spaces(kiosk, printer_file):
    kiosk.post("/language", data={"lang": "fr"})
    login(kiosk)
    kiosk.post("/receipt", data={"what": "fees", "how": "print"}, headers=HX)
    with open(printer_file, "rb") as handle:
        printed = decode_escpos(handle.read())
    assert f"Total{NBSP}: 2,50{NBSP}£" in printed


# --- dates ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "fr"])
def test_no_date_on_the_account_is_written_the_iso_way(kiosk, lang):
    kiosk.post("/language", data={"lang": lang})
    login(kiosk)
    pages = [kiosk.get(f"/account/section/{section}", headers=HX).get_data(as_text=True)
             for section in ("loans", "requests", "fees")]
    text = " ".join(_visible_text(page) for page in pages)
    month = {"en": "November 2026", "fr": "novembre 2026"}[lang]
    assert (re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text), month in text or "December 2026" in text
            or "décembre 2026" in text) == ([], True)


def test_a_printed_receipt_has_the_day_in_the_screens_language(kiosk, printer_file):
    kiosk.post("/language", data={"lang": "fr"})
    login(kiosk)
    kiosk.post("/receipt", data={"what": "loans", "how": "print"}, headers=HX)
    with open(printer_file, "rb") as handle:
        printed = decode_escpos(handle.read())
    assert f"{TODAY.day} novembre {TODAY.year}" in printed


# --- the look settings ---------------------------------------------------------------------------------------------

def _look(**settings) -> dict:
    return screens.look({"accent_colour": "#0b4f9c", "tap_volume": 0.5, "currency": "GBP", **settings})


@pytest.mark.parametrize("colour", ["blue", "#12345", "#0b4f9cff", "rgb(0,0,0)", "#ggg000", ""])
def test_an_accent_colour_that_is_not_a_hex_colour_stops_the_start(colour):
    with pytest.raises(screens.LookSettingsError, match="accent_colour"):
        _look(accent_colour=colour or " ")


@pytest.mark.parametrize("colour", ["#ffeb00", "#2a6fdb", "#999999"])
def test_an_accent_colour_too_light_for_white_text_stops_the_start(colour):
    with pytest.raises(screens.LookSettingsError, match="4.5:1"):
        _look(accent_colour=colour)


def test_an_accent_colour_dark_enough_is_kept_and_a_short_one_written_in_full():
    assert (_look(accent_colour="#7A1F5C")["accent_colour"], _look(accent_colour="#036")["accent_colour"]) \
        == ("#7a1f5c", "#003366")


@pytest.mark.parametrize("volume", [-0.1, 1.5, "loud", True])
def test_a_tap_volume_outside_0_to_1_stops_the_start(volume):
    with pytest.raises(screens.LookSettingsError, match="tap_volume"):
        _look(tap_volume=volume)


@pytest.mark.parametrize("currency", ["XYZ", "pounds", "£"])
def test_a_currency_that_is_not_iso_4217_stops_the_start(currency):
    with pytest.raises(screens.LookSettingsError, match="currency"):
        _look(currency=currency)


def test_a_logo_that_is_missing_not_an_image_or_too_large_stops_the_start(tmp_path):
    script = tmp_path / "logo.js"
    script.write_text("alert(1)")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\0" * (screens.IMAGE_MAX_BYTES + 1))
    found = []
    for path in (tmp_path / "missing.svg", script, huge):
        with pytest.raises(screens.LookSettingsError) as error:
            _look(logo=str(path))
        found.append(str(error.value).split(": ")[-1])
    assert found == ["no such file.", "use a .svg, .png, .jpg, .jpeg, .webp file.", "larger than 1 MiB."]


def test_the_app_refuses_to_start_with_a_bad_look_setting(config):
    config["kiosk"]["accent_colour"] = "#ffffff"
    with pytest.raises(screens.LookSettingsError):
        kiosk.create_app(config)


def test_the_logo_is_served_as_an_image_that_can_run_nothing(config, tmp_path):
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    config["kiosk"]["logo"] = str(logo)
    app = kiosk.create_app(config)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    with client.get("/look/logo") as served:
        found = (served.mimetype, "sandbox" in served.headers["Content-Security-Policy"],
                 served.headers["X-Content-Type-Options"])
    assert ('<img class="logo" src="/look/logo" alt=""' in page, *found,
            client.get("/look/../../etc/passwd").status_code) == (True, "image/svg+xml", True, "nosniff", 404)


def test_without_a_logo_or_a_picture_of_its_own_the_kiosk_shows_the_shipped_picture_and_no_logo(config):
    client = kiosk.create_app(config).test_client()
    page = client.get("/").get_data(as_text=True)
    with client.get("/static/attract.svg") as picture:
        served = picture.mimetype
    assert ('src="/static/attract.svg"' in page, 'data-testid="logo"' in page, client.get("/look/logo").status_code,
            served) == (True, False, 404, "image/svg+xml")


def test_the_tap_sound_is_off_by_default_and_on_with_its_volume_when_set(config):
    off = kiosk.create_app(config).test_client().get("/").get_data(as_text=True)
    config["kiosk"].update(tap_sound=True, tap_volume=0.3)
    on = kiosk.create_app(config).test_client().get("/").get_data(as_text=True)
    assert ("data-tap-sound" in off, 'data-tap-sound="/static/tap.wav" data-tap-volume="0.3"' in on) == (False, True)


def test_the_accent_colour_is_given_to_the_page_below_the_high_contrast_theme(config):
    config["kiosk"]["accent_colour"] = "#7a1f5c"
    page = kiosk.create_app(config).test_client().get("/").get_data(as_text=True)
    # a :root rule: the high-contrast theme's :root:has(...) rule is more specific, so its colours still win
    assert "<style>:root { --accent: #7a1f5c; }</style>" in page
