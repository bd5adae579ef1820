// The page on a phone, 375 px wide with touch: nothing scrolls sideways but the map itself,
// seats are tapped, the basket stays in reach while the map scrolls, and the 50,000-seat map
// is zoomed with its buttons and tapped.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TixServer } from "./lib/tixserver.mjs";
import { launchBrowser, newBuyer, openEvent, shot, waitForLook } from "./lib/browser.mjs";

const PHONE = { viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
let server;
let browser;
let phone;

before(async () => {
  server = await new TixServer().start();
  browser = await launchBrowser();
  phone = await newBuyer(browser, "phone", PHONE);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
  if (phone) assert.deepEqual(phone.errors, []);
});

// The page's width beyond the screen (0: nothing to scroll sideways).
function overflowPx(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

test("the events fit 375 px", async () => {
  await phone.page.goto(server.url + "/");
  await phone.page.waitForSelector(".event-card");
  assert.equal(await overflowPx(phone.page), 0);
  await shot(phone.page, "40-phone-events");
});

test("a small venue on a phone: tap seats, hold them, and pay, with the basket in reach", async () => {
  const page = phone.page;
  await openEvent(phone, server.url, "nba-finals");
  assert.equal(await overflowPx(page), 0);
  await page.tap('[data-seat="D5"]');
  await page.tap('[data-seat="D6"]');
  await waitForLook(page, ["D5", "D6"], "selected");
  const basket = await page.locator(".basket").boundingBox();
  assert.ok(basket.y + basket.height <= 812 + 1 && basket.y >= 0, `the basket is on screen: ${JSON.stringify(basket)}`);
  await shot(page, "41-phone-select");
  await page.tap("#hold-button");
  await page.waitForSelector(".basket h2:text('Held for you')");
  await page.fill("#checkout-email", "phone@example.com");
  assert.equal(await overflowPx(page), 0);
  await shot(page, "42-phone-held");
  await page.tap("#pay-button");
  await page.waitForSelector('.booking[data-status="confirmed"]', { timeout: 15000 });
  assert.equal(await overflowPx(page), 0);
  await shot(page, "43-phone-confirmed");
});

test("the 50,000-seat map on a phone: zoom with the buttons, tap a seat", async () => {
  const page = phone.page;
  await openEvent(phone, server.url, "stadium-tour");
  assert.equal(await overflowPx(page), 0);
  const canvas = await page.locator("canvas.seatmap-canvas").boundingBox();
  assert.ok(canvas.width <= 375 && canvas.width > 300, JSON.stringify(canvas));
  await shot(page, "44-phone-stadium");
  for (let k = 0; k < 6; k++) await page.tap('button[aria-label="Zoom in"]');
  const { id, point } = await page.evaluate(() => { // the seat drawn nearest the canvas's middle
    const box = document.querySelector("canvas.seatmap-canvas").getBoundingClientRect();
    const ids = window.tix.page.model.ids;
    let best = null;
    for (const id of ids) {
      const p = window.tix.seatPoint(id);
      const d = p && Math.hypot(p.x - box.x - box.width / 2, p.y - box.y - box.height / 2);
      if (p && (!best || d < best.d)) best = { id, point: p, d };
    }
    return best;
  });
  await page.touchscreen.tap(point.x, point.y);
  await waitForLook(page, [id], "selected");
  assert.match(await page.locator(".basket").innerText(), new RegExp(`${id} · `));
  await shot(page, "45-phone-stadium-zoomed");
});
