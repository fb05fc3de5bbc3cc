// api.js — the REST API client and the access token.
//
// Every call goes to microtd's /api/ on the same origin. Errors come back from the daemon as
// {"error": {"code", "message"}}; they are thrown as ApiError with the daemon's own sentence,
// which the pages show as they are (it already says what went wrong and, often, what to do).
// The token for changing requests lives in sessionStorage: it is gone when the tab closes.

const TOKEN_KEY = "microt.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new CustomEvent("microt-token"));
}

export function hasToken() {
  return getToken() !== "";
}

// One request. body: an object (sent as JSON), a Blob/File (sent as it is, with its type), or
// undefined. Returns the parsed JSON (or null for an empty answer).
export async function api(method, path, body, { token } = {}) {
  const headers = {};
  const t = token ?? getToken();
  if (method !== "GET" && t) headers["Authorization"] = `Bearer ${t}`;
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers["Content-Type"] = body.type || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "unreachable", "The gateway does not answer. Is microtd running?");
  }
  const text = await res.text();
  let doc = null;
  if (text) {
    try { doc = JSON.parse(text); } catch { doc = null; }
  }
  if (!res.ok) {
    const err = doc && doc.error ? doc.error : {};
    let msg = err.message || `The gateway answered ${res.status}.`;
    if (res.status === 401) msg = "The access token was refused. Unlock changes again with the right token.";
    throw new ApiError(res.status, err.code || "http_" + res.status, msg);
  }
  return doc;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);
