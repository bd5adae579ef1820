// messages: what an API error means to the person in front of the page.
//
// explain(err, action) turns an ApiError into {title, text}: what happened, in words, and what
// to do next. Nothing here is only for the console: every failure a buyer can meet has a
// sentence (issue 11, "Errors a person understands").
"use strict";

import { plural, seatList } from "./dom.js";

const UNREACHABLE_WRITE =
  "Your request may not have reached the server. Trying again is safe: the same request is never applied twice.";

// action: what the buyer was doing ("hold", "checkout", "release", "cancel", "load").
export function explain(err, action = "load", context = {}) {
  const ids = err.seatIds || [];
  switch (err.code) {
    case "unreachable":
      return {
        title: "The server cannot be reached",
        text: action === "load"
          ? "Check your connection. The page keeps trying and updates itself once the server answers."
          : UNREACHABLE_WRITE,
      };
    case "seat_unavailable":
      return {
        title: ids.length ? `${plural(ids.length, "seat")} just taken` : "Seats just taken",
        text: (ids.length ? `Sorry — ${seatList(ids)} ${ids.length === 1 ? "was" : "were"} just taken by someone else. `
          : "Sorry — one of your seats was just taken by someone else. ") +
          "The map has been refreshed: please choose other seats.",
      };
    case "hold_not_active":
      return {
        title: "Your hold has ended",
        text: action === "checkout"
          ? "Your hold expired (or was released) before the payment started, so the seats went back on sale. Nothing was charged. Please choose your seats again."
          : "This hold is no longer active: it expired, was released or went to checkout.",
      };
    case "hold_not_found":
      return { title: "Hold not found", text: "This hold does not exist (any more)." };
    case "limit_exceeded":
      return {
        title: "Seat limit reached",
        text: err.status === 429
          ? "You already hold as many seats of this event as one buyer may. Buy or release the seats you hold (perhaps in another tab), or let them expire, then try again."
          : err.message,
      };
    case "too_many_seats":
      return {
        title: "Too many seats",
        text: context.maxSeats ? `One hold takes at most ${context.maxSeats} seats. Deselect some seats and try again.` : err.message,
      };
    case "rate_limited":
      return { title: "Too many requests", text: `Please wait ${err.retryAfterS || 1} s and try again.` };
    case "unauthorized":
      return {
        title: "A buyer link is needed",
        text: "This sale is open to signed-in buyers only. Open the ticket link the organiser's site gave you (it signs you in), then try again.",
      };
    case "invalid_token":
      return {
        title: "Your buyer link is no longer valid",
        text: "It has expired or is not valid for this server. Get a new ticket link from the organiser's site.",
      };
    case "forbidden":
      return { title: "Not yours", text: "This hold or booking belongs to another buyer." };
    case "booking_not_cancellable":
      return { title: "Cannot cancel", text: "This booking can no longer be cancelled (its payment is still being decided, or it already ended)." };
    case "booking_not_found":
      return { title: "Booking not found", text: "There is no booking with this number." };
    case "event_not_found":
      return { title: "Event not found", text: "This event does not exist (any more)." };
    case "idempotency_key_in_flight":
      return { title: "Still working on it", text: "Your previous attempt is still being processed. Try again in a moment." };
    case "overloaded":
    case "store_unavailable":
    case "shutting_down":
      return {
        title: "The server is busy",
        text: `Nothing was changed. Please try again in ${err.retryAfterS || "a few"} seconds.`,
      };
    default:
      return { title: "Something went wrong", text: err.message || "The server refused the request (" + err.status + ")." };
  }
}
