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
