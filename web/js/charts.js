// charts.js — the dashboard's charts, drawn by Chart.js (Debian's libjs-chart.js, served by
// microtd at /vendor/chart.js/ and loaded by index.html as the global Chart). Without it the
// pages still work and say which package brings the charts; every chart also has a text summary
// beside it for screen readers.

import { h } from "./ui.js";

export function chartsAvailable() {
  return typeof window.Chart === "function";
}

export function noChartsNote() {
  return h("p", { class: "hint" },
    "Charts need the Debian package libjs-chart.js on the gateway (scripts/deps.sh installs it).");
}

export const COLORS = {
  accuracy: "#1f6f3a",
  energy: "#b35c00",
  exits: "#1f4e79",
  inferences: "#6a2ea0",
  grid: "#e1e6ec",
  marker: "#b00020",
};

// Draws a vertical line at x = chart.options.plugins.marker.x (data units) with a label: the
// ratio in force on the trade-off curve.
const markerPlugin = {
  id: "marker",
  afterDatasetsDraw(chart, _args, opts) {
    if (opts === undefined || opts.x === undefined || opts.x === null) return;
    const x = chart.scales.x.getPixelForValue(opts.x);
    const { top, bottom, left, right } = chart.chartArea;
    if (x < left - 1 || x > right + 1) return;
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = opts.color || COLORS.marker;
    ctx.lineWidth = 2;
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, bottom);
    ctx.stroke();
    if (opts.label) {
      ctx.setLineDash([]);
      ctx.fillStyle = opts.color || COLORS.marker;
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.textAlign = x > (left + right) / 2 ? "right" : "left";
      ctx.fillText(opts.label, x + (ctx.textAlign === "left" ? 6 : -6), top + 12);
    }
    ctx.restore();
  },
};

// A chart on canvas with Chart.js defaults the dashboard wants (no animation while live data
// arrives, readable fonts, legend at the bottom). Returns the Chart or null without Chart.js.
export function makeChart(canvas, config) {
  if (!chartsAvailable()) return null;
  const Chart = window.Chart;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";
  Chart.defaults.font.size = 13;
  Chart.defaults.color = "#3d4856";
  config.options = Object.assign({
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
  }, config.options || {});
  config.options.plugins = Object.assign({ legend: { position: "bottom" } }, config.options.plugins || {});
  config.plugins = [...(config.plugins || []), markerPlugin];
  return new Chart(canvas, config);
}
