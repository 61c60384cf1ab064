// vdiprotect pages. Everything works without this file; it only makes the pages friendlier:
//  - times: the server writes UTC; they are shown in the browser's time zone, with UTC on hover;
//  - a <select data-autosubmit> submits its form when a pointer changes it (the folder's snapshot
//    picker); with the keyboard, arrows only move the choice and Enter or the Show button submits
//    (WCAG 3.2.2: moving through a list must not load another page).
(function () {
  "use strict";
  var zone = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" });

  function pad(n) { return String(n).padStart(2, "0"); }

  function local(date, seconds) {
    var text = date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + (seconds ? ":" + pad(date.getSeconds()) : "");
    var name = zone.formatToParts(date).find(function (p) { return p.type === "timeZoneName"; });
    return text + (name ? " " + name.value : "");
  }

  function localise(root) {
    root.querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) { return; }
      el.title = el.textContent.trim();  // the UTC text the server wrote
      el.textContent = local(date, /:\d\d:\d\d UTC$/.test(el.title));
      el.setAttribute("data-local", "");
    });
    root.querySelectorAll("option[data-utc]:not([data-local])").forEach(function (el) {
      var date = new Date(el.getAttribute("data-utc"));
      if (isNaN(date)) { return; }
      el.title = el.textContent.trim();
      el.textContent = local(date, false);
      el.setAttribute("data-local", "");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSwap", function (event) { localise(event.target); });
  var keyed = false;
  document.addEventListener("keydown", function (event) {
    if (!event.target.matches("select[data-autosubmit]")) { return; }
    keyed = true;
    if (event.key === "Enter") { event.preventDefault(); event.target.form.requestSubmit(); }
  });
  document.addEventListener("pointerdown", function () { keyed = false; });
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]") && !keyed) { event.target.form.requestSubmit(); }
  });
})();
