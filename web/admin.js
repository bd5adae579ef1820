// The organiser's page: asks for the admin token (kept in this tab's sessionStorage only),
// lists the events, and shows GET /admin/events/{id}/stats: seats, holds, bookings, revenue
// and a chart of the last hour's sales drawn here in SVG. It listens to the event's live seat
// stream (GET /events/{id}/stream) and asks for the stats again soon after each change it
// pushes (at most every STREAM_REFRESH_MS), and every SLOW_POLL_MS besides (the chart's minutes
// move on without any seat changing); while no stream is open it polls every POLL_MS.
"use strict";

const POLL_MS = 2000;
const SLOW_POLL_MS = 15000;
const STREAM_REFRESH_MS = 300;
const TOKEN_KEY = "tix-admin-token";
const SVG = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
let timer = null;
let source = null; // the EventSource of the event shown
let streaming = false; // source is open
let soonTimer = null;
let lastRefreshMs = 0;
let asked = 0; // stats requests made: only the latest one's answer is shown

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function show(board) {
  $("login").hidden = board;
  $("board").hidden = !board;
  $("forget").hidden = !board;
}

function money(cents) {
  return (cents / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function count(n) {
  return Number(n).toLocaleString();
}

// GET path with the admin token; resolves to the parsed body, rejects with a message.
async function api(path) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token() }, cache: "no-store" });
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401) {
    const err = new Error("the admin token was refused");
    err.unauthorized = true;
    throw err;
  }
  if (!res.ok) {
    const e = body && body.error;
    throw new Error(e ? e.message + " (" + e.code + (e.request_id ? ", request " + e.request_id : "") + ")"
                      : "HTTP " + res.status);
  }
  return body;
}

function setText(id, value) {
  const el = $(id);
  if (el) el.textContent = value;
}

