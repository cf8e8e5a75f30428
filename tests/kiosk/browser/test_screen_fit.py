"""Every screen fits the kiosk's panel (issue 15): at 800×480 (the Pi's 7" panel), 1024×600, 1280×800 (a 10" panel),
720×1280 (portrait) and 1920×1080, in English and French, in both themes, a patron's walk (the attract screen,
signing in without a card, the PIN, the account's three sections and their pages, renewing the ticked loans, a
receipt, help, Done) has every primary action inside the viewport, at least 48 px, with 8 px between targets,
nothing wider than the screen, and text of at least 20 px at 800×480; all read from the page's own geometry.
axe-core checks each screen (with the library's own accent colour and logo). On each screen no date is written the
ISO way and, in French, ":", ";", "!" and "?" have their no-break space; the attract screen shows its picture, the
library's logo and name; money is written with its currency ("£7.35", "7,35 £"). The screenshots of the walk are in
test-artifacts/screens/, with a contact sheet, index.html."""
from __future__ import annotations

import datetime as dt
import glob
import html
import os

import pytest

from tests.helpers import ARTIFACTS, LiveServer, screenshot
from tests.kiosk.browser.helpers import AXE
from tests.kiosk.helpers import fill_cache, make_patrons
from tests.store.factories import TODAY, fine, hold, loan, patron

pytestmark = pytest.mark.browser

SIZES = {"800x480": (800, 480), "1024x600": (1024, 600), "1280x800": (1280, 800), "720x1280": (720, 1280),
         "1920x1080": (1920, 1080)}
BARCODE = "20000000000077"
FIRST, LAST = ("Bartholomew-Alexandrina " * 5)[:100], ("Featherstonehaugh-Cholmondeley " * 4)[:100]  # store maxima
LONG_TITLE = ("The Complete and Unabridged Collected Correspondence of a Very Long-Winded Author " * 4)[:300]

# What the page measures: the rectangle of an element, whether the element itself is what a finger at its middle
# would touch (not covered, not clipped by a scrolled box), and the page's own width.
GEOMETRY = """(selector) => {
  const found = [];
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;            // not shown (another tab, hidden)
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(Math.min(Math.max(x, 0), innerWidth - 1),
                                          Math.min(Math.max(y, 0), innerHeight - 1));
    const touched = !!hit && (hit === el || el.contains(hit) || (hit.tagName === "LABEL" && hit.contains(el)));
    found.push({name: el.dataset.testid || el.id || el.textContent.trim().slice(0, 30), top: r.top, left: r.left,
                bottom: r.bottom, right: r.right, width: r.width, height: r.height, touched});
  }
  return found;
}"""

TEXT_SIZES = """() => {
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || !el.checkVisibility()) continue;   // visually hidden, or not shown
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 19.5) small.push(`${el.tagName}.${el.className}: ${size}px "${node.textContent.trim().slice(0, 30)}"`);
  }
  return small;
}"""

LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40" width="40" height="40"><rect width="40" '
        'height="40" rx="8" fill="#fff"/><path d="M8 30V10h6v14h10v6z" fill="#7a1f5c"/></svg>')
TOTAL = {"en": "£7.35", "fr": "7,35\u00a0£"}  # the fines and fees of P7, as each language writes money

# On-screen text: an ISO date ("2026-11-25"), or French ":;!?" after a plain space (or none, after a letter).
TEXT_RULES = """(french) => {
  const text = document.body.innerText, found = [];
  for (const m of text.matchAll(/\\b\\d{4}-\\d{2}-\\d{2}\\b/g)) found.push(`ISO date ${m[0]}`);
  if (french) for (const m of text.matchAll(/.{0,20}(?: |[A-Za-zÀ-ÿ])[:;!?](?!\\/\\/).{0,10}/g))
    found.push(`no no-break space: ${m[0]}`);
  return found;
}"""


@pytest.fixture
def config(config, tmp_path):
    """The library's own look: a logo and an accent colour (plum) of its own, on every screen of the walk."""
    logo = tmp_path / "logo.svg"
    logo.write_text(LOGO)
    config["kiosk"].update(logo=str(logo), accent_colour="#7a1f5c", library_name="Bibliothèque Saint-Denis")
    return config


# Interactive targets on the screen (the toolbar and the screen's own), for their size and the gaps between them.
TARGETS = "#screen button, #screen input:not([type=hidden]), #screen [role=tab], #screen a[href]"


