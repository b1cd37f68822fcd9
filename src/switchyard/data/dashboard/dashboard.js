// Switchyard dashboard: fetches /dashboard/data and draws it. No framework, no build step, no third-party code.
// Group names (features, users) come from clients: they are only ever set as text, never parsed as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#2e90fa", "#f79009", "#12b76a", "#9e77ed", "#f04438", "#15b79e", "#ee46bc", "#98a2b3"];
const REFRESH_MS = 10000;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

// Dollars: cents when there are any, micro-dollars otherwise (simulated and small requests cost fractions of a cent).
function usd(value) {
  if (value === null || value === undefined) return "–";
  if (value === 0) return "$0.00";
  return "$" + (value >= 0.01 ? value.toFixed(2) : value.toFixed(6));
}

function pct(value) {
  return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%";
}

function ms(value) {
  return value === null || value === undefined ? "–" : value.toFixed(value < 10 ? 2 : 0) + " ms";
}

function setNumber(id, text, value) {
  const node = document.getElementById(id);
  node.textContent = text;
  node.dataset.value = value === null || value === undefined ? "" : String(value);
}

function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows);
}

function timeLabel(ts, span) {
  const date = new Date(ts * 1000);
  return span > 2 * 86400 ? `${date.getMonth() + 1}/${date.getDate()}` : date.toTimeString().slice(0, 5);
}

function drawChart(figure, buckets, groups, range) {
  figure.querySelectorAll("svg, .legend, p").forEach((node) => node.remove());
  if (!groups.length) {
    figure.append(el("p", { class: "muted" }, "no spend in this range"));
    return;
  }
  const width = 520, height = 160, left = 56, bottom = 18, top = 6;
  const totals = buckets.map((_, i) => groups.reduce((sum, g) => sum + g.series[i], 0));
  const max = Math.max(...totals) || 1;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", width: "100%" });
  const step = (width - left) / buckets.length;
  chart.append(svg("line", { x1: left, x2: width, y1: height - bottom, y2: height - bottom, stroke: "#dde1e8" }));
  const axis = svg("text", { x: left - 4, y: top + 8, "text-anchor": "end" });
  axis.textContent = usd(max);
  chart.append(axis);
  buckets.forEach((ts, i) => {
    let y = height - bottom;
    groups.forEach((group, g) => {
      const h = ((height - bottom - top) * group.series[i]) / max;
      if (h <= 0) return;
      y -= h;
      const bar = svg("rect", { x: left + i * step + 1, y, width: Math.max(1, step - 2), height: h, fill: COLORS[g % COLORS.length] });
      const title = svg("title");
      title.textContent = `${group.group}: ${usd(group.series[i])}`;
      bar.append(title);
      chart.append(bar);
    });
    if (i % Math.ceil(buckets.length / 6) === 0) {
      const label = svg("text", { x: left + i * step + step / 2, y: height - 4, "text-anchor": "middle" });
      label.textContent = timeLabel(ts, range);
      chart.append(label);
    }
  });
  const legend = el("div", { class: "legend" });
  groups.forEach((group, g) => {
    const item = el("span", { "data-group": group.group, "data-cost": String(group.cost_usd) }, `${group.group} ${usd(group.cost_usd)}`);
    item.style.setProperty("--swatch", COLORS[g % COLORS.length]);
    legend.append(item);
  });
  figure.append(chart, legend);
}

