// canvasmap: the seat map of a large venue (the 50,000-seat stadium) on a canvas, with zoom
// and pan by wheel, drag, pinch, buttons and keys.
//
// Seats are not drawn one by one each frame (50,000 rectangles take 70-120 ms to rasterise
// without a GPU). They live in two bitmaps: one pixel per seat for views from afar, and P
// pixels per seat (a (P-1)-pixel square and a gap) for views from near, drawn without
// smoothing so that seats stay crisp squares however far one zooms. A seat that changes
// repaints its few pixels; a frame is one drawImage and the labels, and at most one frame is
// drawn per animation frame however many changes arrive.
//
// A canvas has no elements to focus: keyboard and screen-reader users pick seats with the
// seat finder beside it (seatpicker.js); the canvas itself takes keys to pan and zoom, and
// rings the seat the finder points at.
"use strict";

import { layoutVenue, seatAt } from "./seatmap.js";

const SCALE_MAX = 48; // px per cell
const CLICK_SLOP_PX = 6; // a press that moves less than this is a click, not a drag
const NEAR_PX_PER_SEAT = 4; // the near bitmap's pixels per seat (3 of seat, 1 of gap)
const NEAR_PIXELS_MAX = 16 * 1024 * 1024; // its size limit (a million seats fit at 2-4 px each)
const BACKGROUND = "#f4f4f1";
const FIT_MARGIN = 0.96; // the whole venue fills 96 % of the canvas

// A bitmap of every seat at px pixels per cell, repainted seat by seat.
class SeatBitmap {
  constructor(layout, px) {
    this.px = px;
    this.canvas = document.createElement("canvas");
    this.canvas.width = Math.ceil(layout.width * px);
    this.canvas.height = Math.ceil(layout.height * px);
    this.ctx = this.canvas.getContext("2d");
    this.image = this.ctx.createImageData(this.canvas.width, this.canvas.height);
    this.pixels = new Uint32Array(this.image.data.buffer);
    this.dirty = null; // {x0, y0, x1, y1} of pixels not yet in the canvas
  }

  paint(x, y, rgba) {
    const size = Math.max(1, this.px - 1);
    const px0 = Math.round(x * this.px);
    const py0 = Math.round(y * this.px);
    for (let dy = 0; dy < size; dy++) this.pixels.fill(rgba, (py0 + dy) * this.canvas.width + px0, (py0 + dy) * this.canvas.width + px0 + size);
    const d = this.dirty || (this.dirty = { x0: px0, y0: py0, x1: px0 + size, y1: py0 + size });
    d.x0 = Math.min(d.x0, px0);
    d.y0 = Math.min(d.y0, py0);
    d.x1 = Math.max(d.x1, px0 + size);
    d.y1 = Math.max(d.y1, py0 + size);
  }

  flush() {
    const d = this.dirty;
    if (!d) return;
    this.ctx.putImageData(this.image, 0, 0, d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0);
    this.dirty = null;
  }
}

// "#rrggbb" as the 32-bit RGBA word of an ImageData pixel (little-endian: ABGR).
function rgbaWord(hex) {
  const n = parseInt(hex.slice(1), 16);
  return ((0xff << 24) | ((n & 0xff) << 16) | (n & 0xff00) | ((n >> 16) & 0xff)) >>> 0;
}

