// lce-nas dashboard: every page reads the JSON API and polls it, so a running
// search's pages follow it without a reload. Plotly is served by the app itself.
"use strict";

const CATEGORY_COLORS = {
  first_layer: "#4c78a8", binary_conv: "#f58518", glue: "#54a24b", last_layer: "#b279a2",
};
const PLOT_CONFIG = { displaylogo: false, responsive: true };

function $(id) { return document.getElementById(id); }

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function seg(value) { return encodeURIComponent(String(value)); }
function studyUrl(study) { return `/studies/${seg(study)}`; }
function trialUrl(study, number) { return `/studies/${seg(study)}/trials/${seg(number)}`; }

const fmt = {
  ms(x) { return x == null ? "–" : (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3)); },
  pct(x) { return x == null ? "–" : (100 * x).toFixed(1) + " %"; },
  int(x) { return x == null ? "–" : Number(x).toLocaleString("en-US"); },
  mega(x) { return x == null ? "–" : (x / 1e6).toFixed(1) + " M"; },
  mb(x) { return x == null ? "–" : (x / 1e6).toFixed(2) + " MB"; },
  num(x, digits = 3) { return x == null ? "–" : Number(x).toPrecision(digits); },
  time(iso) { return iso ? new Date(iso).toLocaleString() : "–"; },
  // Accuracy with its standard error over seeds, where it has one.
  accuracy(row) {
    if (row.accuracy == null) return "–";
    const se = row.accuracy_stderr != null ? ` <span class="hint">± ${(100 * row.accuracy_stderr).toFixed(1)}</span>` : "";
    return `${fmt.pct(row.accuracy)}${se}`;
  },
  rung(row) { return row.rung == null || !row.rungs ? "–" : `${row.rung} / ${row.rungs - 1}`; },
  spread(row) {
    if (row.latency_ms == null) return "–";
    const range = row.latency_p10_ms != null && row.latency_p90_ms != null
      ? ` <span class="hint">(${fmt.ms(row.latency_p10_ms)}–${fmt.ms(row.latency_p90_ms)})</span>` : "";
    return `${fmt.ms(row.latency_ms)}${range}`;
  },
};

// Last answer and ETag per path: a poll sends If-None-Match, and the server
// answers 304 without a body (or any work) when nothing changed.
const answers = new Map();

async function api(path) {
  const held = answers.get(path);
  const headers = { Accept: "application/json" };
  if (held) headers["If-None-Match"] = held.etag;
  const response = await fetch(path, { headers, cache: "no-store" });
  if (response.status === 304 && held) return held.data;
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(`${response.status}: ${detail}`);
  }
  const data = await response.json();
  const etag = response.headers.get("ETag");
  if (etag) answers.set(path, { etag, data });
  return data;
}

// One object for several answers, the same object while none of them changed
// (so a poll of unchanged answers skips even the comparison).
function combined() {
  let parts = null;
  let whole = null;
  return (next) => {
    if (!parts || Object.keys(next).some((k) => next[k] !== parts[k])) {
      parts = next;
      whole = { ...next };
    }
    return whole;
  };
}

// Calls load(), then again every `refresh` seconds; render(data) runs only when the
// data changed, so sorting, filters and zoom survive a poll that brought nothing new.
function poll(refresh, load, render) {
  let last = null;
  let lastData = null;
  const live = $("live");
  async function tick() {
    try {
      const data = await load();
      if (data !== lastData) {
        lastData = data;
        const text = JSON.stringify(data);
        if (text !== last) { last = text; render(data); }
      }
      if (live) {
        live.className = refresh > 0 ? "live on" : "live";
        live.textContent = (refresh > 0 ? "live · " : "") + "updated " + new Date().toLocaleTimeString();
      }
    } catch (err) {
      if (live) { live.className = "live stale"; live.textContent = "update failed: " + err.message; }
    }
  }
  tick();
  if (refresh > 0) setInterval(tick, refresh * 1000);
}

function cards(container, items) {
  container.innerHTML = items.filter(([, v]) => v !== undefined).map(([k, v]) =>
    `<div class="card"><div class="k">${esc(k)}</div><div class="v">${v}</div></div>`).join("");
}

