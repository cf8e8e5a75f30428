"""The station's designed interface (issue 16 item 1) in real Chromium, over every station page (listed from the
app's own routes: a new page fails ``test_every_station_page_is_walked`` until it is added here): axe-core clean,
no sideways scroll at 1366x768, 1024x768 (a desk tablet) and 800x480, targets at least 44 px high, the menu of the
staff user's role only and usable from the keyboard, the error summary linking to its fields, the login page's own
files served before login, the favicons. Screenshots of every page at 1366x768 and 1024x768 go to
test-artifacts/station/."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from library_kiosk.central.store import devices, kiosk_calls, letters, staff
from library_kiosk.central.store.jobs.anonymise import anonymise_loans
from provisioning import paging
from tests.helpers import TODAY, screenshot
from tests.kiosk.browser.helpers import AXE
from tests.provisioning.helpers import log_in
from tests.store import factories

pytestmark = pytest.mark.browser

SIZES = {"1366x768": (1366, 768), "1024x768": (1024, 768), "800x480": (800, 480)}
TABS = ("general", "contact", "identifiers", "fees", "statistics", "notes", "loans", "requests", "letters")

# Every page the station serves to a browser: endpoint -> the addresses walked (filled in by ``library``).
PAGES = {
    "auth.login": ["/login"],
    "patrons.find": ["/", "/?q=Nowak"],
    "patrons.patron": [f"/patrons/P1?tab={tab}" for tab in TABS],
    "patrons.register": ["/register"],
    "cards.whose": ["/cards/whose?card=20000000000011"],
    "cards.batch": ["/cards/batch"],
    "cards.card_import": ["/cards/import"],
    "desk_circulation.checkin": ["/desk/checkin"],
    "calls.index": ["/calls"],
    "conflicts.index": ["/conflicts"],
    "usage.index": ["/usage"],
    "fleet.index": ["/fleet"],
    "admin.index": ["/admin/"],
    "admin.run": ["/admin/runs/{run}"],
    "auth.staff_users": ["/staff"],
    "auth.own_password": ["/password"],
    "auth.audit_log": ["/audit"],
    "desk.letter": ["/patrons/P1/letters/{letter}"],
    "desk.print_slip": ["/patrons/P1/slips/{slip}"],
    "demo_mail.index": ["/demo-mail"],
}
# What answers a GET without being a page of its own: partials swapped in by htmx, downloads, streams, files.
NOT_PAGES = {
    "calls.poll", "calls.badge", "fleet.table", "admin.progress", "admin.groups_edit", "records.row", "records.edit",
    "patrons.group_policy", "patrons.expiry", "usage.csv", "events.events", "health.health", "static",
    "vendor.static", "shared.static", "favicon",
}
NOT_FOUND = "/patrons/NOBODY"  # the station's message page (404), walked too

# The targets a finger uses: buttons, controls, the menu, the record's tabs, the pager (links inside running text
# are exempt, as in WCAG 2.5.8); a checkbox or radio counts with its label. Those not shown (a closed menu) are left.
SMALL_TARGETS = """() => {
  const small = [];
  const targets = 'button, input:not([type=hidden]), select, textarea, summary, header a, .tabs a, .pager a, a.btn';
  for (const el of document.querySelectorAll(targets)) {
    let box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (['checkbox', 'radio'].includes(el.type) && el.labels.length) {
      box = Array.from(el.labels).map(l => l.getBoundingClientRect()).sort((a, b) => b.height - a.height)[0];
    }
    const name = (el.textContent || el.name || el.id).trim().slice(0, 40);
    if (box.height < 43.5) small.push(`${el.tagName.toLowerCase()} "${name}" ${box.height.toFixed(1)} px`);
  }
  return small;
}"""

AXE_RUN = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
  return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ')}`);
}"""


# Audit entries as long as the station writes them: a refused scan of the longest barcode a field takes (no space to
# wrap at), a lock with its end.
LONG_AUDIT_ENTRIES = [
    ("admin", "loan.checkout_refused", f"Not checked out: {'X' * 60}. This item was not found. Please take it to "
                                       "the desk."),
    ("kiosk:kiosk-1", "kiosk.pin_lockout", "Card locked at every kiosk after 5 wrong PINs or passwords (the last at "
                                           "kiosk-1), until 2026-12-05T11:26:58Z"),
]


