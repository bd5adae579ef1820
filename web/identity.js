// identity: who the buyer is, the same across reloads.
//
// Without buyer tokens a buyer is a random id made once and kept in localStorage
// ("buyer-" and 20 hex digits). When the server runs with --require-buyer-token 1, the
// organiser's site hands the buyer a signed token in the link (/#token=tixb1....); the page
// keeps it in localStorage, sends it as "Authorization: Bearer", and acts as the token's user
// (tokens are tixb1.<user id, base64url>.<expiry, unix seconds>.<signature>; docs/SECURITY.md).
"use strict";

const ID_KEY = "tix.buyerId";
const TOKEN_KEY = "tix.buyerToken";
const memory = new Map(); // stands in for localStorage where it is refused (some private modes)

function load(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return memory.get(key) ?? null;
  }
}

function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    if (value === null) memory.delete(key);
    else memory.set(key, value);
  }
}

// 20 hex digits from the browser's cryptographic generator (crypto.randomUUID needs a secure
// context; getRandomValues works on plain http too).
export function randomHex(bytes = 10) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The token's parts, or null when it is not a tixb1 token.
export function parseToken(token) {
  const parts = String(token).split(".");
  if (parts.length !== 4 || parts[0] !== "tixb1") return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)), (c) => c.charCodeAt(0));
    const userId = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    const expiresAtMs = Number(parts[2]) * 1000;
    if (!userId || !Number.isFinite(expiresAtMs)) return null;
    return { userId, expiresAtMs };
  } catch {
    return null;
  }
}

// Takes a token handed over in the URL (#token=... , alone or before a route such as
// #token=...&/events/x) into storage and removes it from the address bar and history.
// Returns the route left in the hash ("" when none).
export function takeTokenFromUrl() {
  const hash = location.hash.slice(1);
  const match = /^token=([^&]*)&?(.*)$/.exec(hash);
  if (!match) return hash;
  const token = decodeURIComponent(match[1]);
  if (parseToken(token)) store(TOKEN_KEY, token);
  const route = match[2] || "/";
  history.replaceState(null, "", location.pathname + location.search + "#" + route);
  return route;
}

// The buyer: {userId, token (or null), tokenExpired, source: "token" | "stored"}.
export function buyer() {
  const token = load(TOKEN_KEY);
  const parsed = token ? parseToken(token) : null;
  if (parsed) {
    return { userId: parsed.userId, token, tokenExpired: parsed.expiresAtMs <= Date.now(), source: "token" };
  }
  let id = load(ID_KEY);
  if (!id) {
    id = "buyer-" + randomHex(10);
    store(ID_KEY, id);
  }
  return { userId: id, token: null, tokenExpired: false, source: "stored" };
}

// Forgets the buyer token (the page falls back to the stored id).
export function forgetToken() {
  store(TOKEN_KEY, null);
}

// Small per-buyer notes kept across reloads (the hold being made, for instance).
export function remember(key, value) {
  store("tix." + key, value === null ? null : JSON.stringify(value));
}

export function recall(key) {
  const raw = load("tix." + key);
  if (raw === null) return null;
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}
