"""The borrow tray's buttons in French say what they do (the stranger's trial): "Annuler le dernier" for Undo the
last (never the bare "Annuler", Cancel elsewhere), and Finish "Valider", never "Terminer" beside Done ("Terminé")."""
from library_kiosk.central.store import items
from tests.kiosk.helpers import login

HX = {"HX-Request": "true"}


def _tray_in_french(kiosk) -> str:
    items.Item.create(barcode="39100", title="Brighton Rock", library="MAIN")
    login(kiosk)
    kiosk.post("/language", data={"lang": "fr"}, headers=HX)
    kiosk.post("/borrow", headers=HX)
    return kiosk.post("/borrow/item", data={"barcode": "39100"}, headers=HX).get_data(as_text=True)


def test_undo_the_last_is_annuler_le_dernier_on_every_screen_size(kiosk):
    html = _tray_in_french(kiosk)
    assert '<span class="short" aria-hidden="true">Annuler le dernier</span>' in html


def test_finish_is_not_a_word_like_done(kiosk):
    assert 'data-testid="finish">Valider</button>' in _tray_in_french(kiosk)
