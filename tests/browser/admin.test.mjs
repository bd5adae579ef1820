// The organiser's page (/admin): the admin token, then an event's seats, holds, bookings and
// revenue kept current by the event's live seat stream (not by polling), and the sales chart.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TixServer } from "./lib/tixserver.mjs";
import { launchBrowser, measured, newBuyer, shot } from "./lib/browser.mjs";

const EVENT = "nba-finals";
let server;
let browser;

before(async () => {
  server = await new TixServer({ args: ["--sweep-interval-ms", "100"] }).start();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
});

const text = (page, id) => page.locator("#" + id).innerText();

async function waitForText(page, id, want, timeout = 10000) {
  await page.waitForFunction(([id, want]) => document.getElementById(id).textContent === want, [id, want], { timeout });
}

// Resolves once cond() is true (checked every 20 ms); fails after timeoutMs, saying what.
async function waitUntil(cond, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a wrong token is refused; the right one shows the board, kept current by the seat stream", async (t) => {
  const organiser = await newBuyer(browser, "organiser");
  const { page } = organiser;
  // the page's stats requests, and how many of them are not answered yet
  const requests = [];
  let statsInFlight = 0;
  const isStats = (r) => new URL(r.url()).pathname.endsWith("/stats");
  page.on("request", (r) => {
    requests.push({ at: Date.now(), path: new URL(r.url()).pathname });
    if (isStats(r)) statsInFlight++;
  });
  const answered = (r) => { if (isStats(r)) statsInFlight--; };
  page.on("requestfinished", answered);
  page.on("requestfailed", answered);
  await page.goto(`${server.url}/admin`);
  await page.fill("#token", "not-the-token");
  await page.click('#login button[type="submit"]');
  await page.waitForSelector("#login-error:not([hidden])");
  assert.match(await text(page, "login-error"), /refused/);

  await page.fill("#token", server.adminToken);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector("#board:not([hidden])");
  await page.selectOption("#event", EVENT);
  await page.waitForSelector('#updated[data-live="stream"]');
  assert.match(await text(page, "updated"), /live/);
  assert.equal(await text(page, "holds-active"), "0");

  // Let the board settle first: the stream's opening arms one refresh STREAM_REFRESH_MS (300 ms)
  // later, and a stats request still in flight when the hold is made could be answered after it
  // and show it. After this, only the hold's own seat message can bring the next stats request.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await waitUntil(() => statsInFlight === 0, "the board's stats requests answered");

  // a buyer holds two seats: the board follows within a second or so, pushed by the stream
  const before = requests.filter((r) => r.path.endsWith("/stats")).length;
  const started = Date.now();
  const hold = await server.request("POST", `/events/${EVENT}/holds`, { user_id: "carol", seat_ids: ["C1", "C2"] });
  assert.equal(hold.status, 201);
  await waitForText(page, "holds-active", "1");
  await waitForText(page, "seats-held", "2");
  const tookMs = Date.now() - started;
  measured(t, `admin page: a hold shown ${tookMs} ms after it was made (stream-driven)`);
  const asked = requests.filter((r) => r.path.endsWith("/stats")).slice(before);
  assert.ok(asked.length >= 1 && asked.length <= 3,
    "one stats request per burst of changes, not a poll loop: " + JSON.stringify(asked));

  // checkout with the card that succeeds: sold, confirmed, revenue
  const booking = await server.request("POST", `/holds/${hold.body.id}/checkout`, { payment_token: "tok_visa", email: "carol@example.com" });
  assert.equal(booking.status, 202);
  await waitForText(page, "bookings-confirmed", "1");
  await waitForText(page, "seats-sold", "2");
  assert.notEqual(await text(page, "revenue"), "0.00");
  assert.match(await page.locator("#chart-summary").innerText(), /^2 seats sold in the last hour/);
  await shot(page, "60-admin-board");
  assert.deepEqual(organiser.errors, []);
  await organiser.context.close();
});