function keyText(key) {
  if (!key) return "–";
  const options = Object.entries(key.kernel_options || {}).filter(([, v]) => v).map(([k]) => k);
  return `${key.engine} ${key.engine_version}, ${key.threads} thread${key.threads === 1 ? "" : "s"}` +
    (options.length ? `, ${options.join(", ")}` : "");
}

// A sortable table. columns: [{key, label, html(row), sort(row), num}]
function renderTable(container, columns, rows, state, rowClass) {
  const col = columns.find((c) => c.key === state.sortKey);
  const sorted = rows.slice();
  if (col) {
    const value = col.sort || ((r) => r[col.key]);
    sorted.sort((a, b) => {
      const x = value(a), y = value(b);
      if (x == null && y == null) return 0;
      if (x == null) return 1;
      if (y == null) return -1;
      const c = typeof x === "string" ? x.localeCompare(y) : x - y;
      return state.desc ? -c : c;
    });
  }
  const head = columns.map((c) => {
    const cls = ["sortable", c.num ? "num" : "", c.key === state.sortKey ? (state.desc ? "sorted-desc" : "sorted-asc") : ""];
    return `<th class="${cls.join(" ")}" data-key="${esc(c.key)}">${esc(c.label)}</th>`;
  }).join("");
  const body = sorted.map((r) => `<tr class="${rowClass ? rowClass(r) : ""}">` + columns.map((c) =>
    `<td class="${c.num ? "num" : ""} ${c.mono ? "mono" : ""}">${c.html ? c.html(r) : esc(r[c.key] ?? "–")}</td>`).join("") + "</tr>").join("");
  container.innerHTML = `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
  container.querySelectorAll("th.sortable").forEach((th) => th.addEventListener("click", () => {
    const key = th.dataset.key;
    state.desc = state.sortKey === key ? !state.desc : false;
    state.sortKey = key;
    renderTable(container, columns, rows, state, rowClass);
  }));
}

function stateBadges(row) {
  let html = `<span class="badge ${esc(row.state)}">${esc(row.state.toLowerCase())}</span>`;
  if (row.state === "COMPLETE" && row.feasible === false) html += ' <span class="badge infeasible">infeasible</span>';
  if (row.on_front) html += ' <span class="badge front">front</span>';
  return html;
}

// ---------------------------------------------------------------- studies page

function lceStudiesPage({ refresh }) {
  const state = { sortKey: "name", desc: false };
  poll(refresh, () => api("/api/studies"), (studies) => {
    const container = $("studies");
    if (!studies.length) {
      container.innerHTML = '<p class="hint">No studies in this database yet. Start one with ' +
        "<code>lce-nas search --space quicknet --device host</code>; this page updates by itself.</p>";
      return;
    }
    renderTable(container, [
      { key: "name", label: "study", html: (s) => `<a href="${studyUrl(s.name)}">${esc(s.name)}</a>` },
      { key: "space", label: "space" },
      { key: "device", label: "device" },
      { key: "deploy_shape", label: "deploy shape", html: (s) => esc(s.deploy_shape || "–") },
      { key: "engine", label: "latency key", html: (s) => esc(keyText(s.measurement_key)), sort: (s) => keyText(s.measurement_key) },
      { key: "search_status", label: "search" },
      { key: "trials", label: "trials", num: true },
      { key: "complete", label: "complete", num: true },
      { key: "failed", label: "failed", num: true },
      { key: "running", label: "running", num: true },
      { key: "front_size", label: "front", num: true },
      { key: "hypervolume", label: "hypervolume", num: true, html: (s) => fmt.num(s.hypervolume) },
      { key: "last_activity", label: "last activity", html: (s) => fmt.time(s.last_activity) },
    ], studies, state);
  });
}

// ---------------------------------------------------------------- study page

function paretoTraces(rows, device) {
  const completed = rows.filter((r) => r.state === "COMPLETE" && r.latency_ms != null && r.accuracy != null);
  const failed = rows.filter((r) => r.state === "FAIL" && r.latency_ms != null);
  const hover = (r) => `#${r.number}${r.preset ? " " + r.preset : ""}<br>${fmt.ms(r.latency_ms)} ms` +
    (r.latency_p10_ms != null ? ` (p10–p90 ${fmt.ms(r.latency_p10_ms)}–${fmt.ms(r.latency_p90_ms)})` : "") +
    `<br>${r.state === "FAIL" ? "failed: " + esc(r.failure || "?") : "accuracy " + fmt.pct(r.accuracy)}` +
    (r.accuracy_stderr != null ? ` ± ${(100 * r.accuracy_stderr).toFixed(1)} (1 s.e.)` : "") +
    (r.rung != null ? `<br>rung ${r.rung} of ${r.rungs - 1}${r.at_top ? "" : ": stopped below the top"}` : "") +
    `<br>${esc(r.config_summary)}`;
  const trace = (name, list, marker, extra = {}) => ({
    type: "scatter", mode: "markers", name,
    x: list.map((r) => r.latency_ms),
    y: list.map((r) => (r.state === "FAIL" ? 0 : 100 * r.accuracy)),
    customdata: list.map((r) => r.number),
    text: list.map(hover), hovertemplate: "%{text}<extra></extra>",
    error_x: {
      type: "data", symmetric: false, thickness: 1, width: 0, color: "rgba(0,0,0,0.25)",
      array: list.map((r) => (r.latency_p90_ms != null ? r.latency_p90_ms - r.latency_ms : 0)),
      arrayminus: list.map((r) => (r.latency_p10_ms != null ? r.latency_ms - r.latency_p10_ms : 0)),
    },
    // One standard error of the accuracy over the top rung's seeds.
    error_y: {
      type: "data", thickness: 1, width: 3, color: "rgba(0,0,0,0.35)",
      array: list.map((r) => (r.accuracy_stderr != null ? 100 * r.accuracy_stderr : 0)),
    },
    marker, ...extra,
  });
  const front = completed.filter((r) => r.on_front).sort((a, b) => a.latency_ms - b.latency_ms);
  return [
    trace("trials", completed.filter((r) => r.feasible && r.at_top !== false && !r.on_front),
      { color: "#4c78a8", size: 8, opacity: 0.75 }, { meta: "completed" }),
    trace("stopped below the top rung (that rung's accuracy)", completed.filter((r) => r.feasible && r.at_top === false),
      { color: "#9ca3af", size: 7, symbol: "circle-open", line: { width: 1 } }, { meta: "completed" }),
    trace("infeasible (over a limit)", completed.filter((r) => !r.feasible),
      { color: "#6b7280", size: 11, symbol: "x-thin-open", line: { width: 2, color: "#6b7280" } }, { meta: "completed" }),
    trace("Pareto front", front, { color: "#f59e0b", size: 11, line: { color: "#92400e", width: 1 } },
      { mode: "lines+markers", line: { shape: "hv", color: "#f59e0b", width: 2 }, meta: "completed" }),
    trace("failed (plotted at 0)", failed, { color: "#dc2626", size: 9, symbol: "x" }, { meta: "failed" }),
  ];
}