// Draws the map into container (a sized box). handlers: onToggle(i), onInspect(i), onDrawn(ms)
// after the first frame (ms: its drawing time).
export function createCanvasMap(container, model, handlers) {
  const box = container.getBoundingClientRect();
  const layout = layoutVenue(model, { aspect: Math.max(0.5, box.width / Math.max(1, box.height)) });
  const canvas = document.createElement("canvas");
  canvas.className = "seatmap-canvas";
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `Seat map of ${model.event.name}, ${model.count.toLocaleString("en")} seats. ` +
    "Arrow keys pan, plus and minus zoom, 0 shows the whole venue. To choose seats with the keyboard or a screen reader, use the seat finder.");
  container.replaceChildren(canvas);
  const ctx = canvas.getContext("2d", { alpha: false });
  const nearPx = Math.max(2, Math.min(NEAR_PX_PER_SEAT, Math.floor(Math.sqrt(NEAR_PIXELS_MAX / (layout.width * layout.height)))));
  const far = new SeatBitmap(layout, 1);
  const near = new SeatBitmap(layout, nearPx);
  const words = new Map(); // colour -> RGBA word
  const view = { scale: 1, x0: 0, y0: 0, fitScale: 1 }; // screen = (cell - x0) * scale
  let width = 0;
  let height = 0;
  let frame = 0;
  let drawnOnce = false;
  let ring = -1; // seat pointed at by the finder

  function paintSeat(i) {
    const colour = model.colour(i);
    let word = words.get(colour);
    if (word === undefined) words.set(colour, (word = rgbaWord(colour)));
    far.paint(layout.xs[i], layout.ys[i], word);
    near.paint(layout.xs[i], layout.ys[i], word);
  }

  function update(indices) {
    if (indices === null) for (let i = 0; i < model.count; i++) paintSeat(i);
    else for (const i of indices) paintSeat(i);
    invalidate();
  }

  function resize() {
    const r = container.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const cx = width ? view.x0 + width / 2 / view.scale : layout.width / 2;
    const cy = height ? view.y0 + height / 2 / view.scale : layout.height / 2;
    width = Math.max(1, r.width);
    height = Math.max(1, r.height);
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    view.fitScale = Math.min(width / layout.width, height / layout.height) * FIT_MARGIN;
    if (!drawnOnce) return fit();
    view.x0 = cx - width / 2 / view.scale;
    view.y0 = cy - height / 2 / view.scale;
    invalidate();
  }

  function fit() {
    view.scale = view.fitScale;
    view.x0 = (layout.width - width / view.scale) / 2;
    view.y0 = (layout.height - height / view.scale) / 2;
    invalidate();
  }

  // Zooms by factor keeping the point (sx, sy) of the canvas where it is.
  function zoomAt(factor, sx = width / 2, sy = height / 2) {
    const scale = Math.min(SCALE_MAX, Math.max(view.fitScale * 0.8, view.scale * factor));
    const cx = view.x0 + sx / view.scale;
    const cy = view.y0 + sy / view.scale;
    view.scale = scale;
    view.x0 = cx - sx / scale;
    view.y0 = cy - sy / scale;
    invalidate();
  }

  function panBy(dxPx, dyPx) {
    view.x0 -= dxPx / view.scale;
    view.y0 -= dyPx / view.scale;
    invalidate();
  }

  function invalidate() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function draw() {
    frame = 0;
    const t0 = performance.now();
    const dpr = canvas.width / width;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, width, height);
    ctx.setTransform(dpr * view.scale, 0, 0, dpr * view.scale, -view.x0 * view.scale * dpr, -view.y0 * view.scale * dpr);
    drawStage();
    // From afar one pixel per seat, smoothed; from near the big bitmap, crisp.
    const devicePxPerCell = view.scale * dpr;
    const bitmap = devicePxPerCell < nearPx * 0.75 ? far : near;
    bitmap.flush();
    ctx.imageSmoothingEnabled = devicePxPerCell < bitmap.px;
    ctx.drawImage(bitmap.canvas, 0, 0, layout.width, layout.height);
    drawLabels();
    if (ring >= 0) {
      ctx.strokeStyle = "#111";
      ctx.lineWidth = Math.max(0.12, 2.5 / view.scale);
      ctx.strokeRect(layout.xs[ring] - 0.15, layout.ys[ring] - 0.15, 1.05, 1.05);
    }
    if (!drawnOnce) {
      drawnOnce = true;
      if (handlers.onDrawn) handlers.onDrawn(performance.now() - t0);
    }
  }

  function drawStage() {
    const s = layout.stage;
    ctx.fillStyle = "#2b2b2b";
    ctx.fillRect(s.x, s.y, s.w, s.h);
    text("STAGE", s.x + s.w / 2, s.y + s.h / 2, Math.min(s.h * 0.7, Math.max(12 / view.scale, 2)), "#fff", "center");
  }

  // Section names (over their seats when zoomed out too far to read them above), row labels
  // and seat numbers once they are readable; only for what is in view.
  function drawLabels() {
    const top = view.y0;
    const bottom = view.y0 + height / view.scale;
    const left = view.x0;
    const right = view.x0 + width / view.scale;
    for (const block of layout.blocks) {
      if (block.x > right || block.x + block.w < left || block.y > bottom || block.y + block.h < top) continue;
      const section = model.sections[block.section];
      if (view.scale * 1.1 < 11) {
        overviewLabel(section.name, block);
        continue;
      }
      text(section.name, block.seatsX, block.seatsY - 0.3, 1.1, "#222", "left", "bottom");
      if (view.scale < 7) continue;
      const k0 = Math.max(0, Math.floor(top - block.seatsY));
      const k1 = Math.min(section.rows.length, Math.ceil(bottom - block.seatsY));
      for (let k = k0; k < k1; k++) {
        const row = model.rows[section.rows[k]];
        text(row.label, block.x + 1, block.seatsY + k + 0.45, 0.6, "#555", "center");
        if (view.scale < 16) continue;
        for (let i = row.first; i < row.first + row.count; i++) {
          if (layout.xs[i] + 1 < left || layout.xs[i] > right) continue;
          const look = model.look(i);
          const size = (nearPx - 1) / nearPx; // the seat's square in the near bitmap
          text(String(model.numberOf[i]), layout.xs[i] + size / 2, layout.ys[i] + size / 2 + 0.02, 0.34,
            look === "held" ? "#222" : "#fff", "center");
        }
      }
    }
  }

  function overviewLabel(name, block) {
    const dpr = canvas.width / width;
    const x = (block.seatsX + (block.x + block.w - block.seatsX) / 2 - view.x0) * view.scale;
    const y = (block.seatsY + (block.y + block.h - block.seatsY) / 2 - view.y0) * view.scale;
    ctx.save();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = "600 13px system-ui, sans-serif";
    const w = ctx.measureText(name).width + 14;
    ctx.fillStyle = "rgba(255, 255, 255, 0.9)";
    ctx.fillRect(x - w / 2, y - 11, w, 22);
    ctx.fillStyle = "#111";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(name, x, y);
    ctx.restore();
  }

  // Text at (x, y) in cells, drawn in screen pixels (tiny fonts under a scaled transform
  // render badly).
  function text(s, x, y, sizeCells, colour, align, baseline = "middle") {
    const dpr = canvas.width / width;
    ctx.save();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = colour;
    ctx.font = `${Math.round(sizeCells * view.scale)}px system-ui, sans-serif`;
    ctx.textAlign = align;
    ctx.textBaseline = baseline;
    ctx.fillText(s, (x - view.x0) * view.scale, (y - view.y0) * view.scale);
    ctx.restore();
  }

  // ---- input: pointers (mouse, touch, pen), wheel, keys ----
  const pointers = new Map(); // id -> {x, y}
  let press = null; // {x, y, moved} of a single-pointer press
  let pinch = 0; // distance between two pointers

  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const cellOf = (p) => seatAt(model, layout, view.x0 + p.x / view.scale, view.y0 + p.y / view.scale);

  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    const p = local(e);
    pointers.set(e.pointerId, p);
    press = pointers.size === 1 ? { ...p, moved: false } : null;
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      pinch = Math.hypot(a.x - b.x, a.y - b.y);
    }
  });
  canvas.addEventListener("pointermove", (e) => {
    const p = local(e);
    const last = pointers.get(e.pointerId);
    if (!last) {
      const i = cellOf(p);
      if (i >= 0) handlers.onInspect(i);
      return;
    }
    pointers.set(e.pointerId, p);
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      if (pinch > 0) zoomAt(d / pinch, (a.x + b.x) / 2, (a.y + b.y) / 2);
      pinch = d;
      return;
    }
    if (press && !press.moved && Math.hypot(p.x - press.x, p.y - press.y) < CLICK_SLOP_PX) return;
    if (press) press.moved = true;
    panBy(p.x - last.x, p.y - last.y);
  });
  const release = (e) => {
    const p = local(e);
    if (pointers.delete(e.pointerId) && press && !press.moved && pointers.size === 0 && e.type === "pointerup") {
      const i = cellOf(p);
      if (i >= 0) handlers.onToggle(i);
    }
    if (pointers.size < 2) pinch = 0;
    if (pointers.size === 0) press = null;
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const p = local(e);
    zoomAt(Math.exp(-e.deltaY * 0.0015), p.x, p.y);
  }, { passive: false });
  canvas.addEventListener("keydown", (e) => {
    const step = 60;
    const keys = {
      ArrowLeft: () => panBy(step, 0), ArrowRight: () => panBy(-step, 0),
      ArrowUp: () => panBy(0, step), ArrowDown: () => panBy(0, -step),
      "+": () => zoomAt(1.4), "=": () => zoomAt(1.4), "-": () => zoomAt(1 / 1.4), 0: fit,
    };
    if (!keys[e.key]) return;
    e.preventDefault();
    keys[e.key]();
  });

  const observer = new ResizeObserver(resize);
  observer.observe(container);
  resize();
  update(null);

  return {
    kind: "canvas",
    update,
    zoomIn: () => zoomAt(1.5),
    zoomOut: () => zoomAt(1 / 1.5),
    fit,
    // Rings seat i (-1: none) and brings it into view, zooming in far enough to tell it apart.
    focusSeat(i) {
      ring = i;
      if (i >= 0) {
        if (view.scale < 14) view.scale = Math.min(SCALE_MAX, 14);
        const sx = (layout.xs[i] - view.x0) * view.scale;
        const sy = (layout.ys[i] - view.y0) * view.scale;
        if (sx < 20 || sy < 20 || sx > width - 40 || sy > height - 40) {
          view.x0 = layout.xs[i] + 0.5 - width / 2 / view.scale;
          view.y0 = layout.ys[i] + 0.5 - height / 2 / view.scale;
        }
      }
      invalidate();
    },
    // The seat's centre on the page (for tests and pointers), or null when out of view.
    seatPoint(i) {
      const r = canvas.getBoundingClientRect();
      const x = (layout.xs[i] + 0.4 - view.x0) * view.scale;
      const y = (layout.ys[i] + 0.4 - view.y0) * view.scale;
      return x < 0 || y < 0 || x > width || y > height ? null : { x: r.left + x, y: r.top + y };
    },
    destroy() {
      observer.disconnect();
      if (frame) cancelAnimationFrame(frame);
      canvas.remove();
    },
  };
}
