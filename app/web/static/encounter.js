/* The encounter view: note with evidence, suggestions, final code list, edits and submit. */
"use strict";

(function () {
  const R = window.Review;
  const el = R.el;
  const root = document.getElementById("encounter");
  const encounterId = root.dataset.encounterId;
  const base = R.apiBase + "/encounters/" + encodeURIComponent(encounterId);
  const openedAt = performance.now();
  const ASSERTIONS = ["present", "negated", "possible", "hypothetical", "historical", "family"];
  const SYSTEM_LABEL = { icd10cm: "ICD-10-CM", icd10pcs: "ICD-10-PCS", hcpcs: "HCPCS", cpt: "CPT" };

  const ui = {
    meta: document.getElementById("enc-meta"),
    claim: document.getElementById("claim-status"),
    release: document.getElementById("release"),
    pageAlert: document.getElementById("page-alert"),
    note: document.getElementById("note-text"),
    noteScroll: document.getElementById("note-scroll"),
    suggestions: document.getElementById("suggestions"),
    suggSummary: document.getElementById("sugg-summary"),
    final: document.getElementById("final-list"),
    finalEmpty: document.getElementById("final-empty"),
    search: document.getElementById("code-search"),
    searchSystem: document.getElementById("search-system"),
    results: document.getElementById("search-results"),
    edits: document.getElementById("edits"),
    editsState: document.getElementById("edits-state"),
    comment: document.getElementById("comment"),
    submit: document.getElementById("submit"),
    submitWhy: document.getElementById("submit-why"),
    submitAlert: document.getElementById("submit-alert"),
    keysDialog: document.getElementById("keys-dialog"),
  };

  const state = {
    encounter: null,
    version: null, // the ETag as the server sent it, quoted
    suggestions: [], // {s, index, decision: null|"accepted"|"rejected", reason}
    final: [], // {system, code, description, source: "suggested"|"added", pending}
    selected: -1,
    edits: { invalid: [], edits: [] },
    acknowledged: new Set(),
    editsSeq: 0,
    editsPending: null,
    checking: false,
    submitting: false,
  };

  const key = function (system, code) { return system + " " + code; };

  /* ---------- loading ---------- */

  async function start() {
    try {
      const answer = await R.api("GET", base);
      state.encounter = answer.body;
      state.version = answer.headers.get("ETag") || '"' + answer.body.version + '"';
    } catch (err) {
      showAlert(ui.pageAlert, "error", err.status === 404
        ? "There is no encounter " + encounterId + "."
        : "Could not load the encounter (" + err.message + ").");
      ui.note.textContent = "";
      return;
    }
    setUp(state.encounter);
    claim();
  }

  async function claim() {
    try {
      const answer = await R.api("POST", base + "/claim");
      const c = answer.body || {};
      // A claim that succeeds is the caller's own.
      ui.claim.textContent = "Yours until " + R.formatTime(c.claimed_until);
      ui.claim.title = c.claimed_by + " until " + R.formatDate(c.claimed_until);
      ui.claim.className = "claim ok";
      ui.release.hidden = false;
    } catch (err) {
      const d = (err.body && err.body.detail) || {};
      ui.claim.className = "claim warn";
      ui.claim.textContent = err.status === 409
        ? "Being reviewed by " + (d.claimed_by || "another coder") +
          (d.claimed_until ? " until " + R.formatDate(d.claimed_until) : "") +
          ". Your submission may be refused."
        : "Could not claim this encounter (" + err.message + ").";
    }
  }

  /* Hand the encounter back unreviewed, so another coder can take it at once. */
  async function release() {
    ui.release.disabled = true;
    try {
      await R.api("DELETE", base + "/claim");
      window.location.assign("/review");
    } catch (err) {
      ui.release.disabled = false;
      showAlert(ui.pageAlert, "error", "Could not release the encounter (" + err.message + ").");
    }
  }

  /* The claim's starting order, for the coder to correct: diagnoses before procedures, and
     codes that may not be first-listed (external causes V00-Y99, history and status Z80-Z87)
     after the other diagnoses; score order within each group. */
  function sequenceGroup(s) {
    if (s.system !== "icd10cm") return 2;
    return /^(V|W|X|Y|Z8[0-7])/.test(s.code) ? 1 : 0;
  }

  function initialSequence(items) {
    return items.slice().sort(function (a, b) {
      return sequenceGroup(a.s) - sequenceGroup(b.s) || a.index - b.index;
    });
  }

  function setUp(enc) {
    const run = enc.run || { suggestions: [] };
    state.suggestions = (run.suggestions || []).map(function (s, index) {
      return { s: s, index: index, decision: null, reason: "" };
    });
    // Recommended codes start on the claim, pending the coder's word: accepting confirms,
    // rejecting takes them off.
    state.final = initialSequence(state.suggestions.filter(function (x) { return x.s.recommended; }))
      .map(fromSuggestion);
    for (const f of state.final) f.pending = true;
    renderMeta(enc);
    if (enc.purged_at) {
      // Retention blanked the text: the codes and decisions are all that is left.
      R.clear(ui.note);
      ui.note.appendChild(el("span", { className: "muted",
        text: "The note text was purged on " + R.formatDate(enc.purged_at) + " (retention limit)." }));
    } else {
      renderNote(enc.text || "", state.suggestions);
    }
    renderSuggestions();
    renderFinal();
    if (state.suggestions.length) select(0, false);
    finalChanged();
  }

  function fromSuggestion(x) {
    return { system: x.s.system, code: x.s.code, description: x.s.description,
             billable: x.s.billable, source: "suggested", pending: false };
  }

  function renderMeta(enc) {
    R.clear(ui.meta);
    const items = [
      ["ID", enc.external_id || enc.id],
      ["Setting", enc.setting],
      ["Status", (enc.status || "").replace("_", " ")],
      ["Received", R.formatDate(enc.received_at)],
      ["Model", enc.run ? enc.run.model_version + " · " + enc.run.conventions : "—"],
    ];
    for (const [name, value] of items) {
      ui.meta.appendChild(el("div", {}, [el("dt", { text: name }), el("dd", { text: value === undefined ? "" : value })]));
    }
    if (enc.reviews && enc.reviews.length) {
      const last = enc.reviews[enc.reviews.length - 1];
      ui.meta.appendChild(el("div", {}, [el("dt", { text: "Last review" }),
        el("dd", { text: last.coder + ", " + R.formatDate(last.submitted_at) })]));
    }
  }

  /* ---------- the note: text nodes only; the note is untrusted text ---------- */

  function renderNote(text, suggestions) {
    R.clear(ui.note);
    const spans = [];
    for (const x of suggestions) {
      for (const e of x.s.evidence || []) {
        const start = Math.max(0, Math.min(text.length, e.start | 0));
        const end = Math.max(start, Math.min(text.length, e.end | 0));
        if (end > start) {
          spans.push({ start: start, end: end, index: x.index,
                       assertion: ASSERTIONS.indexOf(e.assertion) >= 0 ? e.assertion : "present" });
        }
      }
    }
    const cuts = new Set([0, text.length]);
    for (const sp of spans) { cuts.add(sp.start); cuts.add(sp.end); }
    const points = Array.from(cuts).sort(function (a, b) { return a - b; });
    for (let i = 0; i + 1 < points.length; i++) {
      const from = points[i];
      const to = points[i + 1];
      const piece = document.createTextNode(text.slice(from, to));
      const covering = spans.filter(function (sp) { return sp.start <= from && sp.end >= to; });
      if (!covering.length) { ui.note.appendChild(piece); continue; }
      const assertions = Array.from(new Set(covering.map(function (sp) { return sp.assertion; })));
      const indices = Array.from(new Set(covering.map(function (sp) { return sp.index; })));
      const mark = el("mark", {
        className: "ev " + assertions.map(function (a) { return "ev-" + a; }).join(" "),
        dataset: { s: indices.join(" "), assertion: assertions.join(" ") },
        title: indices.map(function (j) {
          const s = suggestions[j].s;
          return s.code + " " + s.description;
        }).join("\n") + "\n(" + assertions.join(", ") + ")",
      });
      mark.appendChild(piece);
      // A span's last piece carries its assertion as a small tag, so it is not colour alone;
      // once per run: not where a longer span of the same assertion goes on ("chest pain").
      const goesOn = new Set(covering.filter(function (sp) { return sp.end > to; })
        .map(function (sp) { return sp.assertion; }));
      const ending = covering.filter(function (sp) {
        return sp.end === to && sp.assertion !== "present" && !goesOn.has(sp.assertion);
      });
      if (ending.length) {
        mark.classList.add("ev-end");
        mark.dataset.tag = Array.from(new Set(ending.map(function (sp) { return sp.assertion; }))).join("/");
      }
      mark.addEventListener("click", function () { select(indices[0], false); });
      ui.note.appendChild(mark);
    }
  }

  function marksOf(index) {
    return Array.from(ui.note.querySelectorAll("mark.ev")).filter(function (m) {
      return m.dataset.s.split(" ").indexOf(String(index)) >= 0;
    });
  }

  /* ---------- suggestions ---------- */

  function renderSuggestions() {
    R.clear(ui.suggestions);
    let recommended = 0;
    for (const x of state.suggestions) {
      if (x.s.recommended) recommended += 1;
      ui.suggestions.appendChild(suggestionItem(x));
    }
    ui.suggSummary.textContent = state.suggestions.length + " suggested, " + recommended + " recommended";
    if (!state.suggestions.length) {
      ui.suggestions.appendChild(el("li", { className: "muted", text: "medcode suggested no codes." }));
    }
  }

  function suggestionItem(x) {
    const s = x.s;
    const status = statusOf(x);
    const assertions = {};
    for (const e of s.evidence || []) assertions[e.assertion] = (assertions[e.assertion] || 0) + 1;
    const li = el("li", {
      className: "sugg state-" + status + (x.index === state.selected ? " selected" : ""),
      id: "sugg-" + x.index,
      tabindex: x.index === state.selected ? "0" : "-1",
      "aria-current": x.index === state.selected ? "true" : null,
      dataset: { index: String(x.index), code: s.code },
      onclick: function (event) {
        if (event.target.closest("button, input, details")) return;
        select(x.index, true);
      },
    });
    li.appendChild(el("div", { className: "sugg-head" }, [
      el("span", { className: "code mono", text: s.code }),
      el("span", { className: "desc", text: s.description }),
      el("span", { className: "score", title: "Model score" }, [
        el("span", { className: "meter", "aria-hidden": "true" }, [el("span", { style: "width:" + Math.round(s.score * 100) + "%" })]),
        (s.score || 0).toFixed(2),
      ]),
    ]));
    const line = el("div", { className: "evidence-line small" }, [
      el("span", { className: "sys", text: SYSTEM_LABEL[s.system] || s.system }),
      s.recommended ? el("span", { className: "badge rec", title: "Recommended by medcode", text: "★ recommended" }) : null,
      el("span", { className: "badge state", text: STATUS_TEXT[status] }),
      s.billable === false ? el("span", { className: "badge warn-badge", text: "not billable" }) : null,
    ]);
    const names = Object.keys(assertions);
    if (!names.length) line.appendChild(el("span", { className: "muted", text: "no evidence span in this note" }));
    for (const a of names) {
      line.appendChild(el("span", { className: "badge as as-" + a, title: "evidence " + a,
                                    text: a + (assertions[a] > 1 ? " ×" + assertions[a] : "") }));
    }
    li.appendChild(line);
    if (s.notes && s.notes.length) {
      li.appendChild(el("ul", { className: "notes small" }, s.notes.map(function (n) { return el("li", { text: n }); })));
    }
    const buttons = el("div", { className: "sugg-actions" }, [
      el("button", { type: "button", className: "accept", "aria-label": "Accept " + s.code,
                     disabled: x.decision === "accepted", onclick: function () { select(x.index, false); accept(x.index); } }, ["Accept ", el("kbd", { text: "a" })]),
      el("button", { type: "button", className: "reject", "aria-label": "Reject " + s.code,
                     disabled: x.decision === "rejected", onclick: function () { select(x.index, false); reject(x.index); } }, ["Reject ", el("kbd", { text: "r" })]),
      el("button", { type: "button", className: "undo", "aria-label": "Undo the decision on " + s.code,
                     disabled: x.decision === null, onclick: function () { select(x.index, false); undo(x.index); } }, ["Undo ", el("kbd", { text: "u" })]),
    ]);
    li.appendChild(buttons);
    if (x.decision === "rejected") {
      const id = "reason-" + x.index;
      li.appendChild(el("div", { className: "reason" }, [
        el("label", { for: id, className: "small", text: "Reason (optional)" }),
        el("input", { id: id, type: "text", value: x.reason, placeholder: "e.g. integral to the diagnosis",
                      oninput: function (event) { x.reason = event.target.value; } }),
      ]));
    }
    return li;
  }

  const STATUS_TEXT = { accepted: "accepted", rejected: "rejected", pending: "on claim, to confirm", open: "open" };

  function statusOf(x) {
    if (x.decision) return x.decision;
    return findFinal(x.s.system, x.s.code) >= 0 ? "pending" : "open";
  }

  function refreshSuggestion(index) {
    const old = document.getElementById("sugg-" + index);
    const fresh = suggestionItem(state.suggestions[index]);
    const hadFocus = old && old.contains(document.activeElement);
    old.replaceWith(fresh);
    if (hadFocus) fresh.focus({ preventScroll: true });
  }

  function select(index, focus) {
    if (index < 0 || index >= state.suggestions.length) return;
    const before = state.selected;
    state.selected = index;
    if (before >= 0 && before !== index) refreshSuggestion(before);
    refreshSuggestion(index);
    for (const m of ui.note.querySelectorAll("mark.selected")) m.classList.remove("selected");
    const marks = marksOf(index);
    for (const m of marks) m.classList.add("selected");
    const li = document.getElementById("sugg-" + index);
    li.scrollIntoView({ block: "nearest" });
    if (focus) li.focus({ preventScroll: true });
    if (marks.length) marks[0].scrollIntoView({ block: "center" });
  }

  function accept(index) {
    const x = state.suggestions[index];
    x.decision = "accepted";
    const at = findFinal(x.s.system, x.s.code);
    if (at >= 0) {
      state.final[at].pending = false;
      state.final[at].source = "suggested";
    } else {
      state.final.push(fromSuggestion(x));
    }
    afterDecision(index);
  }

  function reject(index) {
    const x = state.suggestions[index];
    x.decision = "rejected";
    const at = findFinal(x.s.system, x.s.code);
    if (at >= 0) state.final.splice(at, 1);
    afterDecision(index);
  }

  function undo(index) {
    const x = state.suggestions[index];
    if (x.decision === null) return;
    x.decision = null;
    x.reason = "";
    const at = findFinal(x.s.system, x.s.code);
    if (x.s.recommended && at < 0) {
      const item = fromSuggestion(x);
      item.pending = true;
      state.final.push(item);
    } else if (x.s.recommended && at >= 0) {
      state.final[at].pending = true;
    } else if (!x.s.recommended && at >= 0) {
      state.final.splice(at, 1);
    }
    afterDecision(index);
  }

  function afterDecision(index) {
    refreshSuggestion(index);
    renderFinal();
    finalChanged();
  }

  function move(step) {
    if (!state.suggestions.length) return;
    const from = state.selected < 0 ? 0 : state.selected;
    select(Math.max(0, Math.min(state.suggestions.length - 1, from + step)), true);
  }

  /* ---------- final code list ---------- */

  function findFinal(system, code) {
    return state.final.findIndex(function (f) { return f.system === system && f.code === code; });
  }

  function suggestionFor(system, code) {
    return state.suggestions.find(function (x) { return x.s.system === system && x.s.code === code; });
  }

  function renderFinal(focusKey) {
    R.clear(ui.final);
    ui.finalEmpty.hidden = state.final.length > 0;
    let diagnoses = 0;
    state.final.forEach(function (f, i) {
      const isDx = f.system === "icd10cm";
      if (isDx) diagnoses += 1;
      const principal = isDx && diagnoses === 1;
      const li = el("li", {
        className: "final-item" + (f.pending ? " pending" : "") + (principal ? " principal" : ""),
        draggable: "true",
        tabindex: "0",
        dataset: { key: key(f.system, f.code), code: f.code },
        "aria-label": (i + 1) + ". " + f.code + " " + (f.description || "") + (principal ? ", principal diagnosis" : ""),
      }, [
        el("span", { className: "grip", "aria-hidden": "true", text: "⋮⋮" }),
        el("span", { className: "seq", text: String(i + 1) }),
        el("span", { className: "code mono", text: f.code }),
        principal ? el("span", { className: "badge principal-badge", text: "Principal dx" }) : null,
        el("span", { className: "desc", text: f.description || "" }),
        f.pending ? el("span", { className: "badge pending-badge", title: "Recommended by medcode; submitted as accepted unless rejected", text: "to confirm" }) : null,
        f.source === "added" ? el("span", { className: "badge added-badge", text: "added" }) : null,
        el("span", { className: "final-actions" }, [
          el("button", { type: "button", className: "icon", "aria-label": "Move " + f.code + " up", disabled: i === 0,
                         onclick: function () { reorder(i, i - 1); } }, ["↑"]),
          el("button", { type: "button", className: "icon", "aria-label": "Move " + f.code + " down", disabled: i === state.final.length - 1,
                         onclick: function () { reorder(i, i + 1); } }, ["↓"]),
          el("button", { type: "button", className: "icon remove", "aria-label": "Remove " + f.code,
                         onclick: function () { removeFinal(i); } }, ["✕"]),
        ]),
      ]);
      ui.final.appendChild(li);
    });
    if (focusKey) {
      const target = ui.final.querySelector('[data-key="' + CSS.escape(focusKey) + '"]');
      if (target) target.focus();
    }
  }

  function reorder(from, to) {
    if (to < 0 || to >= state.final.length || from === to) return;
    const [item] = state.final.splice(from, 1);
    state.final.splice(to, 0, item);
    renderFinal(key(item.system, item.code));
    finalChanged();
  }

  function removeFinal(i) {
    const f = state.final[i];
    const x = suggestionFor(f.system, f.code);
    if (x) { reject(x.index); return; } // taking a suggestion off the claim is rejecting it
    state.final.splice(i, 1);
    renderFinal();
    finalChanged();
  }

  function addCode(result) {
    const x = suggestionFor(result.system, result.code);
    if (x) { select(x.index, false); accept(x.index); return; }
    if (findFinal(result.system, result.code) < 0) {
      state.final.push({ system: result.system, code: result.code, description: result.description,
                         billable: result.billable, source: "added", pending: false });
      renderFinal();
      finalChanged();
    }
  }

  ui.final.addEventListener("keydown", function (event) {
    const li = event.target.closest && event.target.closest(".final-item");
    if (!li || event.target !== li || !event.altKey) return;
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    const i = Array.from(ui.final.children).indexOf(li);
    reorder(i, i + (event.key === "ArrowUp" ? -1 : 1));
    event.preventDefault();
  });

  let dragFrom = -1;
  ui.final.addEventListener("dragstart", function (event) {
    const li = event.target.closest(".final-item");
    if (!li) return;
    dragFrom = Array.from(ui.final.children).indexOf(li);
    li.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", li.dataset.key);
  });
  ui.final.addEventListener("dragover", function (event) {
    if (dragFrom < 0) return;
    event.preventDefault();
    const li = event.target.closest(".final-item");
    for (const other of ui.final.querySelectorAll(".drop-target")) other.classList.remove("drop-target");
    if (li) li.classList.add("drop-target");
  });
  ui.final.addEventListener("drop", function (event) {
    if (dragFrom < 0) return;
    event.preventDefault();
    const li = event.target.closest(".final-item");
    const to = li ? Array.from(ui.final.children).indexOf(li) : state.final.length - 1;
    const from = dragFrom;
    dragFrom = -1;
    reorder(from, to);
  });
  ui.final.addEventListener("dragend", function () {
    dragFrom = -1;
    for (const n of ui.final.querySelectorAll(".dragging, .drop-target")) n.classList.remove("dragging", "drop-target");
  });

  /* ---------- code search ---------- */

  let searchTimer = null;
  let searchSeq = 0;
  let results = [];
  let active = -1;

  function closeResults() {
    ui.results.hidden = true;
    ui.search.setAttribute("aria-expanded", "false");
    ui.search.removeAttribute("aria-activedescendant");
    active = -1;
  }

  async function runSearch() {
    const q = ui.search.value.trim();
    if (!q) { closeResults(); return; }
    const seq = ++searchSeq;
    const params = new URLSearchParams({ system: ui.searchSystem.value, q: q, limit: "10" });
    let body;
    try {
      body = (await R.api("GET", "/codes/search?" + params.toString())).body;
    } catch (err) {
      if (seq === searchSeq) showResults([], "Search failed (" + err.message + ").");
      return;
    }
    if (seq !== searchSeq) return;
    showResults(body.results || [], "No codes match.");
  }

  function showResults(list, emptyText) {
    results = list;
    active = list.length ? 0 : -1;
    R.clear(ui.results);
    if (!list.length) {
      ui.results.appendChild(el("li", { className: "muted", role: "option", "aria-disabled": "true", text: emptyText }));
    }
    list.forEach(function (r, i) {
      const onClaim = findFinal(r.system, r.code) >= 0;
      ui.results.appendChild(el("li", {
        id: "result-" + i, role: "option", "aria-selected": String(i === active),
        className: "result" + (i === active ? " active" : ""),
        dataset: { code: r.code },
        onmousedown: function (event) { event.preventDefault(); pick(i); },
      }, [
        el("span", { className: "code mono", text: r.code }),
        el("span", { className: "desc", text: r.description }),
        r.billable ? null : el("span", { className: "badge warn-badge", text: "not billable" }),
        onClaim ? el("span", { className: "badge", text: "on claim" }) : null,
      ]));
    });
    ui.results.hidden = false;
    ui.search.setAttribute("aria-expanded", "true");
    highlight();
  }

  function highlight() {
    Array.from(ui.results.querySelectorAll(".result")).forEach(function (li, i) {
      li.classList.toggle("active", i === active);
      li.setAttribute("aria-selected", String(i === active));
      if (i === active) li.scrollIntoView({ block: "nearest" });
    });
    if (active >= 0) ui.search.setAttribute("aria-activedescendant", "result-" + active);
  }

  function pick(i) {
    const r = results[i];
    if (!r) return;
    addCode(r);
    ui.search.value = "";
    closeResults();
    ui.search.focus();
  }

  ui.search.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 150);
  });
  ui.searchSystem.addEventListener("change", runSearch);
  ui.search.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!results.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + results.length) % results.length;
      highlight();
      event.preventDefault();
    } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
      if (active >= 0) pick(active);
      event.preventDefault();
    } else if (event.key === "Escape") {
      if (!ui.results.hidden) { closeResults(); } else { ui.search.blur(); }
      event.preventDefault();
    }
  });
  ui.search.addEventListener("blur", function () { setTimeout(closeResults, 100); });

  /* ---------- edits ---------- */

  const KIND_TEXT = { incomplete: "Incomplete code", sequencing: "Sequencing", code_first: "Code first",
                      use_additional: "Use additional code", excludes1: "Excludes1" };

  function editKey(e) { return [e.kind, e.severity, (e.codes || []).join(","), e.message].join("|"); }

  function finalChanged() {
    const seq = ++state.editsSeq;
    state.checking = true;
    ui.editsState.textContent = "checking…";
    updateSubmit();
    const codes = state.final.map(function (f) { return { system: f.system, code: f.code }; });
    state.editsPending = R.api("POST", base + "/edits", { body: { codes: codes } }).then(function (answer) {
      if (seq !== state.editsSeq) return;
      state.checking = false;
      state.edits = { invalid: answer.body.invalid || [], edits: answer.body.edits || [] };
      renderEdits();
    }, function (err) {
      if (seq !== state.editsSeq) return;
      state.checking = false;
      state.edits = { invalid: [], edits: [], failed: err.message };
      renderEdits();
    });
  }

  function renderEdits() {
    R.clear(ui.edits);
    const current = new Set();
    if (state.edits.failed) {
      ui.edits.appendChild(el("li", { className: "edit hard", text: "The edit check failed (" + state.edits.failed + "); try again." }));
    }
    for (const bad of state.edits.invalid) {
      ui.edits.appendChild(el("li", { className: "edit hard" }, [
        el("span", { className: "badge sev-hard", text: "invalid" }),
        el("span", { className: "code mono", text: bad.code }), " ", bad.reason,
      ]));
    }
    const ordered = state.edits.edits.slice().sort(function (a, b) {
      return (a.severity === "hard_stop" ? 0 : 1) - (b.severity === "hard_stop" ? 0 : 1);
    });
    ordered.forEach(function (e, i) {
      const hard = e.severity === "hard_stop";
      const k = editKey(e);
      current.add(k);
      const head = el("div", { className: "edit-head" }, [
        el("span", { className: "badge " + (hard ? "sev-hard" : "sev-warn"), text: hard ? "hard stop" : "warning" }),
        el("span", { className: "kind", text: KIND_TEXT[e.kind] || (e.kind || "").replace(/_/g, " ") }),
        el("span", { className: "mono small", text: (e.codes || []).join(", ") }),
      ]);
      if (!hard) {
        const id = "ack-" + i;
        head.appendChild(el("span", { className: "ack" }, [
          el("input", { type: "checkbox", id: id, checked: state.acknowledged.has(k), dataset: { edit: k },
                        onchange: function (event) {
                          if (event.target.checked) state.acknowledged.add(k); else state.acknowledged.delete(k);
                          updateSubmit();
                        } }),
          el("label", { for: id, text: "Acknowledge" }),
        ]));
      }
      const li = el("li", { className: "edit " + (hard ? "hard" : "warning") }, [
        head,
        el("p", { className: "edit-msg" }, [
          e.message,
          e.guideline ? el("span", { className: "guideline small", text: " Guideline " + e.guideline }) : null,
        ]),
      ]);
      ui.edits.appendChild(li);
    });
    // An acknowledgement holds only for the warning it was given to.
    for (const k of Array.from(state.acknowledged)) if (!current.has(k)) state.acknowledged.delete(k);
    const total = state.edits.invalid.length + state.edits.edits.length;
    ui.editsState.textContent = state.edits.failed ? "" : (total ? total + " to look at" : "no edits");
    if (!total && !state.edits.failed) ui.edits.appendChild(el("li", { className: "edit ok", text: "No edits fire on these codes." }));
    updateSubmit();
  }

  function blockers() {
    const why = [];
    if (!state.encounter) why.push("loading");
    if (state.checking) why.push("checking edits");
    if (state.edits.failed) why.push("edit check failed");
    const hard = state.edits.edits.filter(function (e) { return e.severity === "hard_stop"; }).length + state.edits.invalid.length;
    if (hard) why.push(hard + " hard stop" + (hard > 1 ? "s" : ""));
    const unacked = state.edits.edits.filter(function (e) {
      return e.severity !== "hard_stop" && !state.acknowledged.has(editKey(e));
    }).length;
    if (unacked) why.push(unacked + " warning" + (unacked > 1 ? "s" : "") + " to acknowledge");
    if (!state.final.length) why.push("no codes");
    return why;
  }

  function updateSubmit() {
    const why = blockers();
    ui.submit.disabled = why.length > 0 || state.submitting;
    const pending = state.final.filter(function (f) { return f.pending; }).length;
    ui.submitWhy.textContent = why.length ? "Blocked: " + why.join(", ") + "."
      : pending ? pending + " recommended code" + (pending > 1 ? "s" : "") + " not yet confirmed will be submitted as accepted." : "Ready.";
  }

  /* ---------- submit ---------- */

  function submissionBody() {
    const decisions = [];
    for (const x of state.suggestions) {
      const onClaim = findFinal(x.s.system, x.s.code) >= 0;
      if (x.decision === "rejected") {
        const d = { system: x.s.system, code: x.s.code, decision: "rejected" };
        if (x.reason.trim()) d.reason = x.reason.trim();
        decisions.push(d);
      } else if (x.decision === "accepted" || onClaim) {
        decisions.push({ system: x.s.system, code: x.s.code, decision: "accepted" });
      }
    }
    const warnings = state.edits.edits.some(function (e) { return e.severity !== "hard_stop"; });
    return {
      run_id: state.encounter.run ? state.encounter.run.id : null,
      codes: state.final.map(function (f) { return { system: f.system, code: f.code, source: f.source }; }),
      decisions: decisions,
      seconds_spent: Math.max(1, Math.round((performance.now() - openedAt) / 1000)),
      comment: ui.comment.value.trim(),
      acknowledge_warnings: warnings && blockers().length === 0,
    };
  }

  async function submit() {
    if (state.submitting || !state.encounter) return;
    await state.editsPending; // the edits shown must be those of the codes sent
    if (blockers().length) { updateSubmit(); ui.submitWhy.scrollIntoView({ block: "nearest" }); return; }
    state.submitting = true;
    updateSubmit();
    hideAlert(ui.submitAlert);
    try {
      const answer = await R.api("POST", base + "/review", { body: submissionBody(), headers: { "If-Match": state.version } });
      const next = answer.body && answer.body.next_encounter_id;
      showAlert(ui.submitAlert, "ok", "Review submitted.");
      location.assign(next ? "/review/encounters/" + encodeURIComponent(next) : "/review");
    } catch (err) {
      state.submitting = false;
      updateSubmit();
      if (err.status === 409) {
        const current = err.body && err.body.detail && err.body.detail.current;
        showAlert(ui.submitAlert, "error",
          "Someone else submitted a review of this encounter while you worked on it" +
          (current && current.version ? " (it is now at version " + current.version + ")" : "") +
          ". Your review was not saved. Reload to see their codes, then review again.",
          [], el("button", { type: "button", className: "primary", id: "reload", text: "Reload encounter",
                             onclick: function () { location.reload(); } }));
      } else if (err.status === 422) {
        showAlert(ui.submitAlert, "error", "The review was not accepted:",
                  R.describeDetail(err.body && err.body.detail));
      } else if (err.status === 403) {
        showAlert(ui.submitAlert, "error", "You may not submit this review (" + R.describeDetail(err.body && err.body.detail).join("; ") + ").");
      } else if (err.status !== 401) {
        showAlert(ui.submitAlert, "error", "Submitting failed (" + err.message + "). Try again.");
      }
    }
  }

  ui.submit.addEventListener("click", submit);
  ui.release.addEventListener("click", release);

  function showAlert(node, kind, message, lines, extra) {
    R.clear(node);
    node.className = "alert alert-" + kind;
    node.appendChild(el("p", { text: message }));
    if (lines && lines.length) node.appendChild(el("ul", {}, lines.map(function (l) { return el("li", { text: l }); })));
    if (extra) node.appendChild(extra);
    node.hidden = false;
    node.scrollIntoView({ block: "nearest" });
  }

  function hideAlert(node) { node.hidden = true; R.clear(node); }

  /* ---------- keyboard ---------- */

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
      return;
    }
    if (R.typingIn(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if (ui.keysDialog.open && event.key !== "?") return;
    const inFinal = ui.final.contains(event.target);
    switch (event.key) {
      case "j":
        move(1); break;
      case "ArrowDown":
        if (inFinal) return;
        move(1); break;
      case "k":
        move(-1); break;
      case "ArrowUp":
        if (inFinal) return;
        move(-1); break;
      case "a":
        if (state.selected >= 0) accept(state.selected); break;
      case "r":
        if (state.selected >= 0) reject(state.selected); break;
      case "u":
        if (state.selected >= 0) undo(state.selected); break;
      case "/":
        ui.search.focus(); ui.search.select(); break;
      case "?":
        if (ui.keysDialog.open) ui.keysDialog.close(); else ui.keysDialog.showModal();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  start();
})();