function presetAnnotations(rows, logX) {
  return rows.filter((r) => r.preset && r.state === "COMPLETE" && r.latency_ms != null && r.accuracy != null)
    .map((r) => ({
      x: logX ? Math.log10(r.latency_ms) : r.latency_ms, y: 100 * r.accuracy, text: esc(r.preset),
      showarrow: true, arrowhead: 0, arrowwidth: 1, ax: 24, ay: -28,
      font: { size: 12, color: "#111827" }, bgcolor: "rgba(255,255,255,0.85)", bordercolor: "#9ca3af",
    }));
}

function lceStudyPage({ study, refresh }) {
  const base = `/api/studies/${seg(study)}`;
  const tableState = { sortKey: "number", desc: false };
  let rows = [];
  let detail = null;
  const logBox = $("log-x");

  function drawPareto() {
    if (!detail) return;
    const logX = logBox.checked;
    const device = detail.device || "device";
    Plotly.react("pareto", paretoTraces(rows, device), {
      margin: { t: 20, r: 20, b: 50, l: 60 },
      xaxis: { title: { text: `median latency on ${device} (ms)` }, type: logX ? "log" : "linear" },
      yaxis: { title: { text: "proxy top-1 accuracy (%)" }, rangemode: "tozero" },
      legend: { orientation: "h", y: 1.08 },
      annotations: presetAnnotations(rows, logX),
      hovermode: "closest",
    }, PLOT_CONFIG);
  }

  function drawTable() {
    const text = $("trial-filter").value.trim().toLowerCase();
    const wanted = $("trial-state").value;
    const shown = rows.filter((r) => {
      if (wanted === "front" && !r.on_front) return false;
      if (wanted === "feasible" && !(r.state === "COMPLETE" && r.feasible)) return false;
      if (wanted === "infeasible" && !(r.state === "COMPLETE" && r.feasible === false)) return false;
      if (["FAIL", "RUNNING"].includes(wanted) && r.state !== wanted) return false;
      if (!text) return true;
      return [r.number, r.state, r.preset, r.fingerprint, r.config_summary, r.failure]
        .some((v) => v != null && String(v).toLowerCase().includes(text));
    });
    $("trial-count").textContent = `${shown.length} of ${rows.length} trials`;
    renderTable($("trial-table"), [
      { key: "number", label: "#", num: true, html: (r) => `<a href="${trialUrl(study, r.number)}">${r.number}</a>` },
      { key: "state", label: "status", html: stateBadges },
      { key: "preset", label: "preset" },
      { key: "config_summary", label: "config" },
      { key: "fingerprint", label: "fingerprint", mono: true, html: (r) => esc((r.fingerprint || "–").slice(0, 12)) },
      { key: "latency_ms", label: "latency ms (p10–p90)", num: true, html: fmt.spread },
      { key: "accuracy", label: "accuracy", num: true, html: (r) => (r.trained || r.state === "COMPLETE" ? fmt.accuracy(r) : "–") },
      ...(detail && detail.rungs ? [{ key: "rung", label: "rung", num: true, html: fmt.rung }] : []),
      { key: "parameters", label: "parameters", num: true, html: (r) => fmt.mega(r.parameters) },
      { key: "binary_macs", label: "binary MACs", num: true, html: (r) => fmt.mega(r.binary_macs) },
      { key: "packed_bytes", label: "packed", num: true, html: (r) => fmt.mb(r.packed_bytes) },
      { key: "dominates_presets", label: "beats", html: (r) => esc((r.dominates_presets || []).join(", ")),
        sort: (r) => (r.dominates_presets || []).length },
      { key: "ties_presets", label: "tied with", html: (r) => esc((r.ties_presets || []).join(", ")),
        sort: (r) => (r.ties_presets || []).length },
      { key: "predicted_ms", label: "predicted ms", num: true, html: (r) => fmt.ms(r.predicted_ms) },
      { key: "failure", label: "failure / infeasible", html: (r) =>
        `<span class="failure">${esc(r.failure || r.infeasible_reason || "")}</span>` },
    ], shown, tableState, (r) => (r.on_front ? "front" : ""));
  }

  function drawPrediction() {
    // Timed candidates that had a prediction, and those a prediction ruled out untimed.
    const pairs = rows.filter((r) => r.predicted_ms != null && r.latency_ms != null);
    const saved = rows.filter((r) => r.predicted_ms != null && r.latency_ms == null &&
      (r.infeasible_reason || "").startsWith("predicted")).length;
    const section = $("prediction-section");
    if (!pairs.length && !saved) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    const within = pairs.filter((r) => Math.abs(r.predicted_ms / r.latency_ms - 1) <= 0.1).length;
    const hi = Math.max(...pairs.map((r) => Math.max(r.latency_ms, r.predicted_ms)), 1) * 1.1;
    const line = (factor, name, dash) => ({
      type: "scatter", mode: "lines", x: [0, hi], y: [0, hi * factor], name,
      line: { color: "#8c959f", dash, width: 1 }, hoverinfo: "skip", showlegend: factor === 1.1,
    });
    Plotly.react("prediction", [
      line(1.0, "measured = predicted", "solid"),
      line(1.1, "±10 %", "dot"),
      { ...line(0.9, "±10 %", "dot"), showlegend: false },
      {
        type: "scatter", mode: "markers", name: "timed candidates",
        x: pairs.map((r) => r.latency_ms), y: pairs.map((r) => r.predicted_ms),
        error_y: {
          type: "data", symmetric: false, color: "#afb8c1", thickness: 1,
          array: pairs.map((r) => (r.predicted_high_ms ?? r.predicted_ms) - r.predicted_ms),
          arrayminus: pairs.map((r) => r.predicted_ms - (r.predicted_low_ms ?? r.predicted_ms)),
        },
        customdata: pairs.map((r) => r.number), marker: { color: "#1f6feb", size: 8 },
        hovertemplate: "#%{customdata}: measured %{x:.2f} ms, predicted %{y:.2f} ms<extra></extra>",
      },
    ], {
      margin: { t: 10, r: 20, b: 45, l: 60 },
      xaxis: { title: { text: "measured median (ms)" }, range: [0, hi] },
      yaxis: { title: { text: "predicted median (ms)" }, range: [0, hi] },
      legend: { orientation: "h", y: 1.1 },
    }, PLOT_CONFIG);
    $("prediction-note").textContent =
      `${pairs.length} candidates predicted, then measured: ${within} within ±10 % ` +
      `(bars: the 90 % interval). The predictor saved ${saved} conversion${saved === 1 ? "" : "s"}: ` +
      "candidates whose whole interval lay above the limit, never converted, timed or trained.";
  }

  function drawSummary() {
    const d = detail;
    const constraints = d.constraints || {};
    const limits = [
      constraints.max_latency_ms != null ? `≤ ${fmt.ms(constraints.max_latency_ms)} ms` : null,
      constraints.max_size_mb != null ? `≤ ${constraints.max_size_mb} MB` : null,
    ].filter(Boolean).join(", ") || "none";
    cards($("study-summary"), [
      ["space", esc(d.space || "–")],
      ["device", esc(d.device || "–")],
      ["deploy shape", esc(d.deploy_shape || "–")],
      ["latency key", esc(keyText(d.measurement_key))],
      ["dataset", esc(d.dataset || "–")],
      ["accuracy", esc(d.accuracy_fidelity || "–")],
      ["sampler", esc(d.sampler || "–")],
      ["search", esc(d.search_status || "–")],
      ["trials", `${d.complete} done · ${d.failed} failed · ${d.running} running`],
      ["constraints", esc(limits)],
      ["front", String(d.front_size)],
      ["hypervolume", fmt.num(d.hypervolume, 4)],
    ]);
    const ref = d.reference_point || {};
    $("reference").textContent = ref.latency_ms == null ? "" :
      `Reference point: accuracy ${fmt.pct(ref.accuracy)}, latency ${fmt.ms(ref.latency_ms)} ms` +
      (ref.stored ? " (stored with the study)" : " (not stored: twice the slowest trial, moves as the search goes on)") +
      "; hypervolume in accuracy × ms.";
  }

  function drawHypervolume(history) {
    Plotly.react("hypervolume", [{
      type: "scatter", mode: "lines+markers", line: { shape: "hv", color: "#1f6feb" },
      x: history.map((h) => h.number), y: history.map((h) => h.hypervolume),
      hovertemplate: "after trial #%{x}: %{y:.4g}<extra></extra>", name: "hypervolume",
    }], {
      margin: { t: 10, r: 20, b: 45, l: 60 },
      xaxis: { title: { text: "trial number (in completion order)" } },
      yaxis: { title: { text: "hypervolume" }, rangemode: "tozero" },
    }, PLOT_CONFIG);
  }

  logBox.addEventListener("change", drawPareto);
  $("trial-filter").addEventListener("input", drawTable);
  $("trial-state").addEventListener("change", drawTable);
  const gd = $("pareto");
  let clickBound = false;

  const same = combined();
  poll(refresh, async () => {
    const [d, t, h] = await Promise.all([api(base), api(`${base}/trials`), api(`${base}/hypervolume`)]);
    return same({ d, t, h });
  }, ({ d, t, h }) => {
    detail = d;
    rows = t;
    drawSummary();
    drawPareto();
    drawHypervolume(h);
    drawPrediction();
    drawTable();
    if (!clickBound) {
      gd.on("plotly_click", (ev) => {
        const p = ev.points && ev.points[0];
        if (p && p.customdata != null) window.location.href = trialUrl(study, p.customdata);
      });
      clickBound = true;
    }
  });
}

