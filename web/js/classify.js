// classify.js — try the board: send it a picture and see what it answers, at which stage it
// stopped, how sure it was and what it cost (cycles and modeled energy); and the latest
// classifications with their exit rate and accuracy where a label was given.

import { api, get, hasToken } from "./api.js";
import { on } from "./live.js";
import { h, clear, toast, fmtPercent, fmtEnergyNj, fmtTime } from "./ui.js";

export function classifySection(ctx) {
  const el = h("section", { class: "card", id: "classify-section", "aria-labelledby": "classify-title" });
  const result = h("div", { id: "classify-result", "aria-live": "polite" });
  const recent = h("div", { id: "recent-inferences" });
  let preview = null, off = null, timer = null;

  async function classify(file, expected) {
    if (!hasToken()) { window.dispatchEvent(new Event("microt-ask-token")); return; }
    if (!file) { toast("Choose a picture first.", true); return; }
    if (preview) URL.revokeObjectURL(preview);
    preview = URL.createObjectURL(file);
    clear(result, h("p", { class: "muted" }, "The board is working…"));
    const q = new URLSearchParams({ source: file.name });
    if (expected) q.set("expected", expected);
    try {
      const r = await api("POST", `/api/devices/${ctx.id}/classify?${q}`, file);
      const mhz = ctx.dev.cpu_hz ? ctx.dev.cpu_hz / 1e6 : 0;
      clear(result, h("div", { class: "classify-out" },
        // Browsers draw PNG/JPEG but not PGM/PPM: then the preview is left out.
        h("img", { src: preview, alt: `The picture sent: ${file.name}`, width: 96, height: 96, onerror: (e) => e.target.remove() }),
        h("dl", { class: "facts" },
          h("dt", {}, "Answer"), h("dd", { id: "classify-label" }, h("b", {}, r.label ?? `class ${r.class}`),
            r.correct === true ? h("span", { class: "ok-text" }, " ✓ as expected") : r.correct === false ? h("span", { class: "error-text" }, ` ✗ expected ${r.expected}`) : null),
          h("dt", {}, "Confidence"), h("dd", {}, fmtPercent(r.confidence)),
          h("dt", {}, "Stopped at"), h("dd", { id: "classify-stage" }, r.stage === 1
            ? "stage 1: the small first part was sure enough, the rest was skipped"
            : "stage 2: the first part was not sure enough, the whole network ran"),
          h("dt", {}, "Cycles"), h("dd", {}, `${r.cycles.toLocaleString()}${mhz ? ` (${(r.cycles / mhz / 1000).toFixed(1)} ms at ${mhz.toFixed(0)} MHz)` : ""}`),
          h("dt", {}, "Energy"), h("dd", {}, fmtEnergyNj(r.energy_nj)))));
    } catch (e) {
      clear(result, h("p", { class: "error", role: "alert" }, e.message));
    }
  }

  async function loadRecent() {
    let doc;
    try { doc = await get(`/api/devices/${ctx.id}/inferences?limit=10`); } catch (e) { clear(recent, h("p", { class: "error" }, e.message)); return; }
    const s = doc.summary;
    if (!doc.inferences.length) { clear(recent); return; }
    clear(recent,
      h("h3", {}, "Latest classifications"),
      h("p", { class: "muted" }, `Last ${s.count}: ${fmtPercent(s.exit_rate)} stopped at stage 1, ${fmtEnergyNj(s.mean_energy_uj * 1000)} each on average` +
        (s.labeled ? `, ${fmtPercent(s.accuracy)} right of ${s.labeled} with a known answer.` : ".")),
      h("div", { class: "table-wrap" }, h("table", { id: "inference-table" },
        h("thead", {}, h("tr", {}, ["When", "Picture", "Answer", "Confidence", "Stage", "Energy"].map((t, i) => h("th", { scope: "col", class: i >= 3 ? "num" : "" }, t)))),
        h("tbody", {}, doc.inferences.map((r) => h("tr", {},
          h("td", {}, fmtTime(r.at_ms)), h("td", {}, r.source),
          h("td", {}, r.label ?? `class ${r.class}`, r.correct === false ? h("span", { class: "error-text" }, ` (expected ${r.expected})`) : null),
          h("td", { class: "num" }, fmtPercent(r.confidence)), h("td", { class: "num" }, String(r.stage)),
          h("td", { class: "num" }, fmtEnergyNj(r.energy_nj))))))));
  }

  function load() {
    if (off) off();
    off = on("inference", (ev) => {
      if (ev.device !== ctx.id) return;
      clearTimeout(timer);
      timer = setTimeout(loadRecent, 200); // a burst of classifications redraws once
    });
    const can = hasToken() && ctx.dev.live;
    const file = h("input", { type: "file", id: "classify-file", accept: "image/*,.pgm,.ppm", disabled: !can || undefined });
    const expected = h("input", { type: "text", id: "classify-expected", placeholder: "optional", maxlength: 64, disabled: !can || undefined, list: "sample-labels" });
    clear(el,
      h("h2", { id: "classify-title" }, "Try it: classify a picture"),
      !hasToken() ? h("p", { class: "hint" }, "Unlock changes (top right) to send pictures to the board.")
        : !ctx.dev.live ? h("p", { class: "hint" }, "The board is offline.") : null,
      h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: "classify-file" }, "Picture"), file),
        h("div", { class: "field" }, h("label", { for: "classify-expected" }, "Right answer, if you know it"), expected),
        h("button", { type: "button", class: "btn btn-primary", id: "classify-button", disabled: !can || undefined,
          onclick: () => classify(file.files[0], expected.value.trim()) }, "Classify on the board")),
      result,
      recent);
    loadRecent();
  }

  return { el, load, destroy: () => { if (off) off(); clearTimeout(timer); if (preview) URL.revokeObjectURL(preview); } };
}

