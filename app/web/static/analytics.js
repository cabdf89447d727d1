/* Analytics: GET /api/review/analytics drawn as tables and small inline SVG charts. */
"use strict";

(function () {
  const R = window.Review;
  const el = R.el;
  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const k of Object.keys(attrs || {})) node.setAttribute(k, String(attrs[k]));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function chartRoot(width, height, label) {
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": label,
                              class: "plot", preserveAspectRatio: "xMinYMin meet" });
    root.appendChild(svg("title", {}, label));
    return root;
  }

  /* Horizontal bars, one row per item: label left, bar, value text right. */
  function hbars(container, items, opts) {
    R.clear(container);
    if (!items.length) { container.appendChild(el("p", { className: "muted", text: "No data yet." })); return; }
    const row = 22;
    const labelW = opts.labelWidth || 90;
    const valueW = 110;
    const width = 560;
    const plotW = width - labelW - valueW;
    const height = items.length * row + 24;
    const root = chartRoot(width, height, opts.title);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      const x = labelW + t * plotW;
      root.appendChild(svg("line", { x1: x, x2: x, y1: 0, y2: height - 18, class: "grid" }));
      root.appendChild(svg("text", { x: x, y: height - 4, class: "axis", "text-anchor": "middle" },
                           opts.tick ? opts.tick(t * opts.max) : Math.round(t * opts.max)));
    }
    items.forEach(function (item, i) {
      const y = i * row + 3;
      const value = opts.value(item);
      const w = opts.max > 0 ? Math.max(0, Math.min(1, value / opts.max)) * plotW : 0;
      root.appendChild(svg("text", { x: labelW - 6, y: y + 13, class: "label", "text-anchor": "end" }, opts.label(item)));
      const bar = svg("rect", { x: labelW, y: y, width: Math.max(w, 1), height: row - 7, rx: 2, class: "bar" });
      bar.appendChild(svg("title", {}, opts.label(item) + ": " + opts.valueText(item)));
      root.appendChild(bar);
      root.appendChild(svg("text", { x: labelW + plotW + 6, y: y + 13, class: "value" }, opts.valueText(item)));
    });
    container.appendChild(root);
  }

  /* The smallest 4 × (1, 2 or 5 × 10^k) at or above `top`: four whole-number grid steps. */
  function niceMax(top) {
    const step = Math.max(1, top / 4);
    const power = Math.pow(10, Math.floor(Math.log10(step)));
    const nice = [1, 2, 5, 10].map(function (m) { return m * power; }).find(function (m) { return m >= step; });
    return 4 * nice;
  }

  /* Vertical bars over an x axis of labels, with an optional line through the bar tops. */
  function vbars(container, items, opts) {
    R.clear(container);
    if (!items.length) { container.appendChild(el("p", { className: "muted", text: "No data yet." })); return; }
    const width = 560;
    const height = 200;
    const left = 44;
    const bottom = 34;
    const top = 18;
    const plotW = width - left - 10;
    const plotH = height - bottom - top;
    const max = opts.max || niceMax(Math.max.apply(null, items.map(opts.value)));
    const root = chartRoot(width, height, opts.title);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      const y = top + plotH - t * plotH;
      root.appendChild(svg("line", { x1: left, x2: left + plotW, y1: y, y2: y, class: "grid" }));
      root.appendChild(svg("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" },
                           opts.tick ? opts.tick(t * max) : Math.round(t * max)));
    }
    const step = plotW / items.length;
    const barW = Math.max(2, Math.min(36, step * 0.7));
    const labelEvery = Math.ceil(items.length / 14);
    const points = [];
    items.forEach(function (item, i) {
      const value = opts.value(item);
      const h = max > 0 ? Math.max(0, Math.min(1, value / max)) * plotH : 0;
      const cx = left + step * i + step / 2;
      const bar = svg("rect", { x: cx - barW / 2, y: top + plotH - h, width: barW, height: Math.max(h, 1), rx: 2, class: "bar" });
      bar.appendChild(svg("title", {}, opts.label(item) + ": " + opts.valueText(item)));
      root.appendChild(bar);
      points.push(cx + "," + (top + plotH - h));
      if (i % labelEvery === 0) {
        root.appendChild(svg("text", { x: cx, y: height - bottom + 16, class: "axis", "text-anchor": "middle" }, opts.label(item)));
      }
    });
    if (opts.line) root.appendChild(svg("polyline", { points: points.join(" "), class: "trend" }));
    if (opts.xTitle) root.appendChild(svg("text", { x: left + plotW / 2, y: height - 2, class: "axis-title", "text-anchor": "middle" }, opts.xTitle));
    container.appendChild(root);
  }

  function table(container, columns, rows, empty) {
    R.clear(container);
    if (!rows.length) { container.appendChild(el("p", { className: "muted", text: empty || "No data yet." })); return; }
    container.appendChild(el("table", { className: "data" }, [
      el("thead", {}, [el("tr", {}, columns.map(function (c) {
        return el("th", { scope: "col", className: c.num ? "num" : null, text: c.title });
      }))]),
      el("tbody", {}, rows.map(function (r) {
        return el("tr", {}, columns.map(function (c) {
          return el("td", { className: (c.num ? "num" : "") + (c.mono ? " mono" : ""), text: c.get(r) });
        }));
      })),
    ]));
  }

  const pct = R.percent;
  function seconds(s) {
    if (s === null || s === undefined) return "–";
    const m = Math.floor(s / 60);
    return m ? m + " min " + Math.round(s % 60) + " s" : Math.round(s) + " s";
  }
  const codeCol = { title: "Code", get: function (r) { return r.code; }, mono: true };
  const descCol = { title: "Description", get: function (r) { return r.description || ""; } };

  function render(a) {
    const byCode = (a.by_code || []).slice(0, 15);
    hbars(document.getElementById("chart-by-code"), byCode, {
      title: "Acceptance rate of the most recommended codes", max: 1, tick: pct,
      label: function (r) { return r.code; }, value: function (r) { return r.acceptance_rate; },
      valueText: function (r) { return pct(r.acceptance_rate) + " of " + r.recommended; },
    });
    table(document.getElementById("table-by-code"), [codeCol, descCol,
      { title: "Recommended", num: true, get: function (r) { return r.recommended; } },
      { title: "Accepted", num: true, get: function (r) { return r.accepted; } },
      { title: "Rejected", num: true, get: function (r) { return r.rejected; } },
      { title: "Rate", num: true, get: function (r) { return pct(r.acceptance_rate); } }], a.by_code || []);

    vbars(document.getElementById("chart-by-rank"), a.by_rank || [], {
      title: "Acceptance rate by rank position", max: 1, tick: pct, line: true, xTitle: "rank in medcode's list",
      label: function (r) { return String(r.rank); }, value: function (r) { return r.acceptance_rate; },
      valueText: function (r) { return pct(r.acceptance_rate) + " of " + r.suggested; },
    });
    table(document.getElementById("table-by-rank"), [
      { title: "Rank", num: true, get: function (r) { return r.rank; } },
      { title: "Suggested", num: true, get: function (r) { return r.suggested; } },
      { title: "Accepted", num: true, get: function (r) { return r.accepted; } },
      { title: "Rate", num: true, get: function (r) { return pct(r.acceptance_rate); } }], a.by_rank || []);

    hbars(document.getElementById("chart-by-model"), a.by_model_version || [], {
      title: "Acceptance rate by model version", max: 1, tick: pct, labelWidth: 150,
      label: function (r) { return r.model_version.length > 22 ? r.model_version.slice(0, 21) + "…" : r.model_version; },
      value: function (r) { return r.acceptance_rate; },
      valueText: function (r) { return pct(r.acceptance_rate) + " of " + r.recommended; },
    });
    table(document.getElementById("table-by-model"), [
      { title: "Model version", get: function (r) { return r.model_version; }, mono: true },
      { title: "Reviews", num: true, get: function (r) { return r.reviews; } },
      { title: "Recommended", num: true, get: function (r) { return r.recommended; } },
      { title: "Accepted", num: true, get: function (r) { return r.accepted; } },
      { title: "Added", num: true, get: function (r) { return r.added; } },
      { title: "Rate", num: true, get: function (r) { return pct(r.acceptance_rate); } }], a.by_model_version || []);

    table(document.getElementById("table-missed"), [codeCol, descCol,
      { title: "Times added", num: true, get: function (r) { return r.added; } },
      { title: "Ranked, not recommended", num: true, get: function (r) { return r.suggested_not_recommended; } }],
      a.missed || [], "Coders have added no codes medcode missed.");

    table(document.getElementById("table-rejected"), [codeCol, descCol,
      { title: "Recommended", num: true, get: function (r) { return r.recommended; } },
      { title: "Rejected", num: true, get: function (r) { return r.rejected; } },
      { title: "Rate", num: true, get: function (r) { return pct(r.rejection_rate); } },
      { title: "Reasons given", get: function (r) {
        return (r.reasons || []).map(function (x) { return x.reason + " (" + x.count + ")"; }).join("; ");
      } }], a.most_rejected || [], "No recommendation has been rejected.");

    vbars(document.getElementById("chart-throughput"), a.throughput || [], {
      title: "Reviews submitted per day", xTitle: "day",
      label: function (r) { return r.date.slice(5); }, value: function (r) { return r.reviews; },
      valueText: function (r) { return r.reviews + " reviews"; },
    });
    const time = a.time_per_encounter || {};
    vbars(document.getElementById("chart-time"), time.histogram || [], {
      title: "Time per encounter (reviews per time band)", xTitle: "minutes spent",
      label: function (r) { return Math.round(r.from_seconds / 60) + "–" + Math.round(r.to_seconds / 60); },
      value: function (r) { return r.reviews; },
      valueText: function (r) { return r.reviews + " reviews"; },
    });
    table(document.getElementById("table-coders"), [
      { title: "Coder", get: function (r) { return r.coder; } },
      { title: "Reviews", num: true, get: function (r) { return r.reviews; } },
      { title: "Per hour", num: true, get: function (r) { return r.reviews_per_hour === null || r.reviews_per_hour === undefined ? "–" : r.reviews_per_hour.toFixed(1); } },
      { title: "Median time", num: true, get: function (r) { return seconds(r.median_seconds); } },
      { title: "90th percentile", num: true, get: function (r) { return seconds(r.p90_seconds); } }], a.coders || []);

    const w = a.window || {};
    document.getElementById("an-summary").textContent =
      (a.reviews || 0) + " reviews" +
      (w.submitted_from ? " submitted " + w.submitted_from + " to " + w.submitted_to : "") +
      " · median " + seconds(time.median_seconds) + " per encounter" +
      (a.generated_at ? " · as of " + R.formatDate(a.generated_at) : "");
  }

  /* The window lives in the address, so a view can be bookmarked and shared. */
  const form = document.getElementById("an-filters");

  function load() {
    const params = new URLSearchParams();
    for (const field of form.elements) {
      if (field.name && field.value.trim()) params.set(field.name, field.value.trim());
    }
    history.replaceState(null, "", params.toString() ? "?" + params.toString() : location.pathname);
    const alert = document.getElementById("an-alert");
    alert.hidden = true;
    R.api("GET", R.apiBase + "/analytics?" + params.toString()).then(function (answer) {
      render(answer.body || {});
    }, function (err) {
      const detail = err.body && typeof err.body.detail === "string" ? ": " + err.body.detail : "";
      alert.textContent = "Could not load the analytics (" + err.message + detail + ").";
      alert.hidden = false;
      document.getElementById("an-summary").textContent = "";
    });
  }

  const asked = new URLSearchParams(location.search);
  for (const field of form.elements) {
    if (field.name && asked.get(field.name)) field.value = asked.get(field.name);
  }
  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
  form.addEventListener("reset", function () { setTimeout(load, 0); });
  load();
})();
