// seatmap: an event's seats as the page knows them, where each is drawn, and in what colour.
//
// SeatModel numbers the seats 0..n-1 in the order of the event's sections, rows and seat
// numbers (seat ids are row label + number, README "Create an event"), keeps each one's status
// in a typed array (50,000 seats cost a few hundred KB) and tells its listeners which seats
// changed. Statuses come from the server only (a full map, or the changes of the feed); the
// buyer's own selection and hold are kept beside them, never mixed in.
//
// layoutVenue() places every seat on a grid of cells: one cell a seat, sections as blocks with
// a title line and a column of row labels, the stage above them. SVG maps stack the sections
// front to back; canvas maps pack them in shelves to fill the space they are shown in.
"use strict";

import { money } from "./dom.js";

export const AVAILABLE = 0;
export const HELD = 1;
export const SOLD = 2;
const STATUS_CODES = { available: AVAILABLE, held: HELD, sold: SOLD }; // as mapworker.js
export const STATUS_NAMES = ["available", "held", "sold"];

// Price tiers (from the dearest down) and the buyer's own states; colour-blind-safe hues
// (Okabe-Ito) for the tiers, greys for seats that cannot be taken.
export const TIER_COLOURS = ["#6a3d9a", "#0072b2", "#009e73", "#e69f00", "#cc79a7", "#56b4e9"];
export const STATE_COLOURS = { held: "#c4c4c4", sold: "#5c5c5c", selected: "#111111", mine: "#d55e00" };

export class SeatModel {
  // event: GET /events/{id} (with its sections).
  constructor(event) {
    this.event = event;
    this.maxSeats = event.max_seats_per_hold;
    const prices = [...new Set(event.sections.map((s) => s.price_cents))].sort((a, b) => b - a);
    this.tiers = prices.map((price, i) => ({
      price_cents: price,
      colour: TIER_COLOURS[i % TIER_COLOURS.length],
      sections: event.sections.filter((s) => s.price_cents === price).map((s) => s.name),
    }));
    let n = 0;
    for (const s of event.sections) n += s.rows.length * s.seats_per_row;
    this.count = n;
    this.ids = new Array(n);
    this.rowOf = new Uint32Array(n);
    this.numberOf = new Uint16Array(n);
    this.tierOf = new Uint8Array(n);
    this.status = new Uint8Array(n);
    this.changedAtMs = new Float64Array(n); // when the feed last changed the seat (0: never)
    this.expiresAt = new Map(); // index -> RFC 3339 expiry of another buyer's hold, when known
    this.index = new Map();
    this.rows = []; // {label, section, first, count}
    this.sections = []; // {name, price_cents, tier, rows: [row numbers]}
    let i = 0;
    for (const s of event.sections) {
      const section = { name: s.name, price_cents: s.price_cents, tier: prices.indexOf(s.price_cents), rows: [] };
      for (const label of s.rows) {
        const row = this.rows.length;
        this.rows.push({ label, section: this.sections.length, first: i, count: s.seats_per_row });
        section.rows.push(row);
        for (let number = 1; number <= s.seats_per_row; number++, i++) {
          this.ids[i] = label + number;
          this.rowOf[i] = row;
          this.numberOf[i] = number;
          this.tierOf[i] = section.tier;
          this.index.set(this.ids[i], i);
        }
      }
      this.sections.push(section);
    }
    this.loaded = false; // a whole map came in
    this.selected = new Set(); // indices the buyer picked
    this.mine = new Set(); // indices of the buyer's active hold
    this.listeners = [];
  }

  // Calls fn(indices) after seats changed (status, selection or hold); indices null: all.
  onChange(fn) {
    this.listeners.push(fn);
  }

  notify(indices) {
    for (const fn of this.listeners) fn(indices);
  }

  // Takes every status of a whole seat map: ids[k] has status codes[k] (AVAILABLE, HELD, SOLD;
  // mapworker.js). A seat the map does not list cannot be bought. Returns the changed indices.
  replaceAll({ ids, codes }) {
    const changed = [];
    const now = this.loaded ? performance.now() : 0; // the first map changes nothing "just now"
    this.loaded = true;
    const seen = new Uint8Array(this.count);
    for (let k = 0; k < ids.length; k++) {
      const i = this.index.get(ids[k]);
      if (i === undefined) continue;
      seen[i] = 1;
      if (codes[k] !== this.status[i]) {
        this.status[i] = codes[k];
        this.changedAtMs[i] = now;
        changed.push(i);
      }
    }
    for (let i = 0; i < this.count; i++) {
      if (!seen[i] && this.status[i] !== SOLD) {
        this.status[i] = SOLD;
        changed.push(i);
      }
    }
    this.notify(null);
    return changed;
  }

  // Applies seat changes [{id, status, expires_at?}] in order. Returns the changed indices.
  applyChanges(seats) {
    const changed = [];
    const now = performance.now();
    for (const seat of seats) {
      const i = this.index.get(seat.id);
      const code = STATUS_CODES[seat.status];
      if (i === undefined || code === undefined) continue;
      if (seat.expires_at) this.expiresAt.set(i, seat.expires_at);
      else this.expiresAt.delete(i);
      if (code === this.status[i]) continue;
      this.status[i] = code;
      this.changedAtMs[i] = now;
      changed.push(i);
    }
    if (changed.length) this.notify(changed);
    return changed;
  }

  available(i) {
    return this.status[i] === AVAILABLE;
  }

  // Was seat i changed by the feed in the last ms milliseconds?
  changedWithin(i, ms) {
    return this.changedAtMs[i] > 0 && performance.now() - this.changedAtMs[i] < ms;
  }

