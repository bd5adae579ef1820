// The 50,000-seat stadium on a canvas: how long the map takes to draw, and whether the page
// stays responsive while 1,000 of its seats change, pushed by the server's seat stream. The
// times are measured and reported (the targets: under 2 s to draw; BRIEF: no timed
// assertions in tests); what is asserted is that every seat is drawn, every change shown (over
// the stream: no seat map loaded meanwhile), and a click during the changes is handled.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TixServer } from "./lib/tixserver.mjs";
import { connectionSays, launchBrowser, measured, newBuyer, PUSHED, seatLook, seatMapLoads, shot, waitForLook, waitForPushed }
  from "./lib/browser.mjs";

const EVENT = "stadium-tour";
const BUYERS = 100; // each holds SEATS_EACH seats: 1,000 changes
const SEATS_EACH = 10;
const CONCURRENCY = 10;
let server;
let browser;
let viewer;

before(async () => {
  server = await new TixServer({ args: ["--max-seats-per-user", "10"] }).start();
  browser = await launchBrowser();
  viewer = await newBuyer(browser, "viewer");
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
  if (viewer) assert.deepEqual(viewer.errors, []);
});

// The first 1,000 seats of the Lower Tier (rows U to Z, 150 seats each, then AA).
function lowerTierSeats(n) {
  const ids = [];
  for (const row of ["U", "V", "W", "X", "Y", "Z", "AA"]) {
    for (let k = 1; k <= 150 && ids.length < n; k++) ids.push(row + k);
  }
  return ids;
}

test("the 50,000-seat map is drawn on a canvas (time measured)", async (t) => {
  const page = viewer.page;
  const startedMs = Date.now();
  await page.goto(`${server.url}/#/events/${EVENT}`);
  await page.waitForFunction(() => document.body.dataset.seatmapMs !== undefined, null, { timeout: 30000 });
  const wallMs = Date.now() - startedMs;
  const openToDrawnMs = Number(await page.evaluate(() => document.body.dataset.seatmapMs));
  measured(t, `50,000-seat map: ${openToDrawnMs} ms from opening the event to the first frame ` +
    `(the event, the 5 MB seat map, its parse, layout, draw); ${wallMs} ms from navigation (target: under 2,000 ms)`);
  assert.equal(await page.locator("canvas.seatmap-canvas").count(), 1);
  assert.equal(await page.locator(".seatmap-svg").count(), 0);
  assert.equal(await page.evaluate(() => window.tix.page.model.count), 50000);
  await page.waitForSelector(".availability:text('50,000 of 50,000 seats free')");
  await shot(page, "20-stadium-overview");
});

test("the page stays responsive while 1,000 seats change", async (t) => {
  const page = viewer.page;
  await waitForPushed(page);
  const since = viewer.requests.length;
  // Frame gaps and long tasks, recorded in the page from now on.
  await page.evaluate(() => {
    const rec = { gaps: [], longTasks: [], running: true };
    window.rec = rec;
    let last = performance.now();
    const frame = (now) => {
      rec.gaps.push(now - last);
      last = now;
      if (rec.running) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    new PerformanceObserver((list) => rec.longTasks.push(...list.getEntries().map((e) => e.duration)))
      .observe({ type: "longtask" });
  });
  const seats = lowerTierSeats(BUYERS * SEATS_EACH);
  const startedMs = Date.now();
  let clickMs = -1;
  let next = 0;
  const holdAll = async () => {
    while (next < BUYERS) {
      const k = next++;
      const res = await server.request("POST", `/events/${EVENT}/holds`,
        { user_id: `fan-${k}`, seat_ids: seats.slice(k * SEATS_EACH, (k + 1) * SEATS_EACH) }, null);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      if (k === BUYERS / 2) clickMs = await clickDuringChanges(page);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, holdAll));
  const heldMs = Date.now() - startedMs;
  await page.waitForSelector(".availability:text('49,000 of 50,000 seats free')", { timeout: 20000 });
  const shownMs = Date.now() - startedMs;
  assert.deepEqual(seatMapLoads(viewer, EVENT, since).map((r) => r.path), [], "the changes came over the stream");
  assert.equal(await connectionSays(page), PUSHED);
  const rec = await page.evaluate(() => {
    window.rec.running = false;
    const gaps = window.rec.gaps.slice(1).sort((a, b) => a - b);
    return {
      frames: gaps.length,
      maxGapMs: Math.round(gaps[gaps.length - 1] || 0),
      p95GapMs: Math.round(gaps[Math.floor(gaps.length * 0.95)] || 0),
      longTasks: window.rec.longTasks.length,
      longestTaskMs: Math.round(Math.max(0, ...window.rec.longTasks)),
    };
  });
  measured(t, `1,000 seat changes (100 holds of 10, ${CONCURRENCY} at a time): all held after ${heldMs} ms, ` +
    `all shown on the page after ${shownMs} ms (pushed by the server's stream)`);
  measured(t, `while they changed: ${rec.frames} frames, frame gap p95 ${rec.p95GapMs} ms, max ${rec.maxGapMs} ms; ` +
    `${rec.longTasks} long tasks (longest ${rec.longestTaskMs} ms); a click on a seat shown selected after ${clickMs} ms`);
  for (const id of [seats[0], seats[499], seats[999]]) assert.equal(await seatLook(page, id), "held", id);
  assert.equal(await seatLook(page, "FY1"), "selected", "the click during the changes was handled");
  await shot(page, "21-stadium-1000-held");
});

// Clicks seat FY1 (Upper Tier) where the canvas draws it; returns the ms until it shows selected.
async function clickDuringChanges(page) {
  const point = await page.evaluate(() => window.tix.seatPoint("FY1"));
  assert.ok(point, "FY1 is in view");
  const t0 = Date.now();
  await page.mouse.click(point.x, point.y);
  await waitForLook(page, ["FY1"], "selected");
  return Date.now() - t0;
}

test("zoomed in, seats are told apart; the seat finder picks seats with labelled controls", async () => {
  const page = viewer.page;
  await page.selectOption("#picker-section", { label: "Lower Tier (95.00)" });
  await page.selectOption("#picker-row", { index: 5 }); // row Z: all 150 held by the fans
  assert.match(await page.locator("#picker-row option:checked").innerText(), /Row Z — 0 of 150 free/);
  await page.selectOption("#picker-row", { index: 6 }); // row AA: 100 held, 50 free
  assert.match(await page.locator("#picker-row option:checked").innerText(), /Row AA — 50 of 150 free/);
  const aa100 = page.locator('input[data-seat="AA100"]');
  const aa101 = page.locator('input[data-seat="AA101"]');
  assert.equal(await aa100.isDisabled(), true);
  assert.match(await aa100.getAttribute("aria-label"), /^Seat AA100: Lower Tier, row AA, seat 100, 95.00, held by another buyer$/);
  await aa101.focus(); // rings AA101 on the canvas and brings it into view
  await page.keyboard.press("Space");
  assert.equal(await aa101.isChecked(), true);
  await waitForLook(page, ["AA101"], "selected");
  assert.match(await page.locator(".basket").innerText(), /AA101 · Lower Tier · 95.00/);
  await shot(page, "22-stadium-zoomed-finder");
});
