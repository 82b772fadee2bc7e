/* console.js: the Leadpoet web console. Talks to the same server only: POST /v1/leads, GET /v1/leads/{domain},
 * GET /v1/miners, GET /v1/status and GET /metrics (Prometheus text, parsed here; rates are computed from the
 * difference of two scrapes). Every text that came from a miner is set with textContent, never as HTML. */
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };

  function h(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "className") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function date(ms) { return ms == null ? "–" : new Date(ms).toISOString().replace("T", " ").slice(0, 16); }
  function num(x, d) { return x == null ? "–" : Number(x).toFixed(d); }
  function usd(x) {
    if (x == null || !isFinite(x)) return "–";
    return x === 0 ? "$0" : x < 0.01 ? "$" + x.toExponential(2) : "$" + x.toFixed(4);
  }
  function status(id, text, isError) {
    var e = $(id);
    e.textContent = text;
    e.classList.toggle("error", !!isError);
  }
  function safeUrl(u) {
    try { var p = new URL(u); return p.protocol === "http:" || p.protocol === "https:" ? p.href : null; } catch (e) { return null; }
  }

  /* fetch + JSON; an error body {"error":{"code","message"}} becomes the thrown message. */
  function api(method, path, body) {
    var init = { method: method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (!r.ok) {
          var msg = j && j.error ? j.error.code + ": " + j.error.message : "HTTP " + r.status;
          if (r.headers.get("Retry-After")) msg += " (retry after " + r.headers.get("Retry-After") + " s)";
          throw new Error(msg);
        }
        return j;
      });
    });
  }

  function bar(value, label) {
    var v = Math.max(0, Math.min(1, value || 0));
    var b = h("span", { className: "bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": "1",
                        "aria-valuenow": v.toFixed(3), "aria-label": label });
    var fill = h("span");
    fill.style.width = (v * 100).toFixed(1) + "%";
    b.appendChild(fill);
    return b;
  }

  function evidenceList(items) {
    var ul = h("ul", { className: "evidence" });
    (items || []).forEach(function (ev) {
      var url = ev.url ? safeUrl(ev.url) : null;
      ul.appendChild(h("li", null, [
        h("span", { className: "kind", text: ev.kind || "" }),
        h("span", { text: ev.text || "" }), " ",
        h("span", { className: "meta", text: "— " + (ev.miner || "?") + ", " + date(ev.ts) }),
        url ? " " : null,
        url ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", text: "source" }) : null
      ]));
    });
    return ul;
  }

  /* ---- search ----------------------------------------------------------------------------------- */

  function signalItems(s) {
    var ul = h("ul", { className: "signals", "aria-label": "Signals" });
    if (!s) return ul;
    Object.keys(s).forEach(function (k) {
      var v = s[k];
      if (Array.isArray(v)) {
        v.forEach(function (c) {
          var cls = /^added:/.test(c) ? "added" : /^removed:/.test(c) ? "removed" : "";
          ul.appendChild(h("li", { className: cls }, [h("b", { text: k + " " }), String(c)]));
        });
      } else {
        ul.appendChild(h("li", null, [h("b", { text: k.replace(/_/g, " ") + " " }),
          typeof v === "number" ? String(Math.round(v * 1000) / 1000) : String(v)]));
      }
    });
    return ul;
  }

  function leadCard(l) {
    var firmo = [l.name, l.industry, l.employees ? l.employees + " people" : null, l.country].filter(Boolean).join(" · ");
    var open = h("button", { type: "button", className: "domain", text: l.domain, "aria-label": "Open the profile of " + l.domain });
    open.addEventListener("click", function () { location.hash = "#lead/" + encodeURIComponent(l.domain); });
    return h("li", { className: "lead", "data-domain": l.domain }, [
      h("div", { className: "lead-head" }, [h("span", { className: "rank", text: "#" + l.rank }), open,
        h("span", { className: "firmo", text: firmo })]),
      h("div", { className: "score" }, [bar(l.score, "score of " + l.domain),
        h("span", { className: "score-value", text: num(l.score, 3) })]),
      signalItems(l.signals),
      l.evidence && l.evidence.length ? evidenceList(l.evidence) : null
    ]);
  }

  function showIcp(icp) {
    var dl = $("icp-fields");
    clear(dl);
    $("icp").hidden = !icp;
    if (!icp) return;
    Object.keys(icp).forEach(function (k) {
      var v = icp[k];
      if (v == null || (Array.isArray(v) && v.length === 0)) return;
      var text = Array.isArray(v) ? v.map(function (x) {
        return typeof x === "object" ? (x.title ? x.title + (x.code ? " (" + x.code + ")" : "") : JSON.stringify(x)) : String(x);
      }).join(", ") : String(v);
      dl.appendChild(h("dt", { text: k.replace(/_/g, " ") }));
      dl.appendChild(h("dd", { text: text }));
    });
  }

  function ask(ev) {
    ev.preventDefault();
    var body = { prompt: $("prompt").value.trim(), k: parseInt($("k").value, 10), explain: $("explain").checked };
    var country = $("country").value.trim();
    if (country) body.filters = { country: [country.toUpperCase()] };
    $("ask").disabled = true;
    status("query-status", "Asking…");
    api("POST", "/v1/leads", body).then(function (r) {
      var list = $("results");
      clear(list);
      r.leads.forEach(function (l) { list.appendChild(leadCard(l)); });
      showIcp(r.icp);
      var c = r.cost || {};
      status("query-status", r.leads.length + " lead" + (r.leads.length === 1 ? "" : "s") + " in " + num(r.took_ms, 1) +
        " ms · model " + r.model + " · cost " + usd(c.usd_total) + " (" + usd(c.usd_per_lead) + " per lead, " +
        (c.llm_calls || 0) + " LLM calls) · " + r.query_id);
    }).catch(function (e) {
      status("query-status", e.message, true);
    }).then(function () { $("ask").disabled = false; });
  }

  /* ---- lead profile ------------------------------------------------------------------------------ */

  function openLead(domain) {
    $("domain").value = domain;
    status("lead-status", "Loading " + domain + "…");
    api("GET", "/v1/leads/" + encodeURIComponent(domain)).then(function (p) {
      status("lead-status", "");
      $("lead-profile").hidden = false;
      $("lead-title").textContent = (p.name ? p.name + " — " : "") + p.domain;
      var facts = $("lead-facts");
      clear(facts);
      [["industry", p.industry], ["employees", p.employees], ["country", p.country], ["snippets", p.snippets],
       ["first seen", date(p.first_ts)], ["last seen", date(p.last_ts)], ["tech now", (p.tech || []).join(", ")]]
        .forEach(function (f) {
          if (f[1] == null || f[1] === "") return;
          facts.appendChild(h("dt", { text: f[0] }));
          facts.appendChild(h("dd", { text: String(f[1]) }));
        });
      var stack = $("lead-stack").tBodies[0];
      clear(stack);
      (p.stack || []).forEach(function (s) {
        stack.appendChild(h("tr", null, [h("td", { text: s.tech }),
          h("td", { className: s.current ? "state-current" : "state-removed", text: s.current ? "in use" : "removed" }),
          h("td", { text: date(s.first_seen) }), h("td", { text: date(s.last_seen) }), h("td", { text: s.removed_at ? date(s.removed_at) : "" })]));
      });
      var churn = $("lead-churn");
      clear(churn);
      (p.churn || []).slice().sort(function (a, b) { return b.ts - a.ts; }).forEach(function (c) {
        churn.appendChild(h("li", { className: c.change }, [h("b", { text: c.change + " " + c.tech }), " ",
          h("span", { className: "meta", text: date(c.ts) })]));
      });
      if (!churn.firstChild) churn.appendChild(h("li", { text: "no technology added or removed yet" }));
      var cats = $("lead-categories").tBodies[0];
      clear(cats);
      (p.churn_categories || []).forEach(function (c) {
        cats.appendChild(h("tr", null, [h("td", { text: c.category }), h("td", { className: "num", text: String(c.added_30d) }),
          h("td", { className: "num", text: String(c.removed_30d) }), h("td", { className: "num", text: String(c.added_90d) }),
          h("td", { className: "num", text: String(c.removed_90d) }),
          h("td", { className: c.trigger ? "state-removed" : "", text: c.trigger ? "yes" : "no" })]));
      });
      var ev = $("lead-evidence");
      ev.replaceWith(evidenceList(p.evidence));
      $("lead-profile").querySelector("ul.evidence").id = "lead-evidence";
    }).catch(function (e) {
      $("lead-profile").hidden = true;
      status("lead-status", e.message, true);
    });
  }

  /* ---- miners ------------------------------------------------------------------------------------ */

  function reputationBar(r, miner) {
    var b = bar(r.mean, "reputation of " + miner);
    b.classList.add("interval");
    clear(b);
    var band = h("span");
    band.style.left = (Math.max(0, r.low) * 100).toFixed(1) + "%";
    band.style.width = (Math.max(0, r.high - r.low) * 100).toFixed(1) + "%";
    var mark = h("i");
    mark.style.left = "calc(" + (Math.min(1, Math.max(0, r.mean)) * 100).toFixed(1) + "% - 1px)";
    b.appendChild(band);
    b.appendChild(mark);
    return b;
  }

  function loadMiners() {
    return api("GET", "/v1/miners?limit=1000").then(function (r) {
      var body = $("miners").tBodies[0];
      clear(body);
      r.miners.forEach(function (m) {
        var rep = m.reputation || { mean: 0, low: 0, high: 0 };
        body.appendChild(h("tr", { "data-miner": m.miner }, [h("th", { scope: "row", text: m.miner }),
          h("td", { className: "status-" + m.status, text: m.status.replace("_", " ") }),
          h("td", null, [reputationBar(rep, m.miner), h("span", { className: "meta",
            text: " " + num(rep.mean, 2) + " [" + num(rep.low, 2) + ", " + num(rep.high, 2) + "]" })]),
          h("td", { className: "num", text: String(m.accepted) }), h("td", { className: "num", text: String(m.throttled) }),
          h("td", { className: "num", text: String(m.rejected) }), h("td", { text: date(m.last_seen_ms) })]));
      });
      status("miners-status", r.total + " miner" + (r.total === 1 ? "" : "s") + (r.next ? " (first " + r.miners.length + " shown)" : "") +
        " · updated " + new Date().toLocaleTimeString());
    }).catch(function (e) { status("miners-status", e.message, true); });
  }

  /* ---- live: /metrics ---------------------------------------------------------------------------- */

  /* Prometheus text format 0.0.4 -> [{name, labels: {}, value}] */
  function parseMetrics(text) {
    var out = [];
    text.split("\n").forEach(function (line) {
      if (!line || line[0] === "#") return;
      var m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) return;
      var labels = {};
      if (m[3]) m[3].replace(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g, function (_, k, v) {
        labels[k] = v.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
      });
      out.push({ name: m[1], labels: labels, value: parseFloat(m[4]) });
    });
    return out;
  }
  function sum(ms, name, pred) {
    return ms.reduce(function (a, m) { return m.name === name && (!pred || pred(m.labels)) ? a + m.value : a; }, 0);
  }
  /* The q-quantile of the requests between two scrapes, from cumulative histogram buckets (linear in a bucket). */
  function quantile(q, prev, cur, name, pred) {
    var b = {};
    [[cur, 1], [prev, -1]].forEach(function (p) {
      p[0].forEach(function (m) {
        if (m.name !== name + "_bucket" || (pred && !pred(m.labels))) return;
        var le = m.labels.le === "+Inf" ? Infinity : parseFloat(m.labels.le);
        b[le] = (b[le] || 0) + p[1] * m.value;
      });
    });
    var les = Object.keys(b).map(Number).sort(function (x, y) { return x - y; });
    if (!les.length) return null;
    var total = b[les[les.length - 1]];
    if (!(total > 0)) return null;
    var rank = q * total, prevLe = 0, prevCount = 0;
    for (var i = 0; i < les.length; i++) {
      if (b[les[i]] >= rank) {
        if (les[i] === Infinity) return prevLe;
        var inBucket = b[les[i]] - prevCount;
        return prevLe + (les[i] - prevLe) * (inBucket > 0 ? (rank - prevCount) / inBucket : 1);
      }
      prevLe = les[i];
      prevCount = b[les[i]];
    }
    return prevLe;
  }

  var charts = null, last = null;
  function ms(v) { return v < 1 ? v.toFixed(2) + " ms" : v < 100 ? v.toFixed(1) + " ms" : Math.round(v) + " ms"; }
  function rate(v) { return v < 10 ? v.toFixed(2) + "/s" : Math.round(v) + "/s"; }
  function makeCharts() {
    charts = {
      qps: new window.LineChart($("chart-qps"), { title: "Requests per second", format: rate,
        series: [{ name: "all", color: "#2f6fbd" }, { name: "POST /v1/leads", color: "#c2410c" }] }),
      latency: new window.LineChart($("chart-latency"), { title: "POST /v1/leads latency", format: ms,
        series: [{ name: "p50", color: "#1a7f37" }, { name: "p95", color: "#c2410c" }, { name: "p99", color: "#b42318" }] }),
      cost: new window.LineChart($("chart-cost"), { title: "Cost per lead (USD)", format: usd,
        series: [{ name: "per lead", color: "#7c3aed" }] }),
      ingest: new window.LineChart($("chart-ingest"), { title: "Snippets per second", format: rate,
        series: [{ name: "accepted", color: "#1a7f37" }, { name: "dropped or rejected", color: "#b42318" }] }),
      lag: new window.LineChart($("chart-lag"), { title: "Kafka consumer lag (messages)", format: function (v) { return String(Math.round(v)); },
        series: [{ name: "lag", color: "#2f6fbd" }] })
    };
  }
  function scrape() {
    return fetch("/metrics").then(function (r) {
      if (!r.ok) throw new Error("/metrics: HTTP " + r.status);
      return r.text();
    }).then(function (text) {
      var cur = { t: Date.now(), m: parseMetrics(text) };
      if (!charts) makeCharts();
      var hasLag = cur.m.some(function (m) { return m.name === "leadpoet_kafka_consumer_lag"; });
      var lag = hasLag ? sum(cur.m, "leadpoet_kafka_consumer_lag") : null;
      if (last) {
        var dt = (cur.t - last.t) / 1000, p = last.m, c = cur.m;
        var leads = function (l) { return l.route === "/v1/leads"; };
        var notMetrics = function (l) { return l.route !== "/metrics"; };
        var d = function (name, pred) { return Math.max(0, sum(c, name, pred) - sum(p, name, pred)); };
        charts.qps.push(cur.t, [d("leadpoet_http_requests_total", notMetrics) / dt, d("leadpoet_http_requests_total", leads) / dt]);
        var lat = [0.5, 0.95, 0.99].map(function (q) {
          var v = quantile(q, p, c, "leadpoet_http_request_duration_seconds", leads);
          return v == null ? null : v * 1000;
        });
        charts.latency.push(cur.t, lat);
        var n = d("leadpoet_lead_cost_usd_count");
        charts.cost.push(cur.t, [n > 0 ? d("leadpoet_lead_cost_usd_sum") / n : null]);
        var acc = function (l) { return l.result === "accepted"; };
        var notAcc = function (l) { return l.result !== "accepted"; };
        charts.ingest.push(cur.t, [d("leadpoet_snippets_total", acc) / dt, d("leadpoet_snippets_total", notAcc) / dt]);
        charts.lag.push(cur.t, [lag]);
      }
      last = cur;
      status("live-status", (hasLag ? "" : "No Kafka consumer on this instance (lag not reported). ") +
        "Scraped /metrics at " + new Date(cur.t).toLocaleTimeString() + "; rates are over the last 2 s.");
    }).catch(function (e) { status("live-status", e.message, true); });
  }

  /* ---- views and polling ------------------------------------------------------------------------- */

  var view = "search";
  function route() {
    var hash = location.hash.replace(/^#/, "");
    var name = hash.split("/")[0] || "search";
    if (!$("view-" + name)) name = "search";
    view = name;
    document.querySelectorAll("main > section").forEach(function (s) { s.hidden = s.getAttribute("data-view") !== name; });
    document.querySelectorAll(".top nav a[data-view]").forEach(function (a) {
      if (a.getAttribute("data-view") === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    if (name === "lead" && hash.indexOf("/") > 0) openLead(decodeURIComponent(hash.slice(5)));
    if (name === "miners") loadMiners();
  }

  function instance() {
    api("GET", "/v1/status").then(function (s) {
      var k = s.kafka && s.kafka.mode ? " · kafka " + s.kafka.mode : "";
      $("instance").textContent = "v" + s.version + " (" + s.git + ") · " + s.workers + " workers · " + s.shards +
        " shards" + k + (s.ready ? "" : " · not ready");
    }).catch(function (e) { $("instance").textContent = e.message; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("query-form").addEventListener("submit", ask);
    $("lead-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var d = $("domain").value.trim();
      if (location.hash === "#lead/" + encodeURIComponent(d)) openLead(d);
      else location.hash = "#lead/" + encodeURIComponent(d);
    });
    window.addEventListener("hashchange", route);
    route();
    instance();
    scrape();
    /* The charts need history, so /metrics is scraped whatever the view; miners refresh while shown. */
    setInterval(function () { if (!document.hidden) scrape(); }, 2000);
    setInterval(function () { if (!document.hidden && view === "miners") loadMiners(); }, 5000);
    setInterval(function () { if (!document.hidden) instance(); }, 15000);
  });
})();
