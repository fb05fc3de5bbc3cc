// fleet.js — the Boards page: every board the gateway has seen, its state and its numbers,
// sortable and filterable, kept current by the event stream (a "device" event re-reads that one
// board; a resync re-reads the list).

import { get } from "./api.js";
import { on } from "./live.js";
import { h, clear, stateBadge, boardName, partName, fmtAgo, fmtPercent, fmtEnergyNj, emptyState } from "./ui.js";

// What a column shows and how it sorts. value(d) is the sort key (undefined sorts last).
const COLUMNS = [
  { key: "board", title: "Board", value: (d) => d.board + d.id },
  { key: "state", title: "State", value: (d) => d.state },
  { key: "firmware", title: "Firmware", value: (d) => d.firmware_version },
  { key: "model", title: "Model", value: (d) => modelOf(d) },
  { key: "seen", title: "Last seen", num: true, value: (d) => d.last_seen_ms },
];

function modelOf(d) {
  const sha = d.live?.active_model_sha256;
  return sha ? sha.slice(0, 12) : undefined;
}

function cell(col, d) {
  switch (col.key) {
    case "board":
      return h("td", { "data-label": col.title },
        h("a", { class: "board-link", href: `#/board/${d.id}`, "aria-label": `${boardName(d.board)} ${d.id}` },
          partName(d.board)),
        h("span", { class: "id-short mono", title: d.id }, d.id));
    case "state":
      return h("td", { "data-label": col.title }, stateBadge(d.state));
    case "firmware":
      return h("td", { "data-label": col.title, class: "mono" }, d.firmware_version || "—");
    case "model": {
      const m = modelOf(d);
      return h("td", { "data-label": col.title, class: m ? "mono" : "muted", title: d.live?.active_model_sha256 || "" },
        m || (d.live ? "none yet" : "—"));
    }
    case "seen":
      return h("td", { "data-label": col.title, class: "num", title: new Date(d.last_seen_ms).toLocaleString() },
        d.state === "offline" ? fmtAgo(d.last_seen_ms) : "now");
  }
  return h("td");
}

export function show(main) {
  const devices = new Map(); // id -> device JSON
  let sortKey = "board", sortDir = 1;
  let text = "", stateFilter = "all";
  let loaded = false, loadError = null;

  const summary = h("div", { class: "summary", "aria-label": "Fleet summary" });
  const search = h("input", { type: "search", id: "filter-text", placeholder: "id, board or firmware",
    oninput: (e) => { text = e.target.value.trim().toLowerCase(); paint(); } });
  const stateSel = h("select", { id: "filter-state", onchange: (e) => { stateFilter = e.target.value; paint(); } },
    h("option", { value: "all" }, "All states"),
    h("option", { value: "online" }, "Online"),
    h("option", { value: "busy" }, "Busy"),
    h("option", { value: "bootloader" }, "Flashing"),
    h("option", { value: "offline" }, "Offline"));
  const count = h("p", { class: "muted", role: "status", "aria-live": "polite", id: "fleet-count" });
  const body = h("div", { id: "fleet-body" });

  clear(main,
    h("h1", {}, "Boards"),
    h("p", { class: "muted" }, "Every board this gateway has seen. Click a board to see its memory, " +
      "choose how much accuracy to trade for energy, manage its samples and train it."),
    summary,
    h("div", { class: "filters", role: "search" },
      h("div", { class: "field" }, h("label", { for: "filter-text" }, "Find"), search),
      h("div", { class: "field" }, h("label", { for: "filter-state" }, "State"), stateSel)),
    count,
    body);

  function paintSummary() {
    const all = [...devices.values()];
    const n = (s) => all.filter((d) => d.state === s).length;
    clear(summary,
      [["Boards", all.length], ["Online", n("online")], ["Busy", n("busy") + n("bootloader")], ["Offline", n("offline")]]
        .map(([label, v]) => h("div", { class: "stat" }, h("b", {}, String(v)), h("span", {}, label))));
  }

  function paint() {
    paintSummary();
    if (loadError) {
      clear(body, h("p", { class: "error", role: "alert" }, loadError));
      return;
    }
    if (!loaded) { clear(body, h("p", { class: "loading" }, "Loading the boards…")); return; }
    if (devices.size === 0) {
      clear(count);
      clear(body, emptyState("No boards yet",
        "Plug a MicroT board into this gateway's USB, or start simulated boards with make run.",
        "Boards appear here by themselves as soon as they say hello; there is no need to reload."));
      return;
    }
    let rows = [...devices.values()].filter((d) =>
      (stateFilter === "all" || d.state === stateFilter) &&
      (!text || [d.id, d.board, boardName(d.board), d.firmware_version, d.port].join(" ").toLowerCase().includes(text)));
    const col = COLUMNS.find((c) => c.key === sortKey);
    rows.sort((a, b) => {
      const va = col.value(a), vb = col.value(b);
      if (va === vb) return a.id < b.id ? -1 : 1;
      if (va === undefined) return 1;
      if (vb === undefined) return -1;
      return (va < vb ? -1 : 1) * sortDir;
    });
    count.textContent = rows.length === devices.size
      ? `${rows.length} board${rows.length === 1 ? "" : "s"}`
      : `${rows.length} of ${devices.size} boards match`;
    if (rows.length === 0) {
      clear(body, emptyState("No board matches", "Clear the search box or choose All states."));
      return;
    }
    const head = h("tr", {}, COLUMNS.map((c) =>
      h("th", { scope: "col", class: c.num ? "num" : "", "aria-sort": c.key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none" },
        h("button", { type: "button", onclick: () => { if (sortKey === c.key) sortDir = -sortDir; else { sortKey = c.key; sortDir = 1; } paint(); } }, c.title))));
    clear(body, h("div", { class: "table-wrap" },
      h("table", { class: "fleet-table", id: "fleet-table" },
        h("caption", { class: "muted", style: "text-align:left;caption-side:bottom;padding-top:.5rem" },
          "Sort by clicking a column title. “—” means the board has not reported that yet."),
        h("thead", {}, head),
        h("tbody", {}, rows.map((d) => h("tr", { "data-id": d.id, "data-state": d.state }, COLUMNS.map((c) => cell(c, d))))))));
  }

  async function loadAll() {
    try {
      const list = [];
      for (let offset = 0; ; ) {
        const page = await get(`/api/devices?offset=${offset}&limit=500`);
        list.push(...page.devices);
        offset += page.devices.length;
        if (page.devices.length === 0 || offset >= page.total) break;
      }
      devices.clear();
      for (const d of list) devices.set(d.id, d);
      loaded = true;
      loadError = null;
    } catch (e) {
      loadError = e.message;
    }
    paint();
  }

  async function loadOne(id) {
    try {
      const d = await get(`/api/devices/${id}`);
      devices.set(d.id, d);
      paint();
    } catch (e) {
      if (e.status !== 404) loadAll();
    }
  }

  const offs = [
    on("device", (ev) => ev.device && loadOne(ev.device)),
    on("resync", loadAll),
  ];
  // "Last seen" of offline boards ages while the page is open; repaint it once a minute (no
  // request: the data is unchanged).
  const ager = setInterval(paint, 60000);
  paint();
  loadAll();
  return () => { offs.forEach((f) => f()); clearInterval(ager); };
}
