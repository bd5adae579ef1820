// connection: the indicator of the page's link to the server, at the top of every page.
//
// A seat feed (live.js) reports its own state: "connecting", "live" (pushed by the stream or
// polled every half second), "reconnecting" or "unreachable". Pages without a feed show
// nothing while the server answers and "unreachable" when a call got no answer; every API
// call reports whether it got one (api.js).
"use strict";

const LABELS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  unreachable: "Server unreachable — retrying",
};

let feed = null; // {state, detail} while a seat feed runs
let callsFailing = false;

function render() {
  const node = document.getElementById("connection");
  if (!node) return;
  const state = feed ? feed.state : callsFailing ? "unreachable" : null;
  node.hidden = state === null;
  if (state === null) return;
  node.dataset.state = state;
  node.textContent = LABELS[state];
  node.title = (feed && feed.detail) || "";
}

// The seat feed's state (null when the page has no feed any more).
export function setFeedState(state, detail) {
  if (state !== null && !(state in LABELS)) throw new Error("unknown connection state " + state);
  feed = state === null ? null : { state, detail: detail || "" };
  render();
}

export function reportAnswer() {
  if (!callsFailing) return;
  callsFailing = false;
  render();
}

export function reportNoAnswer() {
  if (callsFailing) return;
  callsFailing = true;
  render();
}
