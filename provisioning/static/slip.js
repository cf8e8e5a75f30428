// The printed slip's page (templates/slip.html): its Print button opens the browser's print dialog.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("print-slip");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
});
