// bookings: a booking followed live until its payment is decided, and the buyer's bookings.
//
// The booking page polls GET /bookings/{id} while the payment is pending (twice a second, then
// more slowly) and says in words what became of it: confirmed, declined (the seats went back
// on sale), cancelled with a refund. A confirmed booking can be cancelled here, after a second
// click that confirms it. "My bookings" lists GET /users/{id}/bookings, newest first.
"use strict";

import * as api from "./api.js";
import { el, money, replace, seatList, when } from "./dom.js";
import { buyer } from "./identity.js";
import { explain } from "./messages.js";
import { notify } from "./notices.js";

const POLL_FAST_MS = 500; // while the payment is pending, for its first seconds
const POLL_SLOW_MS = 2000; // after POLL_FAST_FOR_MS
const POLL_FAST_FOR_MS = 20000;
const SLOW_PAYMENT_MS = 3000; // "still processing" after this long

export const STATUS_WORDS = {
  pending_payment: "Payment in progress",
  confirmed: "Confirmed",
  payment_failed: "Payment failed",
  cancelled: "Cancelled",
};

const eventNames = new Map(); // event id -> name, for the pages below

async function eventName(id) {
  if (!eventNames.has(id)) {
    try {
      for (const e of await api.listEvents()) eventNames.set(e.id, e.name);
    } catch {
      return id;
    }
  }
  return eventNames.get(id) || id;
}

// Renders booking bookingId into main and follows it; returns {destroy}.
export function showBookingPage(main, bookingId) {
  let timer = 0;
  let destroyed = false;
  let confirmingCancel = false;
  let cancelling = false;
  let shown = null; // the booking on screen
  const startedMs = Date.now();
  replace(main, el("p", { class: "loading" }, "Loading your booking…"));

  async function load() {
    timer = 0;
    let booking;
    try {
      booking = await api.getBooking(bookingId);
    } catch (err) {
      if (destroyed) return;
      if (err.status === 0 || err.status >= 500) return schedule(POLL_SLOW_MS, err); // keeps trying
      const { title, text } = explain(err, "load");
      replace(main, el("h1", { tabindex: -1 }, title), el("p", {}, text), el("p", {}, el("a", { href: "#/my-bookings" }, "My bookings")));
      return;
    }
    if (destroyed) return;
    render(booking, await eventName(booking.event_id));
    if (booking.status === "pending_payment") {
      schedule(Date.now() - startedMs < POLL_FAST_FOR_MS ? POLL_FAST_MS : POLL_SLOW_MS);
    }
  }

  function schedule(ms, err) {
    if (err && !main.querySelector(".booking")) {
      const { title, text } = explain(err, "load");
      replace(main, el("h1", { tabindex: -1 }, title), el("p", {}, text));
    }
    if (!destroyed) timer = setTimeout(load, ms);
  }

  // Shows booking again (after a click changed what its buttons say).
  function redraw(booking = shown) {
    render(booking, eventNames.get(booking.event_id) || booking.event_id);
  }

  function render(booking, name) {
    shown = booking;
    const status = booking.status;
    const first = !main.querySelector(".booking");
    const box = el("section", { class: "booking", "data-status": status, "aria-labelledby": "booking-title" },
      el("p", { class: "crumbs" }, el("a", { href: "#/my-bookings" }, "← My bookings"), " · ",
        el("a", { href: "#/events/" + encodeURIComponent(booking.event_id) }, name)),
      el("h1", { id: "booking-title", tabindex: -1 }, "Booking for " + name),
      el("p", { class: "status-line", role: "status", "aria-live": "polite" },
        el("span", { class: "badge " + status }, STATUS_WORDS[status] || status), " ", explainStatus(booking)),
      el("dl", { class: "facts" },
        el("dt", {}, "Seats"), el("dd", {}, seatList(booking.seat_ids)),
        el("dt", {}, "Amount"), el("dd", {}, money(booking.amount_cents)),
        booking.email ? [el("dt", {}, "Email"), el("dd", {}, booking.email)] : null,
        el("dt", {}, "Booked"), el("dd", {}, when(booking.created_at)),
        el("dt", {}, "Booking number"), el("dd", { class: "mono" }, booking.id)),
      actions(booking));
    replace(main, box);
    if (first) box.querySelector("h1").focus();
  }

  function explainStatus(booking) {
    switch (booking.status) {
      case "pending_payment":
        return Date.now() - startedMs > SLOW_PAYMENT_MS
          ? "Still waiting for the payment provider (it may have asked us to retry). This page updates by itself."
          : "We are charging your card; this page updates by itself.";
      case "confirmed":
        return booking.email ? `Your tickets are confirmed. A confirmation email goes to ${booking.email}.` : "Your tickets are confirmed.";
      case "payment_failed":
        return "Your card was declined. Nothing was charged and your seats went back on sale.";
      case "cancelled":
        return "This booking was cancelled; any payment is refunded.";
      default:
        return "";
    }
  }

  function actions(booking) {
    if (booking.status === "payment_failed") {
      return el("p", { class: "actions" }, el("a", { class: "button primary", href: "#/events/" + encodeURIComponent(booking.event_id) }, "Choose seats again"));
    }
    if (booking.status !== "confirmed") return null;
    if (!confirmingCancel) {
      return el("p", { class: "actions" }, el("button", { type: "button", id: "cancel-button",
        onclick: () => {
          confirmingCancel = true;
          redraw();
        } }, "Cancel booking"));
    }
    return el("div", { class: "confirm-cancel", role: "group", "aria-label": "Confirm cancellation" },
      el("p", {}, `Cancel this booking? ${seatList(booking.seat_ids)} go back on sale and ${money(booking.amount_cents)} is refunded.`),
      el("button", { type: "button", class: "danger", id: "confirm-cancel-button", disabled: cancelling, onclick: () => cancel(booking) },
        cancelling ? "Cancelling…" : "Yes, cancel it"), " ",
      el("button", { type: "button", onclick: () => {
        confirmingCancel = false;
        redraw();
      } }, "Keep it"));
  }

  async function cancel(booking) {
    cancelling = true;
    redraw(booking);
    try {
      const cancelled = await api.cancelBooking(booking.id);
      notify("success", "Booking cancelled", "Your refund has been requested.", "booking");
      confirmingCancel = false;
      cancelling = false;
      redraw(cancelled);
    } catch (err) {
      const { title, text } = explain(err, "cancel");
      notify("error", title, text, "booking");
      load();
    } finally {
      cancelling = false;
    }
  }

  load();
  return {
    destroy() {
      destroyed = true;
      clearTimeout(timer);
    },
  };
}

