// eventpage: one event, from choosing seats to the start of the payment.
//
// The page keeps the seat map live (live.js), draws it as SVG for small venues and on a canvas
// with a seat finder for large ones, lets the buyer select up to the event's
// max_seats_per_hold, holds them (POST /events/{id}/holds), counts down to the hold's expiry,
// and checks out with a test card and an email (POST /holds/{id}/checkout), then hands over to
// the booking page. The hold is remembered across reloads. Every refusal is explained in the
// page (messages.js): seats just taken, the per-buyer limit, an expired hold, no server.
"use strict";

import * as api from "./api.js";
import { createCanvasMap } from "./canvasmap.js";
import { clock, el, money, plural, replace, seatList, when } from "./dom.js";
import { buyer, recall, remember } from "./identity.js";
import { SeatFeed } from "./live.js";
import { explain } from "./messages.js";
import { clearNotices, notify } from "./notices.js";
import { createSeatPicker } from "./seatpicker.js";
import { AVAILABLE, HELD, SeatModel, STATE_COLOURS } from "./seatmap.js";
import { createSvgMap } from "./svgmap.js";

export const SVG_MAX_SEATS = 2500; // larger venues are drawn on a canvas
const JUST_TAKEN_MS = 60000; // a seat taken this recently is "just taken"
const HOLD_WARNING_MS = 60000; // the countdown turns urgent in its last minute

export const TEST_CARDS = [
  { token: "tok_visa", label: "Visa ending 4242", effect: "payment succeeds" },
  { token: "tok_chargeDeclined", label: "Card ending 0002", effect: "declined by the bank" },
  { token: "tok_processingError", label: "Card ending 0119", effect: "processing error, retried, then succeeds" },
];

// Renders the event eventId into main; returns {destroy}.
export function showEventPage(main, eventId, navigate) {
  const page = new EventPage(main, eventId, navigate);
  page.open();
  return { destroy: () => page.destroy() };
}

class EventPage {
  constructor(main, eventId, navigate) {
    this.main = main;
    this.eventId = eventId;
    this.navigate = navigate;
    this.model = null;
    this.map = null;
    this.picker = null;
    this.feed = null;
    this.hold = null; // {id, seatIds, expiresAtMs (server time), ttlMs}
    this.busy = ""; // the request in flight: "hold", "release", "checkout"
    this.ticker = 0;
    this.countFrame = 0;
    this.destroyed = false;
  }

  async open() {
    delete document.body.dataset.seatmapMs;
    performance.clearMarks("tix:event-open");
    performance.mark("tix:event-open");
    replace(this.main, el("p", { class: "loading" }, "Loading the event…"));
    let event;
    try {
      event = await api.getEvent(this.eventId);
    } catch (err) {
      if (this.destroyed) return;
      const { title, text } = explain(err, "load");
      replace(this.main, el("h1", { tabindex: -1 }, title), el("p", {}, text),
        el("p", {}, el("button", { type: "button", onclick: () => this.open() }, "Try again"), " ",
          el("a", { href: "#/" }, "All events")));
      return;
    }
    if (this.destroyed) return;
    this.model = new SeatModel(event);
    this.build(event);
    this.model.onChange((indices) => this.seatsChanged(indices));
    this.feed = new SeatFeed(this.eventId, {
      onSnapshot: (map) => this.snapshot(map),
      onSeats: (seats) => this.changes(seats),
      onGone: (err) => notify("error", explain(err).title, explain(err).text, "feed"),
    });
    this.feed.start();
    this.restoreHold();
  }

  destroy() {
    this.destroyed = true;
    if (this.feed) this.feed.stop();
    if (this.map) this.map.destroy();
    if (this.picker) this.picker.destroy();
    clearInterval(this.ticker);
    if (this.countFrame) cancelAnimationFrame(this.countFrame);
    if (window.tix && window.tix.page === this) delete window.tix;
  }

