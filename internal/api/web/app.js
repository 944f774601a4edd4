// harmony fleet dashboard: plain JavaScript, no build step.
// Data comes from /api/v1; /api/v1/events (server-sent events) says when
// to fetch again. Every value from the fleet is put in the page as text
// (textContent), never as HTML: device errors and labels are untrusted.
"use strict";

const PAGE = 100;          // devices per page
const DEBOUNCE_MS = 150;   // events arriving together cause one refresh
const REFRESH_MS = 10000;  // heartbeat ages and rollouts move without events
const MAX_EVENTS = 100;    // lines kept in the live feed

const state = { offset: 0, total: 0, query: new URLSearchParams(), timer: null };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// labelCells gives each body cell its column's name, which the phone
// layout (style.css) shows in front of the value.
function labelCells(table) {
  const names = [...table.querySelectorAll("thead th")].map(th => th.textContent);
  for (const tr of table.tBodies[0].rows) {
    [...tr.cells].forEach((td, i) => { if (names[i]) td.setAttribute("data-label", names[i]); });
  }
}

async function api(path, opts) {
  opts = opts || {};
  opts.headers = Object.assign({ "X-Harmony-Dashboard": "1" }, opts.headers || {});
  const r = await fetch(path, opts);
  let body = null;
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) throw new Error((body && body.error) || (r.status + " " + r.statusText));
  return body;
}

function showError(err) {
  const p = document.getElementById("error");
  if (err) { p.textContent = String(err.message || err); p.hidden = false; }
  else p.hidden = true;
}

function phaseBar(c) {
  const total = c.pending + c.running + c.succeeded + c.failed;
  const bar = el("div", { class: "bar", title: `${c.pending} pending, ${c.running} running, ${c.succeeded} succeeded, ${c.failed} failed` });
  for (const p of ["pending", "running", "succeeded", "failed"]) {
    if (!total || !c[p]) continue;
    const s = el("span", { class: p });
    s.style.width = (100 * c[p] / total) + "%";
    bar.append(s);
  }
  return bar;
}

function rolloutCell(d) {
  const ro = d.rollout;
  if (!ro) return el("td", { class: "rollout" }, d.fleet ? "no rollout yet" : "");
  const pct = ro.targeted ? Math.round(100 * ro.updated / ro.targeted) : 0;
  const prog = el("div", { class: "progress", title: `${ro.updated} of ${ro.targeted} updated, ${ro.ready} ready` });
  const fill = el("span"); fill.style.width = pct + "%"; prog.append(fill);
  return el("td", { class: "rollout" }, el("div", {},
    el("span", { class: "badge state-" + ro.state, "data-role": "state" }, ro.state), " ",
    el("span", { "data-role": "progress" }, `${ro.updated}/${ro.targeted} updated, ${ro.ready} ready, ${ro.failed} failed`),
    prog, ro.message ? el("small", {}, ro.message) : null));
}

function actions(d) {
  const td = el("td");
  if (!d.fleet) return td;
  const paused = d.paused || (d.rollout && d.rollout.state === "paused");
  const b = el("button", { type: "button", class: paused ? "resume" : "pause", "data-deployment": d.name },
    paused ? "resume" : "pause");
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await api(`/api/v1/deployments/${encodeURIComponent(d.name)}/${paused ? "resume" : "pause"}`, { method: "POST" });
      showError(null);
      await refresh();
    } catch (e) { showError(e); b.disabled = false; }
  });
  td.append(b);
  return td;
}