// ---------------------------------------------------------------- trial page

function profileNote(p) {
  if (!p || p.same_key) return "";
  return `Profile from measurement #${esc(p.measurement_id)} of the same model on the same device with ` +
    `${esc(keyText(p))}: not the latency key of this study's numbers, so compare shares, not milliseconds.`;
}

function drawBreakdown(t) {
  const own = t.profile && t.profile.breakdown;
  const bars = [];
  if (own) bars.push({ label: `#${t.number}${t.preset ? " " + t.preset : " (this trial)"}`, b: own });
  for (const p of t.preset_breakdowns || []) {
    if (p.number !== t.number) bars.push({ label: `#${p.number} ${p.preset}`, b: p.breakdown });
  }
  const container = $("breakdown");
  $("breakdown-note").innerHTML = profileNote(t.profile);
  if (!own) {
    Plotly.purge(container);
    container.classList.remove("plot");
    container.innerHTML = '<p class="hint">No per-op profile of this model on this device, so there is no breakdown. ' +
      "Profiles come from the native host engine (<code>lce-nas bench --engine native --profile</code>) " +
      "or from lce_benchmark_model on a device.</p>";
    return;
  }
  if (!container.data) container.innerHTML = ""; // drop the message, keep a live plot
  container.classList.add("plot");
  const categories = bars[0].b.categories.map((c) => c.category);
  const labels = Object.fromEntries(bars[0].b.categories.map((c) => [c.category, c.label]));
  const traces = categories.map((cat) => ({
    type: "bar", orientation: "h", name: labels[cat], marker: { color: CATEGORY_COLORS[cat] },
    y: bars.map((b) => b.label),
    x: bars.map((b) => (b.b.categories.find((c) => c.category === cat) || {}).ms || 0),
    hovertemplate: `%{y}<br>${labels[cat]}: %{x:.3f} ms<extra></extra>`,
  }));
  Plotly.react(container, traces, {
    barmode: "stack", margin: { t: 30, r: 20, b: 45, l: 170 },
    xaxis: { title: { text: "milliseconds (sum of the per-op profile)" } },
    yaxis: { autorange: "reversed" }, legend: { orientation: "h", y: 1.15, traceorder: "normal" },
  }, PLOT_CONFIG);
}