  // ---- the page's parts ----
  build(event) {
    const canvas = this.model.count > SVG_MAX_SEATS;
    this.availability = el("p", { class: "availability", "aria-live": "off" }, "");
    this.seatInfo = el("p", { class: "seat-info" }, canvas
      ? "Tap or click a seat to select it; drag to move, pinch or scroll to zoom."
      : "Tap or click a seat to select it, or use the arrow keys and Space.");
    this.frame = el("div", { class: canvas ? "map-frame canvas-frame" : "map-frame svg-frame" },
      el("p", { class: "loading" }, "Loading the seats…"));
    this.pickerBox = el("div", { class: "picker-box" });
    this.basket = el("section", { class: "basket", "aria-labelledby": "basket-title" });
    replace(this.main,
      el("section", { class: "event-page" },
        el("header", { class: "event-head" },
          el("p", { class: "crumbs" }, el("a", { href: "#/" }, "← All events")),
          el("h1", { tabindex: -1 }, event.name),
          el("p", { class: "meta" }, `${event.venue} · ${when(event.starts_at)}`),
          el("p", { class: "meta" }, `Up to ${event.max_seats_per_hold} seats per order · seats are held for ` +
            `${event.hold_ttl_s < 120 ? event.hold_ttl_s + " s" : Math.round(event.hold_ttl_s / 60) + " min"} while you pay`),
          this.availability),
        el("div", { class: "event-layout" },
          el("div", { class: "map-area" },
            canvas ? this.zoomBar() : null,
            this.frame, this.seatInfo),
          this.basket,
          el("aside", { class: "side" }, this.legend(), canvas ? this.pickerBox : null))));
    this.main.querySelector("h1").focus();
    this.renderBasket();
    window.tix = { page: this, seatPoint: (id) => this.seatPoint(id), seatLook: (id) => this.seatLook(id),
      mapAnswers: () => (this.feed ? this.feed.mapAnswers : 0) };
  }

  // The map, drawn once the first seat map arrived (never from statuses not yet known).
  createMap() {
    const handlers = {
      onToggle: (i) => this.toggle(i),
      onInspect: (i) => {
        this.seatInfo.textContent = this.model.describe(i);
      },
      onDrawn: () => this.drawn(),
    };
    if (this.model.count > SVG_MAX_SEATS) {
      this.map = createCanvasMap(this.frame, this.model, {
        ...handlers,
        onToggle: (i) => {
          this.picker.showSeat(i);
          this.toggle(i);
        },
      });
      this.picker = createSeatPicker(this.pickerBox, this.model, {
        onToggle: (i) => this.toggle(i),
        onFocusSeat: (i) => {
          this.map.focusSeat(i);
          this.seatInfo.textContent = this.model.describe(i);
        },
      });
    } else {
      this.map = createSvgMap(this.frame, this.model, handlers);
      this.drawn();
    }
  }

  zoomBar() {
    return el("div", { class: "zoom-bar", role: "toolbar", "aria-label": "Zoom" },
      el("button", { type: "button", onclick: () => this.map && this.map.zoomIn(), "aria-label": "Zoom in" }, "+"),
      el("button", { type: "button", onclick: () => this.map && this.map.zoomOut(), "aria-label": "Zoom out" }, "−"),
      el("button", { type: "button", onclick: () => this.map && this.map.fit(), "aria-label": "Show the whole venue" }, "Fit"));
  }

  legend() {
    const item = (colour, text, look) => {
      const swatch = el("span", { class: "swatch", "aria-hidden": "true", "data-look": look });
      swatch.style.backgroundColor = colour; // CSSOM, not a style attribute: the CSP allows it
      return el("li", {}, swatch, text);
    };
    return el("section", { class: "legend", "aria-labelledby": "legend-title" },
      el("h2", { id: "legend-title" }, "Legend"),
      el("ul", {},
        this.model.tiers.map((t) => item(t.colour, `${t.sections.join(", ")} — ${money(t.price_cents)}`, "tier")),
        item(STATE_COLOURS.selected, "Your selection", "selected"),
        item(STATE_COLOURS.mine, "Held for you", "mine"),
        item(STATE_COLOURS.held, "Held by another buyer", "held"),
        item(STATE_COLOURS.sold, "Sold", "sold")));
  }

  // The first complete frame of the map: its time from opening the event (performance measure
  // "tix:seatmap", and data-seatmap-ms on the body for the browser tests).
  drawn() {
    performance.clearMeasures("tix:seatmap");
    const m = performance.measure("tix:seatmap", "tix:event-open");
    document.body.dataset.seatmapMs = String(Math.round(m.duration));
  }

