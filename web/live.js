// live: an event's seat changes as they happen, pushed by the server or, where it cannot push,
// polled.
//
// The feed loads the whole seat map, then listens to GET /events/{id}/stream (Server-Sent
// Events) from the map's feed position: each "seats" message carries many seat changes and
// its position as its id, so the browser's own reconnection (Last-Event-ID) resumes without
// loss; a "reload" message (too far behind) reloads the map and listens again from its
// position. When the server has no stream (404: an older tix, or a proxy that does not pass
// it on) the feed polls the map every half second with If-None-Match (a 304 costs the server
// nothing) and hands over the seats that changed; when the server refuses the stream for a
// while (503 too_many_streams, or any other refusal) it polls and tries the stream again later.
// Lost answers, and a server shutting down (503 shutting_down: it is about to go, and back soon
// or behind another node), turn the indicator to "reconnecting", then "unreachable", and the
// feed retries with backoff until the server answers, then reloads the map.
//
// Maps are loaded and compared in a worker (mapworker.js), so that a 5 MB map never stalls
// the page. The worker knows only the maps it loaded, not the stream's changes: every switch
// to polling starts with a whole map.
"use strict";

import { ApiError, streamUrl } from "./api.js";
import { reportAnswer, reportNoAnswer, setFeedState } from "./connection.js";

export const POLL_INTERVAL_MS = 500;
const RETRY_MAX_MS = 5000; // backoff cap while the server does not answer
const UNREACHABLE_AFTER_MS = 3000; // "reconnecting" turns "unreachable" after this long
const STREAM_RETRY_MS = 30000; // after a 503 from the stream, poll this long before trying again
const RELOAD_SPREAD_MS = 1000; // a "reload" message: the map is loaded again within this long

// handlers: onSnapshot({ids, codes}) (a whole seat map), onSeats(seats) (changes, in order),
// onGone(err) (the event does not exist).
export class SeatFeed {
  constructor(eventId, handlers) {
    this.eventId = eventId;
    this.handlers = handlers;
    this.position = null; // feed position of what the page shows (null: the server has none)
    this.source = null; // EventSource while streaming
    this.timer = 0;
    this.stopped = true;
    this.streamAbsent = false; // the server answered 404: poll
    this.pollUntilMs = 0; // the server refused the stream: poll until then
    this.troubleSinceMs = 0;
    this.retryMs = POLL_INTERVAL_MS;
    this.wholeMapNext = false; // the worker compares with a map the page did not take: poll a whole one
    this.mapAnswers = 0; // seat maps answered so far (read by the browser tests)
    this.worker = new Worker("/assets/mapworker.js");
    this.requests = new Map(); // request id -> resolve
    this.nextRequest = 1;
    this.worker.onmessage = (e) => {
      const resolve = this.requests.get(e.data.id);
      this.requests.delete(e.data.id);
      if (resolve) resolve(e.data);
    };
  }

  start() {
    this.stopped = false;
    setFeedState("connecting");
    this.resync();
  }

  stop() {
    this.stopped = true;
    this.closeStream();
    clearTimeout(this.timer);
    this.worker.terminate();
    setFeedState(null);
  }

  // Loads the whole map now (after a 409 named seats the page showed as free, for instance).
  refresh() {
    if (this.stopped) return Promise.resolve();
    return this.loadMap(true).catch(() => {});
  }

  polling() {
    return this.streamAbsent || Date.now() < this.pollUntilMs;
  }

  // Loads the whole map, then listens for changes after it (whatever the page showed before:
  // after a reload message the page's position is no longer to be trusted).
  async resync() {
    this.closeStream();
    clearTimeout(this.timer);
    this.position = null;
    try {
      await this.loadMap(true);
    } catch (err) {
      return this.trouble(err, () => this.resync());
    }
    if (this.stopped) return;
    if (this.polling()) this.schedulePoll(POLL_INTERVAL_MS);
    else this.openStream();
  }

  // Loads the seat map in the worker (full: all of it; otherwise only if it changed) and hands
  // what it says to the page. Throws an ApiError when it failed.
  async loadMap(full) {
    const id = this.nextRequest++;
    const url = "/events/" + encodeURIComponent(this.eventId) + "/seats";
    const answer = await new Promise((resolve) => {
      this.requests.set(id, resolve);
      this.worker.postMessage({ id, url, full });
    });
    this.mapAnswers++;
    if (answer.kind === "error" && answer.status === 0) reportNoAnswer();
    else reportAnswer();
    if (this.stopped) return;
    if (answer.kind === "error") throw new ApiError(answer.status, answer.code, answer.message);
    if (answer.kind === "unchanged") return;
    // Older than what the page shows (the stream told it of later changes while this map was on
    // its way, or two loads crossed): it would undo them.
    if (answer.position !== null && this.position !== null && answer.position < this.position) {
      this.wholeMapNext = true;
      return;
    }
    if (answer.kind === "snapshot") this.wholeMapNext = false;
    if (answer.position !== null) this.position = answer.position;
    if (answer.kind === "snapshot") this.handlers.onSnapshot(answer);
    else if (answer.seats.length) this.handlers.onSeats(answer.seats);
  }