// Renders the buyer's bookings into main; returns {destroy}.
export function showMyBookings(main) {
  let destroyed = false;
  replace(main, el("h1", { tabindex: -1 }, "My bookings"), el("p", { class: "loading" }, "Loading…"));
  main.querySelector("h1").focus();
  (async () => {
    let bookings;
    try {
      bookings = await api.userBookings(buyer().userId);
    } catch (err) {
      if (destroyed) return;
      const { title, text } = explain(err, "load");
      replace(main, el("h1", { tabindex: -1 }, "My bookings"), el("p", { class: "error-text" }, `${title}. ${text}`));
      return;
    }
    await Promise.all([...new Set(bookings.map((b) => b.event_id))].map(eventName));
    if (destroyed) return;
    replace(main, el("h1", { tabindex: -1 }, "My bookings"),
      bookings.length === 0
        ? el("p", {}, "No bookings yet. ", el("a", { href: "#/" }, "Find an event"))
        : el("ul", { class: "booking-list" }, bookings.map((b) => el("li", { "data-status": b.status },
          el("a", { href: "#/bookings/" + encodeURIComponent(b.id) }, eventNames.get(b.event_id) || b.event_id),
          el("span", { class: "badge " + b.status }, STATUS_WORDS[b.status] || b.status),
          el("span", {}, `${seatList(b.seat_ids)} · ${money(b.amount_cents)} · ${when(b.created_at)}`)))));
  })();
  return {
    destroy() {
      destroyed = true;
    },
  };
}