// Arrays of numbers on one line keep the raw record readable.
function compactArrays(key, value) {
  return Array.isArray(value) && value.every((v) => typeof v !== "object") ? JSON.stringify(value) : value;
}

function quantile(sorted, q) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

function drawDistribution(m) {
  const container = $("latency-dist");
  if (!m || !m.samples_ms || !m.samples_ms.length) {
    Plotly.purge(container);
    container.classList.remove("plot");
    container.innerHTML = '<p class="hint">No stored latency samples for this trial.</p>';
    $("measurement-key").innerHTML = "";
    return;
  }
  container.classList.add("plot");
  const line = (x, name, dash) => ({ type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: { dash, color: "#111827", width: 1 }, name });
  // Rare stalls (a preempted run) would stretch the axis: draw the bulk, count the rest.
  const sorted = m.samples_ms.slice().sort((a, b) => a - b);
  const p10 = quantile(sorted, 0.1), p90 = quantile(sorted, 0.9);
  const top = Math.max(p90, quantile(sorted, 0.5) + 4 * (p90 - p10));
  const shown = sorted.filter((x) => x <= top);
  const hidden = sorted.length - shown.length;
  Plotly.react(container, [{
    type: "histogram", x: shown, nbinsx: 40, marker: { color: "#4c78a8" }, name: "runs",
    hovertemplate: "%{x} ms: %{y} runs<extra></extra>",
  }], {
    margin: { t: 10, r: 20, b: 45, l: 50 }, bargap: 0.02,
    xaxis: { title: { text: `latency per run (ms), ${m.runs} runs after ${m.warmup_runs} warm-up` +
      (hidden ? ` (${hidden} slowest, up to ${fmt.ms(sorted[sorted.length - 1])} ms, not drawn)` : "") } },
    yaxis: { title: { text: "runs" } },
    shapes: [line(m.median_ms, "median", "solid"), line(m.p10_ms, "p10", "dot"), line(m.p90_ms, "p90", "dot")],
  }, PLOT_CONFIG);
  const facts = m.host_facts || {};
  $("measurement-key").innerHTML = `<p class="hint">Measurement #${esc(m.id)} on <b>${esc(m.device)}</b>: ` +
    `${esc(keyText(m))}; median ${fmt.ms(m.median_ms)} ms, p10–p90 ${fmt.ms(m.p10_ms)}–${fmt.ms(m.p90_ms)} ms, ` +
    `CV ${m.cv == null ? "–" : (100 * m.cv).toFixed(1) + " %"}; measured ${esc(fmt.time(m.measured_at))}` +
    (facts.cpu_model ? `; ${esc(facts.cpu_model)}` : "") + "</p>";
}

