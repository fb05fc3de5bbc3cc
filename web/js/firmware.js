// firmware.js — the board's firmware: its version and history, and flashing a new image
// through the board's STM32 ROM bootloader over its own serial line
// (POST /api/devices/{id}/flash, a job followed like the others). The gateway checks the image
// against the board's part before touching the board and says why when it refuses it.

import { api, get, hasToken } from "./api.js";
import { h, clear, fmtTime, toast } from "./ui.js";
import { jobProgress } from "./jobs.js";

export function firmwareSection(ctx) {
  const el = h("section", { class: "card", id: "firmware-section", "aria-labelledby": "firmware-title" });
  let progress = null;

  function follow(jobId) {
    if (progress) progress.destroy();
    progress = jobProgress(jobId, {
      title: "Flashing the firmware",
      onEnd: (j) => {
        if (j.state === "done") toast(`The board runs firmware ${j.result?.to_version ?? ""} now.`);
        else toast(`Flashing ${j.state}: ${j.error || ""}`, true);
        ctx.refresh();
      },
    });
  }

  async function flash(file, format, base, entry) {
    if (!hasToken()) { window.dispatchEvent(new Event("microt-ask-token")); return; }
    if (!file) { toast("Choose a firmware file first (.bin, .hex or .elf).", true); return; }
    const q = new URLSearchParams({ format, entry });
    if (base) q.set("base", base);
    try {
      const doc = await api("POST", `/api/devices/${ctx.id}/flash?${q}`, file);
      follow(doc.job.id);
      load();
    } catch (e) { toast(e.message, true); }
  }

  async function load() {
    let changes = [], jobs = [];
    try {
      [changes, jobs] = await Promise.all([
        get(`/api/devices/${ctx.id}/firmware?limit=5`).then((d) => d.firmware_changes),
        get(`/api/jobs?device=${ctx.id}&limit=20`).then((d) => d.jobs.filter((j) => j.kind === "flash")),
      ]);
    } catch (e) {
      clear(el, h("h2", { id: "firmware-title" }, "Firmware"), h("p", { class: "error" }, e.message));
      return;
    }
    const running = jobs.find((j) => j.state === "running" || j.state === "queued");
    if (running && progress?.jobId !== running.id) follow(running.id);
    const inBootloader = ctx.dev.state === "bootloader";
    const can = hasToken() && !running && (ctx.dev.live || inBootloader);
    const file = h("input", { type: "file", id: "firmware-file", accept: ".bin,.hex,.ihex,.elf", disabled: !can || undefined });
    const format = h("select", { id: "firmware-format", disabled: !can || undefined },
      h("option", { value: "auto" }, "Tell from the file"), h("option", { value: "bin" }, "Raw .bin"),
      h("option", { value: "hex" }, "Intel HEX"), h("option", { value: "elf" }, "ELF"));
    const base = h("input", { type: "text", id: "firmware-base", placeholder: "0x08000000", size: 12, disabled: !can || undefined });
    const entries = [
      ["rpc", "Ask the running firmware to restart into its bootloader (usual)"],
      ["bootloader", "The board is already in its bootloader (after a failed flash, or the BOOT0 jumper)"],
    ];
    const entry = h("fieldset", { class: "modes" }, h("legend", {}, "How the board gets into its bootloader"),
      entries.map(([v, text]) => h("label", { class: "radio" },
        h("input", { type: "radio", name: "firmware-entry", value: v, disabled: !can || undefined,
          checked: (inBootloader ? v === "bootloader" : v === "rpc") || undefined }), " ", text)));
    const last = jobs.find((j) => j.state !== "running" && j.state !== "queued");
    clear(el,
      h("h2", { id: "firmware-title" }, "Firmware"),
      h("dl", { class: "facts" },
        h("dt", {}, "Running"), h("dd", { class: "mono" }, ctx.dev.firmware_version || "—"),
        h("dt", {}, "Changes"), h("dd", {}, changes.length
          ? h("ul", { class: "history" }, changes.map((c) => h("li", {},
              h("time", {}, fmtTime(c.at_ms)), h("span", { class: "mono" }, `${c.from} → ${c.to}`))))
          : "none recorded"),
        last ? [h("dt", {}, "Last flash"), h("dd", {}, `${fmtTime(last.created_ms)}: ${last.state}` +
          (last.error ? ` (${last.error})` : last.result?.flashed ? `, ${last.result.pages_written} pages written in ${last.result.flash_s.toFixed(1)} s` : ""))] : null),
      inBootloader && !running ? h("p", { class: "error", role: "alert" },
        "The board waits in its ROM bootloader: flash an image (the second choice below is already selected) to bring it back.") : null,
      progress ? progress.el : null,
      h("h3", {}, "Flash new firmware"),
      !hasToken() ? h("p", { class: "hint" }, "Unlock changes (top right) to flash.")
        : !(ctx.dev.live || inBootloader) ? h("p", { class: "hint" }, "The board is offline.")
        : running ? h("p", { class: "hint" }, "A flash is running.") : null,
      h("div", { class: "row" },
        h("div", { class: "field" }, h("label", { for: "firmware-file" }, "Firmware image"), file),
        h("div", { class: "field" }, h("label", { for: "firmware-format" }, "Format"), format),
        h("div", { class: "field" }, h("label", { for: "firmware-base" }, "Start address (.bin only)"), base)),
      entry,
      h("div", { class: "row" }, h("button", { type: "button", class: "btn btn-primary", id: "firmware-flash", disabled: !can || undefined,
        onclick: () => flash(file.files[0], format.value, base.value.trim(),
          el.querySelector("input[name=firmware-entry]:checked")?.value || "rpc") }, "Flash the board")),
      h("p", { class: "hint" }, "The gateway checks that the image is for this part and fits it before anything is written. " +
        "Pages that already hold the right bytes are skipped; the board only starts the new image once every page is verified."));
  }

  return { el, load, destroy: () => progress && progress.destroy() };
}
