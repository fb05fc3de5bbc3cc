// fleet.js — the Boards page: every board the gateway has seen, its state and its numbers,
// sortable and filterable, kept current by the event stream (a "device" event re-reads that one
// board; a resync re-reads the list).
//
// Besides the device list, each board's numbers come from the workflow's endpoints: the ratio in
// force (decision), the accuracy of its last training (that job's result), and its running
// counters (the latest stats reading: energy per inference and stage-1 exit rate since it
// booted). A board with a job queued or running shows as busy.

import { get } from "./api.js";
import { on } from "./live.js";
import { h, clear, stateBadge, boardName, partName, fmtAgo, fmtPercent, fmtEnergyNj, emptyState } from "./ui.js";

// What a column shows and how it sorts. value(d) is the sort key (undefined sorts last).
const COLUMNS = [
  { key: "board", title: "Board", value: (d) => d.board + d.id },
  { key: "state", title: "State", value: (d) => stateOf(d) },
  { key: "firmware", title: "Firmware", value: (d) => d.firmware_version },
  { key: "model", title: "Model", value: (d) => modelOf(d) },
  { key: "ratio", title: "Ratio", help: "Early-exit ratio in force: the share of images allowed to stop after stage 1",
    num: true, value: (d) => d.x?.ratio ?? undefined },
  { key: "accuracy", title: "Accuracy", help: "Accuracy of the last training on its held-out samples",
    num: true, value: (d) => d.x?.accuracy ?? undefined },
  { key: "energy", title: "Energy / inference", help: "Average energy of one inference since the board started",
    num: true, value: (d) => d.x?.energy_nj ?? undefined },
  { key: "exits", title: "Stage-1 exits", help: "Share of inferences that stopped after stage 1 since the board started",
    num: true, value: (d) => d.x?.exit_rate ?? undefined },
  { key: "seen", title: "Last seen", num: true, value: (d) => d.last_seen_ms },
];

let modelNames = new Map(); // sha256 -> source name

// The model the gateway put on the board (its record), else what the board said at hello.
function modelOf(d) {
  const sha = d.x?.model || d.live?.active_model_sha256;
  if (!sha) return undefined;
  return modelNames.get(sha) || sha.slice(0, 12);
}

// "busy" when the gateway runs a job on an online board.
function stateOf(d) {
  return d.state === "online" && d.x?.job ? "busy" : d.state;
}

