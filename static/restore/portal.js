// vdiprotect pages. Everything works without this file; it only makes the pages friendlier:
//  - times: the server writes UTC; they are shown in the browser's time zone and the page's language
//    (dates as that language writes them), with UTC on hover;
//  - a <select data-autosubmit> submits its form when a pointer changes it (the folder's snapshot
//    picker); with the keyboard, arrows only move the choice and Enter or the Show button submits
//    (WCAG 3.2.2: moving through a list must not load another page).
(function () {
  "use strict";
  // The page's language (<html lang>), in the browser's own variant when it has one (en-GB, de-AT...).
  var lang = document.documentElement.lang || undefined;
  var locale = (navigator.languages || []).find(function (l) {
    return lang && l.toLowerCase().split("-")[0] === lang.toLowerCase().split("-")[0];
  }) || lang;
  var formats = {};

  function local(date, seconds) {
    var key = seconds ? "s" : "m";
    if (!formats[key]) {
      var options = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
                      timeZoneName: "short" };
      if (seconds) { options.second = "2-digit"; }
      try { formats[key] = new Intl.DateTimeFormat(locale, options); }
      catch (e) { formats[key] = new Intl.DateTimeFormat(undefined, options); }
    }
    return formats[key].format(date);
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