  // ---- seats from the server ----
  snapshot(map) {
    this.model.replaceAll(map);
    if (!this.map) this.createMap();
    this.dropTakenSelection();
  }

  changes(seats) {
    this.model.applyChanges(seats);
    this.dropTakenSelection();
  }

  // Selected seats the server now shows taken leave the selection, with a word (not while a
  // hold is being made: its own seats turn "held" before its answer arrives).
  dropTakenSelection() {
    if (this.busy === "hold") return;
    const lost = [...this.model.selected].filter((i) => !this.model.available(i));
    if (!lost.length) return;
    for (const i of lost) this.model.selected.delete(i);
    this.model.notify(lost);
    const ids = lost.map((i) => this.model.ids[i]);
    notify("warning", `${plural(ids.length, "seat")} just taken`,
      `Sorry — ${seatList(ids)} ${ids.length === 1 ? "was" : "were"} just taken by someone else and left your selection.`, "taken");
    this.renderBasket();
  }

  seatsChanged(indices) {
    if (this.map) this.map.update(indices);
    if (this.picker) this.picker.update(indices);
    if (!this.countFrame) {
      this.countFrame = requestAnimationFrame(() => {
        this.countFrame = 0;
        const free = this.model.countAvailable();
        this.availability.textContent = `${free.toLocaleString("en")} of ${this.model.count.toLocaleString("en")} seats free`;
      });
    }
  }

  // ---- choosing seats ----
  toggle(i) {
    const model = this.model;
    if (!this.map) return;
    const id = model.ids[i];
    if (this.hold) {
      notify("info", "You are holding seats", "Check out or release the seats you hold before choosing others.", "toggle");
      return;
    }
    if (model.selected.has(i)) {
      model.selected.delete(i);
    } else if (model.status[i] !== AVAILABLE) {
      const just = model.changedWithin(i, JUST_TAKEN_MS);
      const text = model.status[i] === HELD
        ? (just ? `Sorry — ${id} was just taken by another buyer.` : `${id} is held by another buyer.`) +
          " It goes back on sale if they do not buy it. Please choose another seat."
        : `${id} is sold. Please choose another seat.`;
      notify("warning", just ? "Seat just taken" : "Seat not available", text, "toggle");
      return;
    } else if (model.selected.size >= model.maxSeats) {
      notify("warning", "Seat limit per order",
        `You can hold up to ${model.maxSeats} seats at once. Deselect a seat first.`, "toggle");
      return;
    } else {
      model.selected.add(i);
    }
    clearNotices("toggle");
    model.notify([i]);
    this.renderBasket();
  }

  selectedIds() {
    return [...this.model.selected].sort((a, b) => a - b).map((i) => this.model.ids[i]);
  }

