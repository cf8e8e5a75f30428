"""The kiosk's languages (Flask-Babel): catalogues in ``kiosk/i18n/<lang>/LC_MESSAGES``.

The ``.po`` files are the source; the ``.mo`` files are compiled when the package is built or
installed (setup.py), never by the app (an installed kiosk's package is read-only).

The screen's language: the patron's choice on screen (session), else the identified patron's
preferred language, else the first of ``[kiosk] languages``.
"""
from __future__ import annotations

import os
import re

from flask import current_app, has_request_context, session
from flask_babel import Babel, get_locale

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = {"en": "English", "fr": "Français"}
NBSP, NNBSP = "\u00a0", "\u202f"  # a no-break space, and a narrow one


def french_spacing(text: str) -> str:
    """French typography: a no-break space before ":" and a narrow no-break space before ";", "!" and "?", so the
    sign never starts a line ("Que faire :", "Pas de carte ? ..."). make_fr.py writes the catalogue through it."""
    text = re.sub(r"[ \u00a0\u202f]+:", NBSP + ":", text)
    return re.sub(r"[ \u00a0\u202f]+([;!?])", NNBSP + r"\1", text)


def colon() -> str:
    """": " between a label and its value, in the screen's language ("Total: £7.35", "Total : 7,35 £")."""
    locale = get_locale() if has_request_context() else None
    return f"{NBSP}: " if locale is not None and locale.language == "fr" else ": "


def languages() -> list[str]:
    return list(current_app.config["KIOSK"]["kiosk"]["languages"]) or ["en"]


def select_locale() -> str:
    offered = languages()
    chosen = session.get("lang")
    return chosen if chosen in offered else offered[0]


def init_app(app) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories=HERE)
    app.add_template_global(NAMES, "language_names")
    app.add_template_global(lambda: languages(), "kiosk_languages")
    app.add_template_global(lambda: str(get_locale() or languages()[0]), "current_lang")
    app.add_template_global(colon, "colon")
