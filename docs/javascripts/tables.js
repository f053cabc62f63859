// Tables that scroll sideways can be scrolled by keyboard: Material wraps every table in a scroll
// box; a box whose table is wider than it gets focus (tab to it, then the arrow keys) and, as a
// named region, is announced by its table's caption. Runs on every page view, including the
// instant ones of Material's navigation.
document$.subscribe(function () {
  document.querySelectorAll(".md-typeset__scrollwrap").forEach(function (box) {
    var caption = box.querySelector("caption");
    box.setAttribute("tabindex", "0");
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", caption ? caption.textContent : "table");
  });
  // A value over several seeds carries its spread in its title: focusable, so a keyboard or a tap
  // shows it (reader.css).
  document.querySelectorAll(".md-typeset .spread[title]").forEach(function (value) {
    value.setAttribute("tabindex", "0");
  });
  // A code block wider than its box (a long line) scrolls by keyboard too.
  document.querySelectorAll(".md-typeset pre > code").forEach(function (code) {
    if (code.scrollWidth > code.clientWidth) code.setAttribute("tabindex", "0");
  });
});

// Material's search overlay is a dialog without a name; screen readers (and Lighthouse) need one.
document$.subscribe(function () {
  var search = document.querySelector(".md-search[role='dialog']");
  if (search) search.setAttribute("aria-label", "Search this report");
});
