// live.js — the daemon's event stream (GET /api/events, Server-Sent Events) for the pages.
//
// One EventSource for the whole tab. Pages register handlers per event type with on(); a handler
// gets the event's parsed JSON. When the stream (re)opens after a break, or the daemon says it
// dropped events for us, "resync" handlers run: the page reloads what it shows, because events
// may have been missed. The browser reconnects by itself (the daemon sends retry: 2000).

const handlers = new Map(); // type -> Set of functions
let source = null;
let everOpened = false;
let statusEl = null;

function setStatus(text, cls) {
  if (!statusEl) return;
  statusEl.textContent = text;
  statusEl.className = "live " + cls;
  statusEl.title = cls === "on"
    ? "This page updates by itself when boards change."
    : "The live connection to the gateway is broken; the page retries by itself.";
}

function dispatch(type, data) {
  const set = handlers.get(type);
  if (!set) return;
  for (const fn of [...set]) {
    try { fn(data); } catch (e) { console.error("live handler", type, e); }
  }
}

// The event types the daemon publishes; a listener per type is how EventSource delivers named
// events.
const TYPES = ["device", "job", "training", "sample", "stats", "inference", "settings", "model", "flash"];

export function startLive(el) {
  statusEl = el;
  if (source) return;
  source = new EventSource("/api/events");
  setStatus("Connecting…", "");
  source.addEventListener("ready", () => {
    setStatus("Live", "on");
    if (everOpened) dispatch("resync", {});
    everOpened = true;
  });
  source.addEventListener("dropped", () => dispatch("resync", {}));
  for (const t of TYPES) {
    source.addEventListener(t, (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return; }
      dispatch(t, data);
    });
  }
  source.onerror = () => setStatus("Reconnecting…", "off");
}

// Registers fn for events of type; returns a function that removes it (pages call it on leave).
export function on(type, fn) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(fn);
  return () => handlers.get(type).delete(fn);
}
