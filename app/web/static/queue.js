/* The queue: counts, filters, sort and paging over GET /api/review/encounters. */
"use strict";

(function () {
  const R = window.Review;
  const form = document.getElementById("filters");
  const rows = document.getElementById("queue-rows");
  const statusLine = document.getElementById("queue-status");
  const pageInfo = document.getElementById("page-info");
  const prev = document.getElementById("prev-page");
  const next = document.getElementById("next-page");
  const FIELDS = ["status", "setting", "received_from", "received_to", "model_version",
                  "assigned_to", "sort", "page_size"];
  const STATUS_LABEL = { new: "New", in_review: "In review", reviewed: "Reviewed" };
  let page = 1;
  let lastPages = 1;
  let requestSeq = 0;
  let typingTimer = null;
  let shown = null; // the query whose rows are on the page

  function readUrl() {
    const params = new URLSearchParams(location.search);
    for (const name of FIELDS) {
      if (params.has(name)) form.elements[name].value = params.get(name);
    }
    page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  }

  function query() {
    const params = new URLSearchParams();
    for (const name of FIELDS) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    params.set("page", String(page));
    return params;
  }

  async function load() {
    const params = query();
    // A text field's change (on leaving it) repeats the query its typing already ran:
    // reloading would rebuild the rows under the coder's focus.
    if (params.toString() === shown) return;
    shown = params.toString();
    history.replaceState(null, "", "?" + params.toString());
    const seq = ++requestSeq;
    statusLine.textContent = "Loading…";
    let answer;
    try {
      answer = (await R.api("GET", R.apiBase + "/encounters?" + params.toString())).body;
    } catch (err) {
      if (seq !== requestSeq) return;
      shown = null;
      statusLine.textContent = "Could not load the queue (" + err.message + ").";
      statusLine.classList.add("error");
      return;
    }
    if (seq !== requestSeq) return; // a newer filter's answer wins
    statusLine.classList.remove("error");
    render(answer);
  }

  function render(answer) {
    const counts = answer.counts || {};
    for (const node of document.querySelectorAll("[data-count]")) {
      const n = counts[node.dataset.count];
      node.textContent = n === undefined ? "–" : String(n);
    }
    for (const button of document.querySelectorAll(".count")) {
      button.setAttribute("aria-pressed", String(button.dataset.status === form.elements.status.value));
    }
    R.clear(rows);
    for (const item of answer.items || []) {
      rows.appendChild(row(item));
    }
    if (!(answer.items || []).length) {
      rows.appendChild(R.el("tr", {}, [R.el("td", { colspan: "8", className: "empty",
        text: "No encounters match these filters." })]));
    }
    const size = answer.page_size || 50;
    lastPages = Math.max(1, Math.ceil((answer.total || 0) / size));
    pageInfo.textContent = "Page " + answer.page + " of " + lastPages + " · " + answer.total + " encounters";
    prev.disabled = page <= 1;
    next.disabled = page >= lastPages;
    statusLine.textContent = "";
  }

  function row(item) {
    const href = "/review/encounters/" + encodeURIComponent(item.id);
    const claimed = item.claimed_by
      ? R.el("span", { title: item.claimed_until ? "until " + R.formatDate(item.claimed_until) : null,
                       text: item.claimed_by })
      : R.el("span", { className: "muted", text: "—" });
    const tr = R.el("tr", { dataset: { id: String(item.id) }, className: "row" }, [
      R.el("td", {}, [R.el("a", { href: href, className: "open", text: item.external_id || "#" + item.id })]),
      R.el("td", { text: item.setting || "—" }),
      R.el("td", {}, [R.el("span", { className: "badge status-" + item.status,
                                      text: STATUS_LABEL[item.status] || item.status })]),
      R.el("td", { text: R.formatDate(item.received_at) }),
      R.el("td", { className: "mono small", text: item.model_version || "—" }),
      R.el("td", { className: "num" }, [scoreCell(item.top_score)]),
      R.el("td", { className: "num", text: item.recommended === undefined ? "" : item.recommended }),
      R.el("td", {}, [claimed]),
    ]);
    tr.addEventListener("click", function (event) {
      if (event.target.closest("a")) return;
      location.assign(href);
    });
    return tr;
  }

  function scoreCell(score) {
    if (score === null || score === undefined) return R.el("span", { className: "muted", text: "—" });
    return R.el("span", { className: "score" }, [
      R.el("span", { className: "meter", "aria-hidden": "true" },
           [R.el("span", { style: "width:" + Math.round(score * 100) + "%" })]),
      score.toFixed(2),
    ]);
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); page = 1; load(); });
  form.addEventListener("change", function () { page = 1; load(); });
  // The page size sits by the pager, outside the form's element, so its change does not bubble there.
  form.elements.page_size.addEventListener("change", function () { page = 1; load(); });
  form.addEventListener("input", function (event) {
    if (event.target.type !== "text") return;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { page = 1; load(); }, 300);
  });
  form.addEventListener("reset", function () {
    setTimeout(function () { page = 1; load(); }, 0); // after the browser has reset the fields
  });
  for (const button of document.querySelectorAll(".count")) {
    button.addEventListener("click", function () {
      const status = form.elements.status;
      status.value = status.value === button.dataset.status ? "" : button.dataset.status;
      page = 1;
      load();
    });
  }
  prev.addEventListener("click", function () { if (page > 1) { page -= 1; load(); } });
  next.addEventListener("click", function () { if (page < lastPages) { page += 1; load(); } });

  // Up and down arrows walk the rows' links; Enter on a link opens it.
  rows.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const links = Array.from(rows.querySelectorAll("a.open"));
    const at = links.indexOf(document.activeElement);
    if (at < 0) return;
    const to = links[at + (event.key === "ArrowDown" ? 1 : -1)];
    if (to) { to.focus(); event.preventDefault(); }
  });

  readUrl();
  load();
})();
