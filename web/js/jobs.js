// jobs.js — long work on a board (model push, training) as the page shows it: a progress bar
// that follows the job's events, and the words for its phases and states.

import { get } from "./api.js";
import { on } from "./live.js";
import { h, fmtBytes } from "./ui.js";

const PHASES = {
  connect: "Connecting",
  transfer: "Sending the model",
  verify: "Checking the model on the board",
  reset: "Preparing the board",
  samples: "Sending samples (the board computes their features)",
  train: "Training the two heads",
  enter: "Restarting the board into its bootloader",
  compare: "Reading what the board already holds",
  erase: "Erasing flash pages",
  write: "Writing and verifying pages",
  go: "Starting the new firmware",
  boot: "Waiting for the board to say hello",
  "": "Waiting to start",
};

const STATES = {
  queued: "Waiting", running: "Running", done: "Done", failed: "Failed", interrupted: "Interrupted",
};

export function stateWord(s) {
  return STATES[s] || s;
}

export function phaseWord(p) {
  return PHASES[p] ?? p;
}

// A live view of one job: label, bar and numbers. onEnd(job) runs once when it finishes.
// Returns { el, destroy }.
export function jobProgress(jobId, { title, onEnd } = {}) {
  const label = h("span", {}, "Starting…");
  const numbers = h("span", { class: "muted" });
  const bar = h("span", { style: "width:0%" });
  const meter = h("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0, "aria-label": title || "Progress" }, bar);
  const el = h("div", { class: "meter job-progress", "data-job": jobId },
    h("div", { class: "label" }, h("span", {}, h("b", {}, title || "Job"), " — ", label), numbers), meter);
  let ended = false;
  let kind = "";

  function paint(j) {
    if (j.kind) kind = j.kind;
    const state = j.state || "running";
    const done = j.progress?.done ?? j.done ?? 0;
    const total = j.progress?.total ?? j.total ?? 0;
    const phase = j.progress?.phase ?? j.phase ?? "";
    let frac = total > 0 ? done / total : 0;
    if (state === "done") frac = 1;
    bar.style.width = `${(frac * 100).toFixed(1)}%`;
    meter.setAttribute("aria-valuenow", Math.round(frac * 100));
    if (state === "running") {
      label.textContent = phaseWord(phase);
      numbers.textContent = total > 0
        ? (kind === "push" || kind === "flash" || phase === "transfer" ? `${fmtBytes(done)} of ${fmtBytes(total)}` : `${done} of ${total}`) + ` (${Math.round(frac * 100)}%)`
        : "";
    } else {
      label.textContent = stateWord(state) + (j.error ? `: ${j.error}` : "");
      numbers.textContent = "";
    }
    if (!ended && ["done", "failed", "interrupted"].includes(state)) {
      ended = true;
      // The event carries the state only: read the whole row (result, error) once.
      get(`/api/jobs/${jobId}`).then((full) => {
        label.textContent = stateWord(full.state) + (full.error ? `: ${full.error}` : "");
        if (onEnd) onEnd(full);
      }).catch(() => onEnd && onEnd(j));
    }
  }

  const off = on("job", (ev) => { if (ev.job === jobId) paint(ev); });
  // The job may have moved before we subscribed: read it once now.
  get(`/api/jobs/${jobId}`).then(paint).catch(() => {});
  return { el, jobId, destroy: off };
}
