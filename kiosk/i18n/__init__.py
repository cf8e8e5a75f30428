"""The kiosk's languages (Flask-Babel): catalogues in ``kiosk/i18n/<lang>/LC_MESSAGES``.

The ``.po`` files are the source; each is compiled to ``.mo`` at startup when the
``.mo`` is missing or older (the compiled files are committed too, for read-only
installs). The screen's language: the patron's choice on screen (session), else
the identified patron's preferred language, else the first of ``[kiosk] languages``.
"""
from __future__ import annotations

import logging
import os

from flask import current_app, session
from flask_babel import Babel, get_locale

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = {"en": "English", "fr": "Français"}
log = logging.getLogger(__name__)


def compile_catalogues(folder: str = HERE) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for language in os.listdir(folder):
        po = os.path.join(folder, language, "LC_MESSAGES", "messages.po")
        mo = po[:-2] + "mo"
        if not os.path.exists(po):
            continue
        if os.path.exists(mo) and os.path.getmtime(mo) >= os.path.getmtime(po):
            continue
        try:
            with open(po, "rb") as handle:
                catalogue = read_po(handle, locale=language)
            with open(mo, "wb") as handle:
                write_mo(handle, catalogue)
        except OSError as exc:  # a read-only install keeps the committed .mo
            log.warning("could not compile %s: %s", po, exc)


def languages() -> list[str]:
    return list(current_app.config["KIOSK"]["kiosk"]["languages"]) or ["en"]


def select_locale() -> str:
    offered = languages()
    chosen = session.get("lang")
    return chosen if chosen in offered else offered[0]


def init_app(app) -> None:
    compile_catalogues()
    Babel(app, locale_selector=select_locale, default_translation_directories=HERE)
    app.add_template_global(NAMES, "language_names")
    app.add_template_global(lambda: languages(), "kiosk_languages")
    app.add_template_global(lambda: str(get_locale() or languages()[0]), "current_lang")
