/* The kiosk page: the PIN keypad, the idle countdown, and no personal page in history. */
(function () {
  "use strict";
  htmx.config.historyCacheSize = 0;        // no snapshots of personal screens in localStorage
  htmx.config.refreshOnHistoryMiss = false;
  try { localStorage.removeItem("htmx-history-cache"); } catch (e) { /* private mode */ }

  var lastTouch = Date.now();
  var ending = false;

  function frame() { return document.querySelector("#screen .frame"); }
  function touch() {
    lastTouch = Date.now();
    var idle = document.getElementById("idle");
    if (idle && !idle.hidden) { idle.hidden = true; }
  }
  ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, touch, true);
  });

  // A USB scanner types wherever the focus is: while the card field is on screen, send
  // its keys there, so no digit is lost when focus sat on the page or on a button.
  document.addEventListener("keydown", function (event) {
    var field = document.getElementById("identifier");
    var active = document.activeElement;
    if (!field || active === field || event.key.length !== 1 || event.ctrlKey || event.altKey || event.metaKey) { return; }
    if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA")) { return; }
    field.focus();
  }, true);

  function endSession() {
    if (ending) { return; }
    ending = true;
    var screen = document.getElementById("screen");
    screen.innerHTML = "";                  // nothing personal stays on screen, even if the request fails
    // ended=timeout: counted apart from the Done button in the usage statistics (kiosk/usage.py)
    htmx.ajax("POST", "/done", {target: "#screen", swap: "innerHTML", values: {ended: "timeout"}}).then(function () {
      ending = false;
    }, function () { window.location.replace("/"); });
  }

  // High contrast or a language chosen with nobody signed in, or any screen but the attract one: back to the
  // attract screen and the defaults after the idle timeout, so the next patron starts with them (GET / keeps
  // them otherwise: help's Back goes there).
  function resetChoices() {
    if (ending) { return; }
    ending = true;
    htmx.ajax("GET", "/?reset=1", {target: "#screen", swap: "innerHTML"}).then(function () {
      ending = false;
    }, function () { window.location.replace("/"); });
  }

  // Runs on a timer, whatever is open on the screen (our dialogs never block the page).
  setInterval(function () {
    var f = frame();
    if (!f) { return; }
    var timeout = Number(f.dataset.timeout) || 60, warning = Number(f.dataset.warning) || 20;
    var left = Math.ceil(timeout - (Date.now() - lastTouch) / 1000);
    if (f.dataset.personal !== "true") {
      var contrast = document.getElementById("contrast-toggle");
      var chosen = (contrast && contrast.getAttribute("aria-pressed") !== contrast.dataset.default)
        || (f.dataset.defaultLang && f.dataset.lang !== f.dataset.defaultLang);
      // A message (a card not known, "still starting"...) or help left on screen: the next patron finds the
      // attract screen, its card field ready for a scan, not the last one's answer (found booting the image:
      // tests/vm; a scan typed on a message went nowhere, and nothing took the screen back).
      var away = !document.getElementById("identifier");
      if (left <= 0 && (chosen || away)) { resetChoices(); }
      return;
    }
    var idle = document.getElementById("idle");
    if (left <= 0) { endSession(); return; }
    if (idle && left <= warning) {
      if (idle.hidden) {
        idle.hidden = false;
        var button = document.getElementById("still-here");
        if (button) { button.focus(); }
      }
      document.getElementById("idle-seconds").textContent = String(left);
    }
  }, 250);

  // "Thank you. Your session has ended." is for the patron who just left: it goes after a few seconds, so the
  // next patron finds the plain attract screen.
  function hideGoodbye() {
    var goodbye = document.querySelector("#screen .goodbye[data-hide-after]");
    if (!goodbye || goodbye.dataset.hiding) { return; }
    goodbye.dataset.hiding = "1";
    setTimeout(function () { goodbye.remove(); }, (Number(goodbye.dataset.hideAfter) || 6) * 1000);
  }
  document.addEventListener("DOMContentLoaded", hideGoodbye);
  document.addEventListener("htmx:afterSettle", hideGoodbye);

  // "Renew selected (n)": the count of ticked loans; the button works from one.
  function countSelected() {
    var form = document.getElementById("renew-selected");
    if (!form) { return; }
    var n = document.querySelectorAll('input[form="renew-selected"]:checked').length;
    form.querySelector(".selected-count").textContent = String(n);
    form.querySelector("button").disabled = n < 1;
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches('input[form="renew-selected"]')) { countSelected(); }
  });
  document.addEventListener("DOMContentLoaded", countSelected);

  document.addEventListener("htmx:afterSwap", function (event) {
    countSelected();
    var target = event.detail && event.detail.target;
    if (!target || !(target.id === "screen" || target.closest("#screen"))) { return; }  // e.g. a reader status:
    lastTouch = Date.now();                 // only a new screen restarts the idle timer, never a background swap
    var f = frame();
    if (f && f.dataset.lang) { document.documentElement.lang = f.dataset.lang; }
    var focus = document.querySelector("#screen [autofocus]");
    if (focus) { focus.focus(); }
  });

  // Lists that do not fit (the account's sections, the renewals' outcomes) are shown a page at a time, as many
  // rows as the screen has room for, with "Next page" / "Previous page" (the pager of the same tab or screen). Every row stays
  // in the page (hidden), so ticks on one page count on another.
  function scopeOf(element) { return element.closest(".panel, main > section"); }  // one list and its pager
  function paginate(list) {
    var pager = scopeOf(list) && scopeOf(list).querySelector(".pager");
    if (!pager) { return; }
    var items = Array.prototype.slice.call(list.querySelectorAll("[data-page-item]"));
    if (!items.length || !list.offsetParent) { return; }   // a hidden tab: paged when it is shown
    items.forEach(function (item) { item.hidden = false; });
    pager.hidden = true;
    if (list.scrollHeight <= list.clientHeight + 1) { list.pages = null; return; }
    pager.hidden = false;
    // Fill each page row by row while the list still fits (measured, so headers, footers and borders count).
    var pages = [[]];
    items.forEach(function (item) { item.hidden = true; });
    items.forEach(function (item) {
      var page = pages[pages.length - 1];
      item.hidden = false;
      if (page.length && list.scrollHeight > list.clientHeight + 1) {
        page.forEach(function (shown) { shown.hidden = true; });
        pages.push([item]);
      } else {
        page.push(item);
      }
    });
    list.pages = pages;
    showPage(list, Math.min(list.page || 0, pages.length - 1));
  }
  function showPage(list, number) {
    var pages = list.pages, pager = scopeOf(list).querySelector(".pager");
    if (!pages) { return; }
    list.page = number;
    pages.forEach(function (page, index) { page.forEach(function (item) { item.hidden = index !== number; }); });
    list.scrollTop = 0;
    var words = (list.closest("[data-page-of]") || list).dataset.pageOf || "{page} / {pages}";
    pager.querySelector(".page-of").textContent = words.replace("{page}", number + 1).replace("{pages}", pages.length);
    pager.querySelector('[data-pager-step="-1"]').disabled = number === 0;
    pager.querySelector('[data-pager-step="1"]').disabled = number === pages.length - 1;
  }
  function paginateAll() { document.querySelectorAll("#screen [data-pager]").forEach(paginate); }
  document.addEventListener("click", function (event) {
    var step = event.target.closest && event.target.closest("[data-pager-step]");
    if (!step) { return; }
    var list = scopeOf(step) && scopeOf(step).querySelector("[data-pager]");
    if (list && list.pages) { showPage(list, list.page + Number(step.dataset.pagerStep)); }
  });
  document.addEventListener("DOMContentLoaded", paginateAll);
  document.addEventListener("htmx:afterSettle", paginateAll);
  window.addEventListener("resize", paginateAll);

  // The account's tabs (a USB keyboard, a switch device): the arrow keys, Home and End move to a tab and open it.
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest('[role="tab"]');
    if (!tab) { return; }
    var tabs = Array.prototype.slice.call(tab.parentElement.querySelectorAll('[role="tab"]'));
    var at = tabs.indexOf(tab), to = {ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: tabs.length - 1}[event.key];
    if (to === undefined) { return; }
    event.preventDefault();
    var next = tabs[(to + tabs.length) % tabs.length], id = next.id;
    htmx.ajax("GET", next.getAttribute("hx-get"), {target: "#sections", swap: "outerHTML"}).then(function () {
      var shown = document.getElementById(id);
      if (shown) { shown.focus(); }
    });
  });

  // Each new screen starts at its top (the page itself never scrolls; <main> may, as a last resort).
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "screen") { return; }
    window.scrollTo(0, 0);
    var main = document.getElementById("main");
    if (main) { main.scrollTop = 0; }
  });

  // The on-screen PIN keypad: no system keyboard (the field has inputmode="none").
  document.addEventListener("click", function (event) {
    var key = event.target.closest("[data-key]");
    if (!key) { return; }
    var field = document.getElementById("pin");
    if (!field) { return; }
    var value = key.dataset.key;
    if (value === "clear") { field.value = ""; }
    else if (value === "back") { field.value = field.value.slice(0, -1); }
    else if (field.value.length < 8) { field.value += value; }
    field.focus();
  });

  // The on-screen keyboard for signing in without a card (_keyboard.html): keys type into the last focused
  // field marked data-kb-field (the fields have inputmode="none": no system keyboard); a USB keyboard also works.
  var kbField = null;
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-kb-field]")) { kbField = event.target; }
  });
  function kbTarget() {
    if (kbField && document.body.contains(kbField)) { return kbField; }
    return document.querySelector("#screen [data-kb-field]");
  }
  function setShift(board, on) {
    board.classList.toggle("shifted", on);
    board.querySelectorAll("[data-kb-key]").forEach(function (key) {
      var value = key.dataset.kbKey;
      if (value.length === 1 && value >= "a" && value <= "z") { key.textContent = on ? value.toUpperCase() : value; }
    });
    var shift = board.querySelector('[data-kb-key="shift"]');
    if (shift) { shift.setAttribute("aria-pressed", on ? "true" : "false"); }
  }
  document.addEventListener("mousedown", function (event) {  // the field keeps the focus (and its caret)
    if (event.target.closest && event.target.closest("[data-kb-key]")) { event.preventDefault(); }
  });
  document.addEventListener("click", function (event) {
    var key = event.target.closest("[data-kb-key]");
    if (!key) { return; }
    var field = kbTarget(), board = key.closest(".keyboard");
    if (!field || !board) { return; }
    var value = key.dataset.kbKey, shifted = board.classList.contains("shifted");
    if (value === "shift") { setShift(board, !shifted); }
    else if (value === "back") { field.value = field.value.slice(0, -1); }
    else {
      var typed = value === "space" ? " " : (shifted ? value.toUpperCase() : value);
      if (!(field.maxLength > 0) || field.value.length < field.maxLength) { field.value += typed; }
      if (shifted) { setShift(board, false); }  // shift is for the next letter only
    }
    field.focus();
  });
  // "Show password": the masked field shown as text while pressed.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-reveal]");
    if (!button) { return; }
    var field = document.getElementById(button.dataset.reveal);
    if (!field) { return; }
    var show = field.type === "password";
    field.type = show ? "text" : "password";
    button.setAttribute("aria-pressed", show ? "true" : "false");
    field.focus();
  });

  // A tap is seen (and, with [kiosk] tap_sound, heard) at once: the button, key or tab under the finger looks
  // pressed (kiosk.css .pressed, kept at least 150 ms so a quick tap shows too).
  var PRESSABLE = ".button, .key, .kb-key, .tab, .pick-box";
  var sound = null;
  function click() {
    var url = document.body.dataset.tapSound;
    if (!url) { return; }                  // off by default
    try {
      if (!sound) { sound = new Audio(url); }
      sound.volume = Math.min(1, Math.max(0, Number(document.body.dataset.tapVolume) || 0));
      sound.currentTime = 0;
      var playing = sound.play();
      if (playing && playing.catch) { playing.catch(function () { /* no sound device: the look is enough */ }); }
    } catch (e) { /* idem */ }
  }
  document.addEventListener("pointerdown", function (event) {
    var target = event.target.closest && event.target.closest(PRESSABLE);
    if (!target || target.disabled) { return; }
    target.classList.add("pressed");
    var since = Date.now();
    function release() {
      ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) { target.removeEventListener(name, release); });
      setTimeout(function () { target.classList.remove("pressed"); }, Math.max(0, 150 - (Date.now() - since)));
    }
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) { target.addEventListener(name, release); });
    click();
  }, true);

  // The reader reported a card (the event stream's "tap", page.html #tap-inbox): "Card read. One moment…" until
  // the screen it opens comes (or the request timeout passes).
  var cardReadTimer = null;
  function cardRead(on) {
    var shown = document.getElementById("card-read");
    if (!shown) { return; }
    clearTimeout(cardReadTimer);
    if (on) {
      var f = frame();
      if (f && f.dataset.cardRead) { shown.querySelector(".card-read-box").textContent = f.dataset.cardRead; }
      cardReadTimer = setTimeout(function () { shown.hidden = true; },
                                 (Number(document.body.dataset.requestTimeout) || 15) * 1000);
    }
    shown.hidden = !on;
  }
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail && event.detail.type === "tap") { cardRead(true); click(); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "screen") { cardRead(false); }
  });
  document.addEventListener("htmx:responseError", function () { cardRead(false); });
  document.addEventListener("htmx:sendError", function () { cardRead(false); });

  // The page is alive: the browser's supervisor restarts Chromium when the kiosk has not heard this for a few
  // minutes (kiosk/screen_seen.py, library_kiosk/appliance/screen.py). Nothing personal is sent.
  function seen() { fetch("/screen/seen", {method: "POST", cache: "no-store"}).catch(function () {}); }
  seen();
  setInterval(seen, 20000);               // PING_SECONDS in kiosk/screen_seen.py

  // Back/forward must never bring a personal screen back: always start again at the attract screen.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.replace("/"); }
  });
  window.addEventListener("popstate", function () { window.location.replace("/"); });
})();

/* Borrow and Return (kiosk/circulation.py): a USB scanner types wherever the focus is; while the item field is on
   screen, its keys go there, as the card field's do on the attract screen. */
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var field = document.getElementById("item-barcode");
    var active = document.activeElement;
    if (!field || active === field || event.key.length !== 1 || event.ctrlKey || event.altKey || event.metaKey) { return; }
    if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA")) { return; }
    field.focus();
  }, true);
  // A scanner that ends its code with Enter the moment the screen comes may submit the field's form before htmx has
  // taken it over (htmx does so as the new screen settles): send it through htmx all the same, never as a page load.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches(".item-scan")) { return; }
    var data = form["htmx-internal-data"];
    if (data && data.initHash) { return; }
    event.preventDefault();
    htmx.ajax("POST", form.getAttribute("hx-post"), {source: form, target: "#screen", swap: "innerHTML"});
  }, true);
})();