  // ---- the basket: selection, then hold and checkout ----
  renderBasket() {
    if (this.hold) return this.renderHold();
    const model = this.model;
    const seats = [...model.selected].sort((a, b) => a - b);
    const total = seats.reduce((sum, i) => sum + model.priceOf(i), 0);
    replace(this.basket,
      el("h2", { id: "basket-title", tabindex: -1 }, "Your seats"),
      seats.length === 0
        ? el("p", { class: "hint" }, `Choose up to ${model.maxSeats} seats on the map.`)
        : el("ul", { class: "chosen" }, seats.map((i) => el("li", {},
          el("span", {}, `${model.ids[i]} · ${model.sections[model.rows[model.rowOf[i]].section].name} · ${money(model.priceOf(i))}`),
          el("button", { type: "button", class: "link", "aria-label": `Remove ${model.ids[i]}`, onclick: () => this.toggle(i) }, "Remove")))),
      seats.length ? el("p", { class: "total" }, `${plural(seats.length, "seat")} · total ${money(total)}`) : null,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "primary", id: "hold-button", disabled: !seats.length || this.busy === "hold",
          onclick: () => this.holdSelection() }, this.busy === "hold" ? "Holding…" : seats.length ? `Hold ${plural(seats.length, "seat")}` : "Hold seats"),
        seats.length ? el("button", { type: "button", onclick: () => this.clearSelection() }, "Clear") : null));
  }

  clearSelection() {
    const seats = [...this.model.selected];
    this.model.selected.clear();
    this.model.notify(seats);
    this.renderBasket();
  }

  async holdSelection() {
    if (this.busy) return;
    const ids = this.selectedIds();
    if (!ids.length) return;
    this.busy = "hold";
    this.renderBasket();
    try {
      const hold = await api.createHold(this.eventId, buyer().userId, ids);
      if (this.destroyed) return;
      api.syncClock(Date.parse(hold.created_at));
      clearNotices();
      this.model.selected.clear();
      this.adoptHold(hold);
      this.basket.querySelector("h2").focus();
    } catch (err) {
      if (this.destroyed) return;
      this.holdRefused(err);
    } finally {
      this.busy = "";
      if (!this.destroyed) {
        this.dropTakenSelection();
        this.renderBasket();
      }
    }
  }

  holdRefused(err) {
    const { title, text } = explain(err, "hold", { maxSeats: this.model.maxSeats });
    notify(err.status === 0 || err.status >= 500 ? "error" : "warning", title, text, "hold");
    if (err.code !== "seat_unavailable") return;
    const taken = err.seatIds.filter((id) => this.model.index.has(id));
    for (const id of taken) this.model.selected.delete(this.model.index.get(id));
    // Shown taken at once; the full map that follows says held or sold.
    this.model.applyChanges(taken.map((id) => ({ id, status: "held" })));
    this.feed.refresh();
  }

  // Makes hold the page's active hold: its seats turn "held for you" and the countdown starts.
  adoptHold(hold) {
    const ttlMs = Date.parse(hold.expires_at) - Date.parse(hold.created_at);
    this.hold = { id: hold.id, seatIds: hold.seat_ids, expiresAtMs: Date.parse(hold.expires_at), ttlMs };
    remember("hold", { id: hold.id, event_id: this.eventId });
    const mine = hold.seat_ids.map((id) => this.model.index.get(id)).filter((i) => i !== undefined);
    this.model.mine = new Set(mine);
    this.model.applyChanges(hold.seat_ids.map((id) => ({ id, status: "held", expires_at: hold.expires_at })));
    this.model.notify(mine);
    clearInterval(this.ticker);
    this.ticker = setInterval(() => this.tick(), 250);
    this.renderBasket();
  }

  dropHold() {
    const mine = [...this.model.mine];
    this.hold = null;
    this.model.mine = new Set();
    this.model.notify(mine);
    clearInterval(this.ticker);
    remember("hold", null);
    this.renderBasket();
  }

  // The hold remembered from an earlier visit, if it is still on.
  async restoreHold() {
    const saved = recall("hold");
    if (!saved || saved.event_id !== this.eventId) return;
    try {
      const hold = await api.getHold(saved.id);
      if (this.destroyed) return;
      if (hold.status === "active" && Date.parse(hold.expires_at) > api.serverNowMs()) this.adoptHold(hold);
      else if (hold.status === "checkout") {
        notify("info", "Your payment is in progress", `The seats ${seatList(hold.seat_ids)} are being paid for. See My bookings.`, "hold");
        remember("hold", null);
      } else remember("hold", null);
    } catch (err) {
      if (err.status !== 0) remember("hold", null);
    }
  }

  renderHold() {
    const hold = this.hold;
    const total = hold.seatIds.reduce((sum, id) => sum + this.model.priceOf(this.model.index.get(id)), 0);
    this.countdown = el("span", { class: "countdown", role: "timer", "aria-live": "off" }, "");
    this.progress = el("progress", { max: hold.ttlMs, value: 0, "aria-hidden": "true" });
    const email = el("input", { type: "email", id: "checkout-email", name: "email", required: true,
      autocomplete: "email", placeholder: "you@example.com", value: recall("email") || null });
    const cards = TEST_CARDS.map((card, k) => el("label", { class: "card-choice" },
      el("input", { type: "radio", name: "card", value: card.token, checked: k === 0 }),
      el("span", {}, el("strong", {}, card.label), ` — ${card.effect}`)));
    const pay = el("button", { type: "submit", class: "primary", id: "pay-button", disabled: !!this.busy },
      this.busy === "checkout" ? "Starting payment…" : `Pay ${money(total)}`);
    const form = el("form", { class: "checkout", "aria-labelledby": "checkout-title",
      onsubmit: (e) => {
        e.preventDefault();
        this.checkout(new FormData(form));
      } },
    el("h3", { id: "checkout-title" }, "Checkout"),
    el("label", { for: "checkout-email" }, "Email for your tickets"), email,
    el("fieldset", {}, el("legend", {}, "Test card"), cards),
    el("p", { class: "hint" }, "Demo payment provider: no real card is charged."),
    pay);
    replace(this.basket,
      el("h2", { id: "basket-title", tabindex: -1 }, "Held for you"),
      el("p", { class: "held-seats" }, `${seatList(hold.seatIds)} · total ${money(total)}`),
      el("p", { class: "timer-line" }, "Time left to pay: ", this.countdown), this.progress,
      form,
      el("div", { class: "actions" },
        el("button", { type: "button", id: "release-button", disabled: !!this.busy, onclick: () => this.release() },
          this.busy === "release" ? "Releasing…" : "Release seats")));
    this.tick();
  }

  // Once every 250 ms while holding: the countdown, the last-minute warning, the expiry.
  tick() {
    if (!this.hold || !this.countdown) return;
    const leftMs = Math.min(this.hold.ttlMs, this.hold.expiresAtMs - api.serverNowMs());
    this.countdown.textContent = clock(leftMs);
    this.progress.value = Math.max(0, leftMs);
    this.basket.classList.toggle("urgent", leftMs <= HOLD_WARNING_MS);
    if (leftMs <= HOLD_WARNING_MS && !this.hold.warned && this.hold.ttlMs > 2 * HOLD_WARNING_MS) {
      this.hold.warned = true;
      notify("warning", "One minute left", "Pay now or your seats go back on sale.", "hold");
    }
    if (leftMs <= 0 && !this.busy) this.lapsed();
  }

  lapsed() {
    const ids = this.hold.seatIds;
    this.dropHold();
    // The server reads a lapsed hold's seats as available at once: show them so before the feed does.
    this.model.applyChanges(ids.map((id) => ({ id, status: "available" })));
    notify("warning", "Your hold expired",
      `${seatList(ids)} went back on sale because the time to pay ran out. Nothing was charged; choose seats again to buy.`, "hold");
    this.feed.refresh();
  }

  async release() {
    if (this.busy || !this.hold) return;
    const ids = this.hold.seatIds;
    this.busy = "release";
    this.renderBasket();
    let released = false;
    let ended = true;
    try {
      await api.releaseHold(this.hold.id);
      released = true;
      notify("info", "Seats released", `${seatList(ids)} ${ids.length === 1 ? "is" : "are"} back on sale.`, "hold");
    } catch (err) {
      ended = err.code === "hold_not_active" || err.code === "hold_not_found";
      const { title, text } = explain(err, "release");
      notify(ended ? "info" : "error", ended ? "Your hold had already ended" : title, text, "hold");
    }
    this.busy = "";
    if (this.destroyed) return;
    if (!ended) return this.renderBasket();
    this.dropHold();
    if (released) this.model.applyChanges(ids.map((id) => ({ id, status: "available" })));
    this.feed.refresh();
  }

  async checkout(form) {
    if (this.busy || !this.hold) return;
    const email = String(form.get("email") || "").trim();
    const card = String(form.get("card") || TEST_CARDS[0].token);
    remember("email", email);
    this.busy = "checkout";
    this.renderBasket();
    try {
      const booking = await api.checkout(this.hold.id, card, email);
      if (this.destroyed) return;
      clearNotices();
      this.busy = "";
      this.dropHold();
      this.navigate("/bookings/" + booking.id);
    } catch (err) {
      this.busy = "";
      if (this.destroyed) return;
      const { title, text } = explain(err, "checkout");
      notify("error", title, text, "hold");
      if (err.code === "hold_not_active" || err.code === "hold_not_found") {
        this.dropHold();
        this.feed.refresh();
      } else this.renderBasket();
    }
  }

  // ---- for the browser tests (read-only) ----
  seatPoint(id) {
    const i = this.model.index.get(id);
    return i === undefined || !this.map.seatPoint ? null : this.map.seatPoint(i);
  }

  seatLook(id) {
    const i = this.model.index.get(id);
    return i === undefined ? null : this.model.look(i);
  }
}