  // ---- the stream ----
  openStream() {
    const after = this.position === null ? "" : "?after=" + this.position;
    const source = new EventSource(streamUrl(this.eventId) + after);
    this.source = source;
    let opened = false;
    source.onopen = () => {
      opened = true;
      this.healthy("pushed by the server");
    };
    source.addEventListener("seats", (e) => {
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (Number.isInteger(msg.position)) {
        if (this.position !== null && msg.position <= this.position) return; // already shown
        this.position = msg.position;
      }
      if (Array.isArray(msg.seats) && msg.seats.length) this.handlers.onSeats(msg.seats);
    });
    // every viewer of the event is told at once when the sale outruns them: each reloads its
    // (possibly 5 MB) map at a random moment of the next RELOAD_SPREAD_MS, not all together
    source.addEventListener("reload", () => {
      this.closeStream();
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.resync(), Math.random() * RELOAD_SPREAD_MS);
    });
    source.onerror = () => {
      if (this.source !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        this.closeStream();
        this.streamRefused(opened);
        return;
      }
      this.noAnswer(); // the browser reconnects by itself, with Last-Event-ID
    };
  }

  closeStream() {
    if (this.source) this.source.close();
    this.source = null;
  }

  // The stream answered something else than a stream: ask what, then poll or retry.
  async streamRefused(wasOpen) {
    const answer = await probeStream(this.eventId);
    if (this.stopped) return;
    if (answer.code === "event_not_found") return this.handlers.onGone(new ApiError(404, answer.code, ""));
    if (answer.status === 0 || answer.code === "shutting_down") { // going or gone: retry, not poll
      return this.trouble(new ApiError(answer.status, answer.code || "unreachable", ""), () => this.resync());
    }
    if (answer.status === 404) this.streamAbsent = true; // this server has no stream
    else if (!(answer.status === 200 && wasOpen)) this.pollUntilMs = Date.now() + STREAM_RETRY_MS; // 503 and others
    // After a stream that spoke, a whole map first (the worker did not see what it said).
    if (wasOpen) this.resync();
    else this.schedulePoll(0);
  }

  // ---- polling ----
  schedulePoll(delayMs) {
    clearTimeout(this.timer);
    if (!this.stopped) this.timer = setTimeout(() => this.poll(), delayMs);
  }

  // One poll; the next starts POLL_INTERVAL_MS after this one started (a 5 MB map takes a
  // few hundred ms to come: waiting the whole interval after it would make changes late).
  async poll() {
    if (this.stopped) return;
    if (!this.polling()) return this.resync(); // time to try the stream again
    const startedMs = Date.now();
    try {
      await this.loadMap(this.wholeMapNext);
    } catch (err) {
      return this.trouble(err, () => this.poll());
    }
    if (this.stopped) return;
    const recovered = this.troubleSinceMs !== 0;
    this.healthy("polled every " + POLL_INTERVAL_MS + " ms");
    if (recovered) {
      this.streamAbsent = false; // the server may have come back in a version with the stream
      return this.resync();
    }
    this.schedulePoll(Math.max(0, POLL_INTERVAL_MS - (Date.now() - startedMs)));
  }

  // ---- connection state ----
  healthy(how) {
    this.troubleSinceMs = 0;
    this.retryMs = POLL_INTERVAL_MS;
    setFeedState("live", "Seat changes " + how);
  }

  noAnswer() {
    if (!this.troubleSinceMs) this.troubleSinceMs = Date.now();
    const long = Date.now() - this.troubleSinceMs >= UNREACHABLE_AFTER_MS;
    setFeedState(long ? "unreachable" : "reconnecting");
  }

  // A call failed: the event is gone, or retry after a backoff.
  trouble(err, retry) {
    if (this.stopped) return;
    if (err instanceof ApiError && err.code === "event_not_found") return this.handlers.onGone(err);
    this.noAnswer();
    clearTimeout(this.timer);
    this.timer = setTimeout(retry, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }
}

// What GET /events/{id}/stream answers: {status, code} (status 0: no answer). Only the head is
// read: a stream that answers 200 is cut at once.
async function probeStream(eventId) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 10000);
  try {
    const res = await fetch(streamUrl(eventId), { headers: { Accept: "text/event-stream" }, cache: "no-store", signal: abort.signal });
    if (res.ok) return { status: res.status, code: "" };
    const body = await res.json().catch(() => null);
    return { status: res.status, code: (body && body.error && body.error.code) || "" };
  } catch {
    return { status: 0, code: "unreachable" };
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