@pytest.fixture
def library(station, smtp_server, tmp_path):
    """A station with something on every page: a patron with loans (one overdue), a request, fees, a letter;
    31 patrons called Nowak (two pages of results); a staff call, an enrolled kiosk, a stored job run, audit
    entries, a printed desk slip, a message in the
    demo's mail sink. Returns the walked addresses, in order."""
    user = factories.patron("P1", first_name="Zoë", last_name="Ólafsdóttir-Wójcik")
    factories.loan(user, "Middlemarch")
    factories.loan(user, "The Mill on the Floss", due=TODAY - dt.timedelta(days=4))
    factories.hold(user)
    factories.fine(user, "2.50")
    factories.fine(user, "12.00", fee_type="LOSTITEMREPLACEMENTFEE")
    letter = letters.send_letter(user, "FulRequestsReportLetter", station.config["KIOSK"], "desk", today=TODAY)
    slip = letters.send_letter(user, "DeskSlipLetter", station.config["KIOSK"], "desk", channel="print", today=TODAY,
                               lines=["Middlemarch: renewed, now due 16 December 2026"])
    for i in range(31):
        factories.patron(f"N{i:03d}", barcode=None, card=None, first_name=f"Ann{i:02d}", last_name="Nowak")
    devices.enrol(devices.add("kiosk-1"))
    kiosk_calls.create_call("kiosk-1", "help", "P1")
    run = anonymise_loans(operator="admin", today=TODAY, dry_run=True)
    staff.audit("manager", "record.update", "P1", "first name changed")
    for operator, action, detail in LONG_AUDIT_ENTRIES:
        staff.audit(operator, action, "P1", detail)
    sink = tmp_path / "demo-mail"  # the demo's mail sink ([mail] demo_sink_dir), with one message kept
    sink.mkdir()
    (sink / "20261125T120000-1.eml").write_text("Subject: Your loans\nTo: zoe@example.org\n"
                                                "Date: Wed, 25 Nov 2026 12:00:00 +0000\n\nMiddlemarch, due soon.\n")
    station.config["KIOSK"]["mail"]["demo_sink_dir"] = str(sink)
    addresses = [path.format(run=run.run_id, letter=letter.id, slip=slip.id)
                 for paths in PAGES.values() for path in paths]
    return addresses + [NOT_FOUND]


@pytest.fixture
def tab(browser, station_url):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.base = station_url
    yield page
    context.close()


def open_page(tab, path: str) -> None:
    tab.goto(tab.base + path, wait_until="load")
    tab.wait_for_function("() => document.readyState === 'complete' && document.fonts.status === 'loaded'")


def at_size(tab, size: str) -> None:
    width, height = SIZES[size]
    tab.set_viewport_size({"width": width, "height": height})
    tab.wait_for_function("([w, h]) => innerWidth === w && innerHeight === h", arg=[width, height])


def shot_name(path: str) -> str:
    name = path.strip("/").replace("/", "-").replace("?tab=", "-").replace("?q=", "search-").replace("?card=", "-")
    return name if name and not name.startswith("search-") else "find" + (f"-{name}" if name else "")


def admin_walk(tab, library, check, size: str = "1366x768") -> dict:
    """Log in as the administrator, open every page at ``size`` and collect ``check(tab)`` where it is not empty."""
    at_size(tab, size)
    log_in(tab, tab.base, "admin")
    expect(tab.locator("h1")).to_have_text("Scan patron ID or search for patron")
    found = {}
    for path in library:
        open_page(tab, path)
        result = check(tab)
        if result:
            found[path] = result
    return found


def test_every_station_page_is_walked(station):
    gets = {rule.endpoint for rule in station.url_map.iter_rules() if "GET" in rule.methods}
    assert gets - NOT_PAGES == set(PAGES)


def test_every_page_is_axe_clean(tab, library):
    def axe(page):
        page.add_script_tag(path=AXE)
        return page.evaluate(AXE_RUN)

    assert admin_walk(tab, library, axe) == {}


@pytest.mark.parametrize("size", list(SIZES))
def test_no_page_scrolls_sideways(tab, library, size):
    def overflow(page):
        if size != "800x480":
            screenshot(page, "station", f"{shot_name(page.url.split(page.base, 1)[1])}-{size}")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        return width if width > SIZES[size][0] else None

    assert admin_walk(tab, library, overflow, size) == {}


def test_the_audit_log_with_long_entries_fits_800_px(tab, station):
    for operator, action, detail in LONG_AUDIT_ENTRIES:
        staff.audit(operator, action, "P0000006", detail)
    at_size(tab, "800x480")
    log_in(tab, tab.base, "admin")
    open_page(tab, "/audit")
    screenshot(tab, "station", "audit-800x480")
    assert tab.evaluate("() => document.documentElement.scrollWidth") <= 800


def test_every_target_is_at_least_44_px_high_on_a_desk_tablet(tab, library):
    assert admin_walk(tab, library, lambda page: page.evaluate(SMALL_TARGETS), "1024x768") == {}


MENUS = {
    "desk": {"/", "/cards/whose", "/desk/checkin", "/calls", "/conflicts", "/usage", "/password"},
    "manager": {"/", "/register", "/cards/whose", "/cards/batch", "/cards/import", "/desk/checkin", "/calls",
                "/conflicts", "/usage", "/password"},
    "admin": {"/", "/register", "/cards/whose", "/cards/batch", "/cards/import", "/desk/checkin", "/calls",
              "/conflicts", "/usage", "/fleet", "/admin/", "/staff", "/audit", "/password"},
}


