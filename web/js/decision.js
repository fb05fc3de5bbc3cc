// decision.js — the stage decision: how many images may stop after the small first stage.
//
// The chart is the board's own trade-off (GET /api/devices/{id}/tradeoff: for each ratio, the
// accuracy and energy per image measured on its held-out calibration samples). The slider under
// it sets the ratio directly; the two other modes let the gateway pick the ratio: the most
// accurate one within an energy budget, or the cheapest one that keeps an accuracy floor
// (PUT /api/devices/{id}/decision). The dashed line shows the ratio in force on the board.

import { get, put, hasToken } from "./api.js";
import { h, clear, toast, emptyState, fmtPercent, fmtEnergyNj, energyUnit } from "./ui.js";
import { makeChart, chartsAvailable, noChartsNote, COLORS } from "./charts.js";

// Accuracy and energy at ratio r, interpolated between the measured points.
function at(points, r) {
  if (!points.length) return null;
  let a = points[0], b = points[points.length - 1];
  for (let i = 0; i + 1 < points.length; i++) {
    if (points[i].ratio <= r && r <= points[i + 1].ratio) { a = points[i]; b = points[i + 1]; break; }
  }
  const t = b.ratio === a.ratio ? 0 : (r - a.ratio) / (b.ratio - a.ratio);
  const mix = (k) => a[k] + (b[k] - a[k]) * Math.max(0, Math.min(1, t));
  return { ratio: r, accuracy: mix("accuracy"), energy_uj: mix("energy_uj"), exit_fraction: mix("exit_fraction") };
}

const MODES = [
  { key: "ratio", label: "Set the ratio myself" },
  { key: "energy_budget", label: "Stay within an energy budget" },
  { key: "accuracy_floor", label: "Keep a minimum accuracy" },
];

