// Two buyers in two browsers, from choosing seats to a confirmed booking (issue 11): each step
// is a test, in order, against one real tix server seeded with the demo events. What one buyer
// does reaches the other's page over the server's seat stream (GET /events/{id}/stream): the
// tests check that the page says so and loads no seat map while it waits for a change.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TixServer } from "./lib/tixserver.mjs";
import { connectionSays, launchBrowser, measured, newBuyer, openEvent, PUSHED, seatLook, seatMapLoads, shot, waitForLook,
  waitForPushed } from "./lib/browser.mjs";

const EVENT = "nba-finals";
const LIVE_TIMEOUT_MS = 10000; // generous: the target (1 s) is reported, not asserted (BRIEF: no timed assertions)
let server;
let browser;
let alice; // buyer A
let bob; // buyer B

before(async () => {
  // A low per-buyer limit (6) to meet it; quick payment retries for the transient-error card.
  server = await new TixServer({ args: ["--max-seats-per-user", "6", "--retry-base-ms", "200", "--sweep-interval-ms", "100"] }).start();
  browser = await launchBrowser();
  alice = await newBuyer(browser, "alice");
  bob = await newBuyer(browser, "bob");
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.close();
  for (const buyer of [alice, bob]) if (buyer) assert.deepEqual(buyer.errors, [], `${buyer.name}'s page reported errors`);
});

async function clickSeats(buyer, ids) {
  for (const id of ids) await buyer.page.click(`[data-seat="${id}"]`);
}

async function hold(buyer, ids) {
  await clickSeats(buyer, ids);
  await buyer.page.click("#hold-button");
  await buyer.page.waitForSelector(".basket h2:text('Held for you')");
}

async function pay(buyer, card, email = "alice@example.com") {
  await buyer.page.fill("#checkout-email", email);
  await buyer.page.check(`input[name="card"][value="${card}"]`);
  await buyer.page.click("#pay-button");
  await buyer.page.waitForSelector(".booking");
}

function noticeText(page) {
  return page.locator("#notices").innerText();
}

// Once buyer's page listens to the stream, runs change() (which makes a change and waits until
// buyer's page shows it) and asserts that the change came over the stream: the page still says
// its changes are pushed, and it loaded no seat map meanwhile.
async function pushedTo(buyer, eventId, change) {
  await waitForPushed(buyer.page);
  const since = buyer.requests.length;
  await change();
  assert.deepEqual(seatMapLoads(buyer, eventId, since).map((r) => r.path), [],
    `${buyer.name}'s page loaded the seat map instead of being told by the stream`);
  assert.equal(await connectionSays(buyer.page), PUSHED, "still pushed: no reconnection, no polling");
}

test("the page lists the events with their free seats", async () => {
  await alice.page.goto(server.url + "/");
  await alice.page.waitForSelector(".event-card");
  const cards = await alice.page.locator(".event-card h2").allInnerTexts();
  assert.deepEqual(cards, ["NBA Finals - Game 7", "Tech Conference 2027", "Stadium Tour"]);
  assert.match(await alice.page.locator(".event-card").first().innerText(), /100 of 100 seats available/);
  await shot(alice.page, "01-events");
});

test("A holds two seats; B sees them turn unavailable without reloading", async (t) => {
  await openEvent(alice, server.url, EVENT);
  await openEvent(bob, server.url, EVENT);
  await bob.page.evaluate(() => {
    window.notReloaded = true;
  });
  assert.equal(await seatLook(bob.page, "B3"), "tier");
  await clickSeats(alice, ["B3", "B4"]);
  assert.match(await alice.page.locator(".basket").innerText(), /2 seats · total 900.00/);
  await shot(alice.page, "02-alice-selects");
  let delayMs = 0;
  await pushedTo(bob, EVENT, async () => {
    const answered = alice.page.waitForResponse((r) => r.url().endsWith(`/events/${EVENT}/holds`) && r.request().method() === "POST");
    await alice.page.click("#hold-button");
    assert.equal((await answered).status(), 201);
    const heldAtMs = Date.now();
    await waitForLook(bob.page, ["B3", "B4"], "held", LIVE_TIMEOUT_MS);
    delayMs = Date.now() - heldAtMs;
  });
  measured(t, `B saw A's hold ${delayMs} ms after its 201 (target: within 1,000 ms; pushed by the server's stream)`);
  assert.equal(await bob.page.evaluate(() => window.notReloaded), true, "B's page was reloaded");
  await waitForLook(alice.page, ["B3", "B4"], "mine");
  assert.match(await alice.page.locator(".countdown").innerText(), /^(10:00|9:5\d)$/);
  await shot(alice.page, "03-alice-holds");
  await shot(bob.page, "04-bob-sees-them-taken");
});

