// notices: the messages area under the page header. Errors and warnings stay until the buyer
// dismisses them or the next page replaces them; each is announced to screen readers
// (role=alert on the area). A notice with a `key` replaces the previous one with that key.
"use strict";

import { el } from "./dom.js";

const MAX_NOTICES = 4;

function area() {
  return document.getElementById("notices");
}

// kind: "error" | "warning" | "info" | "success"; returns the notice element.
export function notify(kind, title, text, key) {
  const box = area();
  if (key) for (const old of box.querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) old.remove();
  const notice = el("div", { class: "notice " + kind, "data-kind": kind, "data-key": key || null },
    el("p", {}, el("strong", {}, title), text ? " " + text : ""),
    el("button", { type: "button", class: "dismiss", "aria-label": "Dismiss: " + title, onclick: () => notice.remove() }, "×"));
  box.prepend(notice);
  while (box.children.length > MAX_NOTICES) box.lastElementChild.remove();
  return notice;
}

// Removes the notices with this key (every notice when key is omitted).
export function clearNotices(key) {
  const box = area();
  if (!key) return box.replaceChildren();
  for (const old of box.querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) old.remove();
}
