"""Regenerate kiosk/i18n/fr/LC_MESSAGES/messages.po from messages.pot and the table below.

    .venv/bin/pybabel extract -F kiosk/i18n/babel.cfg -o kiosk/i18n/messages.pot . \
        --no-location --omit-header
    .venv/bin/python kiosk/i18n/make_fr.py
A translator may instead edit the .po file directly (the kiosk compiles it at startup).
"""
import os

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from kiosk.i18n import french_spacing  # a no-break space before ":", a narrow one before ";", "!", "?"

FR = {
    "Type your PIN on the keypad, then press OK.": "Saisissez votre code sur le clavier, puis appuyez sur OK.",
    "This kiosk cannot do that just now": "Cette borne ne peut pas faire cela pour le moment",
    "Please ask at the library desk: staff can see your account and help you.":
        "Adressez-vous à l'accueil de la bibliothèque : le personnel peut consulter votre compte et vous aider.",
    "Still working…": "Traitement en cours…",
    "No answer yet. Please try again.": "Pas encore de réponse. Veuillez réessayer.",
    "Try again": "Réessayer",
    "This card is locked": "Cette carte est bloquée",
    "The PIN was wrong too many times. Try again in %(minutes)s minutes, or ask at the desk.":
        "Le code a été mal saisi trop de fois. Réessayez dans %(minutes)s minutes, ou adressez-vous à l'accueil.",
    "Nothing was scanned": "Rien n'a été lu",
    "Tap your card on the reader or scan your barcode.": "Posez votre carte sur le lecteur ou scannez votre code-barres.",
    "This card is not registered": "Cette carte n'est pas enregistrée",
    "This is not a library card": "Ce n'est pas une carte de bibliothèque",
    "Scan the barcode on your library card, or tap the card on the reader.":
        "Scannez le code-barres de votre carte de bibliothèque, ou posez la carte sur le lecteur.",
    "We could not find this card or barcode. Please ask at the desk.":
        "Nous ne trouvons pas cette carte ou ce code-barres. Adressez-vous à l'accueil.",
    "That PIN is not right.": "Ce code n'est pas correct.",
    "Nothing to renew": "Rien à prolonger",
    "Choose a loan to renew.": "Choisissez un prêt à prolonger.",
    "Renew your loans one at a time.": "Prolongez vos prêts un par un.",
    "Renewals are not available just now": "Les prolongations ne sont pas disponibles pour le moment",
    "Nothing has changed on your account. Please try again in a few minutes, or ask at the desk.":
        "Rien n'a changé sur votre compte. Réessayez dans quelques minutes, ou adressez-vous à l'accueil.",
    "No receipt": "Pas de reçu",
    "This receipt cannot be given here.": "Ce reçu ne peut pas être délivré ici.",
    "Your loans": "Vos prêts",
    "Your receipt is printing.": "Votre reçu est en cours d'impression.",
    "The receipt printer is not working. Please ask at the desk.":
        "L'imprimante de reçus ne fonctionne pas. Adressez-vous à l'accueil.",
    "due %(date)s": "à rendre le %(date)s",
    "renewed": "prolongé",
    "not renewed": "non prolongé",
    "You have no loans.": "Vous n'avez aucun prêt.",
    "We have no email address for you. Please ask at the desk.":
        "Nous n'avons pas votre adresse e-mail. Adressez-vous à l'accueil.",
    "Email is not available just now. Please try again later.":
        "L'envoi d'e-mails n'est pas disponible pour le moment. Réessayez plus tard.",
    "Sent to your email address.": "Envoyé à votre adresse e-mail.",
    "The email could not be sent. Please ask at the desk.": "L'e-mail n'a pas pu être envoyé. Adressez-vous à l'accueil.",
    "Your library account is not active.": "Votre compte de bibliothèque n'est pas actif.",
    "Your membership expired on %(date)s.": "Votre inscription a expiré le %(date)s.",
    "You owe %(owed)s, more than the limit of %(limit)s.": "Vous devez %(owed)s, plus que la limite de %(limit)s.",
    "You have %(count)s overdue items; please return some first.":
        "Vous avez %(count)s documents en retard ; rendez-en d'abord quelques-uns.",
    "This item is recorded as lost. Please ask at the desk.":
        "Ce document est enregistré comme perdu. Adressez-vous à l'accueil.",
    "This item is recorded as claimed returned. Please ask at the desk.":
        "Ce document est signalé comme rendu. Adressez-vous à l'accueil.",
    "This item has already been returned.": "Ce document a déjà été rendu.",
    "Your membership has expired, so loans cannot be renewed.":
        "Votre inscription a expiré : les prêts ne peuvent pas être prolongés.",
    "Your account is blocked, so loans cannot be renewed.":
        "Votre compte est bloqué : les prêts ne peuvent pas être prolongés.",
    "This item has been renewed the maximum number of times.":
        "Ce document a déjà été prolongé le nombre maximal de fois.",
    "Another patron has requested this item, so it cannot be renewed.":
        "Un autre lecteur a réservé ce document : il ne peut pas être prolongé.",
    "Your membership ends too soon for this item to be renewed.":
        "Votre inscription se termine trop tôt pour prolonger ce document.",
    "This item was renewed as far as it can be for now. Please try again nearer the due date.":
        "Ce document a été prolongé autant que possible pour le moment. Réessayez plus près de la date de retour.",
    "This loan was not found on your account.": "Ce prêt n'a pas été trouvé sur votre compte.",
    "This item cannot be renewed. Please ask at the desk.":
        "Ce document ne peut pas être prolongé. Adressez-vous à l'accueil.",
    "Renewals are not allowed on your account. Please ask at the desk.":
        "Les prolongations ne sont pas autorisées sur votre compte. Adressez-vous à l'accueil.",
    "The library system cannot be reached just now. Please try again later.":
        "Le système de la bibliothèque est injoignable pour le moment. Réessayez plus tard.",
    "This item cannot be renewed here. Please ask at the desk.":
        "Ce document ne peut pas être prolongé ici. Adressez-vous à l'accueil.",
    "Please ask at the library desk.": "Adressez-vous à l'accueil de la bibliothèque.",
    "Please ask at the library desk to renew your membership.":
        "Adressez-vous à l'accueil de la bibliothèque pour renouveler votre inscription.",
    "Please contact your department or askUCL.": "Contactez votre département ou askUCL.",
    "Please contact your department or Human Resources (HR).":
        "Contactez votre département ou les ressources humaines (RH).",
    "Please contact the department that registered you.": "Contactez le département qui vous a inscrit.",
    "The library desk is on the ground floor, next to the entrance.":
        "L'accueil de la bibliothèque se trouve au rez-de-chaussée, à côté de l'entrée.",
    "Monday to Friday 9:00-21:00, Saturday and Sunday 11:00-18:00.":
        "Du lundi au vendredi de 9 h à 21 h, samedi et dimanche de 11 h à 18 h.",
    "Membership valid until %(date)s": "Inscription valable jusqu'au %(date)s",
    "Your account is blocked": "Votre compte est bloqué",
    "Your membership has ended": "Votre inscription a pris fin",
    "What to do:": "Que faire :",
    "Loans": "Prêts",
    "Renew all": "Tout prolonger",
    "Show my loans": "Afficher mes prêts",
    "Item": "Document",
    "Due": "À rendre le",
    "Renewals left": "Prolongations restantes",
    "Action": "Action",
    "Overdue": "En retard",
    "Renew %(title)s": "Prolonger %(title)s",
    "Renew": "Prolonger",
    "Requests": "Réservations",
    "Email me my requests": "M'envoyer mes réservations par e-mail",
    "at %(place)s": "à %(place)s",
    "until %(date)s": "jusqu'au %(date)s",
    "pickup at %(place)s": "retrait à %(place)s",
    "place in queue: %(n)s": "rang dans la file : %(n)s",
    "You have no requests.": "Vous n'avez aucune réservation.",
    "Fines and fees": "Amendes et frais",
    "Type": "Type",
    "For": "Pour",
    "Balance": "Solde",
    "Total": "Total",
    "You owe nothing.": "Vous ne devez rien.",
    "Messages": "Messages",
    "Thank you. Your session has ended.": "Merci. Votre session est terminée.",
    "Tap your card or scan your barcode": "Posez votre carte ou scannez votre code-barres",
    "Hold your library card flat on the reader below the screen.":
        "Posez votre carte de bibliothèque à plat sur le lecteur sous l'écran.",
    "Card number or barcode": "Numéro de carte ou code-barres",
    "Continue": "Continuer",
    "Kiosk": "Borne",
    "Help": "Aide",
    "Language": "Langue",
    "Done": "Terminé",
    "Are you still there?": "Êtes-vous toujours là ?",
    "For your privacy this session ends in": "Pour protéger vos données, cette session se termine dans",
    "seconds": "secondes",
    "I'm still here": "Je suis toujours là",
    "End now": "Terminer maintenant",
    "A member of staff has been called and will come to you soon.":
        "Un membre du personnel a été appelé et va venir vous aider.",
    "We could not call staff from here. Please go to the desk.":
        "Nous n'avons pas pu appeler le personnel d'ici. Rendez-vous à l'accueil.",
    "Staff will be told as soon as this kiosk is back online. If you need help now, please go to the desk.":
        "Le personnel sera prévenu dès que cette borne sera de nouveau en ligne. Si vous avez besoin d'aide maintenant, rendez-vous à l'accueil.",
    "Call a member of staff": "Appeler un membre du personnel",
    "Back to my account": "Retour à mon compte",
    "Back": "Retour",
    "Where to find us": "Où nous trouver",
    "Opening hours": "Horaires d'ouverture",
    "Using this kiosk": "Utiliser cette borne",
    "Tap your library card on the reader, or scan the barcode on your card.":
        "Posez votre carte de bibliothèque sur le lecteur, ou scannez le code-barres de votre carte.",
    "Type your PIN on the keypad on the screen.": "Saisissez votre code sur le clavier affiché à l'écran.",
    "Press Done when you have finished. The kiosk also ends your session after a minute without a touch.":
        "Appuyez sur Terminé quand vous avez fini. La borne termine aussi votre session après une minute sans contact.",
    "Hello %(name)s": "Bonjour %(name)s",
    "Enter your PIN": "Saisissez votre code",
    "Keypad": "Clavier",
    "Delete last digit": "Effacer le dernier chiffre",
    "Clear": "Effacer",
    "OK": "Valider",
    "Renewals": "Prolongations",
    "%(done)s of %(total)s renewed.": "%(done)s sur %(total)s prolongé(s).",
    "Pending": "En attente",
    "Recorded here; it will be confirmed when the library system is back.":
        "Enregistré ici ; ce sera confirmé au retour du système de la bibliothèque.",
    "Expected due date: %(date)s.": "Date de retour prévue : %(date)s.",
    "Renewed": "Prolongé",
    "New due date: %(date)s": "Nouvelle date de retour : %(date)s",
    "Not renewed": "Non prolongé",
    "Would you like a receipt?": "Souhaitez-vous un reçu ?",
    "Email me a receipt": "M'envoyer un reçu par e-mail",
    "Print a receipt": "Imprimer un reçu",
    "self-service": "libre-service",
    "Renew selected": "Prolonger la sélection",
    "Select": "Sélectionner",
    "Tick the loans you want to renew, then press Renew selected.":
        "Cochez les prêts à prolonger, puis appuyez sur Prolonger la sélection.",
    "Nothing has been renewed.": "Rien n'a été prolongé.",
    "High contrast": "Contraste élevé",
    # coded values (domain/codes.py), translated through the describe() template global
    "On loan": "En prêt", "Lost": "Perdu", "Claimed returned": "Signalé rendu", "Returned": "Rendu",
    "Ready for pickup": "Prêt à retirer", "In process": "En cours de traitement", "Not yet active": "Pas encore actif",
    "Overdue fine": "Amende de retard", "Lost item replacement fee": "Frais de remplacement de document perdu",
    "Lost item processing fee": "Frais de traitement de document perdu", "Library card renewal": "Renouvellement de carte",
    "Library card replacement": "Remplacement de carte", "Membership fee": "Droits d'inscription", "Other": "Autre",
    # signing in without a card (kiosk/signin.py, _signin.html, _keyboard.html)
    "No card? Sign in": "Pas de carte ? Connectez-vous",
    "Sign in without a card": "Se connecter sans carte",
    "Your user name is your library barcode or your user ID. Use the keyboard on the screen.":
        "Votre identifiant est le code-barres de votre carte ou votre numéro d'usager. Utilisez le clavier à l'écran.",
    "User name": "Identifiant",
    "Password": "Mot de passe",
    "Show password": "Afficher le mot de passe",
    "Cancel": "Annuler",
    "Sign in": "Se connecter",
    "Keyboard": "Clavier",
    "Shift": "Maj",
    "Delete last character": "Effacer le dernier caractère",
    "Space": "Espace",
    "Sign in with your card": "Connectez-vous avec votre carte",
    "Signing in without a card is not offered at this kiosk. Tap your card or scan your barcode, or ask at the desk.":
        "La connexion sans carte n'est pas proposée sur cette borne. Posez votre carte sur le lecteur ou scannez votre "
        "code-barres, ou adressez-vous à l'accueil.",
    "Too many unsuccessful sign-ins at this kiosk. Please wait %(seconds)s seconds and try again.":
        "Trop de tentatives de connexion échouées sur cette borne. Patientez %(seconds)s secondes puis réessayez.",
    "This account is locked": "Ce compte est bloqué",
    "The PIN or password was wrong too many times. Try again in %(minutes)s minutes, or ask at the desk.":
        "Le code ou le mot de passe a été mal saisi trop de fois. Réessayez dans %(minutes)s minutes, ou adressez-vous "
        "à l'accueil.",
    "Type your user name and your password.": "Saisissez votre identifiant et votre mot de passe.",
    "That user name or password is not right.": "Cet identifiant ou ce mot de passe n'est pas correct.",
    # kiosk/services.py SIGNIN_UNCHECKED (shown through _(result.message))
    "Signing in without a card is not possible just now because the library system cannot be reached. Please use "
    "your card, or ask at the desk.":
        "La connexion sans carte n'est pas possible pour le moment car le système de la bibliothèque est injoignable. "
        "Utilisez votre carte, ou adressez-vous à l'accueil.",
    # receipts for each section of the account, and when they go ([kiosk] receipt_when)
    "Receipt": "Reçu",
    "Email me my loans": "M'envoyer mes prêts par e-mail",
    "Print my loans": "Imprimer mes prêts",
    "Print my requests": "Imprimer mes réservations",
    "Email me my fines and fees": "M'envoyer mes amendes et frais par e-mail",
    "Print my fines and fees": "Imprimer mes amendes et frais",
    "Your requests": "Vos réservations",
    "Your fines and fees": "Vos amendes et frais",
    "ready for pickup at %(place)s": "prête à retirer à %(place)s",
    "Your receipt": "Votre reçu",
    "If you do not take a receipt, one will be emailed to you when your session ends.":
        "Si vous ne prenez pas de reçu, il vous sera envoyé par e-mail à la fin de votre session.",
    "Previous page": "Page précédente",
    "Email": "E-mail",
    "Print": "Imprimer",
    "Due %(date)s": "À rendre le %(date)s",
    "Next page": "Page suivante",
    "Page %(page)s of %(pages)s": "Page %(page)s sur %(pages)s",
    "Your account": "Votre compte",
    "Nothing to show": "Rien à afficher",
    "This part of your account is not shown here.": "Cette partie de votre compte n'est pas affichée ici.",
    # the attract screen's picture and welcome, and a card just read (issue 15)
    "Card read. One moment…": "Carte lue. Un instant…",
    "A library card held flat over the reader below the screen.":
        "Une carte de bibliothèque posée à plat sur le lecteur sous l'écran.",
    "Welcome to %(library)s": "Bienvenue à %(library)s",
    # issue 21: the out-of-order screen, and renewals' outcomes once known (kiosk/visit.py)
    "This kiosk is out of order":
        "Cette borne est hors service",
    "Please go to the library desk: staff can see your account and help you there.":
        "Adressez-vous à l'accueil de la bibliothèque : le personnel peut y consulter votre compte et vous aider.",
    "%(title)s: your renewal is confirmed. New due date: %(date)s":
        "%(title)s : votre prolongation est confirmée. Nouvelle date de retour : %(date)s",
    "%(title)s: not renewed.":
        "%(title)s : non prolongé.",
    # strings of earlier screens that had no French yet (the kiosk's start, the PIN pause, an account shown as of)
    "This kiosk is still starting": "Cette borne est en cours de démarrage",
    "It cannot read cards until it has reached the library's server. Please try again in a minute, or ask at the "
    "desk.": "Elle ne peut pas lire de carte avant d'avoir joint le serveur de la bibliothèque. Réessayez dans une "
             "minute, ou adressez-vous à l'accueil.",
    "This card cannot be checked just now": "Cette carte ne peut pas être vérifiée pour le moment",
    "The library system cannot be reached, and this kiosk does not know this card yet. Please try again in a few "
    "minutes, or ask at the desk.": "Le système de la bibliothèque est injoignable et cette borne ne connaît pas "
                                    "encore cette carte. Réessayez dans quelques minutes, ou adressez-vous à "
                                    "l'accueil.",
    "Too many wrong PINs have been typed at this kiosk. Please wait %(seconds)s seconds and try again.":
        "Trop de codes erronés ont été saisis sur cette borne. Attendez %(seconds)s secondes et réessayez.",
    "Your renewal was sent, but the library system did not confirm it. It will be checked, and staff will see the "
    "outcome.": "Votre prolongation a été envoyée, mais le système de la bibliothèque ne l’a pas confirmée. Elle "
                "sera vérifiée, et le personnel verra le résultat.",
    "an earlier visit": "une visite précédente",
    "Shown as of %(when)s: the library system cannot be reached just now, so this may not be up to date.":
        "Affiché tel qu'au %(when)s : le système de la bibliothèque est injoignable pour le moment, ces "
        "informations peuvent ne pas être à jour.",
    # issue 18: Borrow and Return (kiosk/circulation.py, kiosk/tray.py)
    "Borrowing is not available": "L'emprunt n'est pas disponible",
    "Items cannot be borrowed at this kiosk just now. Please ask at the desk.":
        "Aucun document ne peut être emprunté sur cette borne pour le moment. Adressez-vous à l'accueil.",
    "Nothing was scanned. Scan the item's barcode, or put the item on the reader.":
        "Rien n'a été lu. Scannez le code-barres du document, ou posez le document sur le lecteur.",
    "This is not an item's barcode. Scan the barcode on the item.":
        "Ce n'est pas le code-barres d'un document. Scannez le code-barres sur le document.",
    "There is nothing to undo.": "Il n'y a rien à annuler.",
    "The last item has been given back.": "Le dernier document a été rendu.",
    "The last item could not be given back here. Please take it to the desk.":
        "Le dernier document n'a pas pu être rendu ici. Apportez-le à l'accueil.",
    "Returns are not available": "Les retours ne sont pas disponibles",
    "Items cannot be returned at this kiosk just now. Please take them to the desk.":
        "Aucun document ne peut être rendu sur cette borne pour le moment. Apportez-les à l'accueil.",
    "Your membership has expired, so you cannot borrow items. Please ask at the desk.":
        "Votre inscription a expiré : vous ne pouvez pas emprunter. Adressez-vous à l'accueil.",
    "Your account is blocked, so you cannot borrow items. Please ask at the desk.":
        "Votre compte est bloqué : vous ne pouvez pas emprunter. Adressez-vous à l'accueil.",
    "You have borrowed as many items as your membership allows.":
        "Vous avez emprunté autant de documents que votre inscription le permet.",
    "You have borrowed as many items of this kind as your membership allows.":
        "Vous avez emprunté autant de documents de ce type que votre inscription le permet.",
    "This item was not found. Please take it to the desk.":
        "Ce document est introuvable. Apportez-le à l'accueil.",
    "This item cannot be borrowed. It is for use in the library only.":
        "Ce document ne peut pas être emprunté. Il se consulte sur place uniquement.",
    "This item cannot be borrowed here. Please take it to the desk.":
        "Ce document ne peut pas être emprunté ici. Apportez-le à l'accueil.",
    "This item is on loan to someone else. Please take it to the desk.":
        "Ce document est prêté à quelqu'un d'autre. Apportez-le à l'accueil.",
    "You already have this item on loan.": "Vous avez déjà ce document en prêt.",
    "This item is waiting for another patron. Please take it to the desk.":
        "Ce document est réservé pour un autre lecteur. Apportez-le à l'accueil.",
    "This item has several parts and not all of them are on the reader. Place every part on it.":
        "Ce document a plusieurs parties et elles ne sont pas toutes sur le lecteur. Posez-les toutes.",
    "This item could not be made ready to leave the library. Please take it to the desk.":
        "Ce document n'a pas pu être préparé pour sortir de la bibliothèque. Apportez-le à l'accueil.",
    "The library system did not allow this loan. Please ask at the desk.":
        "Le système de la bibliothèque n'a pas autorisé ce prêt. Adressez-vous à l'accueil.",
    "Items cannot be borrowed while the kiosk is offline. Please ask at the desk.":
        "Aucun document ne peut être emprunté tant que la borne est hors ligne. Adressez-vous à l'accueil.",
    "You have borrowed as many items as can be lent while the kiosk is offline.":
        "Vous avez emprunté autant de documents que la borne peut en prêter hors ligne.",
    "Your loan was sent, but the library system did not confirm it. Staff will check it.":
        "Votre prêt a été envoyé, mais le système de la bibliothèque ne l'a pas confirmé. Le personnel le vérifiera.",
    "This item cannot be borrowed here. Please ask at the desk.":
        "Ce document ne peut pas être emprunté ici. Adressez-vous à l'accueil.",
    "This item's tag could not be read. Please take it to the desk.":
        "L'étiquette de ce document n'a pas pu être lue. Apportez-le à l'accueil.",
    "Thank you.": "Merci.",
    "Please put this item on the hold shelf.": "Posez ce document sur l'étagère des réservations.",
    "Please take this item to the desk.": "Apportez ce document à l'accueil.",
    "This item belongs to another library: please leave it at the desk.":
        "Ce document appartient à une autre bibliothèque : laissez-le à l'accueil.",
    "This item was not on loan. Please take it to the desk.":
        "Ce document n'était pas en prêt. Apportez-le à l'accueil.",
    "The library system did not accept this return. Please take the item to the desk.":
        "Le système de la bibliothèque n'a pas accepté ce retour. Apportez le document à l'accueil.",
    "The library system will be told as soon as it can be reached.":
        "Le système de la bibliothèque en sera informé dès qu'il sera joignable.",
    "This item could not be returned here. Please take it to the desk.":
        "Ce document n'a pas pu être rendu ici. Apportez-le à l'accueil.",
    "Missing: %(parts)s of %(total)s.": "Manquant : %(parts)s sur %(total)s.",
    "Borrow items": "Emprunter",
    "Return items": "Rendre des documents",
    "Borrow": "Emprunter",
    "Items": "Documents",
    "The items you borrow appear here.": "Les documents que vous empruntez s'affichent ici.",
    "Undo the last": "Annuler le dernier",
    "Undo": "Annuler le dernier",  # never the bare "Annuler": that is Cancel elsewhere
    "My account": "Mon compte",
    # beside Done ("Terminé"), never "Terminer"; short, so it, Undo the last, My account and the pager fit 800×480
    "Finish": "Valider",
    "You have borrowed": "Vous avez emprunté",
    "Nothing was borrowed.": "Rien n'a été emprunté.",
    "Borrow more": "Emprunter encore",
    "The items you return appear here.": "Les documents que vous rendez s'affichent ici.",
    "Item %(barcode)s": "Document %(barcode)s",
    "An item": "Un document",
    "A late fee of %(amount)s was added to the borrower's account.":
        "Une pénalité de retard de %(amount)s a été ajoutée au compte de l'emprunteur.",
    "Its security tag could not be set: please take it to the desk.":
        "Son antivol n'a pas pu être activé : apportez-le à l'accueil.",
    "Not returned": "Non rendu",
    "Given back": "Rendu",
    "Not borrowed: you gave it back.": "Non emprunté : vous l'avez rendu.",
    "Lent here; it will be confirmed when the library system is back.":
        "Prêté ici ; ce sera confirmé quand le système de la bibliothèque sera de retour.",
    "Due back on %(date)s.": "À rendre le %(date)s.",
    "Borrowed": "Emprunté",
    "Not borrowed": "Non emprunté",
    "Scan each item's barcode, or put the items on the reader.":
        "Scannez le code-barres de chaque document, ou posez les documents sur le lecteur.",
    "Add": "Ajouter",
    "Items you borrowed": "Documents empruntés",
    "This item is lent without renewals. Please ask at the desk if you need it longer.":
        "Ce document est prêté sans prolongation. Adressez-vous à l'accueil si vous en avez besoin plus longtemps.",
}
PLURALS = {
    "expires in %(num)d day.": ("expire dans %(num)d jour.", "expire dans %(num)d jours."),
    "%(num)d request is ready for pickup": ("%(num)d réservation est prête à retirer",
                                            "%(num)d réservations sont prêtes à retirer"),
    "%(num)d attempt left.": ("%(num)d essai restant.", "%(num)d essais restants."),
    "%(num)d loan is overdue": ("%(num)d prêt est en retard", "%(num)d prêts sont en retard"),
    "%(num)d renewal left": ("%(num)d prolongation restante", "%(num)d prolongations restantes"),
    "%(num)d item borrowed.": ("%(num)d document emprunté.", "%(num)d documents empruntés."),
    "%(num)d item.": ("%(num)d document.", "%(num)d documents."),
    "%(num)d item returned.": ("%(num)d document rendu.", "%(num)d documents rendus."),
}

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    with open(os.path.join(HERE, "messages.pot"), "rb") as handle:
        template = read_po(handle)
    catalog = Catalog(locale="fr", project="library-kiosk", charset="utf-8")
    seen = set()
    for message in template:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        seen.add(key)
        if isinstance(message.id, tuple):
            forms = PLURALS.get(key, ("", ""))
            forms = forms + (forms[-1],) * (catalog.num_plurals - len(forms))  # French's "many" as its "other"
            catalog.add(message.id, tuple(french_spacing(form) for form in forms))
        else:
            catalog.add(message.id, french_spacing(FR.get(key, "")))
    for key, value in FR.items():
        if key not in seen:
            catalog.add(key, french_spacing(value))
    missing = [m.id for m in catalog if m.id and not m.string]
    if missing:
        raise SystemExit(f"untranslated: {missing}")
    with open(os.path.join(HERE, "fr", "LC_MESSAGES", "messages.po"), "wb") as handle:
        write_po(handle, catalog, width=0)


if __name__ == "__main__":
    main()
