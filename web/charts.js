/* charts.js: small live line charts in SVG (no library): a chart keeps the last N points of one or more
 * series and redraws itself on push(). Missing values (null) leave a gap. */
"use strict";
(function () {
  var NS = "http://www.w3.org/2000/svg";
  var W = 400, H = 150, L = 56, R = 6, T = 8, B = 18;

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  /* opts: {title, unit, format(v) -> text, series: [{name, color}], points} */
  function LineChart(figure, opts) {
    this.opts = opts;
    this.max = opts.points || 150;
    this.t = [];
    this.v = opts.series.map(function () { return []; });
    var cap = document.createElement("figcaption");
    var title = document.createElement("span");
    title.textContent = opts.title;
    this.now = document.createElement("span");
    this.now.className = "now";
    cap.appendChild(title);
    cap.appendChild(this.now);
    figure.appendChild(cap);
    this.svg = el("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
                           "aria-label": opts.title }, figure);
    var legend = document.createElement("ul");
    legend.className = "legend";
    opts.series.forEach(function (s) {
      var li = document.createElement("li");
      var sw = document.createElement("i");
      sw.style.background = s.color;
      li.appendChild(sw);
      li.appendChild(document.createTextNode(s.name));
      legend.appendChild(li);
    });
    figure.appendChild(legend);
    this.draw();
  }

  LineChart.prototype.push = function (t, values) {
    this.t.push(t);
    for (var i = 0; i < this.v.length; i++) this.v[i].push(values[i] == null || !isFinite(values[i]) ? null : values[i]);
    if (this.t.length > this.max) {
      this.t.shift();
      this.v.forEach(function (a) { a.shift(); });
    }
    this.draw();
  };

  LineChart.prototype.draw = function () {
    var svg = this.svg, opts = this.opts, fmt = opts.format || String;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var hi = 0;
    this.v.forEach(function (a) { a.forEach(function (x) { if (x != null && x > hi) hi = x; }); });
    if (hi <= 0) hi = 1;
    hi *= 1.1;
    el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, "class": "axis" }, svg);
    el("line", { x1: L, y1: T, x2: L, y2: H - B, "class": "axis" }, svg);
    el("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, svg).textContent = fmt(hi);
    el("text", { x: L - 4, y: H - B, "text-anchor": "end" }, svg).textContent = fmt(0);
    var n = this.t.length;
    if (n > 0) {
      var span = Math.max(1, (this.t[n - 1] - this.t[0]) / 1000);
      el("text", { x: W - R, y: H - 4, "text-anchor": "end" }, svg).textContent = "last " + Math.round(span) + " s";
    }
    var t0 = n ? this.t[0] : 0, tw = n > 1 ? this.t[n - 1] - t0 : 1;
    var self = this, latest = [];
    this.v.forEach(function (a, si) {
      var d = "", pen = false;
      for (var i = 0; i < n; i++) {
        if (a[i] == null) { pen = false; continue; }
        var x = L + (W - L - R) * (n > 1 ? (self.t[i] - t0) / tw : 1);
        var y = H - B - (H - B - T) * (a[i] / hi);
        d += (pen ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
        pen = true;
      }
      if (d) el("path", { d: d, fill: "none", stroke: opts.series[si].color, "stroke-width": 2,
                          "vector-effect": "non-scaling-stroke" }, svg);
      var last = n ? a[n - 1] : null;
      latest.push(opts.series[si].name + " " + (last == null ? "–" : fmt(last)));
    });
    this.now.textContent = latest.join(" · ");
    svg.setAttribute("aria-label", opts.title + ": " + (latest.join(", ") || "no data yet"));
  };

  window.LineChart = LineChart;
})();
