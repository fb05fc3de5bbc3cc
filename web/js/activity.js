// activity.js — what the board has been doing: inferences per interval, the share that stopped
// after stage 1, and energy per inference, from the running counters the gateway reads from the
// board every few seconds (GET /api/devices/{id}/stats, then "stats" events as they arrive).
// The counters are totals since the board booted; the chart shows the differences between
// readings, starting over when the board restarts (its uptime goes back).

import { get } from "./api.js";
import { on } from "./live.js";
import { h, clear, emptyState, fmtEnergyNj, fmtPercent, energyUnit } from "./ui.js";
import { makeChart, chartsAvailable, noChartsNote, COLORS } from "./charts.js";

const WINDOW_MS = 60 * 60 * 1000; // the last hour
const MAX_POINTS = 720;

export function activitySection(ctx) {
  const el = h("section", { class: "card", id: "activity-section", "aria-labelledby": "activity-title" });
  let series = []; // raw counter readings, oldest first
  let chartA = null, chartB = null;
  let off = null;

  function intervals() {
    const out = [];
    for (let i = 1; i < series.length; i++) {
      const a = series[i - 1], b = series[i];
      if (b.uptime_ms < a.uptime_ms || b.inferences < a.inferences) continue; // rebooted
      const n = b.inferences - a.inferences;
      out.push({
        t: b.at_ms,
        n,
        exit: n > 0 ? (b.stage1_exits - a.stage1_exits) / n : null,
        nj: n > 0 ? (b.energy_nj - a.energy_nj) / n : null,
      });
    }
    return out;
  }

  function totals() {
    const last = series[series.length - 1];
    if (!last || !last.inferences) return null;
    return { n: last.inferences, exit: last.stage1_exits / last.inferences, nj: last.energy_nj / last.inferences };
  }

  function label(t) {
    return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function paint() {
    const iv = intervals();
    const tot = totals();
    ctx.counters = tot; // the board page's summary uses it
    const summary = el.querySelector("#activity-summary");
    if (summary) {
      summary.textContent = tot
        ? `Since the board started: ${tot.n} inferences, ${fmtPercent(tot.exit)} stopped after stage 1, ${fmtEnergyNj(tot.nj)} per inference on average.`
        : "No inference since the board started.";
    }
    if (!chartA) return;
    const labels = iv.map((p) => label(p.t));
    chartA.data.labels = labels;
    chartA.data.datasets[0].data = iv.map((p) => p.n);
    chartA.data.datasets[1].data = iv.map((p) => (p.exit === null ? null : p.exit * 100));
    chartA.update();
    chartB.data.labels = labels;
    const u = energyUnit(Math.max(0, ...iv.map((p) => (p.nj ?? 0) / 1000)));
    chartB.data.datasets[0].data = iv.map((p) => (p.nj === null ? null : p.nj / 1000 / u.per));
    chartB.data.datasets[0].label = `Energy per inference (${u.name})`;
    chartB.options.scales.y.title.text = u.name;
    chartB.update();
  }

  async function load() {
    destroy();
    const title = h("h2", { id: "activity-title" }, "Activity ", h("span", { class: "sub" }, "last hour"));
    try {
      const doc = await get(`/api/devices/${ctx.id}/stats?since_ms=${Date.now() - WINDOW_MS}&limit=500`);
      series = doc.series;
    } catch (e) {
      clear(el, title, h("p", { class: "error" }, e.message));
      return;
    }
    off = on("stats", (ev) => {
      if (ev.device !== ctx.id) return;
      series.push(ev);
      if (series.length > MAX_POINTS) series.shift();
      if (!chartA && intervals().some((p) => p.n > 0)) load(); else paint();
    });
    if (!intervals().some((p) => p.n > 0)) {
      clear(el, title, emptyState("No inference in the last hour",
        ctx.dev.live
          ? "The gateway reads the board's counters every few seconds. Classify a picture (below) and the charts appear here."
          : "The board is offline. Its counters are read again when it comes back."),
        h("p", { id: "activity-summary", class: "muted" }));
      paint();
      return;
    }
    const cA = h("canvas", { id: "activity-chart", role: "img", "aria-label": "Inferences per reading and the share that stopped after stage 1" });
    const cB = h("canvas", { id: "energy-chart", role: "img", "aria-label": "Energy per inference in microjoules" });
    clear(el, title,
      h("p", { id: "activity-summary", class: "muted", "aria-live": "polite" }),
      chartsAvailable()
        ? h("div", { class: "grid charts-2" },
            h("div", { class: "chart-box small" }, cA),
            h("div", { class: "chart-box small" }, cB))
        : noChartsNote());
    const x = { ticks: { maxTicksLimit: 6, autoSkip: true }, grid: { color: COLORS.grid } };
    chartA = makeChart(cA, {
      type: "bar",
      data: { labels: [], datasets: [
        { type: "bar", label: "Inferences", data: [], backgroundColor: COLORS.inferences, yAxisID: "n", maxBarThickness: 40 },
        { type: "line", label: "Stopped after stage 1 (%)", data: [], borderColor: COLORS.exits, backgroundColor: COLORS.exits, yAxisID: "pct", spanGaps: true, pointRadius: 3 },
      ] },
      options: { scales: { x, n: { position: "left", beginAtZero: true, title: { display: true, text: "inferences" } },
        pct: { position: "right", min: 0, max: 100, title: { display: true, text: "% at stage 1" }, grid: { display: false } } } },
    });
    chartB = makeChart(cB, {
      type: "line",
      data: { labels: [], datasets: [
        { label: "Energy per inference (µJ)", data: [], borderColor: COLORS.energy, backgroundColor: COLORS.energy, spanGaps: true, pointRadius: 3 },
      ] },
      options: { scales: { x, y: { beginAtZero: true, title: { display: true, text: "µJ" } } } },
    });
    paint();
  }

  function destroy() {
    if (off) { off(); off = null; }
    if (chartA) { chartA.destroy(); chartA = null; }
    if (chartB) { chartB.destroy(); chartB = null; }
  }

  return { el, load, destroy };
}