@pytest.fixture
def crowded_kiosk(kiosk_app, central_db, kiosk_config, reader_service):
    """The kiosk with the patrons of every path and P7: a name of 201 letters, 12 loans (two overdue, one with a
    300-character title), 5 requests (one ready for pickup), 4 fines and fees, an email address."""
    from library_kiosk.central.store.models import Email

    kiosk_app.config["KIOSK"]["readers"]["service_url"] = reader_service
    make_patrons()
    user = patron("P7", barcode=BARCODE, card="04CCCCCCCCCC77", first_name=FIRST, last_name=LAST)
    Email.create(user=user, email_address="p7@example.org", preferred=True)
    titles = ["Middlemarch", LONG_TITLE, "Les Misérables", "Ulysses", "The Second Sex", "Beloved", "Dubliners",
              "Orlando", "Nostromo", "Persuasion", "Bleak House", "Vanity Fair"]
    for number, title in enumerate(titles):
        loan(user, title, due=TODAY + dt.timedelta(days=number * 3 - 4), renewals=2 if number == 4 else 0)
    hold(user, title="Wuthering Heights", status="ON_HOLD_SHELF", place=None, pickup="Science Library")
    for number, title in enumerate(["Emma", "Kim", "Howards End", LONG_TITLE]):
        hold(user, title=title, place=number + 2)
    for amount in ("1.50", "2.00", "0.75", "3.10"):
        fine(user, amount)
    fill_cache(kiosk_app)
    server = LiveServer(kiosk_app)
    yield server.url
    server.stop()


class Walk:
    """A patron's walk at one size, language and theme; every problem found is kept, and screenshots are taken."""

    def __init__(self, page, size: str, lang: str, theme: str, axe: bool = True):
        self.page, self.size, self.lang, self.theme, self.axe = page, size, lang, theme, axe
        self.width, self.height = SIZES[size]
        self.problems: list[str] = []

    def screen(self, name: str, actions: list[str], chosen: bool = True) -> None:
        """Check the screen now shown: each primary action (a data-testid, or a CSS selector) on screen and large
        enough, every target large enough with 8 px around it, nothing wider than the screen, text large enough;
        in the walk's language and theme (``chosen``), or the kiosk's defaults (after Done)."""
        page = self.page
        page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")
        where = f"{self.size} {self.lang} {self.theme} {name}"
        shown = page.evaluate("""() => [document.documentElement.lang,
            document.getElementById('contrast-toggle').getAttribute('aria-pressed')]""")
        if shown != ([self.lang, "true" if self.theme == "contrast" else "false"] if chosen else ["en", "false"]):
            self.problems.append(f"{where}: shown in {shown}")
        self._on_screen(where, actions)
        self._targets(where)
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        if wide > self.width:
            self.problems.append(f"{where}: the page is {wide} px wide")
        if self.size == "800x480":
            small = page.evaluate(TEXT_SIZES)
            if small:
                self.problems.append(f"{where}: text under 20 px: {small[:5]}")
        text = page.evaluate(TEXT_RULES, self.lang == "fr" and chosen)
        self.problems += [f"{where}: {found}" for found in text]
        if self.axe:
            page.add_script_tag(path=AXE)
            found = page.evaluate("""async () => {
                const r = await axe.run(document, {runOnly: {type: 'tag',
                    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}});
                return r.violations.map(v =>
                    `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
            }""")
            self.problems += [f"{where}: axe {v}" for v in found]
        screenshot(page, "screens", f"{self.size}-{self.lang}-{self.theme}-{name}")

    def _on_screen(self, where: str, actions: list[str]) -> None:
        """Each action inside the viewport, and what a finger at its middle touches."""
        for action in actions:
            selector = action if action[0] in "#.[" else f'[data-testid="{action}"]'
            boxes = self.page.evaluate(GEOMETRY, selector)
            if not boxes:
                self.problems.append(f"{where}: {action} is not shown")
            for box in boxes:
                if box["top"] < -0.5 or box["left"] < -0.5 or box["bottom"] > self.height + 0.5 \
                        or box["right"] > self.width + 0.5 or not box["touched"]:
                    self.problems.append(f"{where}: {box['name']} is not on screen: {box}")

    def _targets(self, where: str) -> None:
        """Every target at least 48 px each way, and 8 px from the next (a tick box inside its label is one)."""
        targets = self.page.evaluate(GEOMETRY, TARGETS)
        for box in targets:
            if box["height"] < 47.5 or box["width"] < 47.5:
                self.problems.append(f"{where}: {box['name']} is {box['width']:.0f}×{box['height']:.0f} px")
        for i, one in enumerate(targets):
            for other in targets[i + 1:]:
                apart = max(other["left"] - one["right"], one["left"] - other["right"],
                            other["top"] - one["bottom"], one["top"] - other["bottom"])
                inside = all(one[k] <= other[k] for k in ("left", "top")) and all(
                    one[k] >= other[k] for k in ("right", "bottom"))
                if apart < 7.5 and not inside:
                    self.problems.append(f"{where}: {one['name']!r} and {other['name']!r} are {apart:.1f} px apart")

    def choose(self) -> None:
        """The walk's language and theme, chosen on the attract screen before the card (they last for the patron)."""
        if self.lang == "fr":
            self.click("lang-fr")
            self.page.locator('html[lang="fr"]').wait_for(state="attached")
        if self.theme == "contrast":
            self.click("contrast")
            self.page.locator('#contrast-toggle[aria-pressed="true"]').wait_for()

    def click(self, testid: str) -> None:
        self.page.get_by_test_id(testid).click()


