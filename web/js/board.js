// board.js — one board's page: who it is and how much of its memory the model takes, the
// next step to take with it, and the sections for the work a person does (each in its own
// module): the accuracy/energy decision, activity, samples, training, trying a picture, the
// model, the firmware. Sections re-read their data when the event stream says something about this board
// changed; nothing polls.

import { get, post, hasToken } from "./api.js";
import { on } from "./live.js";
import { h, clear, stateBadge, boardName, fmtBytes, fmtHz, fmtTime, fmtAgo, toast, emptyState } from "./ui.js";
import { decisionSection } from "./decision.js";
import { activitySection } from "./activity.js";
import { samplesSection } from "./samples.js";
import { trainingSection } from "./training.js";
import { classifySection } from "./classify.js";
import { modelSection } from "./model.js";
import { firmwareSection } from "./firmware.js";

const CAPS = {
  model: "receive models", train: "train on the board", infer: "classify",
  capture: "take pictures", bootloader: "be flashed",
};

const REASONS = { "link lost": "the connection was lost", "no answer": "it stopped answering" };

function meter(label, used, total, what) {
  const frac = total > 0 ? Math.min(1, used / total) : 0;
  const id = "m-" + label.replace(/\W+/g, "-").toLowerCase();
  return h("div", { class: "meter" },
    h("div", { class: "label", id },
      h("span", {}, h("b", {}, label)),
      h("span", {}, `${fmtBytes(used)} of ${fmtBytes(total)} (${(frac * 100).toFixed(frac > 0 && frac < 0.01 ? 1 : 0)}%)`)),
    h("div", { class: "bar" + (frac > 0.85 ? " high" : ""), role: "meter", "aria-labelledby": id,
      "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": used },
      h("span", { style: `width:${(frac * 100).toFixed(1)}%` })),
    what ? h("p", { class: "hint" }, what) : null);
}

