// kensa HTML report: search and severity/kind filter. The initial filter
// can be given in the URL fragment: #q=text&severity=HIGH,CRITICAL&kind=vuln
(function () {
  "use strict";
  var q = document.getElementById("q");
  var kind = document.getElementById("kind");
  var sevs = Array.prototype.slice.call(document.querySelectorAll("input[name=sev]"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.finding"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.group"));
  var shown = document.getElementById("shown");

  function apply() {
    var text = q.value.trim().toLowerCase();
    var on = {};
    sevs.forEach(function (c) { on[c.value] = c.checked; });
    var k = kind.value;
    var n = 0;
    rows.forEach(function (r) {
      var ok = on[r.dataset.severity] && (!k || r.dataset.kind === k) &&
        (!text || r.dataset.search.indexOf(text) >= 0 || r.dataset.id.toLowerCase().indexOf(text) >= 0);
      r.hidden = !ok;
      if (ok) n++;
    });
    groups.forEach(function (g) { g.hidden = !g.querySelector("tr.finding:not([hidden])"); });
    shown.textContent = n + " of " + rows.length + " findings shown";
    document.body.dataset.shown = String(n);
  }

  var h = new URLSearchParams(location.hash.slice(1));
  if (h.get("q")) q.value = h.get("q");
  if (h.get("severity")) {
    var want = h.get("severity").toUpperCase().split(",");
    sevs.forEach(function (c) { c.checked = want.indexOf(c.value) >= 0; });
  }
  if (h.get("kind")) kind.value = h.get("kind");
  [q, kind].concat(sevs).forEach(function (e) { e.addEventListener("input", apply); e.addEventListener("change", apply); });
  apply();
  document.body.dataset.filterReady = "1";
})();
