"""Coded values, following Alma's ``{value, desc}`` code tables."""
from __future__ import annotations

from collections.abc import Mapping

ACCOUNT_TYPES = {"INTERNAL": "Internal", "EXTERNAL": "External"}
# Record types as the Alma Essentials guide names them ("Staff, Public, or Contact user"): STAFF is an internal
# record the library created, PUBLIC one the user record synchronisation (the feed) created. Neither says whether
# the person works for the library ("it is not unusual for user records for library staff to have a Public record
# type"); a station login is a StaffUser, not a record type. RECORD_TYPE_MEANINGS says so where the type is shown.
RECORD_TYPES = {"STAFF": "Staff user", "PUBLIC": "Public user", "CONTACT": "Contact user"}
RECORD_TYPE_MEANINGS = {
    "STAFF": "a record the library created (not a staff account)",
    "PUBLIC": "a record loaded by the user record synchronisation",
    "CONTACT": "a vendor's contact person",
}
USER_STATUSES = {"ACTIVE": "Active", "INACTIVE": "Inactive"}
SEGMENT_TYPES = {"Internal": "Internal", "External": "External"}

# Systems that own external records (UCL: SITS, MyHR, the Services System).
SOURCE_SYSTEMS = {
    "STUDENT": "Student records (SITS)",
    "HR": "Human resources (MyHR)",
    "VISITORS": "Departmental visitors (Services System)",
}

IDENTIFIER_TYPES = {
    "BARCODE": "Barcode",
    "CARD_SERIAL_NUMBER": "Card Serial Number",
    "UNIV_ID": "University ID",
    "OTHER_ID": "Other ID",
}
IDENTIFIER_STATUSES = {"ACTIVE": "Active", "INACTIVE": "Inactive"}
BLOCK_STATUSES = {"ACTIVE": "Active", "INACTIVE": "Inactive"}
LETTER_CHANNELS = {"email": "Email", "print": "Print"}
LETTER_STATUSES = {"sent": "Sent", "queued": "Waiting to be sent", "failed": "Not sent"}
JOB_STATUSES = {"running": "Running", "done": "Done", "refused": "Refused (nothing changed)",
                "failed": "Failed (rolled back)"}

EMAIL_TYPES = {"personal": "Personal", "work": "Work", "school": "School", "alternative": "Alternative"}
ADDRESS_TYPES = {"home": "Home", "work": "Work", "school": "School", "alternative": "Alternative"}
PHONE_TYPES = {"home": "Home", "mobile": "Mobile", "office": "Office"}

LOAN_STATUSES = {
    "ON_LOAN": "On loan",
    "LOST": "Lost",
    "CLAIMED_RETURNED": "Claimed returned",
    "RETURNED": "Returned",
}
REQUEST_TYPES = {"HOLD": "Hold", "DIGITIZATION": "Digitisation", "BOOKING": "Booking"}
REQUEST_STATUSES = {
    "ON_HOLD_SHELF": "Ready for pickup",
    "IN_PROCESS": "In process",
    "NOT_STARTED": "Not yet active",
}
FEE_TYPES = {
    "OVERDUEFINE": "Overdue fine",
    "LOSTITEMREPLACEMENTFEE": "Lost item replacement fee",
    "LOSTITEMPROCESSFEE": "Lost item processing fee",
    "CARD_RENEWAL": "Library card renewal",
    "CARD_REPLACEMENT": "Library card replacement",
    "MEMBERSHIP": "Membership fee",
    "OTHER": "Other",
}
FEE_STATUSES = {"ACTIVE": "Active", "INDISPUTE": "In dispute", "EXPORTED": "Exported", "CLOSED": "Closed"}
FEE_TRANSACTION_TYPES = {"PAYMENT": "Payment", "WAIVE": "Waive"}
PAYMENT_METHODS = {"CASH": "Cash", "CREDIT_CARD": "Credit card", "ONLINE": "Online"}
BLOCK_TYPES = {
    "GENERAL": "General",
    "LOST_CARD": "Card reported lost",
    "DISCIPLINARY": "Disciplinary",
}
NOTE_TYPES = {"POPUP": "Pop-up", "CIRCULATION": "Circulation", "LIBRARY": "Library", "OTHER": "Other"}
STATISTIC_CATEGORIES = {
    "UOL": "University of London staff/student",
    "LEARNED_SOCIETY": "Learned society member",
    "NHS": "NHS",
}

# The Harvard list of user groups from the staff guide, used as demo configuration.
HARVARD_USER_GROUPS = {
    "21": "Faculty (Proxy)",
    "22": "Officer (Proxy)",
    "23": "Staff (Proxy)",
    "25": "Special Borrower",
    "27": "Consortial Borrower",
    "30": "Domestic partner",
    "41": "SAO Affiliate",
    "42": "Continuing Ed. - PCI",
    "45": "Special Permission Borrowers",
    "57": "Leganto Self-Registered Patron",
    "58": "Library Guest",
    "59": "Visiting Researcher",
    "84": "Borrow Direct to other institution (RS Billing only)",
}


def describe(table: Mapping[str, str], value: str | None) -> str:
    """The description of a coded value, or the value itself when unknown."""
    if value is None:
        return ""
    return table.get(value, value)