def walk(page, url: str, size: str, lang: str, theme: str) -> list[str]:
    """Identify -> PIN -> the account's sections (and their next pages) -> renew the ticked -> a receipt -> help
    -> Done, checking each screen on the way; returns the problems found."""
    w = Walk(page, size, lang, theme)
    page.set_viewport_size({"width": w.width, "height": w.height})
    page.goto(url)
    page.get_by_test_id("identifier").wait_for()
    w.choose()
    toolbar = ["help", f"lang-{lang}", "contrast"]
    w.screen("attract", ["identifier", "continue", "no-card", "return-items", *toolbar])
    w.problems += _look(w)

    w.click("no-card")
    page.get_by_test_id("keyboard").wait_for()
    w.screen("sign-in", ["user-name", "password", "show-password", "[data-kb-key]", "signin-ok", "signin-cancel",
                         "done", *toolbar])
    w.click("signin-cancel")
    page.get_by_test_id("identifier").wait_for()  # (Cancel goes back to the attract screen: the language and theme
    # chosen stay until the attract screen's idle reset, or the patron's session ends)

    page.get_by_test_id("identifier").click()
    page.keyboard.type(BARCODE + "\n")
    page.get_by_test_id("pin-ok").wait_for()
    w.screen("pin", ["pin", ".keypad .key", "pin-ok", "done", *toolbar])
    for digit in "2468":
        w.click(f"key-{digit}")
    w.click("pin-ok")
    page.get_by_test_id("account").wait_for()
    tabs = ["tab-loans", "tab-requests", "tab-fees"]
    account = [*tabs, "done", *toolbar]
    w.screen("loans", [*account, "renew-all", "renew-selected", "email-loans", "print-loans",
                       "#panel-loans tr[data-page-item]:not([hidden]) .button", "#panel-loans .pick-box input"])
    w.problems += _pages(w, "loans")
    for section, receipts in (("requests", ["email-requests", "print-requests"]),
                              ("fees", ["email-fees", "print-fees", "total"])):
        w.click(f"tab-{section}")
        page.locator(f'#tab-{section}[aria-selected="true"]').wait_for()
        w.screen(section, [*account, *receipts])
        if section == "fees" and page.get_by_test_id("total").inner_text() != TOTAL[lang]:
            w.problems.append(f"{size} {lang} {theme}: the total is {page.get_by_test_id('total').inner_text()!r}")
        w.problems += _pages(w, section)
    w.click("tab-loans")
    page.locator('#tab-loans[aria-selected="true"]').wait_for()
    page.locator("#panel-loans .pick-box input").first.check()
    page.get_by_test_id("selected-count").filter(has_text="1").wait_for()
    w.click("renew-selected")
    page.get_by_test_id("renewals").wait_for()
    renewals = ["receipt-email", "receipt-print", "back-to-account", "done", *toolbar]
    w.screen("renewals", renewals)
    w.click("receipt-print")
    page.get_by_test_id("notice").wait_for()
    w.screen("receipt", renewals)
    w.click("help")
    page.get_by_test_id("call-staff").wait_for()
    w.screen("help", ["call-staff", "help-back", "done", *toolbar])
    w.click("call-staff")
    page.get_by_test_id("call-result").wait_for()
    w.screen("staff-called", ["help-back", "done", *toolbar])
    w.click("done")
    page.get_by_test_id("goodbye").wait_for()
    w.screen("goodbye", ["identifier", "continue", "no-card", "help", "lang-en", "contrast"], chosen=False)
    return w.problems