function render(data) {
  const t = data.telemetry || {};
  const totals = t.totals || {};
  const spend = data.spend || {};
  const spendError = document.getElementById("spend-error");
  spendError.hidden = !spend.error;
  spendError.textContent = spend.error ? `Spend unavailable: ${spend.error}` : "";
  setNumber("total-spend", usd(spend.total_usd), spend.total_usd);
  setNumber("total-requests", spend.requests === undefined ? "–" : String(spend.requests), spend.requests);
  setNumber("fallback-rate", pct(totals.fallback_rate), totals.fallback_rate);
  document.getElementById("fallback-detail").textContent =
    totals.requests === undefined ? "" : `${totals.fell_back} of ${totals.requests} requests since start`;
  const cacheRate = data.cache ? data.cache.hit_rate : totals.cache_hit_rate;
  setNumber("cache-hit-rate", data.cache || totals.cache_hit_rate != null ? pct(cacheRate) : "off", cacheRate);
  const outcomes = (data.cache && data.cache.totals) || totals.cache || {};
  document.getElementById("cache-detail").textContent = Object.keys(outcomes).length
    ? Object.entries(outcomes).map(([k, v]) => `${k} ${v}`).join(", ") : "no lookups yet";
  setNumber("server-errors", String(totals.server_errors ?? "–"), totals.server_errors);
  setNumber("in-flight", String(totals.in_flight ?? "–"), totals.in_flight);

  for (const dimension of ["feature", "user", "model", "provider"]) {
    const figure = document.getElementById(`chart-${dimension}`);
    drawChart(figure, spend.buckets || [], (spend.by && spend.by[dimension]) || [], data.range.seconds);
  }

  const traffic = t.deployments || {};
  fillTable("providers", Object.entries(data.health || {}).map(([name, d]) => {
    const figures = traffic[name] || {};
    return el("tr", { "data-deployment": name },
      el("td", {}, name), el("td", {}, d.provider), el("td", {}, d.model),
      el("td", { class: `state-${d.breaker}`, "data-breaker": d.breaker }, d.breaker.replace("_", "-")),
      el("td", {}, pct(d.error_rate)), el("td", {}, ms(d.latency_p95_ms)), el("td", {}, ms(d.ttft_p95_ms)),
      el("td", { "data-requests": String(figures.requests || 0) }, String(figures.requests || 0)),
      el("td", {}, String(figures.fallbacks || 0)), el("td", {}, String(d.in_flight)),
      el("td", { class: "muted" }, d.last_error || ""));
  }));

  const latency = t.latency || {};
  const names = { total: "total", ttft: "time to first token", upstream: "upstream", overhead: "gateway overhead" };
  fillTable("latency", Object.entries(names).map(([key, label]) => {
    const p = latency[key] || {};
    return el("tr", { "data-latency": key }, el("td", {}, label), el("td", {}, ms(p.p50_ms)), el("td", {}, ms(p.p90_ms)),
      el("td", {}, ms(p.p95_ms)), el("td", {}, ms(p.p99_ms)), el("td", {}, String(p.count ?? 0)));
  }));

  fillTable("routes", Object.entries(t.routes || {}).filter(([route]) => route).map(([route, r]) =>
    el("tr", { "data-route": route }, el("td", {}, route), el("td", {}, String(r.requests)),
      el("td", { "data-fell-back": String(r.fell_back) }, `${r.fell_back} (${pct(r.requests ? r.fell_back / r.requests : null)})`),
      el("td", {}, String(r.retries)), el("td", {}, String(r.hedges)),
      el("td", {}, String(r.requests - r.ok)))));

  fillTable("budgets", (data.budgets || []).map((b) => {
    const share = b.limit_usd ? Math.min(1, b.spent_usd / b.limit_usd) : 0;
    const fill = el("div");
    fill.style.width = `${(share * 100).toFixed(1)}%`;
    return el("tr", { "data-budget": b.budget }, el("td", {}, b.budget), el("td", {}, usd(b.spent_usd)),
      el("td", {}, usd(b.limit_usd)), el("td", {}, el("div", { class: "bar", title: pct(share) }, fill)));
  }));

  fillTable("cache", Object.entries(outcomes).map(([outcome, count]) =>
    el("tr", { "data-outcome": outcome }, el("td", {}, outcome), el("td", {}, String(count)))));

  document.getElementById("status").textContent = `updated ${new Date(data.generated_at * 1000).toLocaleTimeString()}`;
  document.body.dataset.loaded = "true";
}

async function refresh() {
  const range = document.getElementById("range").value;
  const status = document.getElementById("status");
  try {
    const response = await fetch(`/dashboard/data?range=${encodeURIComponent(range)}`, { credentials: "same-origin" });
    if (response.status === 401) {
      window.location.assign("/dashboard");
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (error) {
    status.textContent = `could not load: ${error.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("range").addEventListener("change", refresh);
  refresh();
  setInterval(refresh, REFRESH_MS);
});
