// model.js — the board's model: what is active, and giving it another one (upload a .tflite
// or pick one the gateway already has), with the push's progress. The gateway checks that the
// model fits the board's flash and SRAM before sending a byte, and says why when it does not.

import { api, get, post, hasToken } from "./api.js";
import { h, clear, fmtBytes, fmtTime, toast, emptyState } from "./ui.js";
import { jobProgress } from "./jobs.js";

export function modelSection(ctx) {
  const el = h("section", { class: "card", id: "model-section", "aria-labelledby": "model-title" });
  let progress = null;

  function pushStarted(doc) {
    if (progress) progress.destroy();
    progress = jobProgress(doc.job.id, {
      title: "Sending the model",
      onEnd: (j) => {
        if (j.state === "done") toast("The board runs the new model.");
        else toast(`The model push ${j.state}: ${j.error || ""}`, true);
        ctx.refresh();
      },
    });
    load();
  }

  async function upload(file, cut) {
    if (!file) return;
    const q = new URLSearchParams({ name: file.name });
    if (cut) q.set("cut", cut);
    try {
      const doc = await api("POST", `/api/devices/${ctx.id}/model?${q}`, file);
      toast(`Model accepted (${fmtBytes(doc.model.image_bytes)}); sending it to the board.`);
      pushStarted(doc);
    } catch (e) { toast(e.message, true); }
  }

  async function load() {
    let cur = null, models = [], jobs = [];
    try {
      [cur, models, jobs] = await Promise.all([
        get(`/api/devices/${ctx.id}/model`),
        get("/api/models").then((d) => d.models),
        get(`/api/jobs?device=${ctx.id}&limit=5`).then((d) => d.jobs),
      ]);
    } catch (e) {
      clear(el, h("h2", { id: "model-title" }, "Model"), h("p", { class: "error" }, e.message));
      return;
    }
    ctx.model = cur;
    const m = cur.model;
    const running = jobs.find((j) => j.kind === "push" && (j.state === "running" || j.state === "queued"));
    if (running && progress?.jobId !== running.id) {
      if (progress) progress.destroy();
      progress = jobProgress(running.id, { title: "Sending the model", onEnd: () => ctx.refresh() });
    }

    const can = hasToken() && ctx.dev.live;
    const file = h("input", { type: "file", id: "model-file", accept: ".tflite", disabled: !can || undefined });
    const cut = h("input", { type: "text", id: "model-cut", placeholder: "e.g. blocks.8", disabled: !can || undefined, size: 18 });
    const pick = h("select", { id: "model-pick", disabled: !can || !models.length || undefined },
      h("option", { value: "" }, models.length ? "Choose a model the gateway has" : "No models stored yet"),
      models.map((x) => h("option", { value: x.sha256 }, `${x.source_name} (${fmtBytes(x.image_bytes)}, ${x.sha256.slice(0, 8)})`)));

    clear(el,
      h("h2", { id: "model-title" }, "Model"),
      m
        ? h("dl", { class: "facts" },
            h("dt", {}, "Active"), h("dd", {}, m.source_name, " ", h("span", { class: "mono muted" }, m.sha256.slice(0, 12))),
            h("dt", {}, "Size on the board"), h("dd", {}, `${fmtBytes(m.image_bytes)} of flash, ${fmtBytes(m.arena_bytes)} of SRAM while running`),
            h("dt", {}, "Input"), h("dd", {}, `${m.input_shape[0]}×${m.input_shape[1]} pixels, ${m.input_shape[2] === 3 ? "colour" : "grey"}`),
            h("dt", {}, "Features"), h("dd", {}, `${m.part_dim} after stage 1, ${m.full_dim} after stage 2`),
            h("dt", {}, "Work per image"), h("dd", {}, `${(m.macs_stage1 / 1e6).toFixed(1)} M multiply-adds in stage 1, ${(m.macs_stage2 / 1e6).toFixed(1)} M more in stage 2`),
            h("dt", {}, "Imported"), h("dd", {}, fmtTime(m.created_ms)))
        : emptyState("No model yet",
            "A model is the int8 .tflite network the board runs. Upload one below (for example proxyless-w0.3.tflite); " +
            "the gateway checks that it fits this board, then sends it."),
      progress ? progress.el : null,
      h("h3", {}, "Give the board a model"),
      !hasToken() ? h("p", { class: "hint" }, "Unlock changes (top right) to send a model.") : null,
      hasToken() && !ctx.dev.live ? h("p", { class: "hint" }, "The board is offline: a model can be sent when it is back.") : null,
      h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: "model-file" }, "Upload a .tflite file"), file),
        h("div", { class: "field" }, h("label", { for: "model-cut" }, "Stage 1 ends after (optional)"), cut),
        h("button", { type: "button", class: "btn btn-primary", disabled: !can || undefined, id: "model-upload",
          onclick: () => file.files[0] ? upload(file.files[0], cut.value.trim()) : toast("Choose a .tflite file first.", true) }, "Upload and send")),
      models.length ? h("div", { class: "row", style: "margin-top:.75rem" },
        h("div", { class: "field" }, h("label", { for: "model-pick" }, "Or send a stored model"), pick),
        h("button", { type: "button", class: "btn", disabled: !can || undefined, onclick: async () => {
          if (!pick.value) { toast("Choose a model first.", true); return; }
          try { pushStarted(await post(`/api/devices/${ctx.id}/model/push`, { model: pick.value })); } catch (e) { toast(e.message, true); }
        } }, "Send")) : null,
      h("p", { class: "hint" }, "“Stage 1 ends after” names the block or tensor where the small first stage stops " +
        "(for example blocks.8); empty means the gateway's default cut for that model. " +
        "The old model keeps working until the new one is complete and verified on the board. " +
        "An interrupted transfer continues where it stopped."));
  }

  return { el, load, destroy: () => progress && progress.destroy() };
}