@pytest.mark.parametrize("username", list(MENUS))
def test_the_menu_shows_the_roles_pages_only(tab, station, username):
    log_in(tab, tab.base, username)
    expect(tab.locator("h1")).to_have_text("Scan patron ID or search for patron")
    links = tab.eval_on_selector_all("header nav a[href]:not(.navbar-brand)",
                                     "links => links.map(a => a.getAttribute('href'))")
    assert set(links) == MENUS[username]


def test_a_desk_user_has_no_administration_group(tab, station):
    log_in(tab, tab.base, "desk")
    expect(tab.locator("h1")).to_have_text("Scan patron ID or search for patron")
    expect(tab.get_by_test_id("menu")).not_to_contain_text("Administration")


@pytest.mark.parametrize("size", ["1366x768", "1024x768"])
def test_the_menu_opens_and_is_followed_from_the_keyboard(tab, station, size):
    at_size(tab, size)
    log_in(tab, tab.base, "admin")
    expect(tab.locator("h1")).to_have_text("Scan patron ID or search for patron")
    tab.get_by_test_id("menu-cards").get_by_role("button", name="Cards").focus()
    tab.keyboard.press("Enter")
    tab.keyboard.press("ArrowDown")
    tab.keyboard.press("ArrowDown")
    screenshot(tab, "station", f"menu-open-{size}")
    tab.keyboard.press("Enter")
    expect(tab.locator("h1")).to_have_text("Card batch (start of term)")


def test_on_a_narrow_window_the_menu_folds_behind_a_button(tab, station):
    at_size(tab, "800x480")
    log_in(tab, tab.base, "admin")
    tab.get_by_test_id("menu-toggle").click()
    tab.get_by_test_id("menu-administration").get_by_role("button", name="Administration").click()
    expect(tab.get_by_role("link", name="Audit log")).to_be_visible()
    screenshot(tab, "station", "menu-open-800x480")
    tab.get_by_role("link", name="Audit log").click()
    expect(tab.locator("h1")).to_have_text("Audit log")


def test_the_error_summary_links_to_the_field(tab, station):
    log_in(tab, tab.base, "manager")
    open_page(tab, "/register")
    tab.get_by_role("button", name="Save", exact=True).click()
    tab.get_by_test_id("error-summary").wait_for()
    screenshot(tab, "station", "register-errors-1366x768")
    tab.get_by_test_id("summary-last_name").click()
    expect(tab.locator("#last_name")).to_be_focused()


def test_a_refused_form_moves_the_focus_to_its_error_summary(tab, station):
    log_in(tab, tab.base, "manager")
    open_page(tab, "/register")
    tab.get_by_role("button", name="Save", exact=True).click()
    expect(tab.get_by_test_id("error-summary")).to_be_focused()


def test_the_login_page_has_its_scripts_styles_and_icon_before_login(tab, station):
    answers = []
    tab.on("response", lambda response: answers.append((response.request.resource_type, response.url,
                                                       response.status)))
    open_page(tab, "/login")
    files = [(kind, url, status) for kind, url, status in answers if kind in ("script", "stylesheet", "image")]
    assert (len(files) >= 6, [f for f in files if f[2] != 200]) == (True, [])


def test_the_station_answers_favicon_ico(station):
    with station.test_client().get("/favicon.ico") as answer:
        assert (answer.status_code, answer.mimetype) == (200, "image/svg+xml")


def test_the_kiosk_page_names_its_favicon_and_serves_it(kiosk_app):
    client = kiosk_app.test_client()
    page = client.get("/").get_data(as_text=True)
    with client.get("/static/favicon.svg") as icon:
        assert ('rel="icon" href="/static/favicon.svg"' in page, icon.status_code) == (True, 200)


def test_the_log_out_button_is_visible_in_the_bar(tab, station):
    log_in(tab, tab.base, "desk")
    colours = tab.get_by_test_id("logout").evaluate(
        "b => { const s = getComputedStyle(b); return [s.color, s.backgroundColor]; }")
    assert colours == ["rgb(27, 27, 27)", "rgb(248, 249, 250)"]  # near-black on Bootstrap's light (16:1)


def test_the_fleet_sorts_and_pages_on_the_server(tab, station):
    for number in range(1, 53):  # 52 kiosks: two pages of 50 (provisioning/paging.py)
        devices.add(f"kiosk-{number:02d}")
    log_in(tab, tab.base, "admin")
    open_page(tab, "/fleet")
    tab.get_by_test_id("sort-name").click()  # sorted by name already: the other way round
    tab.wait_for_url("**/fleet?sort=name&dir=desc&page=1")
    tab.get_by_test_id("next-page").click()
    expect(tab.locator("[data-testid=fleet] tbody tr strong")).to_have_text(["kiosk-02", "kiosk-01"])


@pytest.mark.parametrize("asked", ["", "0", "-2", "two", "1.5"])
def test_a_page_number_that_is_not_a_positive_whole_number_reads_as_the_first(asked):
    assert paging.page_number({"page": asked}) == 1


def test_a_page_past_the_end_shows_the_last(station):
    shown = paging.paginate_list(list(range(120)), 9)
    assert (shown.page, shown.first, shown.last, shown.has_next) == (3, 101, 120, False)
