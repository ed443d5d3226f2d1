// mediawatch dashboard: the trends chart, the correction form, incident edits.
// Vanilla JS, no dependencies; loaded with `defer` from /assets/.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var PALETTE = ["#0b5cad", "#c45500", "#1e7e34", "#a4262c", "#6f42c1", "#00838f",
    "#9a6700", "#d63384", "#495057", "#2f9e44"];
  var TOKEN_KEY = "mediawatch.token";

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
    return 10 * p;
  }

  // Series from a /api/report answer: one per group (or "all"), values per
  // bucket. measure "share": the documents' share of all coverage of the
  // same outlets (a report of a query has it; otherwise the count), or the
  // chosen label's share of the labelled documents, in percent. measure
  // "count": the document or label count.
  function valueOf(b, label, measure) {
    if (label) {
      var l = b.labels && b.labels[label];
      if (!l) return 0;
      return measure === "share" ? Math.round(l.share * 1000) / 10 : l.count;
    }
    if (measure === "share" && b.attention) return Math.round(b.attention.share * 1000) / 10;
    return b.documents;
  }

  function seriesFrom(report, label, measure) {
    var buckets = [], seen = {}, byName = {}, order = [];
    report.buckets.forEach(function (b) {
      if (!seen[b.bucket]) { seen[b.bucket] = true; buckets.push(b.bucket); }
      var name = b.group == null ? "all" : String(b.group);
      if (!byName[name]) { byName[name] = {}; order.push(name); }
      var v = valueOf(b, label, measure);
      byName[name][b.bucket] = v;
    });
    buckets.sort();
    return {
      buckets: buckets,
      series: order.map(function (name, i) {
        return { name: name, color: PALETTE[i % PALETTE.length],
          values: buckets.map(function (k) { return byName[name][k] || 0; }) };
      })
    };
  }

  function drawChart(svg, data) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = 900, H = 360, L = 56, R = 16, T = 16, B = 48;
    var n = data.buckets.length;
    var max = 0;
    data.series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    max = niceMax(max);
    var x = function (i) { return n <= 1 ? L + (W - L - R) / 2 : L + i * (W - L - R) / (n - 1); };
    var y = function (v) { return T + (H - T - B) * (1 - v / max); };
    for (var g = 0; g <= 4; g++) {
      var gv = max * g / 4;
      el("line", { "class": "grid", x1: L, x2: W - R, y1: y(gv), y2: y(gv) }, svg);
      var t = el("text", { x: L - 6, y: y(gv) + 4, "text-anchor": "end" }, svg);
      t.textContent = String(Math.round(gv * 100) / 100);
    }
    el("line", { "class": "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, svg);
    el("line", { "class": "axis", x1: L, x2: L, y1: T, y2: H - B }, svg);
    var every = Math.max(1, Math.ceil(n / 12));
    data.buckets.forEach(function (b, i) {
      if (i % every !== 0 && i !== n - 1) return;
      var t = el("text", { x: x(i), y: H - B + 16, "text-anchor": "middle" }, svg);
      t.textContent = b;
    });
    data.series.forEach(function (s) {
      var d = s.values.map(function (v, i) { return (i ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1); }).join(" ");
      if (n === 1) d += " h 1";
      s.path = el("path", { "class": "series", d: d, stroke: s.color, "data-name": s.name }, svg);
    });
    var cursor = el("line", { "class": "cursor", y1: T, y2: H - B, x1: -10, x2: -10 }, svg);
    var tip = document.getElementById("chart-tooltip");
    svg.addEventListener("mousemove", function (ev) {
      if (!n) return;
      var r = svg.getBoundingClientRect();
      var px = (ev.clientX - r.left) * W / r.width;
      var i = n <= 1 ? 0 : Math.round((px - L) / ((W - L - R) / (n - 1)));
      i = Math.max(0, Math.min(n - 1, i));
      cursor.setAttribute("x1", x(i)); cursor.setAttribute("x2", x(i));
      if (!tip) return;
      var lines = [data.buckets[i]];
      data.series.forEach(function (s) {
        if (!s.path.classList.contains("off")) lines.push(s.name + ": " + s.values[i]);
      });
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      tip.style.left = Math.min(r.width - 160, Math.max(0, ev.clientX - r.left + 12)) + "px";
      tip.style.top = Math.max(0, ev.clientY - r.top + 12) + "px";
    });
    svg.addEventListener("mouseleave", function () { if (tip) tip.hidden = true; });
    var legend = document.getElementById("chart-legend");
    if (legend) {
      while (legend.firstChild) legend.removeChild(legend.firstChild);
      data.series.forEach(function (s) {
        var li = document.createElement("li");
        var btn = document.createElement("button");
        btn.type = "button";
        btn.setAttribute("aria-pressed", "true");
        btn.setAttribute("data-series", s.name);
        var sw = el("svg", { "class": "swatch", width: 12, height: 12, viewBox: "0 0 12 12" });
        el("rect", { width: 12, height: 12, fill: s.color }, sw);
        btn.appendChild(sw);
        btn.appendChild(document.createTextNode(s.name));
        btn.addEventListener("click", function () {
          var off = s.path.classList.toggle("off");
          btn.setAttribute("aria-pressed", off ? "false" : "true");
        });
        li.appendChild(btn);
        legend.appendChild(li);
      });
    }
    if (!n) {
      var e = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg);
      e.textContent = "no documents";
    }
    svg.setAttribute("data-rendered", "true");
  }

  function initChart() {
    var svg = document.getElementById("trend-chart");
    if (!svg) return;
    var src = svg.getAttribute("data-src");
    var label = svg.getAttribute("data-label") || "";
    var measure = svg.getAttribute("data-measure") || "share";
    fetch(src, { headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
          return j;
        });
      })
      .then(function (report) { drawChart(svg, seriesFrom(report, label, measure)); })
      .catch(function (err) {
        var p = document.createElement("p");
        p.id = "query-error";
        p.className = "error";
        p.textContent = String(err.message || err);
        svg.parentNode.insertBefore(p, svg);
        svg.setAttribute("data-rendered", "error");
      });
  }

  function initCorrections() {
    var form = document.getElementById("correction-form");
    if (!form) return;
    var tokenField = document.getElementById("token");
    var out = document.getElementById("correction-result");
    try {
      var saved = window.localStorage.getItem(TOKEN_KEY);
      if (saved && tokenField) tokenField.value = saved;
    } catch (e) { /* storage disabled: the field still works */ }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var token = tokenField ? tokenField.value.trim() : "";
      try { if (token) window.localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* ignore */ }
      var verdict = form.querySelector("input[name=verdict]:checked");
      var body = {
        doc_id: form.getAttribute("data-doc-id"),
        label: form.elements.label.value,
        verdict: verdict ? verdict.value : "wrong",
        value: form.elements.value.value.trim() || null,
        analyst: form.elements.analyst.value.trim() || null,
        note: form.elements.note.value.trim() || null
      };
      out.className = "";
      out.textContent = "…";
      fetch("/api/corrections", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (j) {
          if (r.ok) {
            out.className = "ok";
            out.textContent = "Saved correction #" + j.id + " (" + j.label + ": " + j.verdict + ").";
            var list = document.getElementById("corrections");
            if (list) {
              var empty = list.querySelector(".empty");
              if (empty) list.removeChild(empty);
              var li = document.createElement("li");
              li.textContent = j.label + " " + j.verdict + (j.value ? " → " + j.value : "");
              list.appendChild(li);
            }
          } else {
            out.className = "fail";
            out.textContent = "Error " + r.status + ": " + (j.error || "");
          }
        });
      }).catch(function (err) {
        out.className = "fail";
        out.textContent = String(err.message || err);
      });
    });
  }

  // Incidents: merge the ticked incidents, split a story out; the edit is
  // posted with the token kept in this browser, then the page regroups.
  function initIncidents() {
    var form = document.getElementById("incident-merge");
    if (!form) return;
    var tokenField = document.getElementById("token");
    var out = document.getElementById("incident-result");
    try {
      var saved = window.localStorage.getItem(TOKEN_KEY);
      if (saved && tokenField) tokenField.value = saved;
    } catch (e) { /* storage disabled: the field still works */ }
    function post(path, body) {
      var token = tokenField ? tokenField.value.trim() : "";
      try { if (token) window.localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* ignore */ }
      out.className = "";
      out.textContent = "…";
      fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (j) {
          if (r.ok) { out.className = "ok"; window.location.reload(); }
          else { out.className = "fail"; out.textContent = "Error " + r.status + ": " + (j.error || ""); }
        });
      }).catch(function (err) { out.className = "fail"; out.textContent = String(err.message || err); });
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var ids = [];
      var picks = document.querySelectorAll("input.merge-pick:checked");
      // Each ticked incident stands for all its stories.
      for (var i = 0; i < picks.length; i++) {
        picks[i].value.split(" ").forEach(function (x) { if (x) ids.push(x); });
      }
      post("/api/incidents/merge", { doc_ids: ids });
    });
    var buttons = document.querySelectorAll("button.incident-split");
    for (var k = 0; k < buttons.length; k++) {
      buttons[k].addEventListener("click", function (ev) {
        var b = ev.currentTarget;
        post("/api/incidents/split", {
          doc_id: b.getAttribute("data-doc"),
          from: (b.getAttribute("data-from") || "").split(" ").filter(function (x) { return x; })
        });
      });
    }
  }

  function init() { initChart(); initCorrections(); initIncidents(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
