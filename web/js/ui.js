// ui.js — small DOM and formatting helpers shared by the pages.
//
// h() builds elements from data with textContent only, never innerHTML, so a board's strings
// (ids, labels, error messages) can never inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`;
  return `${(n / 1048576).toFixed(2)} MiB`;
}

export function fmtHz(hz) {
  if (!hz) return "—";
  return hz >= 1e6 ? `${(hz / 1e6).toFixed(0)} MHz` : `${(hz / 1e3).toFixed(0)} kHz`;
}

// Energy given in nanojoules, shown in the unit that keeps 3 significant digits readable.
export function fmtEnergyNj(nj) {
  if (nj === undefined || nj === null || Number.isNaN(nj)) return "—";
  if (nj >= 1e9) return `${(nj / 1e9).toFixed(2)} J`;
  if (nj >= 1e6) return `${(nj / 1e6).toFixed(2)} mJ`;
  if (nj >= 1e3) return `${(nj / 1e3).toFixed(1)} µJ`;
  return `${Math.round(nj)} nJ`;
}

export function fmtPercent(x, digits = 1) {
  if (x === undefined || x === null || Number.isNaN(x)) return "—";
  return `${(x * 100).toFixed(digits)}%`;
}

export function fmtTime(ms) {
  if (!ms) return "—";
  return new Date(ms).toLocaleString();
}

export function fmtAgo(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 10) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// Board kinds as a person knows them (the API gives short names).
const BOARD_NAMES = {
  h7a3zi: "STM32H7A3ZI (Cortex-M7)",
  l4r5zi: "STM32L4R5ZI (Cortex-M4F)",
  "qemu-an386": "QEMU MPS2-AN386 (Cortex-M4)",
  "qemu-an500": "QEMU MPS2-AN500 (Cortex-M7)",
};
// The part alone, for narrow places (the table); the full name is in its title/label.
export function partName(short) {
  return (BOARD_NAMES[short] || short || "unknown").replace(/ \(.*\)$/, "");
}
export function boardName(short) {
  return BOARD_NAMES[short] || short || "unknown board";
}

const STATE_WORDS = {
  online: "Online",
  offline: "Offline",
  busy: "Busy",
  bootloader: "Flashing",
};
const STATE_HELP = {
  online: "Connected and answering.",
  offline: "Not connected now. It comes back by itself when the board is plugged in again.",
  busy: "Connected, running a job (training, model push or flash).",
  bootloader: "In the ROM bootloader, its firmware being written.",
};
export function stateBadge(state) {
  return h("span", { class: `badge ${state}`, title: STATE_HELP[state] || "" }, STATE_WORDS[state] || state);
}

// The unit that keeps a chart's energy axis readable, given its largest value in µJ.
export function energyUnit(maxUj) {
  if (maxUj >= 1e6) return { name: "J", per: 1e6 };
  if (maxUj >= 1e3) return { name: "mJ", per: 1e3 };
  return { name: "µJ", per: 1 };
}

export function toast(text, bad = false) {
  const box = document.getElementById("toasts");
  const t = h("div", { class: "toast" + (bad ? " bad" : "") }, text);
  box.append(t);
  setTimeout(() => t.remove(), bad ? 8000 : 4000);
}

export function emptyState(title, ...lines) {
  return h("div", { class: "empty" }, h("strong", {}, title), lines.map((l) => h("p", {}, l)));
}
