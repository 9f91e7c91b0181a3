// The sync page polls /sync/status.json while a sync runs and shows its
// progress and result.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("sync");
  if (!box) { return; }
  var msg = document.getElementById("sync-message");
  var bar = document.getElementById("sync-progress");
  var count = document.getElementById("sync-count");
  var button = document.getElementById("start-sync");
  function show(st) {
    box.dataset.state = st.state;
    if (st.message_zh) { msg.textContent = st.message_zh; }
    msg.className = st.state === "failed" ? "error" : "";
    if (st.state === "done") {
      bar.value = 100;
    } else if (st.total > 0) {
      bar.value = Math.floor(100 * st.done / st.total);
    } else {
      bar.removeAttribute("value");
    }
    count.textContent = st.done > 0 ? "已处理 " + st.done + " 条" : "";
    button.disabled = st.state === "running";
  }
  function poll() {
    fetch("/sync/status.json", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { window.location = "/unlock"; throw new Error("locked"); }
        return r.json();
      })
      .then(function (st) {
        if (st.state === "running") { show(st); setTimeout(poll, 500); return; }
        // Finished: load the page again, so that the result and the status
        // banner come from the server.
        window.location.replace("/sync");
      })
      .catch(function () {});
  }
  if (box.dataset.state === "running") { poll(); }
});