function renderDeployments(list) {
  const tb = document.querySelector("#deployments tbody");
  const rows = list.map(d => {
    const c = d.counts;
    return el("tr", { "data-deployment": d.name },
      el("td", { class: "name" }, d.name),
      el("td", {}, phaseBar(c)),
      el("td", { class: "num count-pending" }, c.pending),
      el("td", { class: "num count-running" }, c.running),
      el("td", { class: "num count-succeeded" }, c.succeeded),
      el("td", { class: "num count-failed" }, c.failed),
      el("td", { class: "num count-targeted" }, c.targeted === undefined ? "" : c.targeted),
      rolloutCell(d), actions(d));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", { colSpan: 9 }, "no deployments")));
  tb.replaceChildren(...rows);
  labelCells(document.getElementById("deployments"));
}

function renderFailing(details) {
  const ul = document.getElementById("failing");
  const items = [];
  for (const d of details) for (const f of d.failing) {
    items.push(el("li", { "data-device": f.device_id, "data-deployment": d.name },
      el("strong", {}, f.device_id), " · ", d.name,
      el("span", { class: "err" }, f.last_error || "(no error text)")));
  }
  if (!items.length) items.push(el("li", { class: "none" }, "none"));
  ul.replaceChildren(...items);
}

function bytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function age(s) {
  if (s < 0) return "never";
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " d";
}

function hostCells(h) {
  h = h || {};
  const cpu = h.cpu_percent !== undefined ? h.cpu_percent.toFixed(1) + "%" : "";
  let mem = "";
  if (h.memory && h.memory.total_bytes) {
    const used = h.memory.total_bytes - (h.memory.available_bytes || 0);
    mem = Math.round(100 * used / h.memory.total_bytes) + "% of " + bytes(h.memory.total_bytes);
  }
  let disk = "";
  const d = h.disks && (h.disks.state || Object.values(h.disks)[0]);
  if (d && d.total_bytes) disk = bytes(d.free_bytes) + " free";
  const temp = h.temperature_celsius !== undefined ? h.temperature_celsius.toFixed(1) + " °C" : "";
  const tempCell = el("td", { class: "num temp" }, temp);
  const now = (h.throttled || []).filter(f => f.endsWith("-now"));
  if (now.length) tempCell.append(" ", el("span", { class: "warn", title: h.throttled.join(", ") }, "⚠ " + now.join(", ")));
  return [el("td", { class: "num cpu" }, cpu), el("td", { class: "num mem" }, mem), el("td", { class: "num disk" }, disk), tempCell];
}

function labels(m) {
  const td = el("td", { class: "labels" });
  for (const [k, v] of Object.entries(m || {}).sort()) td.append(el("span", { class: "label" }, k + "=" + v));
  return td;
}

function renderDevices(res) {
  state.total = res.total;
  document.getElementById("devcount").textContent =
    res.total ? `${res.offset + 1}-${res.offset + res.devices.length} of ${res.total}` : "none";
  const rows = res.devices.map(d => {
    const deps = el("td", { class: "phases" });
    for (const [name, p] of Object.entries(d.deployments || {}).sort()) {
      deps.append(el("span", { class: "label", title: p.last_error || "" }, name + ": " + p.phase));
    }
    return el("tr", { "data-device": d.device_id },
      el("td", {}, d.device_id),
      el("td", {}, el("span", { class: "badge " + d.liveness }, d.liveness)),
      el("td", { class: "converged " + d.converged }, d.converged),
      labels(d.labels),
      el("td", {}, d.agent_version || ""),
      el("td", { class: "num" }, age(d.heartbeat_age_seconds)),
      ...hostCells(d.host), deps);
  });
  document.querySelector("#devices tbody").replaceChildren(...rows);
  labelCells(document.getElementById("devices"));
}

async function refresh() {
  try {
    const q = new URLSearchParams(state.query);
    q.set("limit", PAGE); q.set("offset", state.offset);
    const [deps, devs] = await Promise.all([api("/api/v1/deployments"), api("/api/v1/devices?" + q)]);
    const failing = deps.deployments.filter(d => d.counts.failed > 0);
    const details = await Promise.all(failing.map(d => api("/api/v1/deployments/" + encodeURIComponent(d.name))));
    renderDeployments(deps.deployments);
    renderFailing(details);
    renderDevices(devs);
    const n = deps.deployments.length;
    document.getElementById("summary").textContent = `${n} deployment${n === 1 ? "" : "s"}, ${devs.total} device${devs.total === 1 ? "" : "s"} shown`;
    showError(null);
    if (!window.harmonyLoaded) window.harmonyLoaded = performance.now();
  } catch (e) { showError(e); }
}

function scheduleRefresh() {
  clearTimeout(state.timer);
  state.timer = setTimeout(refresh, DEBOUNCE_MS);
}

function addEvent(e) {
  const t = e.transition || {};
  const what = t.kind === "removed" ? "removed" : `${t.from || "∅"} → ${t.to}`;
  const line = el("li", { "data-device": e.device_id, "data-deployment": e.deployment },
    `${(e.at || "").replace("T", " ").replace(/\.\d+Z$/, "Z")} ${e.device_id} ${e.deployment} ${what}`,
    t.last_error ? el("span", { class: "warn" }, " " + t.last_error) : null);
  const ol = document.getElementById("events");
  ol.prepend(line);
  while (ol.children.length > MAX_EVENTS) ol.lastChild.remove();
}

function connect() {
  const conn = document.getElementById("conn");
  const es = new EventSource("/api/v1/events");
  es.onopen = () => { conn.textContent = "live"; conn.className = "badge online"; scheduleRefresh(); };
  es.onerror = () => { conn.textContent = "reconnecting"; conn.className = "badge stale"; };
  es.addEventListener("state_change", m => {
    try { addEvent(JSON.parse(m.data)); } catch (_) { /* ignore a bad line */ }
    scheduleRefresh();
  });
}

document.getElementById("filter").addEventListener("submit", ev => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  state.query = new URLSearchParams();
  if (f.get("liveness")) state.query.set("liveness", f.get("liveness"));
  for (const l of String(f.get("label") || "").split(/[\s,]+/)) if (l) state.query.append("label", l);
  state.offset = 0;
  refresh();
});
document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); refresh(); });
document.getElementById("next").addEventListener("click", () => { if (state.offset + PAGE < state.total) { state.offset += PAGE; refresh(); } });

refresh();
connect();
setInterval(refresh, REFRESH_MS);