test("B's click on a seat A just took says so", async () => {
  await bob.page.click('[data-seat="B3"]', { force: true }); // aria-disabled: playwright would wait for it to enable
  const text = await noticeText(bob.page);
  assert.match(text, /just taken/i);
  assert.match(text, /B3/);
  assert.equal(await seatLook(bob.page, "B3"), "held", "the taken seat was selected anyway");
  await shot(bob.page, "05-bob-just-taken");
});

test("a seat taken between B's choice and B's hold: B is told which one, and the map refreshes", async () => {
  // B's page reopens with its stream held up on the way (the map loads, the stream does not
  // answer yet): nothing can tell B that carol takes C5 after B chose it.
  const stream = `**/events/${EVENT}/stream*`;
  let heldUp;
  const streamAsked = new Promise((ok) => (heldUp = ok));
  await bob.page.route(stream, (route) => heldUp(route));
  await bob.page.reload();
  await bob.page.waitForFunction(() => document.body.dataset.seatmapMs !== undefined);
  const streamRoute = await streamAsked;
  await bob.page.click('[data-seat="C5"]');
  await bob.page.click('[data-seat="C6"]');
  const carol = await server.request("POST", `/events/${EVENT}/holds`, { user_id: "carol", seat_ids: ["C5"] });
  assert.equal(carol.status, 201);
  assert.equal(await seatLook(bob.page, "C5"), "selected");
  assert.equal(await bob.page.getAttribute("#connection", "data-state"), "connecting", "B's page has no stream yet");
  await bob.page.click("#hold-button");
  await bob.page.waitForSelector('.notice:has-text("just taken")');
  const text = await noticeText(bob.page);
  assert.match(text, /C5 was just taken by someone else/);
  assert.doesNotMatch(text, /C6/);
  await waitForLook(bob.page, ["C5"], "held");
  assert.equal(await seatLook(bob.page, "C6"), "selected", "the seat still free stays selected");
  // The stream goes through now, from the first map's position: what it says first (carol's
  // hold) the refreshed map already showed.
  await streamRoute.continue();
  await bob.page.unroute(stream);
  await waitForPushed(bob.page);
  await shot(bob.page, "06-bob-409-just-taken");
  await bob.page.click('[data-seat="C6"]'); // deselect
  await pushedTo(bob, EVENT, async () => {
    assert.equal((await server.request("DELETE", `/holds/${carol.body.id}`)).status, 200);
    await waitForLook(bob.page, ["C5"], "tier", LIVE_TIMEOUT_MS);
  });
});

test("A checks out with the success card and sees the booking confirmed; B sees the seats sold", async (t) => {
  await shot(alice.page, "07-alice-checkout");
  const startedMs = Date.now();
  await pay(alice, "tok_visa");
  await alice.page.waitForSelector('.booking[data-status="confirmed"]', { timeout: 15000 });
  measured(t, `A's booking confirmed ${Date.now() - startedMs} ms after pressing Pay`);
  assert.match(await alice.page.locator(".booking").innerText(), /Confirmed[\s\S]*B3 and B4[\s\S]*900.00[\s\S]*alice@example.com/);
  await shot(alice.page, "08-alice-booking-confirmed");
  await pushedTo(bob, EVENT, () => waitForLook(bob.page, ["B3", "B4"], "sold", LIVE_TIMEOUT_MS));
});

test("a declined card frees the seats, and B sees them free again", async () => {
  await openEvent(alice, server.url, EVENT);
  await pushedTo(bob, EVENT, async () => {
    await hold(alice, ["D1", "D2"]);
    await waitForLook(bob.page, ["D1", "D2"], "held", LIVE_TIMEOUT_MS);
    await pay(alice, "tok_chargeDeclined");
    await alice.page.waitForSelector('.booking[data-status="payment_failed"]', { timeout: 15000 });
    assert.match(await alice.page.locator(".booking").innerText(), /card was declined[\s\S]*seats went back on sale/);
    await shot(alice.page, "09-alice-card-declined");
    await waitForLook(bob.page, ["D1", "D2"], "tier", LIVE_TIMEOUT_MS);
  });
  await shot(bob.page, "10-bob-sees-them-free-again");
});

test("a processing error is retried and the booking page follows it to confirmed", async () => {
  await openEvent(alice, server.url, EVENT);
  await hold(alice, ["E7"]);
  await pushedTo(bob, EVENT, async () => {
    await pay(alice, "tok_processingError");
    await alice.page.waitForSelector('.booking[data-status="confirmed"]', { timeout: 20000 });
    await waitForLook(bob.page, ["E7"], "sold", LIVE_TIMEOUT_MS);
  });
});

