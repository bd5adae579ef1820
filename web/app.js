// tix buyer page: the list of events (the live seat map builds on this).
"use strict";
(async function main() {
  const status = document.getElementById("status");
  const list = document.getElementById("events");
  try {
    const res = await fetch("/events", { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error("the server answered " + res.status);
    const body = await res.json();
    status.textContent = body.events.length ? "" : "No events yet.";
    for (const ev of body.events) {
      const li = document.createElement("li");
      li.textContent = ev.name + " — " + ev.venue + " (" + ev.seats_available + " of " +
        ev.seats_total + " seats available)";
      list.appendChild(li);
    }
  } catch (err) {
    status.textContent = "The server cannot be reached: " + err.message;
  }
})();
