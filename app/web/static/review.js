/* Shared by the review pages: API calls with the session's CSRF token, small DOM helpers. */
"use strict";

window.Review = (function () {
  function meta(name) {
    const el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") || "" : "";
  }

  const apiBase = meta("review-api") || "/api/review";

  /* An error carrying the HTTP status and the parsed {"error", "detail"} body. */
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || "HTTP " + status);
      this.status = status;
      this.body = body;
    }
  }

  async function request(method, url, options) {
    const opts = options || {};
    const headers = Object.assign(
      { Accept: "application/json", "X-CSRF-Token": meta("csrf-token") },
      opts.headers || {}
    );
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    const response = await fetch(url, init);
    let body = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.indexOf("json") >= 0) {
      body = await response.json();
    }
    if (response.status === 401) {
      // Signed out (or never signed in): the login page brings the coder back here.
      window.location.assign("/review/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new ApiError(401, body);
    }
    if (!response.ok) {
      throw new ApiError(response.status, body);
    }
    return { status: response.status, body: body, headers: response.headers };
  }

  /* Element builder: el("li", {className: "x", dataset: {a: 1}}, [child, "text"]). Text is
     always added as text nodes, never parsed as HTML. */
  function el(tag, props, children) {
    const node = document.createElement(tag);
    const p = props || {};
    for (const key of Object.keys(p)) {
      const value = p[key];
      if (value === undefined || value === null || value === false) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "className") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children || []) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function formatDate(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric",
                                         hour: "2-digit", minute: "2-digit" });
  }

  function formatTime(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return String(iso || "");
    return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  function percent(x) {
    return x === null || x === undefined ? "–" : Math.round(x * 100) + "%";
  }

  /* The "detail" of an error answer as readable lines, whatever its shape. */
  function describeDetail(detail) {
    if (detail === null || detail === undefined) return [];
    if (typeof detail === "string") return [detail];
    if (Array.isArray(detail)) {
      return detail.map(function (item) {
        if (typeof item === "string") return item;
        if (item && typeof item === "object") {
          const head = item.code ? item.code + ": " : (item.loc ? item.loc.join(".") + ": " : "");
          return head + (item.reason || item.message || item.msg || JSON.stringify(item));
        }
        return String(item);
      });
    }
    const lines = [];
    for (const key of Object.keys(detail)) {
      const value = detail[key];
      if (Array.isArray(value)) {
        for (const line of describeDetail(value)) lines.push(key.replace(/_/g, " ") + " — " + line);
      } else if (value && typeof value === "object") {
        lines.push(key.replace(/_/g, " ") + ": " + JSON.stringify(value));
      } else {
        lines.push(key.replace(/_/g, " ") + ": " + value);
      }
    }
    return lines;
  }

  /* True when a key press belongs to a field the coder is typing in. */
  function typingIn(target) {
    if (!target || !target.tagName) return false;
    const tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  return { api: request, apiBase: apiBase, ApiError: ApiError, el: el, clear: clear,
           formatDate: formatDate, formatTime: formatTime, percent: percent, describeDetail: describeDetail,
           typingIn: typingIn };
})();
