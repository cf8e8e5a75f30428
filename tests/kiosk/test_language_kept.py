"""The language chosen on screen stays until the session ends or the attract screen's idle reset (the stranger's
trial: Français, Aide, Retour came back in English; switching language on Aide went back to the attract screen)."""
HX = {"HX-Request": "true"}


def test_the_language_chosen_stays_after_help_and_back(kiosk):
    kiosk.post("/language", data={"lang": "fr"}, headers=HX)
    kiosk.get("/help", headers=HX)
    assert 'data-lang="fr"' in kiosk.get("/", headers=HX).get_data(as_text=True)


def test_the_idle_reset_of_the_attract_screen_brings_back_the_default_language(kiosk):
    kiosk.post("/language", data={"lang": "fr"}, headers=HX)
    assert 'data-lang="en"' in kiosk.get("/?reset=1", headers=HX).get_data(as_text=True)


def test_switching_language_on_help_stays_on_help(kiosk):
    kiosk.get("/help", headers=HX)
    html = kiosk.post("/language", data={"lang": "fr", "at": "help"}, headers=HX).get_data(as_text=True)
    assert 'id="help-title">Aide<' in html


def test_the_language_buttons_on_help_say_they_are_on_help(kiosk):
    html = kiosk.get("/help", headers=HX).get_data(as_text=True)
    assert '"lang": "fr", "at": "help"' in html


def test_a_patrons_session_ended_at_the_attract_screen_takes_the_language_chosen_with_it(kiosk):
    kiosk.post("/identify", data={"identifier": "20000000000011"})
    kiosk.post("/language", data={"lang": "fr"}, headers=HX)
    assert 'data-lang="en"' in kiosk.get("/", headers=HX).get_data(as_text=True)
