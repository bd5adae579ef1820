// svgmap: the seat map of a small venue as SVG, one focusable element per seat.
//
// Each seat is a <rect role="checkbox"> with an aria-label naming it, its price and its state,
// aria-checked while selected and aria-disabled while it cannot be taken. One seat at a time is
// in the tab order (a roving tabindex): the arrow keys move between seats and rows, Home and
// End go to a row's ends, Space or Enter selects. Seats are redrawn one by one as they change.
"use strict";

import { layoutVenue } from "./seatmap.js";

const NS = "http://www.w3.org/2000/svg";
const SEAT_SIZE = 0.8; // of a cell
const PX_PER_CELL_MIN = 15; // seats stay big enough to tap; the map scrolls sideways beyond
const PX_PER_CELL_MAX = 30;

function svgEl(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// Draws the map into container. handlers: onToggle(i), onInspect(i) (seat focused or hovered).
export function createSvgMap(container, model, handlers) {
  const layout = layoutVenue(model, { stacked: true });
  const pxPerCell = Math.min(PX_PER_CELL_MAX, Math.max(PX_PER_CELL_MIN, (container.clientWidth || 600) / layout.width));
  const svg = svgEl("svg", {
    viewBox: `0 0 ${layout.width} ${layout.height}`,
    width: Math.round(layout.width * pxPerCell),
    height: Math.round(layout.height * pxPerCell),
    role: "group",
    "aria-label": `Seat map of ${model.event.name}: arrow keys move between seats, Space selects`,
    class: "seatmap-svg",
  });
  const stage = svgEl("rect", { x: layout.stage.x, y: layout.stage.y, width: layout.stage.w, height: layout.stage.h, rx: 0.4, class: "stage" });
  const stageText = svgEl("text", { x: layout.width / 2, y: layout.stage.y + layout.stage.h / 2, class: "stage-label", "aria-hidden": "true" });
  stageText.textContent = "STAGE";
  svg.append(stage, stageText);
  for (const block of layout.blocks) {
    const section = model.sections[block.section];
    const title = svgEl("text", { x: block.seatsX, y: block.y + 1, class: "section-label", "aria-hidden": "true" });
    title.textContent = section.name;
    svg.append(title);
    section.rows.forEach((r, k) => {
      const label = svgEl("text", { x: block.x + 1, y: block.seatsY + k + 0.5, class: "row-label", "aria-hidden": "true" });
      label.textContent = model.rows[r].label;
      svg.append(label);
    });
  }
  const seats = new Array(model.count);
  for (let i = 0; i < model.count; i++) {
    const pad = (1 - SEAT_SIZE) / 2;
    seats[i] = svgEl("rect", {
      x: layout.xs[i] + pad, y: layout.ys[i] + pad, width: SEAT_SIZE, height: SEAT_SIZE, rx: 0.18,
      class: "seat", role: "checkbox", tabindex: -1, "data-i": i, "data-seat": model.ids[i],
    });
    svg.append(seats[i]);
  }
  let current = 0; // the seat in the tab order
  seats[current].setAttribute("tabindex", "0");

  function paint(i) {
    const seat = seats[i];
    const look = model.look(i);
    seat.setAttribute("fill", model.colour(i));
    seat.setAttribute("data-look", look);
    seat.setAttribute("aria-checked", look === "selected" ? "true" : "false");
    seat.setAttribute("aria-disabled", look === "selected" || model.available(i) ? "false" : "true");
    seat.setAttribute("aria-label", model.describe(i));
  }

  function moveTo(i, focus = true) {
    if (i < 0 || i >= model.count) return;
    seats[current].setAttribute("tabindex", "-1");
    current = i;
    seats[current].setAttribute("tabindex", "0");
    if (focus) seats[current].focus();
  }

  // The seat of row r nearest to seat i's position (for up and down).
  function nearestInRow(r, i) {
    const row = model.rows[r];
    let best = row.first;
    for (let j = row.first; j < row.first + row.count; j++) {
      if (Math.abs(layout.xs[j] - layout.xs[i]) < Math.abs(layout.xs[best] - layout.xs[i])) best = j;
    }
    return best;
  }

  function onKey(e) {
    const i = current;
    const r = model.rowOf[i];
    const row = model.rows[r];
    let next = -1;
    if (e.key === "ArrowLeft" && i > row.first) next = i - 1;
    else if (e.key === "ArrowRight" && i < row.first + row.count - 1) next = i + 1;
    else if (e.key === "ArrowUp" && r > 0) next = nearestInRow(r - 1, i);
    else if (e.key === "ArrowDown" && r < model.rows.length - 1) next = nearestInRow(r + 1, i);
    else if (e.key === "Home") next = row.first;
    else if (e.key === "End") next = row.first + row.count - 1;
    else if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      handlers.onToggle(i);
      return;
    } else return;
    e.preventDefault();
    if (next >= 0) moveTo(next);
  }

  const seatOf = (e) => {
    const node = e.target.closest && e.target.closest("[data-i]");
    return node ? Number(node.getAttribute("data-i")) : -1;
  };
  svg.addEventListener("keydown", onKey);
  svg.addEventListener("click", (e) => {
    const i = seatOf(e);
    if (i < 0) return;
    moveTo(i, false);
    handlers.onToggle(i);
  });
  svg.addEventListener("focusin", (e) => {
    const i = seatOf(e);
    if (i >= 0) {
      if (i !== current) moveTo(i, false);
      handlers.onInspect(i);
    }
  });
  svg.addEventListener("pointerover", (e) => {
    const i = seatOf(e);
    if (i >= 0) handlers.onInspect(i);
  });

  for (let i = 0; i < model.count; i++) paint(i);
  container.replaceChildren(svg);
  return {
    kind: "svg",
    update(indices) {
      if (indices === null) for (let i = 0; i < model.count; i++) paint(i);
      else for (const i of indices) paint(i);
    },
    focusSeat(i) {
      moveTo(i);
    },
    destroy() {
      svg.remove();
    },
  };
}