def _look(w: Walk) -> list[str]:
    """The attract screen: its picture (loaded, inside the screen), the library's logo (loaded) and name."""
    found = w.page.evaluate("""() => {
        const picture = document.querySelector('[data-testid=attract-picture]'), logo = document.querySelector(
            '[data-testid=logo]'), r = picture.getBoundingClientRect();
        return [picture.complete && picture.naturalWidth > 0, r.height >= 100 && r.bottom <= innerHeight,
                logo.complete && logo.naturalWidth > 0, document.querySelector('[data-testid=library-name]').innerText,
                document.querySelector('[data-testid=welcome]').innerText.includes('Bibliothèque Saint-Denis')];
    }""")
    expected = [True, True, True, "Bibliothèque Saint-Denis", True]
    return [] if found == expected else [f"{w.size} {w.lang} {w.theme} attract: picture, logo, name {found}"]


def _pages(w: Walk, section: str) -> list[str]:
    """A section whose list does not fit shows "Next page"; each page is checked, and no row is cut off."""
    page, problems = w.page, []
    body = page.locator(f"#panel-{section} [data-pager]")
    if not body.count():
        return problems
    number = 1
    while True:
        cut = body.evaluate("el => el.scrollHeight - el.clientHeight")
        if cut > 1:
            problems.append(f"{w.size} {w.lang} {w.theme} {section} page {number}: {cut} px cut off")
        following = page.locator(f"#panel-{section} [data-testid=next-page]")
        if not following.is_visible() or following.is_disabled():
            return problems
        following.click()
        number += 1
        page.locator(f"#panel-{section} .page-of").filter(has_text=str(number)).wait_for()
        w.screen(f"{section}-page-{number}", [f"#panel-{section} .pager .button", "done"])


@pytest.mark.parametrize("theme", ["plain", "contrast"])
@pytest.mark.parametrize("lang", ["en", "fr"])
@pytest.mark.parametrize("size", list(SIZES))
def test_every_primary_action_fits_the_screen(page, crowded_kiosk, size, lang, theme):
    problems = walk(page, crowded_kiosk, size, lang, theme)
    assert not problems, "\n".join(problems)


def _account(page, url: str, size: str) -> None:
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.get_by_test_id("identifier").wait_for()
    page.keyboard.type(BARCODE + "\n")
    for digit in "2468":
        page.get_by_test_id(f"key-{digit}").click()
    page.get_by_test_id("pin-ok").click()
    page.get_by_test_id("account").wait_for()


def test_a_section_that_does_not_fit_has_a_next_page_at_800x480(page, crowded_kiosk):
    _account(page, crowded_kiosk, "800x480")
    following = page.locator("#panel-loans [data-testid=next-page]")
    following.wait_for()  # the list was paged
    shown = page.locator("#panel-loans tr[data-page-item]:not([hidden])").count()
    following.click()
    page.locator("#panel-loans .page-of").filter(has_text="2").wait_for()
    later = page.locator("#panel-loans tr[data-page-item]:not([hidden])").first.get_attribute("data-loan")
    first_page = page.locator("#panel-loans tr[data-page-item]").nth(shown).get_attribute("data-loan")
    assert (shown < 12, later) == (True, first_page)  # page 2 starts at the first row page 1 did not show


def test_the_most_urgent_comes_first(page, crowded_kiosk):
    _account(page, crowded_kiosk, "800x480")
    urgent = page.get_by_test_id("urgent").inner_text()
    first_row = page.locator("#panel-loans tr[data-page-item]").first.inner_text()
    assert ("1 request is ready for pickup" in urgent, "2 loans are overdue" in urgent, "Overdue" in first_row) \
        == (True, True, True)


