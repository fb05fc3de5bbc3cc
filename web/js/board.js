// board.js — one board's page: who it is and how much of its memory the model takes, its state
// history, and (sections in their own modules) the work a person does with it. Every section
// re-reads its data when the event stream says something about this board changed.

import { get, post, hasToken } from "./api.js";
import { on } from "./live.js";
import { h, clear, stateBadge, boardName, fmtBytes, fmtHz, fmtTime, fmtAgo, toast, emptyState } from "./ui.js";

const CAPS = {
  model: "receives models", train: "trains on the board", infer: "classifies",
  capture: "has a camera", bootloader: "can be flashed",
};

const REASONS = { "link lost": "the connection was lost", "no answer": "it stopped answering" };

function meter(label, used, total, what) {
  const frac = total > 0 ? Math.min(1, used / total) : 0;
  const id = "m-" + label.replace(/\W+/g, "-").toLowerCase();
  return h("div", { class: "meter" },
    h("div", { class: "label", id },
      h("span", {}, h("b", {}, label)),
      h("span", {}, `${fmtBytes(used)} of ${fmtBytes(total)} (${(frac * 100).toFixed(0)}%)`)),
    h("div", { class: "bar" + (frac > 0.85 ? " high" : ""), role: "meter", "aria-labelledby": id,
      "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": used },
      h("span", { style: `width:${(frac * 100).toFixed(1)}%` })),
    what ? h("p", { class: "hint" }, what) : null);
}

export function show(main, id) {
  const head = h("div", { class: "board-head" });
  const identity = h("section", { class: "card", "aria-labelledby": "identity-title" });
  const memory = h("section", { class: "card", "aria-labelledby": "memory-title" });
  const history = h("section", { class: "card", "aria-labelledby": "history-title" });
  let dev = null;

  clear(main,
    h("a", { class: "back", href: "#/" }, "← All boards"),
    head,
    h("div", { class: "grid" }, identity, memory),
    history);

  function paintHead() {
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
    const l = dev.live;
    const caps = (dev.capabilities || []).map((c) => CAPS[c] || c);
    clear(identity,
      h("h2", { id: "identity-title" }, "Identity"),
      h("dl", { class: "facts" },
        h("dt", {}, "Board"), h("dd", {}, boardName(dev.board)),
        h("dt", {}, "Firmware"), h("dd", { class: "mono" }, dev.firmware_version || "—"),
        h("dt", {}, "CPU clock"), h("dd", {}, fmtHz(dev.cpu_hz)),
        h("dt", {}, "Can"), h("dd", {}, caps.length ? caps.join(", ") : "only answer pings (no capabilities reported)"),
        h("dt", {}, "Port"), h("dd", { class: "mono" }, dev.port || "—"),
        h("dt", {}, "Active model"), h("dd", { class: "mono" }, l?.active_model_sha256 ? l.active_model_sha256.slice(0, 16) + "…" : (l ? "none yet" : "unknown while offline")),
        h("dt", {}, "Round trip"), h("dd", {}, l ? `${(l.rtt_us / 1000).toFixed(1)} ms` : "—"),
        h("dt", {}, "Boots"), h("dd", {}, l ? String(l.boot_count) : "—"),
        h("dt", {}, "First seen"), h("dd", {}, fmtTime(dev.first_seen_ms)),
        h("dt", {}, "Last seen"), h("dd", {}, dev.state === "offline" ? fmtAgo(dev.last_seen_ms) : "now")));
  }

  function paintMemory() {
    const l = dev.live;
    if (!l) {
      clear(memory, h("h2", { id: "memory-title" }, "Memory"),
        meter("Flash", 0, dev.flash_bytes, null),
        h("p", { class: "muted" }, `This part has ${fmtBytes(dev.flash_bytes)} of flash and ${fmtBytes(dev.sram_bytes)} of SRAM. ` +
          "How much the model uses shows when the board is online."));
      return;
    }
    clear(memory,
      h("h2", { id: "memory-title" }, "Memory"),
      meter("Flash: model slot", l.model_slot_bytes, dev.flash_bytes,
        "Room reserved in flash for one model. There are two slots, so the old model keeps working while a new one arrives."),
      meter("SRAM: model working memory", l.arena_bytes, dev.sram_bytes,
        l.arena_bytes ? "Activations of the running model." : "No model running yet: push one to use it."));
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

  async function load() {
    try {
      dev = await get(`/api/devices/${id}`);
    } catch (e) {
      clear(main, h("a", { class: "back", href: "#/" }, "← All boards"),
        e.status === 404
          ? emptyState("This board is unknown", "The gateway has never seen a board with this ID. Go back to the list of boards.")
          : h("p", { class: "error", role: "alert" }, e.message));
      return;
    }
    paintHead();
    paintIdentity();
    paintMemory();
    paintHistory(dev.recent_transitions || []);
  }

  const offs = [
    on("device", (ev) => { if (ev.device === id) load(); }),
    on("resync", load),
  ];
  window.addEventListener("microt-token", load);
  load();
  return () => { offs.forEach((f) => f()); window.removeEventListener("microt-token", load); };
}
