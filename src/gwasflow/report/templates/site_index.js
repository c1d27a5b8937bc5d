/* gwasflow index page: sort by a column (click its title), filter rows by a text box. */
(function () {
  "use strict";
  var table = document.getElementById("traits");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var shown = document.getElementById("shown");
  var box = document.getElementById("filter");
  var texts = rows.map(function (r) { return r.textContent.toLowerCase(); });

  function key(row, col, numeric) {
    var cell = row.cells[col];
    var v = cell ? cell.getAttribute("data-v") : null;
    if (v === null || v === "") { return null; }
    if (!numeric) { return v.toLowerCase(); }
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }

  function sort(col, dir) {
    var numeric = heads[col].getAttribute("data-type") === "num";
    var sign = dir === "desc" ? -1 : 1;
    var keyed = rows.map(function (r, i) { return [key(r, col, numeric), i, r]; });
    keyed.sort(function (a, b) {
      if (a[0] === null || b[0] === null) {  /* empty values last, whatever the direction */
        return a[0] === null && b[0] === null ? a[1] - b[1] : (a[0] === null ? 1 : -1);
      }
      if (a[0] < b[0]) { return -sign; }
      if (a[0] > b[0]) { return sign; }
      return a[1] - b[1];
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (k) { frag.appendChild(k[2]); });
    body.appendChild(frag);
    heads.forEach(function (h, i) {
      if (i === col) { h.setAttribute("data-dir", dir); } else { h.removeAttribute("data-dir"); }
    });
  }

  function filter(text) {
    var words = text.toLowerCase().split(/\s+/).filter(Boolean);
    var n = 0;
    rows.forEach(function (r, i) {
      var ok = words.every(function (w) { return texts[i].indexOf(w) >= 0; });
      r.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + " of " + rows.length + " phenotypes";
  }

  heads.forEach(function (h, col) {
    if (!h.classList.contains("sortable")) { return; }
    h.addEventListener("click", function () {
      var numeric = h.getAttribute("data-type") === "num";
      var now = h.getAttribute("data-dir");
      sort(col, now ? (now === "asc" ? "desc" : "asc") : (numeric ? "desc" : "asc"));
    });
  });
  box.addEventListener("input", function () { filter(box.value); });
  if (box.value) { filter(box.value); }

  window.gwasflowIndex = {
    sort: sort,
    filter: filter,
    visibleNames: function () {
      return Array.prototype.slice.call(body.rows)
        .filter(function (r) { return !r.hidden; })
        .map(function (r) { return r.getAttribute("data-name"); });
    }
  };
  document.body.setAttribute("data-ready", "1");
}());