function renderCards(s) {
  for (const k of ["available", "held", "sold", "total"]) setText("seats-" + k, count(s.seats[k]));
  setText("holds-active", count(s.holds.active));
  setText("holds-checkout", count(s.holds.checkout));
  for (const k of Object.keys(s.bookings)) setText("bookings-" + k, count(s.bookings[k]));
  setText("revenue", money(s.revenue_cents));
  const total = Math.max(1, s.seats.total);
  $("meter-sold").style.width = (100 * s.seats.sold / total) + "%";
  $("meter-held").style.width = (100 * s.seats.held / total) + "%";
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function hhmm(iso) {
  const d = new Date(iso);
  return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
}

// One bar per minute (seats sold), a y axis scaled to the busiest minute, a time label every
// ten minutes.
function renderChart(minutes) {
  const svg = $("chart");
  const W = 720, H = 240, left = 40, right = 24, top = 12, bottom = 28;
  const plotW = W - left - right, plotH = H - top - bottom;
  const max = Math.max(1, ...minutes.map((m) => m.seats));
  const step = plotW / minutes.length;
  svg.replaceChildren();
  svg.appendChild(svgEl("line", { class: "axis", x1: left, y1: top + plotH, x2: W - right, y2: top + plotH }));
  svg.appendChild(svgEl("line", { class: "axis", x1: left, y1: top, x2: left, y2: top + plotH }));
  svg.appendChild(svgEl("text", { x: left - 6, y: top + 10, "text-anchor": "end" }, count(max)));
  svg.appendChild(svgEl("text", { x: left - 6, y: top + plotH, "text-anchor": "end" }, "0"));
  minutes.forEach((m, i) => {
    const h = plotH * m.seats / max;
    const bar = svgEl("rect", { class: "bar", x: left + i * step + 1, y: top + plotH - h,
                                width: Math.max(1, step - 2), height: h });
    bar.appendChild(svgEl("title", {}, hhmm(m.minute) + ": " + count(m.seats) + " seats, " +
                                       count(m.bookings) + " bookings, " + money(m.revenue_cents)));
    svg.appendChild(bar);
    const last = i === minutes.length - 1;
    if (i % 10 === 0 || last)
      svg.appendChild(svgEl("text", { x: last ? W - 2 : left + i * step + step / 2, y: H - 8,
                                      "text-anchor": last ? "end" : "middle" }, hhmm(m.minute)));
  });
  const seats = minutes.reduce((a, m) => a + m.seats, 0);
  const cents = minutes.reduce((a, m) => a + m.revenue_cents, 0);
  setText("chart-summary", count(seats) + " seats sold in the last hour, " + money(cents) +
          "; busiest minute " + count(max === 1 && seats === 0 ? 0 : max) + " seats.");
}

async function refresh() {
  const id = $("event").value;
  if (!id) return;
  lastRefreshMs = Date.now();
  const mine = ++asked;
  try {
    const stats = await api("/admin/events/" + encodeURIComponent(id) + "/stats");
    if (mine !== asked) return; // a later answer is on its way (or the event was switched)
    renderCards(stats);
    renderChart(stats.sales_per_minute);
    setText("updated", "updated " + new Date(stats.generated_at).toLocaleTimeString() +
            (streaming ? " · live" : " · polled every " + POLL_MS / 1000 + " s"));
    $("updated").dataset.live = streaming ? "stream" : "poll";
    $("board-error").hidden = true;
  } catch (e) {
    if (e.unauthorized) return logout("The admin token was refused.");
    $("board-error").textContent = "Could not refresh: " + e.message;
    $("board-error").hidden = false;
  }
}

// Ask for the stats again shortly (changes come in bursts: one request for a burst).
function soon() {
  if (soonTimer) return;
  soonTimer = setTimeout(() => {
    soonTimer = null;
    refresh();
  }, STREAM_REFRESH_MS);
}

// Listen to the seat stream of event id (from now on: the stats are asked for on open).
function listen(id) {
  if (source) source.close();
  source = null;
  streaming = false;
  if (!id) return;
  const es = new EventSource("/events/" + encodeURIComponent(id) + "/stream");
  source = es;
  es.onopen = () => {
    streaming = true;
    soon();
  };
  es.addEventListener("seats", soon);
  es.addEventListener("reload", () => listen(id)); // it ends: again, from now on
  es.onerror = () => {
    if (source !== es) return;
    streaming = false;
    if (es.readyState === EventSource.CLOSED) setTimeout(() => source === es && listen(id), POLL_MS);
  };
}

// The timer's tick: poll while no stream is open, else now and then.
function tick() {
  if (!streaming || Date.now() - lastRefreshMs >= SLOW_POLL_MS) refresh();
}

async function loadEvents() {
  const body = await api("/events");
  const select = $("event");
  const keep = select.value || sessionStorage.getItem("tix-admin-event");
  select.replaceChildren();
  for (const ev of body.events) {
    const opt = document.createElement("option");
    opt.value = ev.id;
    opt.textContent = ev.name + " (" + ev.id + ")";
    select.appendChild(opt);
  }
  if (keep && body.events.some((e) => e.id === keep)) select.value = keep;
}

async function start() {
  // the token is checked on an admin endpoint before the board shows
  try {
    await loadEvents();
    const first = $("event").value;
    if (first) await api("/admin/events/" + encodeURIComponent(first) + "/stats");
  } catch (e) {
    return logout(e.unauthorized ? "The admin token was refused." : e.message);
  }
  show(true);
  clearInterval(timer);
  listen($("event").value);
  await refresh();
  timer = setInterval(tick, POLL_MS);
}

function logout(message) {
  clearInterval(timer);
  timer = null;
  listen(null);
  sessionStorage.removeItem(TOKEN_KEY);
  show(false);
  $("login-error").textContent = message || "";
  $("login-error").hidden = !message;
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  start();
});
$("forget").addEventListener("click", () => logout(""));
$("event").addEventListener("change", () => {
  sessionStorage.setItem("tix-admin-event", $("event").value);
  listen($("event").value);
  refresh();
});

if (token()) start();
else show(false);
