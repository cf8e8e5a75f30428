// Swap error responses too (validation errors come back as 422 with the form and its messages).
htmx.config.responseHandling = [{code: "204", swap: false}, {code: "...", swap: true}];
// Reader events from /events: put a tapped card or scanned barcode into the field waiting for it.
document.addEventListener("htmx:sseBeforeMessage", function (evt) {
  var kind = evt.detail.type, value = evt.detail.data;
  if (kind === "readers") {
    var status = document.getElementById("reader-status");
    if (status) { status.textContent = "Reader: " + value; }
    evt.preventDefault();
    return;
  }
  evt.preventDefault();
  var field = document.querySelector('[data-reader="' + kind + '"]') ||
              (kind === "card" ? document.querySelector('[data-reader="any"]') : null) ||
              document.querySelector('[data-reader="any"]');
  if (!field) { return; }
  field.value = value;
  field.dispatchEvent(new Event("change", {bubbles: true}));
  if (field.form && field.hasAttribute("data-submit-on-read")) { htmx.trigger(field.form, "submit"); }
});

// The error summary of a refused form (_macros.html error_summary): it takes the focus when it appears, and each
// of its links moves the focus to its field (a fragment link alone only scrolls).
document.addEventListener("click", function (evt) {
  var link = evt.target.closest(".error-summary a[href^='#']");
  if (!link) { return; }
  var field = document.getElementById(link.getAttribute("href").slice(1));
  if (!field) { return; }
  evt.preventDefault();
  field.scrollIntoView({block: "center"});
  field.focus();
});

// Sorting: the headers of a table that shows all its rows (two or more) become buttons that sort it, by numbers
// where the column holds numbers, else by text as the library's language sorts it. Paged tables (data-paged)
// are sorted by the station when it pages them, so they are left alone.
function stationSortable(table) {
  if (table.dataset.sortReady || table.closest("[data-paged]") || table.querySelector("td[colspan], th[colspan]")) { return; }
  var rows = Array.prototype.slice.call(table.rows);
  var head = rows[0];
  if (!head || rows.length < 3 || Array.prototype.some.call(head.cells, function (c) { return c.tagName !== "TH"; })) { return; }
  var body = rows.slice(1);
  if (body.some(function (r) { return r.cells.length !== head.cells.length; })) { return; }
  table.dataset.sortReady = "1";
  Array.prototype.forEach.call(head.cells, function (th, column) {
    var label = th.textContent.trim();
    var controls = body.every(function (r) { return r.cells[column].querySelector("input, select, button, form"); });
    if (!label || controls) { return; }  // a column of buttons or boxes to tick has nothing to sort by
    th.setAttribute("aria-sort", "none");
    if (!th.hasAttribute("scope")) { th.setAttribute("scope", "col"); }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = label;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () { stationSort(table, th, column); });
  });
}

function stationSort(table, th, column) {
  var descending = th.getAttribute("aria-sort") === "ascending";
  Array.prototype.forEach.call(table.rows[0].cells, function (c) { if (c.hasAttribute("aria-sort")) { c.setAttribute("aria-sort", "none"); } });
  th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  var rows = Array.prototype.slice.call(table.rows, 1);
  var when = function (r) { var t = r.cells[column].querySelector("time[datetime]"); return t ? t.getAttribute("datetime") : null; };
  var dated = rows.some(function (r) { return when(r) !== null; });
  var text = function (r) { return dated ? (when(r) || "") : (r.cells[column].textContent || "").trim(); };
  var numeric = !dated && rows.every(function (r) { var t = text(r).replace(/[^0-9.,-]/g, ""); return t === "" || !isNaN(parseFloat(t.replace(/,/g, ""))); })
    && rows.some(function (r) { return /[0-9]/.test(text(r)); }) && rows.every(function (r) { return !/[A-Za-z]{2}/.test(text(r)); });
  var key = function (r) { return numeric ? parseFloat(text(r).replace(/[^0-9.-]/g, "")) || 0 : text(r); };
  var collator = new Intl.Collator(document.documentElement.lang || undefined, {numeric: true, sensitivity: "base"});
  rows.sort(function (a, b) {
    var order = numeric ? key(a) - key(b) : collator.compare(key(a), key(b));
    return descending ? -order : order;
  });
  var parent = rows.length ? rows[0].parentNode : null;
  rows.forEach(function (r) { parent.appendChild(r); });
}

htmx.onLoad(function (elt) {
  var tables = elt.tagName === "TABLE" ? [elt] : elt.querySelectorAll("main table");
  Array.prototype.forEach.call(tables, stationSortable);
  var summary = elt.querySelector && elt.querySelector(".error-summary");
  if (summary) { summary.focus(); }
});
