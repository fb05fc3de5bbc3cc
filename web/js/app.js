// app.js — the dashboard's entry: routes (#/ = the boards, #/board/ID = one board), the access
// token dialog, and the live connection. Each page module exports show(main, ...params) and
// returns a function that undoes what it set up (event handlers, charts) when the page changes.

import { api, setToken, hasToken } from "./api.js";
import { startLive } from "./live.js";
import * as fleet from "./fleet.js";
import * as board from "./board.js";

const main = document.getElementById("main");
let leave = null;

function route() {
  const hash = location.hash || "#/";
  if (leave) { try { leave(); } catch (e) { console.error(e); } leave = null; }
  const m = hash.match(/^#\/board\/([0-9a-fA-F]{24})$/);
  const nav = document.getElementById("nav-fleet");
  if (m) nav.removeAttribute("aria-current");
  else nav.setAttribute("aria-current", "page");
  main.replaceChildren();
  if (m) leave = board.show(main, m[1].toLowerCase());
  else leave = fleet.show(main);
  window.scrollTo(0, 0);
}

// ---- access token ----
const tokenButton = document.getElementById("token-button");
const dialog = document.getElementById("token-dialog");
const input = document.getElementById("token-input");
const tokenError = document.getElementById("token-error");

function paintTokenButton() {
  if (hasToken()) {
    tokenButton.textContent = "Lock changes";
    tokenButton.title = "Changes are unlocked in this tab. Click to forget the token.";
  } else {
    tokenButton.textContent = "Unlock changes";
    tokenButton.title = "Viewing only. Enter the access token to change things.";
  }
  document.body.classList.toggle("can-change", hasToken());
}

export function askToken() {
  tokenError.hidden = true;
  input.value = "";
  dialog.showModal();
  input.focus();
}

tokenButton.addEventListener("click", () => {
  if (hasToken()) setToken("");
  else askToken();
});
document.getElementById("token-cancel").addEventListener("click", () => dialog.close());
document.getElementById("token-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const t = input.value.trim();
  try {
    await api("POST", "/api/auth", undefined, { token: t });
    setToken(t);
    dialog.close();
  } catch (err) {
    tokenError.textContent = err.status === 401
      ? "That token is not the gateway's. Copy it again from the output of make run, or from the token file."
      : err.message;
    tokenError.hidden = false;
    input.focus();
  }
});
window.addEventListener("microt-token", paintTokenButton);
window.addEventListener("microt-ask-token", askToken);

paintTokenButton();
startLive(document.getElementById("live"));
window.addEventListener("hashchange", route);
route();
