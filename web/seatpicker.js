// seatpicker: the seat finder, the keyboard and screen-reader way to choose seats on a map too
// large to tab through (the canvas map). Choose a section, then a row (each says how many of
// its seats are free), then tick seats: every seat of the row is a labelled checkbox, disabled
// while it cannot be taken. The finder follows the map: a seat clicked on the canvas opens its
// row here, and the seat focused here is ringed on the canvas.
"use strict";

import { el, money, replace } from "./dom.js";
import { AVAILABLE } from "./seatmap.js";

// Builds the finder into container. handlers: onToggle(i), onFocusSeat(i).
export function createSeatPicker(container, model, handlers) {
  const sectionSelect = el("select", { id: "picker-section" });
  model.sections.forEach((s, k) => sectionSelect.append(el("option", { value: k }, `${s.name} (${money(s.price_cents)})`)));
  const rowSelect = el("select", { id: "picker-row" });
  const legend = el("legend", {});
  const seatsBox = el("div", { class: "picker-seats" });
  const form = el("form", { class: "picker", "aria-labelledby": "picker-title", onsubmit: (e) => e.preventDefault() },
    el("h2", { id: "picker-title" }, "Seat finder"),
    el("p", { class: "hint" }, "Choose a section and a row, then tick the seats you want."),
    el("div", { class: "picker-choices" },
      el("label", { for: "picker-section" }, "Section"), sectionSelect,
      el("label", { for: "picker-row" }, "Row"), rowSelect),
    el("fieldset", {}, legend, seatsBox));
  container.replaceChildren(form);

  let section = 0;
  let row = -1;
  let boxes = []; // checkbox of each seat of the row shown
  let countsFrame = 0;

  function freeIn(r) {
    const { first, count } = model.rows[r];
    let n = 0;
    for (let i = first; i < first + count; i++) if (model.status[i] === AVAILABLE) n++;
    return n;
  }

  const rowText = (r) => `Row ${model.rows[r].label} — ${freeIn(r)} of ${model.rows[r].count} free`;

  function fillRows() {
    replace(rowSelect, model.sections[section].rows.map((r) => el("option", { value: r }, rowText(r))));
    rowSelect.value = String(row);
  }

  function paint(i, box) {
    const look = model.look(i);
    box.checked = look === "selected" || look === "mine";
    box.disabled = look === "mine" || (look !== "selected" && !model.available(i));
    box.setAttribute("aria-label", model.describe(i));
    box.parentElement.dataset.look = look;
  }

  function showRow(r) {
    row = r;
    const { first, count, label } = model.rows[r];
    legend.textContent = `Seats of row ${label} (${model.sections[section].name})`;
    boxes = [];
    const labels = [];
    for (let i = first; i < first + count; i++) {
      const box = el("input", { type: "checkbox", "data-i": i, "data-seat": model.ids[i] });
      box.addEventListener("change", () => {
        handlers.onToggle(i);
        paint(i, box); // the toggle may have been refused
      });
      box.addEventListener("focus", () => handlers.onFocusSeat(i));
      boxes.push(box);
      labels.push(el("label", { class: "pseat" }, box, el("span", { "aria-hidden": "true" }, String(model.numberOf[i]))));
    }
    replace(seatsBox, labels);
    boxes.forEach((box, k) => paint(first + k, box));
  }

  function showSection(k, r = model.sections[k].rows[0]) {
    section = k;
    sectionSelect.value = String(k);
    row = r;
    fillRows();
    showRow(r);
  }

  sectionSelect.addEventListener("change", () => showSection(Number(sectionSelect.value)));
  rowSelect.addEventListener("change", () => showRow(Number(rowSelect.value)));
  showSection(0);

  return {
    // Seats changed (indices, or null for all): the row shown and the free counts follow.
    update(indices) {
      const { first, count } = model.rows[row];
      if (indices === null) boxes.forEach((box, k) => paint(first + k, box));
      else for (const i of indices) if (i >= first && i < first + count) paint(i, boxes[i - first]);
      if (!countsFrame) {
        countsFrame = requestAnimationFrame(() => {
          countsFrame = 0;
          for (const option of rowSelect.options) option.textContent = rowText(Number(option.value));
        });
      }
    },
    // Opens the row of seat i (a seat clicked on the map).
    showSeat(i) {
      const r = model.rowOf[i];
      if (r !== row) showSection(model.rows[r].section, r);
    },
    destroy() {
      if (countsFrame) cancelAnimationFrame(countsFrame);
      form.remove();
    },
  };
}
