// dom: a tiny helper to build elements without HTML strings (nothing from the server is ever
// parsed as markup), and the formatting every view shares (money, dates, seat lists).
"use strict";

// el("p", {class: "x", onclick: f}, "text", child...): an element with attributes, listeners
// (keys starting with "on") and children (strings become text nodes; null and false are skipped).
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

// Appends children (strings, nodes, arrays of them) to node.
export function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Replaces every child of node.
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

// Money is integer cents without a currency in the API: shown as 1,234.50.
const moneyFormat = new Intl.NumberFormat("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export function money(cents) {
  return moneyFormat.format(cents / 100);
}

const dateFormat = new Intl.DateTimeFormat("en", {
  weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});
// An RFC 3339 time in the reader's time zone.
export function when(rfc3339) {
  const t = Date.parse(rfc3339);
  return Number.isNaN(t) ? rfc3339 : dateFormat.format(new Date(t));
}

// "A1", "A1 and A2", "A1, A2 and A3".
export function seatList(ids) {
  if (ids.length <= 1) return ids.join("");
  return ids.slice(0, -1).join(", ") + " and " + ids[ids.length - 1];
}

// "1 seat", "3 seats".
export function plural(n, word) {
  return n + " " + word + (n === 1 ? "" : "s");
}

// m:ss of a duration in milliseconds (never negative).
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}
