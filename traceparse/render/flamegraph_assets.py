"""The flame graph SVG's inline style and script (no external asset: the file opens offline).

The script reads each frame's ``data-x`` / ``data-w`` (weight units), ``data-l`` (depth) and ``data-k``
(kernel, jit, inline, user) and lays the frames out again on zoom; the labels are fitted to the
boxes here, so a box's text never spills into its neighbour's.
"""

STYLE = """
text { font-family: Verdana, sans-serif; font-size: 12px; fill: rgb(0,0,0); }
#title { font-size: 17px; } #legend { font-size: 11px; fill: rgb(90,90,90); }
#search, #unzoom { cursor: pointer; fill: rgb(0,0,160); } #search:hover, #unzoom:hover { text-decoration: underline; }
.bg { fill: rgb(248,248,244); }
g.f { cursor: pointer; } g.f text { font-size: 11px; pointer-events: none; }
g.f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; }
g.f.parent rect { opacity: 0.5; } .hide { display: none; }
g.f.match rect { fill: rgb(230,0,230) !important; }
"""

SCRIPT = r"""
var frames = [], details, matchedtxt, searchbtn, unzoombtn, zoom = null, term = null;
var CHAR_W = 6.6;
function init(evt) {
  frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
  details = document.getElementById("details");
  matchedtxt = document.getElementById("matched");
  searchbtn = document.getElementById("search");
  unzoombtn = document.getElementById("unzoom");
  frames.forEach(function (g) {
    g.addEventListener("mouseover", function () { details.textContent = describe(g); });
    g.addEventListener("mouseout", function () { details.textContent = " "; });
    g.addEventListener("click", function () { zoomTo(g); });
    var t = g.querySelector("title");
    g.dataset.name = t ? t.textContent : "";
    if (t) t.textContent = describe(g);
  });
  searchbtn.addEventListener("click", function () { if (term === null) searchPrompt(); else resetSearch(); });
  unzoombtn.addEventListener("click", function () { zoomTo(null); });
  window.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F")) { e.preventDefault(); searchPrompt(); }
    if (e.key === "Escape") { resetSearch(); }
  });
  layout();
}
function num(g, k) { return parseFloat(g.dataset[k]); }
function amount(v) {
  if (META.unit === "ns") {
    if (v >= 1e9) return (v / 1e9).toFixed(3) + " s";
    if (v >= 1e6) return (v / 1e6).toFixed(3) + " ms";
    if (v >= 1e3) return (v / 1e3).toFixed(1) + " us";
    return v + " ns";
  }
  return v.toLocaleString("en-US") + " " + (META.label || "samples");
}
function describe(g) {
  var w = num(g, "w"), pct = META.total ? (100 * w / META.total).toFixed(2) : "0";
  var kind = g.dataset.k === "user" ? "" : " [" + g.dataset.k + "]";
  var s = g.dataset.name + kind + " (" + amount(w) + ", " + pct + "%)";
  if (META.diff && g.dataset.d !== undefined) {
    var d = parseFloat(g.dataset.d);
    s += "; share " + (d >= 0 ? "+" : "") + d.toFixed(2) + " points vs base (base " + amount(parseFloat(g.dataset.b)) + ")";
  }
  return s;
}
function layout() {
  var x0 = 0, w0 = META.total, l0 = 0;
  if (zoom) { x0 = num(zoom, "x"); w0 = num(zoom, "w"); l0 = num(zoom, "l"); }
  var scale = w0 ? (META.width - 2 * META.xpad) / w0 : 0;
  frames.forEach(function (g) {
    var x = num(g, "x"), w = num(g, "w"), l = num(g, "l");
    var inside = x >= x0 && x + w <= x0 + w0 && l >= l0;
    var above = l < l0 && x <= x0 && x + w >= x0 + w0;
    g.classList.toggle("hide", !(inside || above));
    g.classList.toggle("parent", above);
    var px = above ? META.xpad : (x - x0) * scale + META.xpad;
    var pw = above ? META.width - 2 * META.xpad : w * scale;
    var r = g.querySelector("rect"), t = g.querySelector("text");
    r.setAttribute("x", px.toFixed(2)); r.setAttribute("width", Math.max(pw, 0).toFixed(2));
    t.setAttribute("x", (px + 3).toFixed(2));
    t.textContent = fit(g.dataset.name, pw);
  });
  unzoombtn.classList.toggle("hide", !zoom);
}
function fit(name, pw) {
  var n = Math.floor((pw - 6) / CHAR_W);
  if (n < 3) return "";
  return name.length <= n ? name : name.slice(0, n - 2) + "..";
}
function zoomTo(g) { zoom = g; layout(); }
function searchPrompt() {
  var t = window.prompt("Search for (a regular expression):", term || "");
  if (t) search(t);
}
function search(t) {
  var re;
  try { re = new RegExp(t); } catch (e) { matchedtxt.textContent = "not a regular expression"; return 0; }
  term = t;
  var spans = [];
  frames.forEach(function (g) {
    var hit = re.test(g.dataset.name);
    g.classList.toggle("match", hit);
    if (hit) spans.push([num(g, "x"), num(g, "x") + num(g, "w")]);
  });
  spans.sort(function (a, b) { return a[0] - b[0]; });
  var covered = 0, end = -1;  // a match inside a match is counted once
  spans.forEach(function (s) {
    if (s[0] >= end) { covered += s[1] - s[0]; end = s[1]; }
    else if (s[1] > end) { covered += s[1] - end; end = s[1]; }
  });
  matchedtxt.textContent = "Matched: " + (META.total ? (100 * covered / META.total).toFixed(1) : "0") + "%";
  searchbtn.textContent = "Reset Search";
  return spans.length;
}
function resetSearch() {
  term = null;
  frames.forEach(function (g) { g.classList.remove("match"); });
  matchedtxt.textContent = "";
  searchbtn.textContent = "Search";
}
"""