test("the per-buyer limit is explained", async () => {
  await openEvent(alice, server.url, EVENT);
  await clickSeats(alice, ["J1", "J2", "J3", "J4", "J5", "J6", "J7"]);
  await alice.page.click("#hold-button");
  await alice.page.waitForSelector('.notice:has-text("Seat limit reached")');
  assert.match(await noticeText(alice.page), /as many seats of this event as one buyer may/);
  await shot(alice.page, "11-alice-buyer-limit");
  await alice.page.click("text=Clear");
});

test("a hold left alone expires, and both pages show it", async (t) => {
  const created = await server.request("POST", "/events", {
    id: "quick-gig", name: "Quick Gig", venue: "The Lab", starts_at: "2027-05-01T20:00:00Z",
    hold_ttl_s: 3, max_seats_per_hold: 4,
    sections: [{ name: "Front", rows: ["A", "B"], seats_per_row: 8, price_cents: 3000 }],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await openEvent(alice, server.url, "quick-gig");
  await openEvent(bob, server.url, "quick-gig");
  await pushedTo(bob, "quick-gig", async () => {
    await hold(alice, ["A4", "A5"]);
    await waitForLook(bob.page, ["A4", "A5"], "held", LIVE_TIMEOUT_MS);
    const heldMs = Date.now();
    await alice.page.waitForSelector('.notice:has-text("Your hold expired")', { timeout: 15000 });
    measured(t, `A's page said the 3 s hold expired ${Date.now() - heldMs} ms after B saw it held`);
    assert.match(await noticeText(alice.page), /A4 and A5 went back on sale/);
    await waitForLook(alice.page, ["A4", "A5"], "tier");
    await waitForLook(bob.page, ["A4", "A5"], "tier", LIVE_TIMEOUT_MS);
  });
  await shot(alice.page, "12-alice-hold-expired");
  await shot(bob.page, "13-bob-sees-expiry");
});

test("my bookings lists A's bookings; a confirmed one can be cancelled and B sees its seats free", async () => {
  await openEvent(bob, server.url, EVENT);
  await alice.page.goto(server.url + "/#/my-bookings");
  await alice.page.waitForSelector(".booking-list li");
  const statuses = await alice.page.locator(".booking-list li").evaluateAll((lis) => lis.map((li) => li.dataset.status));
  assert.deepEqual(statuses, ["confirmed", "payment_failed", "confirmed"]); // newest first
  await shot(alice.page, "14-alice-my-bookings");
  await alice.page.locator('.booking-list li[data-status="confirmed"] a').last().click();
  await alice.page.waitForSelector('.booking[data-status="confirmed"]');
  await alice.page.click("#cancel-button");
  await pushedTo(bob, EVENT, async () => {
    await alice.page.click("#confirm-cancel-button");
    await alice.page.waitForSelector('.booking[data-status="cancelled"]');
    await waitForLook(bob.page, ["B3", "B4"], "tier", LIVE_TIMEOUT_MS);
  });
});

test("the same buyer after a reload: the hold is still there, counting down", async () => {
  await openEvent(alice, server.url, EVENT);
  await hold(alice, ["F1"]);
  const buyerId = await alice.page.evaluate(() => localStorage.getItem("tix.buyerId"));
  await alice.page.reload();
  await alice.page.waitForSelector(".basket h2:text('Held for you')");
  assert.equal(await alice.page.evaluate(() => localStorage.getItem("tix.buyerId")), buyerId);
  await waitForLook(alice.page, ["F1"], "mine");
  await pushedTo(bob, EVENT, async () => {
    await alice.page.click("#release-button");
    await alice.page.waitForSelector('.notice:has-text("Seats released")');
    await waitForLook(bob.page, ["F1"], "tier", LIVE_TIMEOUT_MS);
  });
});

test("with the keyboard: seats are focusable, labelled, moved through with arrows, chosen with Space", async () => {
  const page = bob.page;
  await openEvent(bob, server.url, EVENT);
  await page.focus('[data-seat][tabindex="0"]');
  const label = () => page.evaluate(() => document.activeElement.getAttribute("aria-label"));
  assert.equal(await label(), "Seat A1: Courtside, row A, seat 1, 2,500.00, available");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowDown");
  assert.equal(await label(), "Seat B2: Lower Bowl, row B, seat 2, 450.00, available");
  await page.keyboard.press("Space");
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-checked")), "true");
  assert.match(await page.locator(".basket").innerText(), /B2 · Lower Bowl · 450.00/);
  await page.keyboard.press("ArrowRight");
  assert.equal(await label(), "Seat B3: Lower Bowl, row B, seat 3, 450.00, available", "B3 came free with the cancellation");
  const e7 = page.locator('[data-seat="E7"]');
  assert.equal(await e7.getAttribute("aria-label"), "Seat E7: Upper Bowl, row E, seat 7, 120.00, sold");
  assert.equal(await e7.getAttribute("aria-disabled"), "true");
  await shot(page, "15-bob-keyboard");
});
