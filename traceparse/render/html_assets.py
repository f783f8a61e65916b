"""The HTML page's inline style and script, written for traceparse (no library, no network).

The script reads the page's one ``<script type="application/json" id="tp-data">`` (the numbers the
report computed; render/html.py picks them from ``report.data``) and draws SVG into the elements
that name a chart (``data-chart="dist|heat|series|overlay|change"``, ``data-ref`` an index into the
data). It also sorts tables on a header click and shows a heat-map cell's range and count on hover,
its slowest requests on click. Everything here is plain DOM and SVG: it runs from file:// in any
browser, and without it the page still shows every table and every number.
"""

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em 2em; color: #222; max-width: 1250px; }
h1 { font-size: 20px; margin: 0 0 .3em; } h2 { font-size: 17px; margin: 1.6em 0 .4em; border-bottom: 1px solid #ccc; }
h3 { font-size: 15px; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; margin: 0.4em 0 1.2em; }
th, td { padding: 2px 9px; border-bottom: 1px solid #e3e3e3; white-space: pre; }
th { background: #f3f3f3; text-align: left; cursor: pointer; user-select: none; }
th.asc::after { content: " \\25B2"; font-size: 9px; } th.desc::after { content: " \\25BC"; font-size: 9px; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 1px 14px; font-size: 13px; color: #444; margin: .4em 0 1em; }
.meta dt { font-weight: 600; } .meta dd { margin: 0; word-break: break-all; }
.warn { background: #fff3cd; padding: 6px 10px; border-left: 4px solid #e0a800; margin: .3em 0; }
.warn.lost { background: #fde2e1; border-left-color: #c0392b; }
.verdict { border: 2px solid #888; padding: 8px 14px; margin: .5em 0 1em; background: #fafafa; }
.verdict.bad { border-color: #c0392b; background: #fdf1f0; } .verdict.ok { border-color: #2e8b57; background: #f1faf4; }
.verdict .big { font-size: 17px; font-weight: 600; margin-bottom: .3em; } .verdict p { margin: .15em 0; font-family: monospace; }
.stats { font: 13px monospace; margin: .2em 0 .4em; } .stats span.stat { margin-right: 1.2em; } .stats b { color: #555; font-weight: normal; }
.chart { margin: .2em 0 .6em; } svg text { font: 11px sans-serif; fill: #333; }
svg .axis { stroke: #999; stroke-width: 1; } svg .grid { stroke: #eee; } svg .bar { fill: #4a7bb7; }
svg .pct { stroke: #c0392b; stroke-dasharray: 3 2; } svg .pcttext { fill: #c0392b; }
svg.heat rect.cell:hover { stroke: #000; stroke-width: 1; }
#tp-tip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 4px 8px; border-radius: 3px;
  font: 12px monospace; display: none; z-index: 10; white-space: pre; }
.cellinfo { font-size: 13px; min-height: 1.2em; } .cellinfo table { font-size: 12px; }
.legend span { display: inline-block; margin-right: 1em; font-size: 12px; } .legend i { display: inline-block; width: 12px; height: 3px; margin-right: 4px; vertical-align: middle; }
.hint { color: #666; font-size: 12px; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("tp-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var UNIT = DATA.unit || "us", UNIT_NS = {ns: 1, us: 1e3, ms: 1e6, s: 1e9}[UNIT] || 1e3;
  var COLOURS = ["#4a7bb7", "#e07b39", "#3d9970", "#b03a2e", "#8e6bbf", "#8c6d31", "#d35d90", "#555", "#17a2b8", "#9aa000", "#1f3a93", "#aa5500", "#444"];

  function el(tag, attrs, parent, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svg(host, w, h, cls) { return el("svg", {width: w, height: h, viewBox: "0 0 " + w + " " + h, "class": cls || ""}, host); }
  function fmtNs(v) {  // a latency in ns, in the unit its size reads best in
    if (v === null || v === undefined) return "-";
    if (v < 1e3) return v.toFixed(0) + "ns";
    if (v < 1e6) return (v / 1e3).toFixed(v < 1e4 ? 2 : 1) + "us";
    if (v < 1e9) return (v / 1e6).toFixed(v < 1e7 ? 2 : 1) + "ms";
    return (v / 1e9).toFixed(2) + "s";
  }
  var fmtLat = fmtNs;
  function fmtNum(v) {
    if (v === null || v === undefined) return "-";
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
    return a >= 100 || v === Math.round(v) ? v.toFixed(0) : v.toFixed(2);
  }
  function logAxis(lo, hi, x0, x1) {  // ns -> px, log10
    lo = Math.max(lo, 1); hi = Math.max(hi, lo * 2);
    var a = Math.log10(lo), b = Math.log10(hi);
    return function (v) { return x0 + (Math.log10(Math.max(v, 1)) - a) / (b - a) * (x1 - x0); };
  }
  function decades(lo, hi) {
    var out = [];
    for (var p = Math.floor(Math.log10(Math.max(lo, 1))); Math.pow(10, p) <= hi; p++) if (Math.pow(10, p) >= lo) out.push(Math.pow(10, p));
    return out;
  }
  var tip = document.createElement("div"); tip.id = "tp-tip"; document.body.appendChild(tip);
  function showTip(ev, html) { tip.innerHTML = html; tip.style.display = "block"; tip.style.left = (ev.clientX + 14) + "px"; tip.style.top = (ev.clientY + 12) + "px"; }
  function hideTip() { tip.style.display = "none"; }

  // a latency distribution: log2 buckets on a log time axis, percentiles marked
  function dist(host, d) {
    var W = 900, H = 200, L = 50, R = 20, T = 34, B = 32;
    var bs = d.buckets.filter(function (b) { return b.count > 0; });
    if (!bs.length) { host.textContent = "(no values)"; return; }
    var lo = Math.max(bs[0].lo, 1), hi = bs[bs.length - 1].hi;
    var fmtNs = d.unit && ["ns", "us", "ms"].indexOf(d.unit) < 0 ? function (v) { return fmtNum(v) + (d.unit === "bytes" ? "B" : ""); } : fmtLat;
    var x = logAxis(lo, hi, L, W - R), peak = Math.max.apply(null, bs.map(function (b) { return b.count; }));
    var s = svg(host, W, H, "dist");
    el("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis"}, s);
    decades(lo, hi).forEach(function (v) { el("line", {x1: x(v), x2: x(v), y1: T, y2: H - B, "class": "grid"}, s); el("text", {x: x(v), y: H - B + 14, "text-anchor": "middle"}, s, fmtNs(v)); });
    el("text", {x: L - 6, y: T + 4, "text-anchor": "end"}, s, fmtNum(peak));
    el("text", {x: L - 6, y: H - B, "text-anchor": "end"}, s, "0");
    bs.forEach(function (b) {
      var h = Math.max(2, (H - T - B) * b.count / peak), x0 = x(Math.max(b.lo, 1)), x1 = x(b.hi);
      var r = el("rect", {x: x0 + 0.5, y: H - B - h, width: Math.max(1, x1 - x0 - 1), height: h, "class": "bar"}, s);
      el("title", {}, r, "[" + fmtNs(b.lo) + ", " + fmtNs(b.hi) + "): " + b.count);
      if (x1 - x0 > 18) el("text", {x: (x0 + x1) / 2, y: H - B - h - 3, "text-anchor": "middle"}, s, fmtNum(b.count));
    });
    var y = 10;
    (d.pcts || []).forEach(function (p, i) {
      if (p.ns === null) return;
      var px = x(p.ns);
      el("line", {x1: px, x2: px, y1: T - 4, y2: H - B, "class": "pct"}, s);
      el("text", {x: px + 3, y: 9 + i * 6, "class": "pcttext", "font-size": "10"}, s, p.label + " " + fmtNs(p.ns));
    });
    el("text", {x: W - R, y: H - 4, "text-anchor": "end"}, s, (fmtNs === fmtLat ? "latency" : d.unit) + " (log scale); bar height: count");
  }

  // Gregg's latency heat map: x time, y log latency buckets, colour count
  function colour(n, peak) {
    var t = Math.sqrt(n / peak);  // sqrt: a few slow requests still show against a hot band
    var r = Math.round(255 - t * (255 - 150)), g = Math.round(235 - t * 235), b = Math.round(180 - t * 180);
    return "rgb(" + r + "," + g + "," + b + ")";
  }
  function heat(host, h) {
    if (!h.cells.length) { host.textContent = "(no values)"; return; }
    var rows = h.rows.length, cols = h.columns, L = 62, T = 8, B = 30, R = 10;
    var cw = Math.max(3, Math.min(16, Math.floor(860 / cols))), ch = Math.max(6, Math.min(14, Math.floor(300 / rows)));
    var W = L + cols * cw + R, H = T + rows * ch + B;
    var s = svg(host, W, H, "heat"); s.setAttribute("data-metric", h.metric);
    var peak = Math.max.apply(null, h.cells.map(function (c) { return c[2]; }));
    el("rect", {x: L, y: T, width: cols * cw, height: rows * ch, fill: "#fbfbfb", stroke: "#ddd"}, s);
    var info = host.parentNode.querySelector(".cellinfo");
    h.cells.forEach(function (c) {
      var r = el("rect", {x: L + c[0] * cw, y: T + (rows - 1 - c[1]) * ch, width: cw, height: ch, fill: colour(c[2], peak), "class": "cell",
                          "data-c": c[0], "data-r": c[1], "data-n": c[2]}, s);
      r.addEventListener("mousemove", function (ev) { showTip(ev, cellText(h, c)); });
      r.addEventListener("mouseleave", hideTip);
      r.addEventListener("click", function () { slowest(info, h, c); });
    });
    for (var i = 0; i < rows; i++) if (Math.log2(h.rows[i].lo) % 1 === 0 || rows < 6) el("text", {x: L - 4, y: T + (rows - i) * ch - 1, "text-anchor": "end"}, s, fmtNs(h.rows[i].lo));
    var span = cols * h.bin_ns / 1e9, step = niceStep(span / 8);
    for (var t = 0; t <= span + 1e-12; t += step) {
      var px = L + t / span * cols * cw;
      el("line", {x1: px, x2: px, y1: T + rows * ch, y2: T + rows * ch + 4, "class": "axis"}, s);
      el("text", {x: px, y: T + rows * ch + 16, "text-anchor": "middle"}, s, fmtSec(t, step));
    }
    el("text", {x: W - R, y: H - 2, "text-anchor": "end"}, s, "time in the capture (s), " + fmtSec(h.bin_ns / 1e9, h.bin_ns / 1e9) + " s per column; colour: requests");
  }
  function cellRange(h, c) {
    var t0 = c[0] * h.bin_ns / 1e9, t1 = (c[0] + 1) * h.bin_ns / 1e9, b = h.rows[c[1]];
    return {t0: t0, t1: t1, lo: b.lo, hi: b.hi};
  }
  function cellText(h, c) {
    var g = cellRange(h, c), d = h.bin_ns / 1e9;
    return "time " + fmtSec(g.t0, d) + "-" + fmtSec(g.t1, d) + " s\nlatency [" + fmtNs(g.lo) + ", " + fmtNs(g.hi) + ")\ncount <b class=\"n\">" + c[2] + "</b>";
  }
  function slowest(info, h, c) {
    if (!info) return;
    var keys = h.slowest.keys, rows = h.slowest.rows.filter(function (r) { return r[0] === c[0] && r[1] === c[1]; });
    var g = cellRange(h, c), d = h.bin_ns / 1e9;
    info.innerHTML = "";
    var p = document.createElement("p");
    p.textContent = "Cell " + fmtSec(g.t0, d) + "-" + fmtSec(g.t1, d) + " s, [" + fmtNs(g.lo) + ", " + fmtNs(g.hi) + "): " + c[2] +
      " requests; the " + rows.length + " slowest kept in this file (at most " + h.kept_per_cell + " per cell, " + h.max_kept + " per map):";
    info.appendChild(p);
    var t = document.createElement("table"), tr = document.createElement("tr");
    keys.slice(2).forEach(function (k) { var th = document.createElement("th"); th.textContent = k === "ts_ns" ? "TIME(s)" : k === "value_ns" ? "LATENCY" : k.toUpperCase(); tr.appendChild(th); });
    t.appendChild(tr);
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      r.slice(2).forEach(function (v, i) {
        var k = keys[i + 2], td = document.createElement("td");
        td.textContent = k === "ts_ns" ? ((v - h.t0_ns) / 1e9).toFixed(6) : k === "value_ns" ? fmtNs(v) : (v === null ? "-" : String(v));
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    info.appendChild(t);
  }
  function niceStep(x) {
    var p = Math.pow(10, Math.floor(Math.log10(x || 1))), m = x / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function fmtSec(t, step) { var dec = Math.max(0, Math.min(6, -Math.floor(Math.log10(step || 1)))); return t.toFixed(dec); }

  // a time series per interval: one line per key
  function series(host, sd, chart) {
    var W = 900, H = 160, L = 60, R = 10, T = 10, B = 28, cols = sd.columns;
    var keys = Object.keys(chart.lines), peak = 0;
    keys.forEach(function (k) { chart.lines[k].forEach(function (v) { peak = Math.max(peak, v); }); });
    peak = peak || 1;
    var s = svg(host, W, H, "series");
    var x = function (i) { return L + (i + 0.5) / cols * (W - L - R); }, y = function (v) { return H - B - v / peak * (H - T - B); };
    el("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis"}, s);
    el("line", {x1: L, x2: L, y1: T, y2: H - B, "class": "axis"}, s);
    el("text", {x: L - 4, y: T + 8, "text-anchor": "end"}, s, fmtNum(peak));
    el("text", {x: L - 4, y: H - B, "text-anchor": "end"}, s, "0");
    var span = cols * sd.bin_ns / 1e9, step = niceStep(span / 8);
    for (var t = 0; t <= span + 1e-12; t += step) el("text", {x: L + t / span * (W - L - R), y: H - B + 14, "text-anchor": "middle"}, s, fmtSec(t, step));
    var legend = document.createElement("div"); legend.className = "legend";
    keys.forEach(function (k, i) {
      var c = COLOURS[i % COLOURS.length];
      var pts = chart.lines[k].map(function (v, j) { return x(j).toFixed(1) + "," + y(v).toFixed(1); }).join(" ");
      var pl = el("polyline", {points: pts, fill: "none", stroke: c, "stroke-width": 1.5}, s);
      el("title", {}, pl, k);
      var sp = document.createElement("span"); sp.innerHTML = "<i style=\"background:" + c + "\"></i>"; sp.appendChild(document.createTextNode(k)); legend.appendChild(sp);
    });
    var hit = el("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "transparent"}, s);
    hit.addEventListener("mousemove", function (ev) {
      var box = s.getBoundingClientRect(), i = Math.floor((ev.clientX - box.left - L) / (W - L - R) * cols);
      if (i < 0 || i >= cols) return hideTip();
      var d = sd.bin_ns / 1e9, text = fmtSec(i * d, d) + "-" + fmtSec((i + 1) * d, d) + " s";
      keys.forEach(function (k) { text += "\n" + k + ": " + fmtNum(chart.lines[k][i]) + " " + chart.unit; });
      showTip(ev, text.replace(/</g, "&lt;"));
    });
    hit.addEventListener("mouseleave", hideTip);
    host.appendChild(legend);
  }

  // one row per line of a series, coloured by the row's own peak: when each kind of event happens
  function strip(host, sd, chart) {
    var keys = Object.keys(chart.lines), cols = sd.columns, L = 230, T = 4, B = 22, RH = 14;
    var cw = Math.max(3, Math.min(16, Math.floor(860 / cols))), W = L + cols * cw + 10, H = T + keys.length * RH + B;
    var s = svg(host, W, H, "strip"), d = sd.bin_ns / 1e9;
    keys.forEach(function (k, i) {
      var vals = chart.lines[k], peak = Math.max.apply(null, vals) || 1, y = T + i * RH;
      el("text", {x: L - 6, y: y + RH - 3, "text-anchor": "end"}, s, k);
      vals.forEach(function (v, j) {
        if (!v) return;
        var r = el("rect", {x: L + j * cw, y: y + 1, width: cw, height: RH - 2, fill: colour(v, peak), "class": "cell"}, s);
        r.addEventListener("mousemove", function (ev) {
          showTip(ev, (k + "\n" + fmtSec(j * d, d) + "-" + fmtSec((j + 1) * d, d) + " s\n" + fmtNum(v) + " " + chart.unit).replace(/</g, "&lt;"));
        });
        r.addEventListener("mouseleave", hideTip);
      });
    });
    var span = cols * d, step = niceStep(span / 8);
    for (var t = 0; t <= span + 1e-12; t += step) el("text", {x: L + t / span * cols * cw, y: H - 6, "text-anchor": "middle"}, s, fmtSec(t, step));
  }

  // diff: base and new distributions overlaid (shares of each side's requests)
  function overlay(host, g) {
    var W = 900, H = 190, L = 50, R = 20, T = 12, B = 32;
    var bs = g.buckets.filter(function (b) { return b.base + b.new > 0; });
    if (!bs.length) { host.textContent = "(no values)"; return; }
    var nb = 0, nn = 0; bs.forEach(function (b) { nb += b.base; nn += b.new; });
    var lo = Math.max(bs[0].lo, 1), hi = bs[bs.length - 1].hi, x = logAxis(lo, hi, L, W - R), peak = 0;
    bs.forEach(function (b) { peak = Math.max(peak, b.base / (nb || 1), b.new / (nn || 1)); });
    var s = svg(host, W, H, "overlay");
    el("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis"}, s);
    decades(lo, hi).forEach(function (v) { el("text", {x: x(v), y: H - B + 14, "text-anchor": "middle"}, s, fmtNs(v)); });
    el("text", {x: L - 6, y: T + 6, "text-anchor": "end"}, s, (peak * 100).toFixed(0) + "%");
    [["base", "#4a7bb7", 0.45], ["new", "#e07b39", 0.45]].forEach(function (side) {
      var tot = side[0] === "base" ? nb : nn;
      bs.forEach(function (b) {
        var share = b[side[0]] / (tot || 1); if (!share) return;
        var h = Math.max(2, share / peak * (H - T - B)), x0 = x(Math.max(b.lo, 1)), x1 = x(b.hi);
        var r = el("rect", {x: x0 + 0.5, y: H - B - h, width: Math.max(1, x1 - x0 - 1), height: h, fill: side[1], "fill-opacity": side[2]}, s);
        el("title", {}, r, side[0] + " [" + fmtNs(b.lo) + ", " + fmtNs(b.hi) + "): " + b[side[0]] + " (" + (share * 100).toFixed(1) + "%)");
      });
    });
    (g.marks || []).forEach(function (m, i) {
      if (m.ns === null) return;
      el("line", {x1: x(m.ns), x2: x(m.ns), y1: T, y2: H - B, stroke: m.side === "base" ? "#1f3a93" : "#aa4400", "stroke-dasharray": "3 2"}, s);
    });
    el("text", {x: W - R, y: T + 6, "text-anchor": "end", fill: "#4a7bb7"}, s, "base (" + nb + ")");
    el("text", {x: W - R, y: T + 20, "text-anchor": "end", fill: "#e07b39"}, s, "new (" + nn + ")");
  }

  // diff: the change of one statistic per group, with its confidence interval
  function change(host, c) {
    var rows = c.rows, W = 900, RH = 18, L = 300, R = 110, T = 20, H = T + rows.length * RH + 20;
    if (!rows.length) { host.textContent = "(nothing tested)"; return; }
    var m = 0.05;
    rows.forEach(function (r) { [r.rel, r.lo, r.hi].forEach(function (v) { if (v !== null && isFinite(v)) m = Math.max(m, Math.abs(v)); }); });
    m = Math.min(m, 5);
    var s = svg(host, W, H, "change"), x = function (v) { return L + (Math.max(-m, Math.min(m, v)) + m) / (2 * m) * (W - L - R); };
    el("line", {x1: x(0), x2: x(0), y1: T - 6, y2: H - 16, "class": "axis"}, s);
    el("text", {x: x(-m), y: T - 8}, s, (-m * 100).toFixed(0) + "%");
    el("text", {x: x(m), y: T - 8, "text-anchor": "end"}, s, "+" + (m * 100).toFixed(0) + "%");
    rows.forEach(function (r, i) {
      var y = T + i * RH;
      el("text", {x: L - 6, y: y + 12, "text-anchor": "end"}, s, r.group);
      if (r.rel === null) { el("text", {x: x(0) + 4, y: y + 12}, s, "-"); return; }
      var fill = r.significant ? (r.rel > 0 ? "#c0392b" : "#2e8b57") : "#bbb";
      var b = el("rect", {x: Math.min(x(0), x(r.rel)), y: y + 3, width: Math.max(1, Math.abs(x(r.rel) - x(0))), height: RH - 6, fill: fill}, s);
      el("title", {}, b, r.group + ": " + (r.rel * 100).toFixed(1) + "%" + (r.lo !== null ? " (95% CI " + (r.lo * 100).toFixed(1) + ".." + (r.hi * 100).toFixed(1) + "%)" : ""));
      if (r.lo !== null && r.hi !== null) {
        el("line", {x1: x(r.lo), x2: x(r.hi), y1: y + RH / 2, y2: y + RH / 2, stroke: "#222"}, s);
        [r.lo, r.hi].forEach(function (v) { el("line", {x1: x(v), x2: x(v), y1: y + 4, y2: y + RH - 4, stroke: "#222"}, s); });
      }
      el("text", {x: W - R + 6, y: y + 12}, s, (r.rel >= 0 ? "+" : "") + (r.rel * 100).toFixed(1) + "%" + (r.significant ? " *" : ""));
    });
    el("text", {x: W - 4, y: H - 2, "text-anchor": "end"}, s, "bar: relative change, new vs base; whisker: 95% CI; coloured: significant (*)");
  }

  // tables sortable by any column (numbers by value, text by text)
  function sortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, i) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows), asc = !th.classList.contains("asc");
        heads.forEach(function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        rows.sort(function (a, b) {
          var x = a.cells[i], y = b.cells[i], vx = x.getAttribute("data-v"), vy = y.getAttribute("data-v"), r;
          if (vx !== null && vy !== null) r = parseFloat(vx) - parseFloat(vy);
          else if (vx !== null || vy !== null) r = vx === null ? 1 : -1;
          else r = x.textContent.localeCompare(y.textContent);
          return asc ? r : -r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  document.querySelectorAll("[data-chart]").forEach(function (host) {
    var kind = host.getAttribute("data-chart"), ref = +host.getAttribute("data-ref");
    if (kind === "dist") dist(host, DATA.dists[ref]);
    else if (kind === "heat") heat(host, DATA.heatmaps[ref]);
    else if (kind === "series") series(host, DATA.series, DATA.series.charts[ref]);
    else if (kind === "strip") strip(host, DATA.series, DATA.series.charts[ref]);
    else if (kind === "overlay") overlay(host, DATA.overlays[ref]);
    else if (kind === "change") change(host, DATA.changes[ref]);
  });
  document.querySelectorAll("div.table > table").forEach(sortable);
  document.body.setAttribute("data-drawn", "yes");
})();
"""