function drawLadder(t) {
  const rungs = t.ladder || [];
  $("ladder-section").hidden = !rungs.length;
  if (!rungs.length) return;
  renderTable($("ladder"), [
    { key: "rung", label: "rung", num: true },
    { key: "steps", label: "steps", num: true, html: (r) => fmt.int(r.steps) },
    { key: "width", label: "width", num: true },
    { key: "seeds", label: "seeds", num: true },
    { key: "top1", label: "accuracy", num: true, html: (r) => fmt.accuracy({ accuracy: r.top1, accuracy_stderr: r.stderr }) },
    { key: "seeds_top1", label: "per seed", html: (r) => (r.seeds_top1 || []).map(fmt.pct).join(", ") },
    { key: "train_seconds", label: "training s", num: true, html: (r) => fmt.num(r.train_seconds) },
  ], rungs, { sortKey: "rung", desc: false });
}

function lceTrialPage({ study, number, refresh }) {
  const opState = { sortKey: "index", desc: false };
  poll(refresh, () => api(`/api/studies/${seg(study)}/trials/${seg(number)}`), (t) => {
    $("trial-badges").innerHTML = stateBadges(t);
    const acc = t.accuracy_detail || {};
    cards($("trial-summary"), [
      ["accuracy", fmt.accuracy(t)],
      ["rung", t.rung == null ? undefined : fmt.rung(t) + (t.at_top ? " (top)" : " (stopped: never on the front)")],
      ["latency median", t.latency_ms == null ? "–" : `${fmt.ms(t.latency_ms)} ms`],
      ["p10–p90", t.latency_p10_ms == null ? "–" : `${fmt.ms(t.latency_p10_ms)}–${fmt.ms(t.latency_p90_ms)} ms`],
      ["parameters", fmt.int(t.parameters)],
      ["binary MACs", fmt.int(t.binary_macs)],
      ["float MACs", fmt.int(t.float_macs)],
      ["packed size", fmt.mb(t.packed_bytes)],
      ["preset", esc(t.preset || "–")],
      ["fingerprint", `<span class="mono" title="${esc(t.fingerprint)}">${esc((t.fingerprint || "–").slice(0, 16))}</span>`],
      ["proxy training", acc.epochs != null ? `${acc.epochs} epochs, ${fmt.num(acc.train_seconds)} s` : "not trained"],
      ["dominates", t.dominates_presets && t.dominates_presets.length ? esc(t.dominates_presets.join(", ")) : "–"],
      ["tied with", t.ties_presets && t.ties_presets.length ? esc(t.ties_presets.join(", ")) : undefined],
      ["duration", t.duration_s == null ? "–" : `${t.duration_s.toFixed(1)} s`],
      ["failure", t.failure ? `<span class="failure">${esc(t.failure)}</span>` : undefined],
    ]);
    drawLadder(t);
    drawBreakdown(t);
    drawDistribution(t.measurement);
    $("config").innerHTML = t.config
      ? "<table>" + Object.entries(t.config).map(([k, v]) =>
        `<tr><th>${esc(k)}</th><td class="mono">${esc(Array.isArray(v) ? v.join(", ") : v)}</td></tr>`).join("") + "</table>"
      : '<p class="hint">No config stored for this trial.</p>';
    $("raw").textContent = JSON.stringify({ params: t.params, values: t.values, user_attrs: t.user_attrs }, compactArrays, 1);
    const ops = (t.profile && t.profile.op_profile) || [];
    if (!ops.length) {
      $("op-table").innerHTML = '<p class="hint">Not profiled.</p>';
    } else {
      $("op-table").classList.add("scroll");
      renderTable($("op-table"), [
        { key: "index", label: "#", num: true },
        { key: "op_type", label: "op" },
        { key: "category", label: "category" },
        { key: "avg_ms", label: "avg ms", num: true, html: (o) => fmt.ms(o.avg_ms) },
        { key: "share", label: "share", num: true, html: (o) => fmt.pct(o.share) },
        { key: "name", label: "name", mono: true },
      ], ops.map((o, i) => ({ ...o, index: i })), opState);
    }
    const files = t.exports || [];
    $("exports").innerHTML = files.length
      ? "<ul>" + files.map((f) => `<li><a download href="${trialUrl(study, number)}/files/${seg(f.name)}">${esc(f.name)}</a> ` +
        `<span class="hint">${fmt.int(f.bytes)} bytes</span></li>`).join("") + "</ul>"
      : `<p class="hint">Not exported yet (or the dashboard was started without <code>--exports DIR</code>). ` +
        `Export it with <code>${esc(t.export_command)}</code>.</p>`;
  });
}

