// mapworker: loads an event's seat map off the page's main thread (a Web Worker).
//
// The 50,000-seat map is 5 MB of JSON: reading, parsing and comparing it takes 100-300 ms,
// which on the main thread would freeze the page twice a second while seats change and the
// page polls. Here it costs the page nothing: the worker keeps the statuses it last reported
// and answers each request with only what changed.
//
// Request: {id, url, full}. full: a whole map, whatever was reported before (no If-None-Match).
// Answers, with the request's id:
//   {kind: "snapshot", ids: [seat ids], codes: Uint8Array (0 available, 1 held, 2 sold), position}
//   {kind: "changes", seats: [{id, status}], position}   (the map changed; maybe not these seats)
//   {kind: "unchanged"}                                    (304)
//   {kind: "error", status (0: no answer), code, message}
"use strict";

const CODES = { available: 0, held: 1, sold: 2 };
const TIMEOUT_MS = 15000;
let statuses = new Map(); // seat id -> status last reported
let etag = null;

self.onmessage = async (e) => {
  const { id, url, full } = e.data;
  let answer;
  try {
    answer = await load(url, full);
  } catch {
    answer = { kind: "error", status: 0, code: "unreachable", message: "the server could not be reached" };
  }
  const transfer = answer.codes ? [answer.codes.buffer] : [];
  self.postMessage({ id, ...answer }, transfer);
};

async function load(url, full) {
  const headers = { Accept: "application/json" };
  if (!full && etag) headers["If-None-Match"] = etag;
  const res = await fetch(url, { headers, cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (res.status === 304) return { kind: "unchanged" };
  const body = await res.json().catch(() => null);
  if (!res.ok || !body || !Array.isArray(body.seats)) {
    const error = (body && body.error) || {};
    return { kind: "error", status: res.status, code: error.code || "http_" + res.status, message: error.message || "" };
  }
  etag = res.headers.get("ETag");
  const position = Number.isInteger(body.position) ? body.position : null;
  if (full || statuses.size === 0) {
    statuses = new Map();
    const ids = new Array(body.seats.length);
    const codes = new Uint8Array(body.seats.length);
    body.seats.forEach((seat, k) => {
      statuses.set(seat.id, seat.status);
      ids[k] = seat.id;
      codes[k] = CODES[seat.status] ?? CODES.sold;
    });
    return { kind: "snapshot", ids, codes, position };
  }
  const seats = [];
  for (const seat of body.seats) {
    if (statuses.get(seat.id) === seat.status) continue;
    statuses.set(seat.id, seat.status);
    seats.push({ id: seat.id, status: seat.status });
  }
  return { kind: "changes", seats, position };
}