  // What a seat looks like: "selected", "mine", "held", "sold" or "tier" (its price colour).
  look(i) {
    if (this.selected.has(i)) return "selected";
    if (this.mine.has(i)) return "mine";
    if (this.status[i] === HELD) return "held";
    if (this.status[i] === SOLD) return "sold";
    return "tier";
  }

  colour(i) {
    const look = this.look(i);
    return look === "tier" ? this.tiers[this.tierOf[i]].colour : STATE_COLOURS[look];
  }

  priceOf(i) {
    return this.sections[this.rows[this.rowOf[i]].section].price_cents;
  }

  // "held by you", "selected", "available", ...: the seat's state in words.
  stateWords(i) {
    const look = this.look(i);
    if (look === "selected") return "selected";
    if (look === "mine") return "held by you";
    if (look === "held") return "held by another buyer";
    if (look === "sold") return "sold";
    return "available";
  }

  // Full description for screen readers: "Seat A1: Courtside, row A, seat 1, 2,500.00, available".
  describe(i) {
    const row = this.rows[this.rowOf[i]];
    return `Seat ${this.ids[i]}: ${this.sections[row.section].name}, row ${row.label}, seat ${this.numberOf[i]}, ` +
      `${money(this.priceOf(i))}, ${this.stateWords(i)}`;
  }

  countAvailable() {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (this.status[i] === AVAILABLE) n++;
    return n;
  }
}

// Whole cells, so that a seat is a whole number of pixels in the canvas map's bitmaps.
const TITLE_CELLS = 2; // a section's name above its rows
const LABEL_CELLS = 2; // the column of row labels left of the seats
const GAP_CELLS = 2; // between sections
const STAGE_CELLS = 3; // the stage band above everything (at least; 4 % of a wide venue)

// Where each seat is: {xs, ys (cell of seat i, its top-left corner), blocks (a section's
// rectangle, its title and its first seat column), width, height, stage}. aspect: the width /
// height of the space the map is shown in; stacked: one section under the other.
export function layoutVenue(model, { aspect = 1.5, stacked = false } = {}) {
  const sizes = model.sections.map((s) => ({
    w: LABEL_CELLS + model.rows[s.rows[0]].count,
    h: TITLE_CELLS + s.rows.length,
  }));
  const shelves = stacked ? sizes.map((_, i) => [i]) : bestShelves(sizes, aspect);
  const width = Math.max(...shelves.map((shelf) => shelfWidth(sizes, shelf)));
  const stageCells = Math.max(STAGE_CELLS, Math.round(width * 0.04));
  const xs = new Float32Array(model.count);
  const ys = new Float32Array(model.count);
  const blocks = new Array(model.sections.length);
  let y = stageCells + GAP_CELLS;
  for (const shelf of shelves) {
    let x = Math.floor((width - shelfWidth(sizes, shelf)) / 2);
    let shelfHeight = 0;
    for (const s of shelf) {
      const size = sizes[s];
      const block = { section: s, x, y, w: size.w, h: size.h, seatsX: x + LABEL_CELLS, seatsY: y + TITLE_CELLS };
      blocks[s] = block;
      model.sections[s].rows.forEach((r, k) => {
        const row = model.rows[r];
        for (let j = 0; j < row.count; j++) {
          xs[row.first + j] = block.seatsX + j;
          ys[row.first + j] = block.seatsY + k;
        }
      });
      x += size.w + GAP_CELLS;
      shelfHeight = Math.max(shelfHeight, size.h);
    }
    y += shelfHeight + GAP_CELLS;
  }
  const stage = { x: Math.round(width * 0.2), y: 0.5, w: Math.round(width * 0.6), h: stageCells - 0.5 };
  return { xs, ys, blocks, width, height: y, stage };
}

function shelfWidth(sizes, shelf) {
  return shelf.reduce((w, s) => w + sizes[s].w, 0) + GAP_CELLS * (shelf.length - 1);
}

// Sections in order, cut into shelves no wider than some width; of the widths tried (each
// prefix of sections side by side), the one that shows seats biggest in a box of that aspect.
function bestShelves(sizes, aspect) {
  let best = null;
  for (let k = 1; k <= sizes.length; k++) {
    const limit = shelfWidth(sizes, sizes.slice(0, k).map((_, i) => i));
    const shelves = [];
    let shelf = [];
    for (let s = 0; s < sizes.length; s++) {
      if (shelf.length && shelfWidth(sizes, [...shelf, s]) > limit) {
        shelves.push(shelf);
        shelf = [];
      }
      shelf.push(s);
    }
    shelves.push(shelf);
    const w = Math.max(...shelves.map((sh) => shelfWidth(sizes, sh)));
    const h = Math.max(STAGE_CELLS, w * 0.04) +
      shelves.reduce((sum, sh) => sum + GAP_CELLS + Math.max(...sh.map((s) => sizes[s].h)), GAP_CELLS);
    const score = Math.min(aspect / w, 1 / h); // the seat's size when the map fits the box
    if (!best || score > best.score) best = { score, shelves };
  }
  return best.shelves;
}

// The seat whose cell holds the point (x, y) in cells, or -1.
export function seatAt(model, layout, x, y) {
  for (const block of layout.blocks) {
    if (x < block.seatsX || y < block.seatsY || x >= block.x + block.w || y >= block.y + block.h) continue;
    const section = model.sections[block.section];
    const row = model.rows[section.rows[Math.floor(y - block.seatsY)]];
    const j = Math.floor(x - block.seatsX);
    return row && j < row.count ? row.first + j : -1;
  }
  return -1;
}
