// browser: Debian's chromium driven by playwright-core (no browser download: the executable is
// /usr/bin/chromium, or $CHROMIUM), one fresh context per buyer, screenshots and measurements
// kept under build/browser-tests/ (ignored by git).
import { mkdirSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { REPO } from "./tixserver.mjs";

export const ARTIFACTS = join(REPO, "build", "browser-tests");
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: ARGS });
}

// A buyer: a fresh browser context (own storage, so own buyer id) and one page. Errors the
// page throws or logs are kept in `errors`; the browser's own "Failed to load resource" lines
// are not: they log every HTTP error status, which the tests provoke on purpose (a 409, a 429,
// the 503 of a server with as many streams as it takes) and the page handles. Every request the
// page and its map worker make is kept in `requests` ({path, type, request}: type "eventsource"
// for the stream, "fetch" for the API; request is playwright's).
export async function newBuyer(browser, name, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/^Failed to load resource/.test(m.text())) errors.push(`${name}: console: ${m.text()}`);
  });
  page.on("request", (r) => {
    const url = new URL(r.url());
    requests.push({ path: url.pathname + url.search, type: r.resourceType(), request: r });
  });
  return { name, context, page, errors, requests };
}

// The seat-map loads (GET /events/{id}/seats: polls and whole maps) of buyer since its request
// number `since` (a buyer.requests.length taken before).
export function seatMapLoads(buyer, eventId, since = 0) {
  return buyer.requests.slice(since).filter((r) => r.path === `/events/${eventId}/seats`);
}

// The seat-stream requests (GET /events/{id}/stream...) of buyer since its request number `since`.
export function streamRequests(buyer, eventId, since = 0) {
  return buyer.requests.slice(since).filter((r) => r.path.startsWith(`/events/${eventId}/stream`));
}

export const PUSHED = "live: Seat changes pushed by the server";
export const POLLED = "live: Seat changes polled every 500 ms";

// What the connection indicator says: "state: detail" (the detail is its title).
export function connectionSays(page) {
  return page.evaluate(() => {
    const node = document.getElementById("connection");
    return node.hidden ? "" : `${node.dataset.state}: ${node.title}`;
  });
}

// Waits until the page says its seat changes are pushed by the server's stream.
export async function waitForPushed(page, timeout = 15000) {
  await page.waitForFunction((said) => {
    const node = document.getElementById("connection");
    return node && !node.hidden && `${node.dataset.state}: ${node.title}` === said;
  }, PUSHED, { timeout, polling: 20 });
}

// Waits until the page says it polls the seat map (the server gave it no stream).
export async function waitForPolled(page, timeout = 15000) {
  await page.waitForFunction((said) => {
    const node = document.getElementById("connection");
    return node && !node.hidden && `${node.dataset.state}: ${node.title}` === said;
  }, POLLED, { timeout, polling: 20 });
}

// Saves a screenshot of page as build/browser-tests/<name>.png; returns its path.
export async function shot(page, name, options = {}) {
  const path = join(ARTIFACTS, name + ".png");
  await page.screenshot({ path, ...options });
  return path;
}

// A measured figure: reported by the test runner (t.diagnostic) and kept in
// build/browser-tests/measurements.txt.
export function measured(t, text) {
  t.diagnostic(text);
  appendFileSync(join(ARTIFACTS, "measurements.txt"), `${new Date().toISOString()} ${text}\n`);
}

// Opens an event's page and waits until its seat map is drawn.
export async function openEvent(buyer, url, eventId) {
  await buyer.page.goto(`${url}/#/events/${eventId}`);
  await buyer.page.waitForFunction(() => document.body.dataset.seatmapMs !== undefined);
}

// The look of a seat on the page: "tier" (free), "selected", "mine", "held", "sold".
export function seatLook(page, seatId) {
  return page.evaluate((id) => window.tix.seatLook(id), seatId);
}

// Waits until every seat of ids looks `look` on the page.
export async function waitForLook(page, ids, look, timeout = 10000) {
  await page.waitForFunction(([ids, look]) => ids.every((id) => window.tix && window.tix.seatLook(id) === look),
    [ids, look], { timeout, polling: 20 });
}
