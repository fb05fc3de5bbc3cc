// training.js — training on the board: start it, follow it, and its history with the accuracy
// reached and the energy each phase took (computing the samples' features, training the two
// heads, calibrating the exit threshold), from the results the board reports.

import { get, post, hasToken } from "./api.js";
import { on } from "./live.js";
import { h, clear, toast, emptyState, fmtPercent, fmtEnergyNj, fmtTime, energyUnit } from "./ui.js";
import { makeChart, chartsAvailable, noChartsNote, COLORS } from "./charts.js";
import { jobProgress, stateWord } from "./jobs.js";

export function trainingSection(ctx) {
  const el = h("section", { class: "card", id: "training-section", "aria-labelledby": "training-title" });
  let chart = null, progress = null, off = null;

  function follow(jobId) {
    if (progress) progress.destroy();
    progress = jobProgress(jobId, {
      title: "Training",
      onEnd: (j) => {
        if (j.state === "done") {
          const r = j.result || {};
          toast(`Training done: ${fmtPercent(r.staged_holdout_accuracy)} on held-out samples.`);
        } else toast(`Training ${stateWord(j.state).toLowerCase()}: ${j.error || ""}`, true);
        ctx.refresh(); // the bar stays, saying how it ended, until another training starts
      },
    });
  }

  async function start() {
    if (!hasToken()) { window.dispatchEvent(new Event("microt-ask-token")); return; }
    try {
      const doc = await post(`/api/devices/${ctx.id}/train`, {});
      follow(doc.job.id);
      load();
    } catch (e) { toast(e.message, true); }
  }

  async function load() {
    if (chart) { chart.destroy(); chart = null; }
    if (off) { off(); off = null; }
    const title = h("h2", { id: "training-title" }, "Training");
    let jobs;
    try {
      jobs = (await get(`/api/jobs?device=${ctx.id}&limit=50`)).jobs.filter((j) => j.kind === "train");
    } catch (e) {
      clear(el, title, h("p", { class: "error" }, e.message));
      return;
    }
    const running = jobs.find((j) => j.state === "running" || j.state === "queued");
    if (running && progress?.jobId !== running.id) follow(running.id);
    // A training started elsewhere (microtctl, another tab) shows up here too.
    off = on("job", (ev) => { if (ev.device === ctx.id && ev.kind === "train" && ev.state === "queued") load(); });
    const done = jobs.filter((j) => j.state === "done" && j.result).reverse(); // oldest first
    const can = hasToken() && ctx.dev.live && !running;
    const button = h("button", { type: "button", class: "btn btn-primary", id: "train-button", disabled: !can || undefined, onclick: start }, "Train now");
    const why = !hasToken() ? "Unlock changes (top right) to train."
      : !ctx.dev.live ? "The board is offline."
      : running ? "A training is running." : "Uses every sample of this board's active model; takes seconds to a minute.";

    const rows = jobs.slice(0, 10).map((j) => {
      const r = j.result || {};
      const e = r.energy_nj || {};
      return h("tr", {},
        h("td", {}, fmtTime(j.created_ms)),
        h("td", {}, h("span", { class: `badge ${j.state}` }, stateWord(j.state))),
        h("td", { class: "num" }, r.samples ?? "—"),
        h("td", { class: "num" }, fmtPercent(r.part?.holdout_accuracy)),
        h("td", { class: "num" }, fmtPercent(r.full?.holdout_accuracy)),
        h("td", { class: "num" }, fmtPercent(r.staged_holdout_accuracy)),
        h("td", { class: "num" }, e.extract !== undefined ? fmtEnergyNj(e.extract + e.train + e.calibrate) : "—"),
        h("td", {}, j.error || (r.decision_error ? `ratio not applied: ${r.decision_error}` : "")));
    });
    const canvas = h("canvas", { id: "training-chart", role: "img", "aria-label": "Energy of each training, by phase" });
    clear(el, title,
      h("div", { class: "row" }, button, h("span", { class: "hint" }, why)),
      progress ? progress.el : null,
      jobs.length === 0
        ? emptyState("Not trained yet", "Add labeled samples of at least two classes (Samples, below), then press Train now. " +
            "The board learns from its own samples; the network itself is not changed, only two small heads on top of it.")
        : h("div", {},
            done.length && chartsAvailable() ? h("div", { class: "chart-box small" }, canvas) : null,
            done.length && !chartsAvailable() ? noChartsNote() : null,
            h("div", { class: "table-wrap" }, h("table", { id: "training-table" },
              h("caption", { class: "muted", style: "text-align:left;caption-side:bottom;padding-top:.4rem" },
                "Accuracy on samples held out from training: stage 1 alone, stage 2 alone, and both with the exit rule."),
              h("thead", {}, h("tr", {},
                ["When", "Result", "Samples", "Stage 1", "Stage 2", "Both (in use)", "Energy", ""].map((t, i) =>
                  h("th", { scope: "col", class: i >= 2 && i <= 6 ? "num" : "" }, t)))),
              h("tbody", {}, rows)))));
    if (done.length && chartsAvailable()) {
      const e = (j, k) => (j.result.energy_nj?.[k] ?? 0) / 1000; // µJ
      const u = energyUnit(Math.max(...done.map((j) => e(j, "extract") + e(j, "train") + e(j, "calibrate"))));
      chart = makeChart(canvas, {
        type: "bar",
        data: {
          labels: done.map((j) => new Date(j.created_ms).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })),
          datasets: [
            { label: `Computing features (${u.name})`, data: done.map((j) => e(j, "extract") / u.per), backgroundColor: COLORS.exits },
            { label: `Training heads (${u.name})`, data: done.map((j) => e(j, "train") / u.per), backgroundColor: COLORS.accuracy },
            { label: `Calibrating (${u.name})`, data: done.map((j) => e(j, "calibrate") / u.per), backgroundColor: COLORS.energy },
          ],
        },
        options: { datasets: { bar: { maxBarThickness: 56 } }, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: u.name } } } },
      });
    }
  }

  return { el, load, destroy: () => { if (chart) chart.destroy(); if (progress) progress.destroy(); if (off) off(); } };
}
