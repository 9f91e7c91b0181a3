// The tablet UI's small behaviours; the Content-Security-Policy allows no
// inline script, so they live here.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var print = document.getElementById("print");
  if (print) {
    print.addEventListener("click", function () { window.print(); });
  }
  // A form is sent once: a second tap while the answer is on its way does nothing.
  document.querySelectorAll("form[method=post]").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      if (f.dataset.sent) { ev.preventDefault(); return; }
      f.dataset.sent = "1";
    });
  });
});
