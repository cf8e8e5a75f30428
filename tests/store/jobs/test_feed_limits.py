"""Bounded memory for any Alma user XML: nesting depth, an element's text or attributes and a user's size have
limits, refused with a clear message before the parser holds more than one user's worth."""
import tracemalloc

from library_kiosk.central.store.jobs import feed_parse
from library_kiosk.central.store.jobs.feed import load_feed
from library_kiosk.central.store.models import User
from tests.store import factories

HEAD = ("<users>\n<user><primary_id>H1</primary_id><last_name>Ng</last_name><user_group>21</user_group>"
        "<expiry_date>2027-09-30</expiry_date>\n")


def load(path):
    return load_feed(path, fmt="alma-xml", source="HR", operator="t", today=factories.TODAY)


def test_deep_nesting_is_refused_with_flat_memory(groups, write):
    levels = 500_000  # 3.5 MB of <a>: the whole tree would take hundreds of MB
    path = write("deep.xml", HEAD + "<a>" * levels + "</a>" * levels + "</user></users>")
    tracemalloc.start()
    try:
        report = load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.status, report.message.split(": ", 1)[1], peak < 4_000_000) == (
        "refused", "line 3: elements nested more than 32 deep (an Alma user is 8 levels deep); nothing was loaded",
        True)


def test_a_huge_element_is_refused(groups, write):
    path = write("big.xml", HEAD + "<job_description>" + "x" * 3_000_000 + "</job_description></user></users>")
    assert load(path).message.endswith(
        "line 3: an element's text is longer than 100,000 characters; nothing was loaded")


def test_huge_attributes_are_refused(groups, write):
    path = write("attr.xml", HEAD + '<gender desc="' + "x" * 200_000 + '">F</gender></user></users>')
    assert load(path).message.endswith(
        "line 3: the attributes of <gender> are longer than 100,000 characters; nothing was loaded")


def test_a_user_with_too_many_elements_is_refused_and_nothing_loads(groups, write):
    many = "<user_notes>" + "<user_note><note_text>n</note_text></user_note>\n" * 5_000 + "</user_notes>"
    path = write("many.xml", HEAD.replace("<users>\n", "<users>\n<user><primary_id>H0</primary_id><last_name>A"
                                          "</last_name><user_group>21</user_group><expiry_date>2027-09-30"
                                          "</expiry_date></user>\n") + many + "</user></users>")
    report = load(path)
    assert (report.message.split(": ", 1)[1], User.select().count()) == (
        "line 5001: a <user> (from line 3) has more than 10,000 elements; nothing was loaded", 0)


def test_the_limits_fit_alma_records(groups, write):
    assert feed_parse.MAX_DEPTH >= 8 and feed_parse.MAX_ELEMENT_CHARS >= 4000
