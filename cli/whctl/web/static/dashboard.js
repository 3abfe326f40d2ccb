// The whctl dashboard: every section is drawn from the JSON API of this server (/api/v1), refreshed
// every REFRESH_MS. Nothing is loaded from anywhere else (the page's content security policy says so).
"use strict";

const REFRESH_MS = 3000;
const API = "/api/v1";
const token = new URLSearchParams(location.search).get("token");
const charts = {};
let explored = null;        // {kind, id} the explorer shows, re-read on every refresh

async function api(path) {
  const headers = token ? {Authorization: "Bearer " + token} : {};
  const response = await fetch(API + path, {headers, cache: "no-store"});
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(body.error || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  return node;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

const when = (iso) => iso ? new Date(iso).toLocaleString([], {dateStyle: "short", timeStyle: "medium"}) : "";
const day = (iso) => iso ? String(iso).slice(0, 10) : "";
const money = (n) => n == null ? "" : Number(n).toLocaleString([], {minimumFractionDigits: 2, maximumFractionDigits: 2});
const dot = (verdict) => el("span", {class: "dot " + verdict, title: verdict});

function chart(id, series, xs, ys, opts = {}) {
  const box = document.getElementById(id);
  const data = [xs, ...ys];
  box.dataset.points = String(ys.reduce((n, y) => n + y.filter((v) => v != null && v !== 0).length, 0));
  if (charts[id]) {
    charts[id].setData(data);
    return;
  }
  const width = Math.max(280, box.clientWidth || 480);
  charts[id] = new uPlot({
    width, height: 180,
    series: [{}, ...series],
    axes: [{}, {size: 60}],
    scales: {x: {time: opts.time !== false}},
    legend: {live: false},
  }, data, box);
}

async function refreshHealth() {
  const tbody = document.querySelector("#health tbody");
  try {
    const h = await api("/health");
    const overall = document.getElementById("overall");
    overall.textContent = {ok: "healthy", warn: "degraded", fail: "unhealthy"}[h.verdict];
    overall.className = "badge " + h.verdict;
    fill(tbody, h.checks.map((c) => el("tr", {"data-verdict": c.verdict}, el("td", {}, dot(c.verdict)), el("td", {}, c.name), el("td", {}, c.detail))));
    const fresh = h.checks.find((c) => c.name === "freshness");
    document.getElementById("freshness").textContent = fresh && fresh.heartbeat_age_s != null ? `freshness ${fresh.heartbeat_age_s.toFixed(1)} s` : "";
  } catch (e) {
    const overall = document.getElementById("overall");
    overall.textContent = "unreachable";
    overall.className = "badge fail";
    fill(tbody, [el("tr", {"data-verdict": "fail"}, el("td", {}, dot("fail")), el("td", {}, "health"), el("td", {}, e.message))]);
  }
}

async function refreshPipeline() {
  const p = await api("/pipeline?minutes=60");
  const xs = p.series.map((r) => Date.parse(r.minute) / 1000);
  chart("chart-events", [{label: "events", stroke: "#2b6cb0", fill: "rgba(43,108,176,.15)"},
                         {label: "quarantined", stroke: "#c53030"}], xs,
        [p.series.map((r) => r.events), p.series.map((r) => r.quarantined)]);
  // minutes without a batch have no latency: join the points across them
  const dots = {spanGaps: true, points: {show: true, size: 5}};
  chart("chart-latency", [{label: "heartbeat lag", stroke: "#2b6cb0", ...dots}, {label: "newest event applied", stroke: "#2f855a", ...dots},
                          {label: "oldest event applied", stroke: "#b7791f", ...dots}], xs,
        [p.series.map((r) => r.heartbeat_lag_s), p.series.map((r) => r.latency_min_s), p.series.map((r) => r.latency_max_s)]);
  fill(document.querySelector("#totals tbody"), p.totals.map((t) => el("tr", {},
    el("td", {}, t.landing_table), el("td", {class: "num"}, String(t.batches)), el("td", {class: "num"}, String(t.events)),
    el("td", {class: "num"}, String(t.quarantined)), el("td", {}, when(t.last_applied_at)))));
}

async function refreshQuarantine() {
  const q = await api("/quarantine?limit=10");
  document.getElementById("quarantine-total").textContent = String(q.total);
  fill(document.querySelector("#quarantine tbody"), q.by_reason.length ? q.by_reason.map((r) => el("tr", {},
    el("td", {}, r.landing_table), el("td", {}, r.reason), el("td", {class: "num"}, String(r.events)), el("td", {}, when(r.last_at))))
    : [el("tr", {class: "empty"}, el("td", {colspan: "4"}, "nothing in quarantine"))]);
  const i = await api("/incidents?limit=10");
  document.getElementById("incidents-open").textContent = i.open ? `${i.open} open` : "none open";
  fill(document.querySelector("#incidents tbody"), i.incidents.length ? i.incidents.map((r) => el("tr", {class: r.resolved_at ? "" : "open"},
    el("td", {}, when(r.opened_at)), el("td", {}, r.component), el("td", {}, r.cause), el("td", {}, r.action || ""),
    el("td", {}, r.resolved_at ? `after ${r.recovered_after_s} s` : "open")))
    : [el("tr", {class: "empty"}, el("td", {colspan: "5"}, "no incidents recorded"))]);
}

async function refreshQuality() {
  const q = await api("/quality");
  document.getElementById("quality-at").textContent = q.checked_at ? "checked " + when(q.checked_at) : "never checked (run `whctl verify`)";
  fill(document.querySelector("#quality tbody"), q.checks.map((c) => el("tr", {"data-verdict": c.verdict},
    el("td", {}, dot(c.verdict)), el("td", {}, c.name), el("td", {}, c.detail))));
}

async function refreshBusiness() {
  const revenue = await api("/kpis/daily-revenue?limit=1000");
  // every day of the range, those without orders at zero
  const byDay = new Map(revenue.rows.map((r) => [String(r.date).slice(0, 10), r]));
  const days = [];
  for (let t = Date.parse(revenue.from + "T00:00:00Z"); t <= Date.parse(revenue.to + "T00:00:00Z"); t += 86400000) days.push(t);
  const on = (t) => byDay.get(new Date(t).toISOString().slice(0, 10));
  chart("chart-revenue", [{label: "revenue", stroke: "#6b46c1", fill: "rgba(107,70,193,.15)"}, {label: "orders", stroke: "#718096", scale: "orders"}],
        days.map((t) => t / 1000), [days.map((t) => Number(on(t)?.daily_revenue ?? 0)), days.map((t) => on(t)?.num_orders ?? 0)]);
  const top = await api("/kpis/product-sales?limit=10");
  fill(document.querySelector("#top-products tbody"), top.rows.map((r) => el("tr", {},
    el("td", {}, `${r.product_name} (#${r.product_id})`), el("td", {}, r.category), el("td", {class: "num"}, String(r.units_sold)),
    el("td", {class: "num"}, money(r.revenue)))));
}

function describe(kind, v) {
  return kind === "products" ? `${v.product_name} · price ${money(v.price)}` : `${v.first_name} ${v.last_name} · ${v.address}, ${v.city}, ${v.country}`;
}

async function refreshHistory() {
  if (!explored) return;
  const box = document.getElementById("timeline");
  const error = document.getElementById("history-error");
  let h;
  try {
    h = await api(`/${explored.kind}/${encodeURIComponent(explored.id)}/versions?limit=20`);
    error.textContent = "";
  } catch (e) {
    error.textContent = e.message;
    box.replaceChildren();
    return;
  }
  // the timeline runs from the first real change (the first version is valid from 1900) to now
  const now = Date.now();
  const starts = h.versions.map((v) => Date.parse(v.valid_from + "Z")).filter((t) => t > Date.UTC(1901, 0, 1));
  const lines = h.versions.flatMap((v) => v.orders.map((o) => Date.parse(o.order_date + "Z")));
  const t0 = Math.min(...starts, ...lines, now - 86400000);
  const span = Math.max(now - t0, 1);
  const pos = (t) => Math.min(100, Math.max(0, (t - t0) / span * 100));
  box.replaceChildren(...h.versions.map((v) => {
    const from = Math.max(Date.parse(v.valid_from + "Z"), t0);
    const to = v.valid_to.startsWith("9999") ? now : Date.parse(v.valid_to + "Z");
    const bar = el("div", {class: "bar" + (v.is_current ? " current" : "")});
    bar.style.left = pos(from) + "%";
    bar.style.width = Math.max(0.5, pos(to) - pos(from)) + "%";
    const track = el("div", {class: "track"}, bar, ...v.orders.map((o) => {
      const tick = el("span", {class: "tick", title: `order ${o.order_id} on ${day(o.order_date)}`});
      tick.style.left = pos(Date.parse(o.order_date + "Z")) + "%";
      return tick;
    }));
    const orders = v.orders.length
      ? el("div", {class: "orders"}, `${v.orders.length} order line${v.orders.length === 1 ? "" : "s"}: `,
           ...v.orders.slice(0, 8).map((o) => el("span", {class: "order"}, `#${o.order_id} ${day(o.order_date)} ${money(o.line_total)}`)))
      : el("div", {class: "orders muted"}, "no orders under this version");
    return el("div", {class: "version", "data-version": String(v.version), "data-current": String(v.is_current),
                      "data-price": v.price == null ? "" : String(v.price)},
      el("div", {class: "label"}, el("b", {}, `v${v.version}`), ` ${day(v.valid_from)} → ${v.valid_to.startsWith("9999") ? "now" : day(v.valid_to)}`,
         v.is_inferred ? " (inferred)" : "", " · ", describe(explored.kind, v)),
      track, orders);
  }));
}

const sections = [refreshHealth, refreshPipeline, refreshQuarantine, refreshQuality, refreshBusiness, refreshHistory];

async function refresh() {
  await Promise.all(sections.map((f) => f().catch((e) => console.warn(f.name, e.message))));
  document.getElementById("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.refreshed = String(Date.now());
  setTimeout(refresh, REFRESH_MS);
}

document.getElementById("history-form").addEventListener("submit", (event) => {
  event.preventDefault();
  explored = {kind: document.getElementById("history-kind").value, id: document.getElementById("history-id").value.trim()};
  refreshHistory();
});

refresh();
