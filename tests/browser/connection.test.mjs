// The page's link to the server: polling while tix has no seat stream, the stream client (played
// by a proxy until the server side lands: lib/streamproxy.mjs), the server going away and coming
// back, and buyer tokens handed over in the link.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TixServer } from "./lib/tixserver.mjs";
import { StreamProxy } from "./lib/streamproxy.mjs";
import { launchBrowser, newBuyer, openEvent, seatLook, shot, waitForLook } from "./lib/browser.mjs";

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

function connection(page) {
  return page.locator("#connection");
}

async function waitForConnection(page, state, timeout = 15000) {
  await page.waitForSelector(`#connection[data-state="${state}"]`, { timeout });
}

test("without a seat stream (404) the page polls the seat map with If-None-Match and says it is live", async () => {
  const buyer = await newBuyer(browser, "poller");
  const seen = [];
  buyer.page.on("response", (r) => seen.push(`${r.status()} ${new URL(r.url()).pathname}`));
  await openEvent(buyer, server.url, EVENT);
  await waitForConnection(buyer.page, "live");
  assert.equal(await connection(buyer.page).innerText(), "Live");
  assert.match(await connection(buyer.page).getAttribute("title"), /polled every 500 ms/);
  await buyer.page.waitForTimeout(1200);
  assert.ok(seen.includes(`404 /events/${EVENT}/stream`), seen.join("\n"));
  assert.ok(seen.filter((s) => s === `304 /events/${EVENT}/seats`).length >= 1, "unchanged maps come back 304");
  assert.deepEqual(buyer.errors, []);
  await buyer.context.close();
});

test("the server going away is shown, and the page reconnects by itself when it is back", async () => {
  const buyer = await newBuyer(browser, "patient");
  await openEvent(buyer, server.url, EVENT);
  await waitForConnection(buyer.page, "live");
  await buyer.page.click('[data-seat="G5"]');
  await server.stop();
  await waitForConnection(buyer.page, "unreachable");
  assert.equal(await connection(buyer.page).innerText(), "Server unreachable — retrying");
  await buyer.page.click("#hold-button");
  await buyer.page.waitForSelector('.notice:has-text("The server cannot be reached")');
  assert.match(await buyer.page.locator("#notices").innerText(), /Trying again is safe/);
  await shot(buyer.page, "30-server-unreachable");
  await server.start(); // same port, same data
  await waitForConnection(buyer.page, "live", 20000);
  const carol = await server.request("POST", `/events/${EVENT}/holds`, { user_id: "carol", seat_ids: ["H9"] });
  assert.equal(carol.status, 201);
  await waitForLook(buyer.page, ["H9"], "held");
  await buyer.page.click("#hold-button"); // the same request again: it goes through now
  await buyer.page.waitForSelector(".basket h2:text('Held for you')");
  await waitForLook(buyer.page, ["G5"], "mine");
  assert.deepEqual(buyer.errors, []);
  await buyer.context.close();
});

test("with a seat stream: pushed changes are shown, old ones skipped, a reload message reloads; a full server means polling", async () => {
  const proxy = await new StreamProxy(server).start();
  try {
    const buyer = await newBuyer(browser, "streamer");
    await openEvent(buyer, proxy.url, EVENT);
    await waitForConnection(buyer.page, "live");
    assert.match(await connection(buyer.page).getAttribute("title"), /pushed by the server/);
    assert.equal(proxy.streamRequests[0].url, `/events/${EVENT}/stream?after=5`, "listens from the map's position");
    assert.equal(await seatLook(buyer.page, "A1"), "tier");
    proxy.push("seats", { position: 6, seats: [{ id: "A1", status: "held", expires_at: "2030-01-01T00:00:00Z" }, { id: "A2", status: "sold" }] }, 6);
    await waitForLook(buyer.page, ["A1"], "held");
    assert.equal(await seatLook(buyer.page, "A2"), "sold");
    proxy.push("seats", { position: 4, seats: [{ id: "A1", status: "available" }] }, 4); // already shown
    proxy.push("seats", { position: 7, seats: [{ id: "A3", status: "held" }] }, 7);
    await waitForLook(buyer.page, ["A3"], "held");
    assert.equal(await seatLook(buyer.page, "A1"), "held", "a message older than the page's position was applied");
    proxy.dropStreams(); // the browser reconnects with Last-Event-ID
    await waitUntil(() => proxy.streamRequests.length >= 2);
    assert.equal(proxy.streamRequests[1].lastEventId, "7");
    proxy.position = 9;
    proxy.push("reload", { reason: "too far behind" });
    await waitForLook(buyer.page, ["A1", "A2", "A3"], "tier"); // the real map: all free
    await waitUntil(() => proxy.streamRequests.some((r) => r.url.endsWith("?after=9")));
    proxy.mode = "full";
    proxy.dropStreams();
    await buyer.page.waitForFunction(() => document.querySelector("#connection").title.includes("polled"), null, { timeout: 15000 });
    const carol = await server.request("POST", `/events/${EVENT}/holds`, { user_id: "carol", seat_ids: ["J10"] });
    assert.equal(carol.status, 201);
    await waitForLook(buyer.page, ["J10"], "held");
    assert.deepEqual(buyer.errors, []);
    await buyer.context.close();
  } finally {
    await proxy.close();
  }
});

async function waitUntil(fn, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error("timed out waiting for " + fn);
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

test("buyer tokens: without one the page says a buyer link is needed; with one from the link, the buyer is the token's", async () => {
  const guarded = await new TixServer({ args: ["--require-buyer-token", "1"] }).start();
  try {
    const stranger = await newBuyer(browser, "stranger");
    await openEvent(stranger, guarded.url, EVENT);
    await stranger.page.click('[data-seat="C1"]');
    await stranger.page.click("#hold-button");
    await stranger.page.waitForSelector('.notice:has-text("A buyer link is needed")');
    await shot(stranger.page, "31-buyer-link-needed");
    const minted = await guarded.request("POST", "/admin/buyer-tokens", { user_id: "dana", ttl_s: 3600 });
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    const dana = await newBuyer(browser, "dana");
    await dana.page.goto(`${guarded.url}/#token=${minted.body.token}&/events/${EVENT}`);
    await dana.page.waitForFunction(() => document.body.dataset.seatmapMs !== undefined);
    assert.equal(new URL(dana.page.url()).hash, `#/events/${EVENT}`, "the token left the address bar");
    assert.match(await dana.page.locator("#buyer").innerText(), /Signed in by the organiser as dana/);
    await dana.page.click('[data-seat="C1"]');
    await dana.page.click("#hold-button");
    await dana.page.waitForSelector(".basket h2:text('Held for you')");
    const holds = await guarded.request("GET", `/events/${EVENT}/seats?status=held`);
    assert.deepEqual(holds.body.seats.map((s) => s.id), ["C1"]);
    await dana.page.reload(); // the token is kept
    await dana.page.waitForSelector(".basket h2:text('Held for you')");
    assert.deepEqual([...stranger.errors, ...dana.errors], []);
  } finally {
    await guarded.close();
  }
});