export function decisionSection(ctx) {
  const el = h("section", { class: "card", id: "decision-section", "aria-labelledby": "decision-title" });
  let chart = null;
  let points = [];
  let settings = null;
  let mode = null;
  let sendTimer = null;

  function destroyChart() {
    if (chart) { chart.destroy(); chart = null; }
  }

  function statusText(s) {
    if (s.ratio === null || s.ratio === undefined) return "No ratio in force yet.";
    const how = s.policy === "ratio" ? "" : s.policy === "energy_budget"
      ? `, chosen for an energy budget of ${fmtEnergyNj(s.target * 1000)} per image` : `, chosen to keep ${fmtPercent(s.target)} accuracy`;
    return `In force on the board: ratio ${s.ratio.toFixed(2)}${how}. An image stops after stage 1 when its confidence is at least ${s.threshold.toFixed(2)}.`;
  }

  async function apply(policy, target) {
    if (!hasToken()) { window.dispatchEvent(new Event("microt-ask-token")); return; }
    const status = el.querySelector("#decision-status");
    status.textContent = "Sending to the board…";
    try {
      const s = await put(`/api/devices/${ctx.id}/decision`, { policy, target });
      settings = s;
      status.textContent = s.applied ? statusText(s)
        : "Saved. The board is offline or not trained yet: it takes effect after its next training.";
      markRatio();
    } catch (e) {
      status.textContent = e.message;
      toast(e.message, true);
    }
  }

  // The settings changed (here, in another tab, or by microtctl): show them without rebuilding
  // the controls, so a slider being moved keeps its focus. A new training redraws everything.
  async function update() {
    let s;
    try { s = await get(`/api/devices/${ctx.id}/decision`); } catch { return; }
    const retrained = !settings || s.trained_job !== settings.trained_job;
    settings = s;
    if (retrained || !chart) { load(); return; }
    markRatio();
    const status = el.querySelector("#decision-status");
    if (status) status.textContent = statusText(s);
    const slider = el.querySelector("#ratio-slider");
    if (slider && document.activeElement !== slider && s.ratio !== null) {
      slider.value = s.ratio;
      el.querySelector("#decision-explain").textContent = describe(s.ratio);
    }
  }

  // Sends after the control rests for a moment, so dragging does not flood the board.
  function applySoon(policy, target) {
    clearTimeout(sendTimer);
    sendTimer = setTimeout(() => apply(policy, target), 250);
  }

  function markRatio() {
    if (!chart || !settings) return;
    chart.options.plugins.marker = { x: settings.ratio, label: settings.ratio === null ? "" : `in force: ${settings.ratio.toFixed(2)}` };
    chart.update();
  }

  function describe(r) {
    const p = at(points, r);
    if (!p) return "";
    return `At ratio ${r.toFixed(2)}, about ${fmtPercent(p.exit_fraction, 0)} of images stop after stage 1. ` +
      `Expected accuracy ${fmtPercent(p.accuracy)}, energy ${fmtEnergyNj(p.energy_uj * 1000)} per image.`;
  }

  function controls() {
    const can = hasToken();
    const box = h("div", { class: "decision-controls" });
    const energies = points.map((p) => p.energy_uj), accs = points.map((p) => p.accuracy);
    const eMin = Math.min(...energies), eMax = Math.max(...energies);
    const u = energyUnit(eMax); // the budget is typed in the unit the chart shows
    const aMin = Math.min(...accs), aMax = Math.max(...accs);
    const radios = h("fieldset", { class: "modes" }, h("legend", {}, "How to choose"),
      MODES.map((m) => h("label", { class: "radio" },
        h("input", { type: "radio", name: "decision-mode", value: m.key, checked: m.key === mode || undefined,
          disabled: !can || undefined, onchange: () => { mode = m.key; paintControls(); } }), " ", m.label)));
    const explain = h("p", { id: "decision-explain", class: "explain", "aria-live": "polite" });
    let input;
    if (mode === "ratio") {
      const r0 = settings?.ratio ?? settings?.target ?? 0.5;
      input = h("input", { type: "range", id: "ratio-slider", min: 0, max: 1, step: 0.05, value: r0,
        disabled: !can || undefined, "aria-describedby": "decision-explain",
        oninput: (e) => { explain.textContent = describe(+e.target.value); },
        onchange: (e) => applySoon("ratio", +e.target.value) });
      explain.textContent = describe(+r0);
      box.append(radios,
        h("label", { for: "ratio-slider", class: "slider-label" }, "Early-exit ratio: share of images allowed to stop after the small first stage"),
        h("div", { class: "slider-row" }, h("span", { "aria-hidden": "true" }, "0 (always full model, most accurate)"), h("span", { "aria-hidden": "true" }, "1 (always stop early, least energy)")),
        input, explain);
      alignSlider(input);
    } else if (mode === "energy_budget") {
      const v0 = (settings?.policy === "energy_budget" ? settings.target : ((eMin + eMax) / 2)) / u.per;
      input = h("input", { type: "number", id: "energy-budget", min: 0, step: 0.01, value: (+v0).toFixed(2), disabled: !can || undefined, "aria-describedby": "decision-explain" });
      explain.textContent = `This board's curve goes from ${fmtEnergyNj(eMin * 1000)} to ${fmtEnergyNj(eMax * 1000)} per image. The gateway picks the most accurate ratio within the budget.`;
      box.append(radios, h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: "energy-budget" }, `Energy budget (${u.name} per image)`), input),
        h("button", { type: "button", class: "btn btn-primary", disabled: !can || undefined, onclick: () => apply("energy_budget", +input.value * u.per) }, "Apply")), explain);
    } else {
      const v0 = settings?.policy === "accuracy_floor" ? settings.target * 100 : Math.round((aMin + aMax) * 50);
      input = h("input", { type: "number", id: "accuracy-floor", min: 1, max: 100, step: 0.5, value: (+v0).toFixed(1), disabled: !can || undefined, "aria-describedby": "decision-explain" });
      explain.textContent = `This board's accuracy goes from ${fmtPercent(aMin)} to ${fmtPercent(aMax)}. The gateway picks the cheapest ratio that keeps the floor.`;
      box.append(radios, h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: "accuracy-floor" }, "Minimum accuracy (%)"), input),
        h("button", { type: "button", class: "btn btn-primary", disabled: !can || undefined, onclick: () => apply("accuracy_floor", +input.value / 100) }, "Apply")), explain);
    }
    box.append(h("p", { id: "decision-status", class: "status", role: "status" }, statusText(settings)));
    if (!can) box.append(h("p", { class: "hint" }, "Unlock changes (top right) to move the slider."));
    return box;
  }

  // Lines the slider's track up with the chart's x axis, so the thumb sits under its ratio.
  function alignSlider(input) {
    requestAnimationFrame(() => {
      if (!chart) return;
      const area = chart.chartArea;
      const w = chart.width;
      input.style.marginLeft = `${area.left - 8}px`;
      input.style.width = `${area.right - area.left + 16}px`;
      void w;
    });
  }

  function paintControls() {
    const old = el.querySelector(".decision-controls");
    if (old) old.replaceWith(controls());
  }

  async function load() {
    destroyChart();
    const title = h("h2", { id: "decision-title" }, "Accuracy or energy? ", h("span", { class: "sub" }, "the stage decision"));
    try {
      settings = await get(`/api/devices/${ctx.id}/decision`);
    } catch (e) {
      clear(el, title, h("p", { class: "error" }, e.message));
      return;
    }
    mode = mode || settings.policy || "ratio";
    if (!ctx.dev.live) {
      clear(el, title, emptyState("The board is offline",
        "Its trade-off curve is read from the board itself. It shows here when the board is back online."));
      return;
    }
    const untrained = () => emptyState("Train the board first",
      "Each image first goes through a small part of the network. When that part is confident enough the answer is final and " +
      "the rest is skipped, which saves energy. How often that is safe depends on this board's own data: " +
      "add labeled samples and train (below), and the curve of accuracy against energy appears here.");
    if (!settings.trained_job) {
      clear(el, title, untrained());
      return;
    }
    try {
      points = (await get(`/api/devices/${ctx.id}/tradeoff`)).points || [];
    } catch (e) {
      points = [];
      clear(el, title, untrained(), h("p", { class: "hint" }, `The board says: ${e.message}`));
      return;
    }
    if (!points.length) {
      clear(el, title, emptyState("No trade-off yet", "Train the board: its curve comes from the samples held out for calibration."));
      return;
    }
    points.sort((a, b) => a.ratio - b.ratio);
    const canvas = h("canvas", { id: "tradeoff-chart", role: "img",
      "aria-label": "Accuracy and energy per image against the early-exit ratio. " +
        points.map((p) => `ratio ${p.ratio.toFixed(2)}: ${fmtPercent(p.accuracy)}, ${fmtEnergyNj(p.energy_uj * 1000)}`).join("; ") });
    const u = energyUnit(Math.max(...points.map((p) => p.energy_uj)));
    clear(el, title,
      h("p", { class: "muted" }, "Left: every image runs the whole network (most accurate, most energy). " +
        "Right: every image stops after the first stage (least energy). Measured on this board's held-out samples."),
      chartsAvailable() ? h("div", { class: "chart-box" }, canvas) : noChartsNote(),
      h("div", {}));
    chart = makeChart(canvas, {
      type: "line",
      data: {
        datasets: [
          { label: "Accuracy (%)", data: points.map((p) => ({ x: p.ratio, y: p.accuracy * 100 })), borderColor: COLORS.accuracy, backgroundColor: COLORS.accuracy, yAxisID: "acc", tension: 0 },
          { label: `Energy per image (${u.name})`, data: points.map((p) => ({ x: p.ratio, y: p.energy_uj / u.per })), borderColor: COLORS.energy, backgroundColor: COLORS.energy, yAxisID: "energy", borderDash: [6, 3], tension: 0 },
        ],
      },
      options: {
        parsing: false,
        scales: {
          x: { type: "linear", min: 0, max: 1, title: { display: true, text: "Early-exit ratio" }, grid: { color: COLORS.grid } },
          acc: { position: "left", title: { display: true, text: "Accuracy (%)" }, grid: { color: COLORS.grid } },
          energy: { position: "right", title: { display: true, text: `${u.name} per image` }, grid: { display: false } },
        },
        onClick: (_e, _els, c) => {
          // A click on the chart moves the slider there (ratio mode).
          const slider = el.querySelector("#ratio-slider");
          if (!slider || slider.disabled) return;
          const x = c.scales.x.getValueForPixel(_e.x);
          slider.value = Math.max(0, Math.min(1, Math.round(x * 20) / 20));
          slider.dispatchEvent(new Event("input"));
          slider.dispatchEvent(new Event("change"));
        },
      },
    });
    el.lastChild.replaceWith(controls());
    markRatio();
  }

  return { el, load, update, destroy: () => { destroyChart(); clearTimeout(sendTimer); } };
}
