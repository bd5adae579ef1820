// api: the tix HTTP API as the page uses it (README.md, "The API").
//
// Every call answers with {status, data, etag} or throws an ApiError carrying the server's
// error code ({"error":{"code","message"}}), or the code "unreachable" (status 0) when no
// answer came at all. Every POST carries an Idempotency-Key: the same request retried after a
// lost answer reuses its key, so the server replays its first answer instead of acting twice.
// Calls report whether the server answered to the connection indicator (connection.js).
"use strict";

import { buyer, randomHex } from "./identity.js";
import { reportAnswer, reportNoAnswer } from "./connection.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.details = details || {}; // the error object's other fields (seat_ids, ...)
    this.retryAfterS = 0;
  }
  get seatIds() {
    return Array.isArray(this.details.seat_ids) ? this.details.seat_ids : [];
  }
}

const TIMEOUT_MS = 15000; // an answer slower than this counts as no answer

// One HTTP exchange. opts: {body, idempotencyKey, etag (sent as If-None-Match), signal}.
export async function request(method, path, opts = {}) {
  const headers = { Accept: "application/json" };
  const who = buyer();
  if (who.token) headers.Authorization = "Bearer " + who.token;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  if (opts.etag) headers["If-None-Match"] = opts.etag;
  const timeout = AbortSignal.timeout ? AbortSignal.timeout(TIMEOUT_MS) : undefined;
  const signal = opts.signal && timeout && AbortSignal.any ? AbortSignal.any([opts.signal, timeout]) : opts.signal || timeout;
  let res;
  try {
    res = await fetch(path, {
      method, headers, signal, cache: "no-store",
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch (err) {
    if (opts.signal && opts.signal.aborted) throw err; // the caller gave up: not a network fault
    reportNoAnswer();
    throw new ApiError(0, "unreachable", "the server could not be reached");
  }
  reportAnswer();
  noteServerClock(res.headers.get("Date"));
  const etag = res.headers.get("ETag");
  if (res.status === 304) return { status: 304, data: null, etag };
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok) return { status: res.status, data, etag };
  const e = (data && data.error) || {};
  const { code, message, ...details } = e;
  const error = new ApiError(res.status, code || "http_" + res.status, message || res.statusText, details);
  error.retryAfterS = Number(res.headers.get("Retry-After")) || 0;
  throw error;
}

// The server's clock minus ours (ms): hold countdowns run on the server's time. Set from a
// time the server just stamped (a new hold's created_at, to the millisecond), and kept
// within the second that each answer's Date header names.
let clockOffsetMs = 0;
function noteServerClock(date) {
  const t = Date.parse(date || "");
  if (Number.isNaN(t)) return;
  const now = serverNowMs();
  if (now < t || now >= t + 1000) clockOffsetMs = t + 500 - Date.now();
}

// The server stamped serverMs (ms since the epoch) on what it just answered.
export function syncClock(serverMs) {
  if (Number.isFinite(serverMs)) clockOffsetMs = serverMs - Date.now();
}

// The server's time now, in ms since the epoch (as well as the page knows it).
export function serverNowMs() {
  return Date.now() + clockOffsetMs;
}

export const get = (path, opts) => request("GET", path, opts);

// Keys of POSTs whose outcome is unknown (no answer, or a transient failure), by request: a
// retry of the same request sends the same key.
const pendingKeys = new Map();
const MAX_PENDING_KEYS = 64;

// A POST with an Idempotency-Key, reused when the same request is retried after a failure that
// leaves its outcome unknown.
export async function post(path, body = {}) {
  const signature = path + " " + JSON.stringify(body);
  const key = pendingKeys.get(signature) || "page-" + randomHex(16);
  pendingKeys.delete(signature);
  try {
    return await request("POST", path, { body, idempotencyKey: key });
  } catch (err) {
    const unknownOutcome = err.status === 0 || err.status >= 500 || err.code === "idempotency_key_in_flight";
    if (unknownOutcome) {
      if (pendingKeys.size >= MAX_PENDING_KEYS) pendingKeys.delete(pendingKeys.keys().next().value);
      pendingKeys.set(signature, key);
    }
    throw err;
  }
}

const enc = encodeURIComponent;

export const listEvents = () => get("/events").then((r) => r.data.events);
export const getEvent = (id) => get("/events/" + enc(id)).then((r) => r.data);
// The seat map; with etag, {status: 304} while nothing changed.
export const getSeats = (id, etag, signal) => get("/events/" + enc(id) + "/seats", { etag, signal });
export const streamUrl = (id) => "/events/" + enc(id) + "/stream";
export const createHold = (eventId, userId, seatIds) =>
  post("/events/" + enc(eventId) + "/holds", { user_id: userId, seat_ids: seatIds }).then((r) => r.data);
export const getHold = (id) => get("/holds/" + enc(id)).then((r) => r.data);
export const releaseHold = (id) => request("DELETE", "/holds/" + enc(id)).then((r) => r.data);
export const checkout = (holdId, paymentToken, email) =>
  post("/holds/" + enc(holdId) + "/checkout", email ? { payment_token: paymentToken, email } : { payment_token: paymentToken })
    .then((r) => r.data);
export const getBooking = (id) => get("/bookings/" + enc(id)).then((r) => r.data);
export const cancelBooking = (id) => post("/bookings/" + enc(id) + "/cancel").then((r) => r.data);
export const userBookings = (userId) => get("/users/" + enc(userId) + "/bookings").then((r) => r.data.bookings);