// ---------------------------------------------------------------- compare page

function lceComparePage({ selected, refresh }) {
  let chosen = new Set(selected);
  let picked = selected.length > 0; // until the user picks, every study is shown
  let studies = [];
  let fronts = [];
  const logBox = $("log-x");
  const palette = ["#1f6feb", "#f58518", "#54a24b", "#e45756", "#b279a2", "#72b7b2", "#9d755d", "#eeca3b"];

  function draw() {
    const shown = fronts.filter((f) => chosen.has(f.study));
    Plotly.react("compare", shown.map((f, i) => ({
      type: "scatter", mode: "lines+markers", line: { shape: "hv", color: palette[i % palette.length] },
      name: `${f.study} (${f.summary.device || "?"}, ${f.summary.deploy_shape || "?"}, ${keyText(f.summary.measurement_key)})`,
      x: f.trials.map((r) => r.latency_ms), y: f.trials.map((r) => 100 * r.accuracy),
      customdata: f.trials.map((r) => [f.study, r.number]),
      text: f.trials.map((r) => `${esc(f.study)} #${r.number}${r.preset ? " " + esc(r.preset) : ""}<br>${esc(r.config_summary)}`),
      hovertemplate: "%{text}<br>%{x:.3f} ms, %{y:.1f} %<extra></extra>",
    })), {
      margin: { t: 20, r: 20, b: 50, l: 60 },
      xaxis: { title: { text: "median latency (ms)" }, type: logBox.checked ? "log" : "linear" },
      yaxis: { title: { text: "proxy top-1 accuracy (%)" }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.2 }, hovermode: "closest",
    }, PLOT_CONFIG);
    renderTable($("compare-table"), [
      { key: "study", label: "study", html: (f) => `<a href="${studyUrl(f.study)}">${esc(f.study)}</a>` },
      { key: "device", label: "device", html: (f) => esc(f.summary.device || "–") },
      { key: "shape", label: "deploy shape", html: (f) => esc(f.summary.deploy_shape || "–") },
      { key: "key", label: "latency key", html: (f) => esc(keyText(f.summary.measurement_key)) },
      { key: "dataset", label: "dataset", html: (f) => esc(f.summary.dataset || "–") },
      { key: "size", label: "front", num: true, html: (f) => String(f.trials.length) },
      { key: "hypervolume", label: "hypervolume", num: true, html: (f) => fmt.num(f.hypervolume, 4) },
    ], shown, { sortKey: "study", desc: false });
  }

  function drawPicker() {
    $("compare-pick").innerHTML = studies.map((s) =>
      `<label><input type="checkbox" value="${esc(s.name)}" ${chosen.has(s.name) ? "checked" : ""}> ${esc(s.name)} ` +
      `<span class="hint">${esc(s.device || "")}</span></label>`).join("");
    $("compare-pick").querySelectorAll("input").forEach((box) => box.addEventListener("change", () => {
      picked = true;
      if (box.checked) chosen.add(box.value); else chosen.delete(box.value);
      const query = [...chosen].map((n) => "study=" + encodeURIComponent(n)).join("&");
      history.replaceState(null, "", "/compare" + (query ? "?" + query : ""));
      draw();
    }));
  }

  logBox.addEventListener("change", draw);
  const gd = $("compare");
  let clickBound = false;
  const same = combined();
  poll(refresh, async () => {
    const list = await api("/api/studies");
    const all = await api("/api/compare");
    return same({ list, all });
  }, ({ list, all }) => {
    studies = list;
    fronts = all;
    if (!picked) chosen = new Set(list.map((s) => s.name));
    drawPicker();
    draw();
    if (!clickBound) {
      gd.on("plotly_click", (ev) => {
        const p = ev.points && ev.points[0];
        if (p && p.customdata) window.location.href = trialUrl(p.customdata[0], p.customdata[1]);
      });
      clickBound = true;
    }
  });
}
