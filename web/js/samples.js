// samples.js — the board's labeled samples: a gallery grouped by label (the picture is the
// sample as the board sees it: resized and quantized for its model), relabel and delete,
// upload by drag and drop or file choice (PNG, JPEG, PGM/PPM, BMP; the gateway decodes, resizes
// and quantizes them for the board's active model), and, on a board with a camera, a picture
// taken by the board itself (POST /api/devices/{id}/capture; it arrives as a new sample).

import { api, get, post, del, hasToken } from "./api.js";
import { h, clear, toast, emptyState } from "./ui.js";

const PAGE = 500;
const FIRST_SHOWN = 24; // pictures shown before "Show all"
const MAX_SHOWN = 240; // pictures drawn at once; the counts cover every sample

export function samplesSection(ctx) {
  const el = h("section", { class: "card", id: "samples-section", "aria-labelledby": "samples-title" });
  let samples = [];
  let total = 0;
  let filter = "";
  let uploading = false;
  let showAll = false;

  async function fetchAll() {
    const all = [];
    let after = 0;
    for (;;) {
      const doc = await get(`/api/devices/${ctx.id}/samples?after=${after}&limit=${PAGE}`);
      all.push(...doc.samples);
      total = doc.total;
      if (doc.next_after === null || doc.samples.length === 0) break;
      after = doc.next_after;
    }
    return all;
  }

  async function uploadFiles(files, label) {
    if (!hasToken()) { window.dispatchEvent(new Event("microt-ask-token")); return; }
    label = label.trim();
    if (!label) { toast("Type the label of these pictures first (for example: sneaker).", true); return; }
    const list = [...files];
    if (!list.length) return;
    uploading = true;
    const status = el.querySelector("#upload-status");
    let ok = 0, failed = 0, lastErr = "";
    for (const [i, f] of list.entries()) {
      status.textContent = `Uploading ${i + 1} of ${list.length}: ${f.name}`;
      const q = new URLSearchParams({ label, source: f.name });
      try {
        await api("POST", `/api/devices/${ctx.id}/samples?${q}`, f);
        ok++;
      } catch (e) { failed++; lastErr = `${f.name}: ${e.message}`; }
    }
    uploading = false;
    status.textContent = `${ok} added as “${label}”` + (failed ? `, ${failed} refused (${lastErr})` : ".");
    if (failed) toast(lastErr, true);
    load();
  }

  // The board labels a capture only with one of its trained classes; any other label is given
  // afterwards by relabeling the new (unlabeled) sample.
  async function capture(label) {
    if (!hasToken()) { window.dispatchEvent(new Event("microt-ask-token")); return; }
    const status = el.querySelector("#upload-status");
    label = label.trim();
    let classes = [];
    try { classes = (await get(`/api/devices/${ctx.id}/decision`)).classes || []; } catch { /* untrained */ }
    const body = label && classes.includes(label) ? { label } : {};
    try {
      await post(`/api/devices/${ctx.id}/capture`, body);
      status.textContent = body.label
        ? `The board is sending its picture, labeled “${label}”.`
        : "The board is sending its picture; it appears below as “unlabeled”" +
          (label ? ` (“${label}” is not one of its trained classes: relabel it there).` : ": give it a label there.");
    } catch (e) { status.textContent = e.message; toast(e.message, true); }
  }

  async function relabel(s, input) {
    const label = input.value.trim();
    if (!label || label === s.label) return;
    try {
      await api("PATCH", `/api/devices/${ctx.id}/samples/${s.id}`, { label });
      toast(`Sample ${s.id} is now “${label}”.`);
    } catch (e) { toast(e.message, true); input.value = s.label; }
  }

  async function remove(s) {
    try {
      await del(`/api/devices/${ctx.id}/samples/${s.id}`);
      toast(`Sample ${s.id} deleted.`);
    } catch (e) { toast(e.message, true); }
  }

  function card(s) {
    const can = hasToken();
    const input = h("input", { type: "text", value: s.label, "aria-label": `Label of sample ${s.id}`, maxlength: 64,
      disabled: !can || undefined, list: "sample-labels",
      onkeydown: (e) => { if (e.key === "Enter") relabel(s, input); },
      onchange: () => relabel(s, input) });
    return h("li", { class: "sample", "data-id": s.id },
      h("img", { src: `/api/devices/${ctx.id}/samples/${s.id}/image`, alt: `${s.label} (sample ${s.id})`, loading: "lazy", width: 72, height: 72 }),
      input,
      h("span", { class: "source", title: s.source }, s.source),
      can ? h("button", { type: "button", class: "btn btn-small btn-danger", "aria-label": `Delete sample ${s.id} (${s.label})`, onclick: () => remove(s) }, "Delete") : null);
  }

  function paint() {
    const labels = new Map();
    for (const s of samples) labels.set(s.label, (labels.get(s.label) || 0) + 1);
    const can = hasToken();
    const labelInput = h("input", { type: "text", id: "upload-label", placeholder: "e.g. sneaker", maxlength: 64, list: "sample-labels", disabled: !can || undefined });
    const fileInput = h("input", { type: "file", id: "upload-files", multiple: true, accept: "image/*,.pgm,.ppm", class: "visually-hidden",
      disabled: !can || undefined, onchange: (e) => uploadFiles(e.target.files, labelInput.value) });
    const drop = h("div", { class: "dropzone" + (can ? "" : " disabled"), id: "sample-drop", tabindex: can ? 0 : -1, role: "button",
      "aria-label": "Add pictures: drop image files here or press Enter to choose them",
      onclick: () => can && fileInput.click(),
      onkeydown: (e) => { if (can && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); fileInput.click(); } },
      ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
      ondragleave: () => drop.classList.remove("over"),
      ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); if (can) uploadFiles(e.dataTransfer.files, labelInput.value); } },
      h("b", {}, "Drop pictures here"), h("span", {}, " or click to choose files (PNG, JPEG, PGM/PPM)"));

    // Newest first: what was just added is in view.
    const shown = samples.filter((s) => !filter || s.label === filter).sort((a, b) => b.id - a.id);
    const groups = h("div", { class: "label-filter", role: "group", "aria-label": "Show samples of one label" },
      h("button", { type: "button", class: "chip" + (filter ? "" : " on"), "aria-pressed": String(!filter), onclick: () => { filter = ""; paint(); } }, `All (${samples.length})`),
      [...labels.entries()].sort().map(([l, n]) => h("button", { type: "button", class: "chip" + (filter === l ? " on" : ""), "aria-pressed": String(filter === l),
        onclick: () => { filter = l; showAll = false; paint(); } }, `${l} (${n})`)));
    const limit = showAll ? MAX_SHOWN : FIRST_SHOWN;

    clear(el,
      h("h2", { id: "samples-title" }, "Samples ", h("span", { class: "sub" }, `${total} labeled picture${total === 1 ? "" : "s"} for this board`)),
      h("datalist", { id: "sample-labels" }, [...labels.keys()].map((l) => h("option", { value: l }))),
      h("div", { class: "upload" },
        h("div", { class: "field" }, h("label", { for: "upload-label" }, "Label of the pictures you add"), labelInput),
        drop, fileInput,
        (ctx.dev.capabilities || []).includes("capture")
          ? h("div", {}, h("button", { type: "button", class: "btn", id: "capture-button", disabled: !(can && ctx.dev.live) || undefined,
              onclick: () => capture(labelInput.value) }, "Take a picture with the board's camera"))
          : null,
        h("p", { id: "upload-status", class: "muted", role: "status" },
          !can ? "Unlock changes (top right) to add, relabel or delete samples."
            : !ctx.model?.model ? "The board needs a model first (see Model): samples are prepared for its input." : "")),
      samples.length === 0
        ? emptyState("No samples yet", "Type a label, then drop pictures of that class. Add a few pictures of each class " +
            "(at least two classes, ideally ten pictures or more each), then train the board.")
        : h("div", {}, groups,
            h("ul", { class: "gallery", id: "gallery" }, shown.slice(0, limit).map(card)),
            shown.length > limit && !showAll
              ? h("button", { type: "button", class: "btn", style: "margin-top:.6rem", onclick: () => { showAll = true; paint(); } },
                  `Show more (${Math.min(shown.length, MAX_SHOWN)} of ${shown.length})`)
              : shown.length > limit ? h("p", { class: "hint" }, `Showing ${limit} of ${shown.length}; choose a label above to see others.`) : null));
  }

  async function load() {
    try {
      samples = await fetchAll();
    } catch (e) {
      clear(el, h("h2", { id: "samples-title" }, "Samples"), h("p", { class: "error" }, e.message));
      return;
    }
    if (!uploading) paint();
  }

  return { el, load, destroy: () => {} };
}