export function show(main, id) {
  const head = h("div", { class: "board-head" });
  const next = h("div", { id: "next-step" });
  const identity = h("section", { class: "card", "aria-labelledby": "identity-title" });
  const memory = h("section", { class: "card", "aria-labelledby": "memory-title" });
  const history = h("section", { class: "card", "aria-labelledby": "history-title" });
  const ctx = { id, dev: null, model: null, refresh: null };
  let built = false;

  const sections = {
    decision: decisionSection(ctx),
    activity: activitySection(ctx),
    samples: samplesSection(ctx),
    training: trainingSection(ctx),
    classify: classifySection(ctx),
    model: modelSection(ctx),
    firmware: firmwareSection(ctx),
  };

  function paintHead() {
    const dev = ctx.dev;
    const ping = h("button", { type: "button", class: "btn btn-small", id: "ping-button",
      disabled: !dev.live || undefined,
      title: dev.live ? "Send a ping and measure the round trip" : "The board is not connected",
      onclick: async () => {
        if (!hasToken()) { window.dispatchEvent(new Event("microt-ask-token")); return; }
        try {
          const r = await post(`/api/devices/${id}/ping`, {});
          toast(`The board answered in ${(r.rtt_us / 1000).toFixed(1)} ms.`);
        } catch (e) { toast(e.message, true); }
      } }, "Ping");
    clear(head,
      h("h1", {}, boardName(dev.board)),
      stateBadge(dev.state),
      h("span", { class: "id mono", title: "The MCU's unique ID: the board's name everywhere in the gateway" }, dev.id),
      ping);
    document.title = `${boardName(dev.board)} ${dev.id.slice(-6)} · MicroT gateway`;
  }

  function paintIdentity() {
    const dev = ctx.dev, l = dev.live;
    const caps = (dev.capabilities || []).map((c) => CAPS[c] || c);
    clear(identity,
      h("h2", { id: "identity-title" }, "Identity"),
      h("dl", { class: "facts" },
        h("dt", {}, "Board"), h("dd", {}, boardName(dev.board)),
        h("dt", {}, "Firmware"), h("dd", { class: "mono" }, dev.firmware_version || "—"),
        h("dt", {}, "CPU clock"), h("dd", {}, fmtHz(dev.cpu_hz)),
        h("dt", {}, "It can"), h("dd", {}, caps.length ? caps.join(", ") : "answer pings (no other capability reported)"),
        h("dt", {}, "Port"), h("dd", { class: "mono" }, dev.port || "—"),
        h("dt", {}, "Round trip"), h("dd", {}, l ? `${(l.rtt_us / 1000).toFixed(1)} ms` : "—"),
        h("dt", {}, "Boots"), h("dd", {}, l ? String(l.boot_count) : "—"),
        h("dt", {}, "First seen"), h("dd", {}, fmtTime(dev.first_seen_ms)),
        h("dt", {}, "Last seen"), h("dd", {}, dev.state === "offline" ? fmtAgo(dev.last_seen_ms) : "now")));
  }

  function paintMemory() {
    const dev = ctx.dev, l = dev.live, m = ctx.model?.model;
    const parts = [h("h2", { id: "memory-title" }, "Memory")];
    if (m) {
      parts.push(
        meter("Flash used by the model", m.image_bytes, dev.flash_bytes,
          `Weights and layout of ${m.source_name}.` + (l ? ` Each of the two model slots holds up to ${fmtBytes(l.model_slot_bytes)}.` : "")),
        meter("SRAM used while it runs", m.arena_bytes, dev.sram_bytes,
          `Activations of the network (stage 1 alone needs ${fmtBytes(m.arena_stage1_bytes)}).`));
    } else if (l) {
      parts.push(
        meter("Flash: one model slot", l.model_slot_bytes, dev.flash_bytes,
          "Room for one model. There are two slots, so the old model keeps working while a new one arrives."),
        h("p", { class: "muted" }, `SRAM: ${fmtBytes(dev.sram_bytes)} on this part. No model yet, so none is used for one.`));
    } else {
      parts.push(h("p", { class: "muted" }, `This part has ${fmtBytes(dev.flash_bytes)} of flash and ${fmtBytes(dev.sram_bytes)} of SRAM. ` +
        "What the model uses shows when the board is online or has a model."));
    }
    clear(memory, ...parts);
  }

  // One sentence on what to do next with this board, from what the gateway knows.
  function paintNext(trainedJob, sampleCount) {
    let step = null;
    const go = (section, text) => h("button", { type: "button", class: "linklike", onclick: () => {
      const t = document.getElementById(section);
      t.scrollIntoView({ behavior: "smooth", block: "start" });
      t.setAttribute("tabindex", "-1");
      t.focus({ preventScroll: true });
    } }, text);
    if (ctx.dev.state === "bootloader") step = ["The board is being flashed, or waits in its bootloader.", [go("firmware-section", "Go to Firmware"), " to follow it or flash it again."]];
    else if (!ctx.dev.live) step = ["The board is offline.", "Plug it back in: it reconnects by itself and this page updates."];
    else if (!ctx.model?.model) step = ["Next: give the board a model.", [go("model-section", "Go to Model"), " and upload a .tflite file (for example proxyless-w0.3.tflite)."]];
    else if (sampleCount < 2) step = ["Next: add labeled samples.", [go("samples-section", "Go to Samples"), ", type a label and drop pictures of that class. Do this for two classes or more."]];
    else if (!trainedJob) step = ["Next: train the board.", [go("training-section", "Go to Training"), " and press Train now. It takes seconds to a minute."]];
    clear(next, step ? h("div", { class: "next card", role: "note" }, h("b", {}, step[0]), " ", step[1]) : null);
  }

  function paintHistory(transitions) {
    const items = transitions.map((t) => h("li", {},
      h("time", { datetime: new Date(t.at_ms).toISOString() }, fmtTime(t.at_ms)),
      stateBadge(t.to),
      h("span", { class: "muted" }, REASONS[t.reason] || t.reason)));
    clear(history,
      h("h2", { id: "history-title" }, "Connection history"),
      items.length ? h("ul", { class: "history" }, items) : emptyState("Nothing yet", "State changes appear here."));
  }

  async function loadDevice() {
    try {
      ctx.dev = await get(`/api/devices/${id}`);
    } catch (e) {
      clear(main, h("a", { class: "back", href: "#/" }, "← All boards"),
        e.status === 404
          ? emptyState("This board is unknown", "The gateway has never seen a board with this ID. Go back to the list of boards.")
          : h("p", { class: "error", role: "alert" }, e.message));
      return false;
    }
    return true;
  }

  async function loadModelAndNext() {
    let decision = null, sampleCount = 0;
    try {
      [ctx.model, decision, sampleCount] = await Promise.all([
        get(`/api/devices/${id}/model`),
        get(`/api/devices/${id}/decision`),
        get(`/api/devices/${id}/samples?limit=0`).then((d) => d.total),
      ]);
    } catch (e) { ctx.model = null; }
    paintMemory();
    paintNext(decision?.trained_job, sampleCount);
  }

  // Everything: on first show, on a token change and on the board's own state changes.
  async function refresh() {
    if (!(await loadDevice())) return;
    if (!built) {
      built = true;
      clear(main,
        h("a", { class: "back", href: "#/" }, "← All boards"),
        head, next,
        h("div", { class: "grid" }, identity, memory),
        sections.decision.el,
        sections.activity.el,
        sections.samples.el,
        sections.training.el,
        sections.classify.el,
        sections.model.el,
        sections.firmware.el,
        history);
    }
    paintHead();
    paintIdentity();
    paintHistory(ctx.dev.recent_transitions || []);
    await loadModelAndNext();
    for (const s of Object.values(sections)) s.load();
  }
  ctx.refresh = refresh;

  const offs = [
    on("device", (ev) => { if (ev.device === id) refresh(); }),
    on("resync", refresh),
    on("settings", (ev) => { if (ev.device === id) { sections.decision.update(); loadModelAndNext(); } }),
    on("sample", (ev) => { if (ev.device === id) { sections.samples.load(); loadModelAndNext(); } }),
  ];
  window.addEventListener("microt-token", refresh);
  clear(main, h("p", { class: "loading" }, "Loading the board…"));
  refresh();
  return () => {
    offs.forEach((f) => f());
    window.removeEventListener("microt-token", refresh);
    for (const s of Object.values(sections)) s.destroy();
  };
}
