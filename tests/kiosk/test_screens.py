"""The kiosk's words for what the domain decides: every renewal reason has its own message, in
every language the kiosk ships."""
import pytest
from flask_babel import force_locale

from kiosk.screens import renewal_message
from library_kiosk.domain.renewal import REASONS


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_renewal_reason_has_its_own_message_in_english_and_french(kiosk_app, reason):
    with kiosk_app.test_request_context():
        with force_locale("en"):
            english = renewal_message(reason)
        with force_locale("fr"):
            french = renewal_message(reason)
    assert english == REASONS[reason]  # the kiosk says what the domain means, not a generic refusal
    assert french and french != english