def test_a_tab_swaps_only_the_sections_and_is_kept(page, crowded_kiosk):
    _account(page, crowded_kiosk, "800x480")
    page.evaluate("() => { document.getElementById('patron-name').dataset.kept = 'yes'; }")
    page.get_by_test_id("tab-fees").click()
    page.locator('#tab-fees[aria-selected="true"]').wait_for()
    kept = page.get_by_test_id("total").inner_text(), page.locator("#patron-name").get_attribute("data-kept")
    page.get_by_test_id("help").click()
    page.get_by_test_id("help-back").click()
    page.get_by_test_id("account").wait_for()
    assert (kept, page.locator("#tab-fees").get_attribute("aria-selected")) == (("£7.35", "yes"), "true")


def test_each_screen_starts_at_its_top(page, crowded_kiosk):
    page.set_viewport_size({"width": 800, "height": 480})
    page.goto(crowded_kiosk)
    page.get_by_test_id("help").click()
    page.get_by_test_id("call-staff").wait_for()
    page.evaluate("() => { window.scrollTo(0, 500); document.getElementById('main').scrollTop = 500; }")
    page.get_by_test_id("help-back").click()
    page.get_by_test_id("identifier").wait_for()
    assert page.evaluate("() => [window.scrollY, document.getElementById('main').scrollTop]") == [0, 0]


@pytest.mark.parametrize("size", list(SIZES))
def test_body_text_grows_with_the_screen(page, crowded_kiosk, size):
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(crowded_kiosk)
    page.get_by_test_id("identifier").wait_for()
    body = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
    assert body == {"800x480": 20, "1024x600": 23, "1280x800": 28, "720x1280": 26, "1920x1080": 28}[size]


def test_a_255_letter_name_and_a_500_letter_title_never_widen_the_page(page, crowded_kiosk):
    """The store keeps names of up to 100 letters each and titles of 300: longer ones (as an upstream may send) are
    put on the screen as it is shown, and the screen still keeps to its width, the name wrapped and cut after two
    lines (a name of ordinary length is shown in full: test_small_screen_reading.py)."""
    _account(page, crowded_kiosk, "800x480")
    page.evaluate("""([name, title]) => {
        document.getElementById('patron-name').textContent = name;
        document.querySelector('#panel-loans .title').textContent = title;
        window.dispatchEvent(new Event('resize'));
    }""", ["W" * 255, ("Longwordwithoutanyspaces" * 25)[:500]])
    sizes = page.evaluate("""() => { const h = document.getElementById('patron-name');
        const renew = document.querySelector('[data-testid=renew-all]').getBoundingClientRect();
        const lines = h.getBoundingClientRect().height / parseFloat(getComputedStyle(h).lineHeight);
        return [document.documentElement.scrollWidth, h.scrollHeight > h.clientHeight, Math.round(lines),
                renew.right <= 800]; }""")
    assert sizes == [800, True, 2, True]



def test_the_arrow_keys_move_between_tabs(page, crowded_kiosk):
    _account(page, crowded_kiosk, "1024x600")
    page.get_by_test_id("tab-loans").focus()
    page.keyboard.press("ArrowRight")
    page.locator('#tab-requests[aria-selected="true"]').wait_for()
    assert page.evaluate("() => document.activeElement.id") == "tab-requests"


@pytest.fixture(scope="module", autouse=True)
def contact_sheet():
    """After the module: test-artifacts/screens/index.html, every screenshot of the walks on one page, grouped by
    size, language and theme, for people to review."""
    yield
    folder = os.path.join(ARTIFACTS, "screens")
    shots = sorted(glob.glob(os.path.join(folder, "*.png")))
    if not shots:
        return
    groups: dict[str, list[str]] = {}
    for path in shots:
        name = os.path.basename(path)[:-4]
        groups.setdefault("-".join(name.split("-")[:3]), []).append(name)
    parts = ['<!doctype html><meta charset="utf-8"><title>Kiosk screens</title><style>body{font-family:sans-serif}'
             'figure{display:inline-block;margin:6px;vertical-align:top}img{max-width:320px;max-height:320px;'
             'border:1px solid #999}figcaption{font-size:12px}</style><h1>Kiosk screens (issue 15)</h1>']
    for group, names in groups.items():
        parts.append(f"<h2>{html.escape(group)}</h2>")
        parts += [f'<figure><a href="{html.escape(n)}.png"><img src="{html.escape(n)}.png" alt="{html.escape(n)}" '
                  f'loading="lazy"></a><figcaption>{html.escape(n)}</figcaption></figure>' for n in names]
    with open(os.path.join(folder, "index.html"), "w", encoding="utf-8") as sheet:
        sheet.write("\n".join(parts))
