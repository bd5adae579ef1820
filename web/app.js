// app: the buyer's page. Routes on the address's #fragment, so that every view has a link and
// the back button works: #/ the events, #/events/{id} an event's seats, #/bookings/{id} a
// booking, #/my-bookings the buyer's bookings. A buyer token handed over by the organiser's
// site (#token=...) is taken into storage first (identity.js).
"use strict";

import * as api from "./api.js";
import { showBookingPage, showMyBookings } from "./bookings.js";
import { el, plural, replace, when } from "./dom.js";
import { showEventPage } from "./eventpage.js";
import { buyer, forgetToken, takeTokenFromUrl } from "./identity.js";
import { explain } from "./messages.js";
import { clearNotices, notify } from "./notices.js";

const EVENTS_RETRY_MS = 3000;

let current = null; // the view on screen: {destroy}

function navigate(route) {
  location.hash = "#" + route;
}

function route() {
  const main = document.getElementById("main");
  const path = location.hash.replace(/^#/, "") || "/";
  if (current) current.destroy();
  clearNotices();
  let m;
  if ((m = /^\/events\/([^/]+)$/.exec(path))) current = showEventPage(main, decodeURIComponent(m[1]), navigate);
  else if ((m = /^\/bookings\/([^/]+)$/.exec(path))) current = showBookingPage(main, decodeURIComponent(m[1]));
  else if (path === "/my-bookings") current = showMyBookings(main);
  else current = showEvents(main);
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.getAttribute("href") === "#" + path);
  }
}

// The list of events, retried every few seconds while the server does not answer.
function showEvents(main) {
  let timer = 0;
  let destroyed = false;
  replace(main, el("h1", { tabindex: -1 }, "Events"), el("p", { class: "loading" }, "Loading events…"));
  async function load() {
    let events;
    try {
      events = await api.listEvents();
    } catch (err) {
      if (destroyed) return;
      const { title, text } = explain(err, "load");
      replace(main, el("h1", { tabindex: -1 }, "Events"), el("p", { class: "error-text" }, `${title}. ${text}`));
      timer = setTimeout(load, EVENTS_RETRY_MS);
      return;
    }
    if (destroyed) return;
    replace(main, el("h1", { tabindex: -1 }, "Events"),
      events.length === 0 ? el("p", {}, "No events on sale yet.") : el("ul", { class: "event-list" }, events.map(eventCard)));
  }
  load();
  return {
    destroy() {
      destroyed = true;
      clearTimeout(timer);
    },
  };
}

function eventCard(e) {
  const href = "#/events/" + encodeURIComponent(e.id);
  const soldOut = e.seats_available === 0;
  return el("li", { class: "event-card" },
    el("h2", {}, el("a", { href }, e.name)),
    el("p", { class: "meta" }, `${e.venue} · ${when(e.starts_at)}`),
    el("p", { class: soldOut ? "availability sold-out" : "availability" },
      soldOut ? "Sold out" : `${e.seats_available.toLocaleString("en")} of ${e.seats_total.toLocaleString("en")} seats available`),
    el("p", { class: "meta" }, `Up to ${plural(e.max_seats_per_hold, "seat")} per order`),
    el("p", {}, el("a", { class: "button primary", href, "aria-label": `Choose seats for ${e.name}` }, "Choose seats")));
}

// The footer says who the buyer is (and lets a buyer drop an expired token).
function showBuyer() {
  const who = buyer();
  const footer = document.getElementById("buyer");
  replace(footer, who.source === "token"
    ? [`Signed in by the organiser as ${who.userId}. `,
      el("button", { type: "button", class: "link", onclick: () => {
        forgetToken();
        showBuyer();
      } }, "Sign out")]
    : `You are buyer ${who.userId} on this device.`);
  if (who.tokenExpired) {
    notify("warning", "Your buyer link has expired", "Get a new ticket link from the organiser's site to keep buying.", "token");
  }
}

takeTokenFromUrl();
showBuyer();
window.addEventListener("hashchange", route);
route();
