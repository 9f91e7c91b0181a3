// The console's only script (no inline scripts: the CSP forbids them).
// A form with data-confirm asks before it is submitted.
"use strict";
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    ev.preventDefault();
  }
});
