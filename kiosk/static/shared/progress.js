/* Every htmx request of the page (kiosk and staff station): "Still working…" after 2 s, and after the
   request timeout a plain message with "Try again" instead of a wait that never ends. The words come from
   the body's data attributes (translated by the app); the timeout from data-request-timeout (seconds). */
(function () {
  "use strict";
  var body = document.body;
  var SLOW_MS = 2000;
  htmx.config.timeout = (Number(body.dataset.requestTimeout) || 15) * 1000;
  var banner = null, slow = null;

  function bar() {
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "request-progress";
      banner.setAttribute("role", "status");
      banner.setAttribute("aria-live", "polite");
      document.body.appendChild(banner);
    }
    return banner;
  }
  function show(text, retry) {
    var b = bar();
    b.textContent = text;
    b.className = retry ? "failed" : "working";
    if (retry) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = body.dataset.tryAgain || "Try again";
      button.addEventListener("click", function () { hide(); retry(); });
      b.appendChild(document.createTextNode(" "));
      b.appendChild(button);
    }
    b.hidden = false;
  }
  function hide() {
    if (slow) { clearTimeout(slow); slow = null; }
    if (banner) { banner.hidden = true; banner.textContent = ""; }
  }
  function failed(event) {
    if (slow) { clearTimeout(slow); slow = null; }
    var elt = event.detail.elt, config = event.detail.requestConfig || {};
    var trigger = config.triggeringEvent ? config.triggeringEvent.type : "click";
    show(body.dataset.noAnswer || "No answer. Please try again.", function () {
      if (elt && document.body.contains(elt)) { htmx.trigger(elt, trigger); }
    });
  }

  document.addEventListener("htmx:beforeRequest", function () {
    hide();
    slow = setTimeout(function () { show(body.dataset.stillWorking || "Still working…"); }, SLOW_MS);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.xhr && event.detail.xhr.status) { hide(); }   // answered (a timeout has status 0)
  });
  document.addEventListener("htmx:timeout", failed);
  document.addEventListener("htmx:sendError", failed);
})();
