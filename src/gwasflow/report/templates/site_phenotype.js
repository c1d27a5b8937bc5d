/* gwasflow phenotype page: interactive Manhattan and QQ plots drawn on canvases from the embedded JSON. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("gwasflow-data").textContent);
  var GWS = -Math.log10(5e-8);
  var COLORS = ["#1b3a5c", "#6b9ac4"], LOW_COLORS = ["#7d93ab", "#b3cbe2"];
  var M = { left: 46, right: 10, top: 10, bottom: 40 };
  var P = D.pts, L = D.low;
  var nChrom = D.chroms.length;
  var lengths = D.lengths.map(function (x) { return Math.max(x, 1); });
  var total = lengths.reduce(function (a, b) { return a + b; }, 0) || 1;
  var gap = total * 0.004;
  var offsets = [];
  (function () { var at = 0; for (var c = 0; c < nChrom; c++) { offsets.push(at); at += lengths[c] + gap; } total = Math.max(at - gap, 1); }());

  var canvas = document.getElementById("manhattan"), tip = document.getElementById("tip");
  var select = document.getElementById("chrom"), allButton = document.getElementById("all");
  var view = null;  /* null: whole genome; else a chromosome index */
  var W = 0, H = 0, plotW = 0, plotH = 0, ymax = 10;
  var px = new Float64Array(P.p.length), py = new Float64Array(P.p.length);
  var lx = new Float64Array(L.p.length), ly = new Float64Array(L.p.length);

  D.chroms.forEach(function (name, c) {
    var o = document.createElement("option");
    o.value = String(c);
    o.textContent = name;
    select.appendChild(o);
  });

  function setup(cv) {
    var dpr = window.devicePixelRatio || 1, w = cv.clientWidth || 600, h = cv.height / (cv._dpr || 1);
    cv._dpr = dpr;
    cv.width = Math.round(w * dpr);
    cv.height = Math.round(h * dpr);
    var ctx = cv.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx: ctx, w: w, h: h };
  }

  function xOf(c, p) {
    if (view === null) { return M.left + (offsets[c] + p) / total * plotW; }
    return c === view ? M.left + (0.01 + 0.98 * p / lengths[c]) * plotW : NaN;  /* 1% margins: no point on the axis */
  }
  function yOf(y) { return M.top + plotH - Math.min(y, ymax) / ymax * plotH; }

  function viewMax() {
    var top = GWS + 1;
    for (var i = 0; i < P.y.length; i++) { if ((view === null || P.c[i] === view) && P.y[i] > top) { top = P.y[i]; } }
    for (var j = 0; j < L.y.length; j++) { if ((view === null || L.c[j] === view) && L.y[j] > top) { top = L.y[j]; } }
    return top * 1.05;
  }

  function drawAxes(ctx) {
    ctx.strokeStyle = "#616e7c"; ctx.fillStyle = "#1f2933"; ctx.lineWidth = 1;
    ctx.font = "11px sans-serif"; ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ctx.beginPath(); ctx.moveTo(M.left, M.top); ctx.lineTo(M.left, M.top + plotH); ctx.lineTo(M.left + plotW, M.top + plotH); ctx.stroke();
    var step = ymax > 60 ? 20 : ymax > 30 ? 10 : ymax > 12 ? 5 : 2;
    for (var t = 0; t <= ymax; t += step) { ctx.fillText(String(t), M.left - 5, yOf(t)); }
    ctx.save(); ctx.translate(12, M.top + plotH / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center";
    ctx.fillText("-log10 p", 0, 0); ctx.restore();
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    if (view === null) {
      for (var c = 0; c < nChrom; c++) {
        var mid = M.left + (offsets[c] + lengths[c] / 2) / total * plotW;
        if (nChrom <= 30 || c % Math.ceil(nChrom / 30) === 0) { ctx.fillText(D.chroms[c], mid, M.top + plotH + 5); }
      }
      ctx.fillText("chromosome", M.left + plotW / 2, M.top + plotH + 22);
    } else {
      var mb = lengths[view] / 1e6, tick = Math.pow(10, Math.floor(Math.log10(Math.max(mb, 1e-3) / 2)));
      for (var m = 0; m <= mb; m += tick) { ctx.fillText(String(+m.toFixed(3)), xOf(view, m * 1e6), M.top + plotH + 5); }
      ctx.fillText("chromosome " + D.chroms[view] + " (Mb)", M.left + plotW / 2, M.top + plotH + 22);
    }
    ctx.strokeStyle = "#c0392b"; ctx.setLineDash([5, 4]); ctx.beginPath();
    ctx.moveTo(M.left, yOf(GWS)); ctx.lineTo(M.left + plotW, yOf(GWS)); ctx.stroke(); ctx.setLineDash([]);
  }

  function drawManhattan() {
    var s = setup(canvas), ctx = s.ctx, i;
    W = s.w; H = s.h; plotW = W - M.left - M.right; plotH = H - M.top - M.bottom;
    ymax = viewMax();
    ctx.clearRect(0, 0, W, H);
    drawAxes(ctx);
    for (i = 0; i < L.p.length; i++) {
      lx[i] = xOf(L.c[i], L.p[i]); ly[i] = yOf(L.y[i]);
      if (lx[i] === lx[i]) { ctx.fillStyle = LOW_COLORS[L.c[i] % 2]; ctx.fillRect(lx[i] - 1, ly[i] - 1, 2, 2); }
    }
    for (i = 0; i < P.p.length; i++) {
      px[i] = xOf(P.c[i], P.p[i]); py[i] = yOf(P.y[i]);
      if (px[i] === px[i]) { ctx.fillStyle = COLORS[P.c[i] % 2]; ctx.fillRect(px[i] - 2, py[i] - 2, 4, 4); }
    }
    select.value = view === null ? "" : String(view);
    allButton.hidden = view === null;
  }

  function local(ev, cv) {
    var r = cv.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }

  function nearest(xs, ys, x, y, radius) {
    var best = -1, bestD = radius * radius;
    for (var i = 0; i < xs.length; i++) {
      var dx = xs[i] - x, dy = ys[i] - y, d = dx * dx + dy * dy;
      if (d <= bestD) { best = i; bestD = d; }
    }
    return best;
  }

  function pointAt(x, y) {
    var i = nearest(px, py, x, y, 6);
    if (i >= 0) { return describe(i); }
    var j = nearest(lx, ly, x, y, 4);
    if (j < 0) { return null; }
    return { id: null, chrom: D.chroms[L.c[j]], pos: L.p[j], log10p: L.y[j], thinned: true };
  }

  function describe(i) {
    var g = P.g[i];
    return {
      id: P.id[i], chrom: D.chroms[P.c[i]], pos: P.p[i], log10p: P.y[i], beta: P.b[i], se: P.se[i], a1freq: P.af[i],
      gene: g >= 0 ? D.genes[g] : null, geneDistance: g >= 0 ? P.gd[i] : null,
      locus: P.l[i] >= 0 ? D.loci[P.l[i]] : null, thinned: false
    };
  }

  function chromAt(x, y) {
    if (view !== null || y < M.top + plotH + 2) { return null; }
    for (var c = 0; c < nChrom; c++) {
      var a = M.left + offsets[c] / total * plotW, b = M.left + (offsets[c] + lengths[c]) / total * plotW;
      if (x >= a - 1 && x <= b + 1) { return c; }
    }
    return null;
  }

  function fmt(v, digits) { return v === null || v === undefined ? "NA" : String(+v.toPrecision(digits)); }

  function show(el, rows, x, y, box) {
    el.textContent = "";
    var t = document.createElement("table");
    rows.forEach(function (r) {
      var tr = t.insertRow(), a = tr.insertCell(), b = tr.insertCell();
      a.textContent = r[0]; a.className = "muted"; b.textContent = r[1];
    });
    el.appendChild(t);
    el.hidden = false;
    var left = x + 14, w = el.offsetWidth;
    if (left + w > box.clientWidth) { left = Math.max(0, x - w - 14); }
    el.style.left = left + "px"; el.style.top = Math.max(0, y - 10) + "px";
  }

  function tooltipRows(p) {
    if (p.thinned) {
      return [["position", p.chrom + ":" + p.pos.toLocaleString("en-US")], ["LOG10P", fmt(p.log10p, 4)],
              ["", "a point of the thinned sample: fields are kept above LOG10P " + D.detail]];
    }
    var gene = !D.hasGenes ? "no gene annotation given" : p.gene === null ? "none" :
      p.gene + (p.geneDistance ? " (" + (p.geneDistance / 1000).toFixed(1) + " kb)" : " (inside)");
    var rows = [["ID", p.id], ["position", p.chrom + ":" + p.pos.toLocaleString("en-US")], ["LOG10P", fmt(p.log10p, 4)],
                ["BETA", fmt(p.beta, 4)], ["SE", fmt(p.se, 4)], ["A1FREQ", fmt(p.a1freq, 4)], ["nearest gene", gene]];
    if (p.locus !== null) { rows.push(["locus", "lead " + p.locus + " (click to open)"]); }
    return rows;
  }

  canvas.addEventListener("mousemove", function (ev) {
    var xy = local(ev, canvas), p = pointAt(xy[0], xy[1]);
    var c = p ? null : chromAt(xy[0], xy[1]);
    canvas.style.cursor = (p && p.locus) || c !== null ? "pointer" : "default";
    if (!p) { tip.hidden = true; return; }
    show(tip, tooltipRows(p), xy[0], xy[1], canvas.parentNode);
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("click", function (ev) {
    var xy = local(ev, canvas), p = pointAt(xy[0], xy[1]);
    if (p && p.locus) { openLocus(p.locus); return; }
    var c = chromAt(xy[0], xy[1]);
    if (c !== null) { zoom(c); }
  });
  select.addEventListener("change", function () { zoom(select.value === "" ? null : +select.value); });
  allButton.addEventListener("click", function () { zoom(null); });

  function openLocus(id) {
    location.hash = "locus-" + id;
    var row = document.getElementById("locus-" + id);
    if (row && row.scrollIntoView) { row.scrollIntoView({ block: "center" }); }
  }

  function zoom(c) { view = c; tip.hidden = true; drawManhattan(); }

  /* ---------------------------------------------------------------- QQ */
  var qq = document.getElementById("qq"), qqTip = document.getElementById("qq-tip"), Q = D.qq;
  var qx = new Float64Array(Q.e.length), qy = new Float64Array(Q.e.length);

  function drawQQ() {
    var s = setup(qq), ctx = s.ctx, w = s.w - 46 - 10, h = s.h - 10 - 40;
    var emax = 1, omax = 1, i;
    for (i = 0; i < Q.e.length; i++) { emax = Math.max(emax, Q.e[i]); omax = Math.max(omax, Q.o[i], Q.hi[i] || 0); }
    emax *= 1.05; omax *= 1.05;
    function X(v) { return 46 + v / emax * w; }
    function Y(v) { return 10 + h - Math.min(v, omax) / omax * h; }
    ctx.clearRect(0, 0, s.w, s.h);
    if (Q.e.length) {
      ctx.fillStyle = "#e4ebf2"; ctx.beginPath(); ctx.moveTo(X(Q.e[0]), Y(Q.lo[0]));
      for (i = 1; i < Q.e.length; i++) { ctx.lineTo(X(Q.e[i]), Y(Q.lo[i])); }
      for (i = Q.e.length - 1; i >= 0; i--) { ctx.lineTo(X(Q.e[i]), Y(Q.hi[i])); }
      ctx.closePath(); ctx.fill();
    }
    ctx.strokeStyle = "#616e7c"; ctx.beginPath(); ctx.moveTo(46, 10); ctx.lineTo(46, 10 + h); ctx.lineTo(46 + w, 10 + h); ctx.stroke();
    ctx.strokeStyle = "#c0392b"; ctx.beginPath(); ctx.moveTo(X(0), Y(0)); ctx.lineTo(X(Math.min(emax, omax)), Y(Math.min(emax, omax))); ctx.stroke();
    ctx.fillStyle = "#1f2933"; ctx.font = "11px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "top";
    ctx.fillText("expected -log10 p", 46 + w / 2, 10 + h + 22);
    for (var t = 0; t <= emax; t += emax > 12 ? 5 : 1) { ctx.fillText(String(t), X(t), 10 + h + 5); }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (var u = 0; u <= omax; u += omax > 30 ? 10 : omax > 12 ? 5 : 2) { ctx.fillText(String(u), 41, Y(u)); }
    ctx.fillStyle = COLORS[0];
    for (i = 0; i < Q.e.length; i++) { qx[i] = X(Q.e[i]); qy[i] = Y(Q.o[i]); ctx.fillRect(qx[i] - 1.5, qy[i] - 1.5, 3, 3); }
  }

  qq.addEventListener("mousemove", function (ev) {
    var xy = local(ev, qq), i = nearest(qx, qy, xy[0], xy[1], 6);
    if (i < 0) { qqTip.hidden = true; return; }
    show(qqTip, [["expected", fmt(Q.e[i], 4)], ["observed", fmt(Q.o[i], 4)],
                 ["95% band", fmt(Q.lo[i], 3) + " to " + fmt(Q.hi[i], 3)]], xy[0], xy[1], qq.parentNode);
  });
  qq.addEventListener("mouseleave", function () { qqTip.hidden = true; });

  window.addEventListener("resize", function () { drawManhattan(); drawQQ(); });

  function toClient(cv, x, y) { var r = cv.getBoundingClientRect(); return { x: r.left + x, y: r.top + y }; }

  window.gwasflowPlot = {
    /* client coordinates of the detailed point ``id`` in the current view, or null */
    pointXY: function (id) {
      var i = P.id.indexOf(id);
      return i < 0 || px[i] !== px[i] ? null : toClient(canvas, px[i], py[i]);
    },
    hitTest: function (clientX, clientY) { var r = canvas.getBoundingClientRect(); return pointAt(clientX - r.left, clientY - r.top); },
    chromLabelXY: function (name) {
      var c = D.chroms.indexOf(name);
      return c < 0 || view !== null ? null : toClient(canvas, M.left + (offsets[c] + lengths[c] / 2) / total * plotW, M.top + plotH + 10);
    },
    zoom: function (name) { zoom(name === null ? null : D.chroms.indexOf(name)); },
    view: function () { return view === null ? null : D.chroms[view]; },
    visiblePoints: function () {
      var n = 0, i;
      for (i = 0; i < px.length; i++) { if (px[i] === px[i]) { n++; } }
      for (i = 0; i < lx.length; i++) { if (lx[i] === lx[i]) { n++; } }
      return n;
    },
    qqPoints: function () { return Q.e.length; }
  };
  drawManhattan();
  drawQQ();
  document.body.setAttribute("data-ready", "1");
}());