function cell(col, d) {
  switch (col.key) {
    case "board":
      return h("td", { "data-label": col.title },
        h("a", { class: "board-link", href: `#/board/${d.id}`, "aria-label": `${boardName(d.board)} ${d.id}`, "data-focus": `board-${d.id}` },
          partName(d.board)),
        h("span", { class: "id-short mono", title: d.id }, d.id));
    case "state": {
      const j = d.x?.job;
      return h("td", { "data-label": col.title }, stateBadge(stateOf(d)),
        j && stateOf(d) === "busy" ? h("span", { class: "id-short" },
          `${j.kind === "train" ? "training" : j.kind === "push" ? "receiving a model" : j.kind === "flash" ? "flashing firmware" : j.kind}${j.total ? ` ${Math.round(100 * j.done / j.total)}%` : ""}`) : null);
    }
    case "firmware":
      return h("td", { "data-label": col.title, class: "mono" }, d.firmware_version || "—");
    case "model": {
      const m = modelOf(d);
      return h("td", { "data-label": col.title, class: m ? "" : "muted", title: d.x?.model || d.live?.active_model_sha256 || "" },
        m || (d.live ? "none yet" : "—"));
    }
    case "ratio": {
      const r = col.value(d);
      return h("td", { "data-label": col.title, class: "num" }, r === undefined ? "—" : r.toFixed(2));
    }
    case "accuracy":
      return h("td", { "data-label": col.title, class: "num" }, fmtPercent(col.value(d)));
    case "energy":
      return h("td", { "data-label": col.title, class: "num" }, fmtEnergyNj(col.value(d)));
    case "exits":
      return h("td", { "data-label": col.title, class: "num" }, fmtPercent(col.value(d)));
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
  // The column titles sort on wide screens; this does the same where the table is a list of cards.
  const sortSel = h("select", { id: "sort-by", onchange: (e) => {
    const [k, dir] = e.target.value.split(":");
    sortKey = k; sortDir = +dir; paint();
  } }, COLUMNS.flatMap((c) => [
    h("option", { value: `${c.key}:1` }, `${c.title} (${c.num ? "low to high" : "A to Z"})`),
    h("option", { value: `${c.key}:-1` }, `${c.title} (${c.num ? "high to low" : "Z to A"})`)]));
  const body = h("div", { id: "fleet-body" });

  clear(main,
    h("h1", {}, "Boards"),
    h("p", { class: "muted" }, "Every board this gateway has seen. Click a board to see its memory, " +
      "choose how much accuracy to trade for energy, manage its samples and train it."),
    summary,
    h("div", { class: "filters", role: "search" },
      h("div", { class: "field" }, h("label", { for: "filter-text" }, "Find"), search),
      h("div", { class: "field" }, h("label", { for: "filter-state" }, "State"), stateSel),
      h("div", { class: "field" }, h("label", { for: "sort-by" }, "Sort by"), sortSel)),
    count,
    body);

  function paintSummary() {
    const all = [...devices.values()];
    const n = (s) => all.filter((d) => stateOf(d) === s).length;
    clear(summary,
      [["Boards", all.length], ["Online", n("online")], ["Busy", n("busy") + n("bootloader")], ["Offline", n("offline")]]
        .map(([label, v]) => h("div", { class: "stat" }, h("b", {}, String(v)), h("span", {}, label))));
  }

  // Live updates redraw the table; keyboard focus stays on the same control.
  function paint() {
    const focused = body.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
    paintTable();
    if (focused) body.querySelector(`[data-focus="${focused}"]`)?.focus();
  }

  function paintTable() {
    paintSummary();
    sortSel.value = `${sortKey}:${sortDir}`;
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
      (stateFilter === "all" || stateOf(d) === stateFilter) &&
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
      h("th", { scope: "col", class: c.num ? "num" : "", title: c.help, "aria-sort": c.key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none" },
        h("button", { type: "button", "data-focus": `sort-${c.key}`, onclick: () => { if (sortKey === c.key) sortDir = -sortDir; else { sortKey = c.key; sortDir = 1; } paint(); } }, c.title))));
    clear(body, h("div", { class: "table-wrap" },
      h("table", { class: "fleet-table", id: "fleet-table" },
        h("caption", { class: "muted", style: "text-align:left;caption-side:bottom;padding-top:.5rem" },
          "Sort by clicking a column title. “—” means the board has not reported that yet."),
        h("thead", {}, head),
        h("tbody", {}, rows.map((d) => h("tr", { "data-id": d.id, "data-state": d.state }, COLUMNS.map((c) => cell(c, d))))))));
  }

  // The workflow's numbers for one board (see the top of this file); missing ones stay "—".
  async function loadExtras(id) {
    const d = devices.get(id);
    if (!d) return;
    const x = { job: d.x?.job || null };
    try {
      const dec = await get(`/api/devices/${id}/decision`);
      x.ratio = dec.ratio ?? undefined;
      x.model = dec.active_model || undefined;
      if (dec.trained_job) {
        const j = await get(`/api/jobs/${dec.trained_job}`);
        x.accuracy = j.result?.staged_holdout_accuracy;
      }
      const st = await get(`/api/devices/${id}/stats?since_ms=${Date.now() - 120000}&limit=500`);
      const last = st.series[st.series.length - 1];
      if (last && last.inferences > 0) {
        x.energy_nj = last.energy_nj / last.inferences;
        x.exit_rate = last.stage1_exits / last.inferences;
      }
    } catch (e) {
      // A gateway without the workflow, or a board it knows nothing about yet: no numbers.
    }
    const cur = devices.get(id);
    if (cur) { cur.x = Object.assign(cur.x || {}, x); paintSoon(); }
  }

  // Jobs in progress, so their boards show as busy; and model names for the Model column.
  async function loadJobsAndModels() {
    try {
      const [jobs, models] = await Promise.all([get("/api/jobs?limit=100"), get("/api/models")]);
      modelNames = new Map(models.models.map((m) => [m.sha256, m.source_name]));
      for (const d of devices.values()) if (d.x) d.x.job = null;
      for (const j of jobs.jobs) {
        jobDevice.set(j.id, j.device);
        const d = devices.get(j.device);
        if (d && (j.state === "queued" || j.state === "running")) {
          d.x = d.x || {};
          d.x.job = { id: j.id, kind: j.kind, done: j.progress.done, total: j.progress.total };
        }
      }
    } catch (e) { /* no workflow: nothing is busy */ }
    paintSoon();
  }

  let paintQueued = false;
  function paintSoon() {
    if (paintQueued) return;
    paintQueued = true;
    requestAnimationFrame(() => { paintQueued = false; paint(); });
  }

  const jobDevice = new Map(); // job id -> device id

  async function loadAll() {
    try {
      const list = [];
      for (let offset = 0; ; ) {
        const page = await get(`/api/devices?offset=${offset}&limit=500`);
        list.push(...page.devices);
        offset += page.devices.length;
        if (page.devices.length === 0 || offset >= page.total) break;
      }
      const old = new Map(devices);
      devices.clear();
      for (const d of list) { d.x = old.get(d.id)?.x; devices.set(d.id, d); }
      loaded = true;
      loadError = null;
    } catch (e) {
      loadError = e.message;
    }
    paint();
    if (loaded) {
      await loadJobsAndModels();
      for (const id of devices.keys()) loadExtras(id);
    }
  }

  async function loadOne(id) {
    try {
      const d = await get(`/api/devices/${id}`);
      d.x = devices.get(id)?.x;
      devices.set(d.id, d);
      paint();
      loadExtras(id);
    } catch (e) {
      if (e.status !== 404) loadAll();
    }
  }

  function onJob(ev) {
    if (ev.device) jobDevice.set(ev.job, ev.device);
    const id = ev.device || jobDevice.get(ev.job);
    const d = id && devices.get(id);
    if (!d) { loadJobsAndModels(); return; }
    d.x = d.x || {};
    if (ev.state === "queued" || ev.state === "running") {
      d.x.job = Object.assign(d.x.job || { id: ev.job }, ev.kind ? { kind: ev.kind } : {},
        ev.total !== undefined ? { done: ev.done, total: ev.total } : {});
      if (!d.x.job.kind) loadJobsAndModels();
    } else {
      d.x.job = null;
      loadExtras(id); // a finished training or push changes the numbers
      loadJobsAndModels();
    }
    paintSoon();
  }

  const offs = [
    on("device", (ev) => ev.device && loadOne(ev.device)),
    on("resync", loadAll),
    on("job", onJob),
    on("settings", (ev) => ev.device && loadExtras(ev.device)),
    on("stats", (ev) => {
      const d = devices.get(ev.device);
      if (!d || !ev.inferences) return;
      d.x = Object.assign(d.x || {}, { energy_nj: ev.energy_nj / ev.inferences, exit_rate: ev.stage1_exits / ev.inferences });
      paintSoon();
    }),
  ];
  // "Last seen" of offline boards ages while the page is open; repaint it once a minute (no
  // request: the data is unchanged).
  const ager = setInterval(paint, 60000);
  paint();
  loadAll();
  return () => { offs.forEach((f) => f()); clearInterval(ager); };
}
