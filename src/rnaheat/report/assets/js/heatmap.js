// ------------------------------------------------------------------------------ heatmap view

// Decode the 16-bit codes into values and paint one pixel per cell, once.
rh.paintCells = function (d) {
  const nRows = d.nRows;
  const nCols = d.nCols;
  const bytes = atob(d.matrix);
  const values = new Float32Array(nRows * nCols);
  const step = (d.high - d.low) / (rh.NAN_CODE - 1);
  const lut = d.palette.map(rh.hexToRgb);
  const missing = rh.hexToRgb(d.missing);
  const cells = document.createElement("canvas");
  cells.width = nCols;
  cells.height = nRows;
  const cctx = cells.getContext("2d");
  const image = cctx.createImageData(nCols, nRows);
  const px = image.data;
  for (let i = 0; i < nRows * nCols; i++) {
    const code = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
    let rgb;
    if (code === rh.NAN_CODE) {
      values[i] = NaN;
      rgb = missing;
    } else {
      const v = d.low + code * step;
      values[i] = v;
      // Same rule as the static figure: clip at ±clip, then pick the palette colour.
      const t = (Math.min(d.clip, Math.max(-d.clip, v)) + d.clip) / (2 * d.clip);
      rgb = lut[Math.min(lut.length - 1, Math.floor(t * lut.length))];
    }
    px[4 * i] = rgb[0];
    px[4 * i + 1] = rgb[1];
    px[4 * i + 2] = rgb[2];
    px[4 * i + 3] = 255;
  }
  cctx.putImageData(image, 0, 0);
  return { values, cells };
};

// The rows of each module, as contiguous blocks in row order.
rh.moduleBlocks = function (module) {
  const blocks = [];
  module.forEach((m, r) => {
    if (!blocks.length || blocks[blocks.length - 1].id !== m) blocks.push({ id: m, start: r, end: r + 1 });
    else blocks[blocks.length - 1].end = r + 1;
  });
  return blocks;
};

rh.HeatmapView = class {
  constructor(d) {
    this.d = d;
    this.wrap = document.getElementById("heatmap-view");
    this.canvas = document.getElementById("heatmap-canvas");
    this.tip = document.getElementById("heatmap-tooltip");
    this.nRows = d.nRows;
    this.nCols = d.nCols;
    const painted = rh.paintCells(d);
    this.values = painted.values;
    this.cells = painted.cells;
    this.shrink = document.createElement("canvas");
    this.modules = new Map(d.modules.map((m) => [m.id, m]));
    this.blocks = rh.moduleBlocks(d.module);
    this.rowOf = new Map(d.ids.map((id, r) => [id, r]));
    this.L = {}; // layout, in CSS pixels
    // The view shows rows r0 .. r0 + nr and columns c0 .. c0 + nc (fractions allowed).
    this.view = { r0: 0, nr: this.nRows, c0: 0, nc: this.nCols };
    this.ctx = null;
    this.drag = null;
    this.listen();
  }

  layout() {
    const d = this.d;
    const L = this.L;
    const width = this.wrap.clientWidth;
    if (!width) return false;
    L.width = width;
    L.labelW = Math.min(200, Math.max(110, width * 0.16));
    L.bandW = 14;
    L.x0 = L.labelW + L.bandW + 8;
    L.rightW = 120;
    L.bodyW = Math.max(100, width - L.x0 - L.rightW);
    L.trackH = 13;
    L.y0 = 10 + d.tracks.length * (L.trackH + 2) + (d.tracks.length ? 6 : 0);
    L.bodyH = Math.max(160, Math.min(620, this.nRows * 14));
    // Room under the matrix for the slanted sample names (the longest, up to 180 px).
    const probe = this.canvas.getContext("2d");
    probe.font = rh.SMALL;
    let longest = 0;
    for (const name of d.samples) longest = Math.max(longest, probe.measureText(name).width);
    L.bottomH = Math.round(Math.max(40, 16 + Math.min(180, longest) * Math.sin(Math.PI / 3)));
    L.height = L.y0 + L.bodyH + L.bottomH;
    this.ctx = rh.setupCanvas(this.canvas, width, L.height);
    this.clampView();
    return true;
  }

  clampView() {
    const { L, view, nRows, nCols } = this;
    const minRows = Math.min(nRows, Math.max(1, L.bodyH / 40));
    const minCols = Math.min(nCols, Math.max(1, L.bodyW / 80));
    view.nr = Math.min(nRows, Math.max(minRows, view.nr));
    view.nc = Math.min(nCols, Math.max(minCols, view.nc));
    view.r0 = Math.min(nRows - view.nr, Math.max(0, view.r0));
    view.c0 = Math.min(nCols - view.nc, Math.max(0, view.c0));
  }

  rowPx() {
    return this.L.bodyH / this.view.nr;
  }

  colPx() {
    return this.L.bodyW / this.view.nc;
  }

  rowY(r) {
    return this.L.y0 + (r - this.view.r0) * this.rowPx();
  }

  colX(c) {
    return this.L.x0 + (c - this.view.c0) * this.colPx();
  }

  // The columns in view, first to last (exclusive).
  visibleCols() {
    return [Math.floor(this.view.c0), Math.min(this.nCols, Math.ceil(this.view.c0 + this.view.nc))];
  }

  zoom(factor, axis, cx, cy) {
    const { L, view } = this;
    if (axis !== "x") {
      const anchor = view.r0 + ((cy === undefined ? L.y0 + L.bodyH / 2 : cy) - L.y0) / this.rowPx();
      const nr = view.nr / factor;
      view.r0 = anchor - (anchor - view.r0) * (nr / view.nr);
      view.nr = nr;
    }
    if (axis !== "y") {
      const anchor = view.c0 + ((cx === undefined ? L.x0 + L.bodyW / 2 : cx) - L.x0) / this.colPx();
      const nc = view.nc / factor;
      view.c0 = anchor - (anchor - view.c0) * (nc / view.nc);
      view.nc = nc;
    }
    this.clampView();
    rh.redraw();
  }

  reset() {
    Object.assign(this.view, { r0: 0, nr: this.nRows, c0: 0, nc: this.nCols });
    rh.redraw();
  }

  // Bring a gene's row into view, zooming in when rows are too thin to point at.
  reveal(id) {
    const { L, view } = this;
    const r = this.rowOf.get(id);
    if (r === undefined || !L.bodyH) return;
    const thin = this.rowPx() < 8;
    if (thin) view.nr = Math.max(1, L.bodyH / 12);
    // Centre the row when zooming in or when it is out of view; otherwise keep the view.
    if (thin || r < view.r0 || r + 1 > view.r0 + view.nr) view.r0 = r + 0.5 - view.nr / 2;
    this.clampView();
    rh.redraw();
  }

  draw() {
    if (!this.ctx && !this.layout()) return;
    const L = this.L;
    if (!L.width) return;
    const c = this.ctx;
    c.clearRect(0, 0, L.width, L.height);
    c.fillStyle = "#fff";
    c.fillRect(0, 0, L.width, L.height);
    this.drawCells(c);
    this.drawBands(c);
    this.drawTracks(c);
    this.drawSampleNames(c);
    this.drawGeneLabels(c);
    const state = rh.state;
    if (state.hover && state.hover !== state.gene) this.drawMark(c, state.hover, false);
    if (state.gene) this.drawMark(c, state.gene, true);
    c.strokeStyle = "#d1d9e0";
    c.lineWidth = 1;
    c.strokeRect(L.x0 - 0.5, L.y0 - 0.5, L.bodyW + 1, L.bodyH + 1);
  }

  // Cells. Thin rows are averaged vertically first (smoothing on, columns 1:1) and then
  // widened without smoothing, so no row vanishes and column edges stay sharp.
  drawCells(c) {
    const { L, view, nCols, shrink, cells } = this;
    const rp = this.rowPx();
    c.save();
    c.beginPath();
    c.rect(L.x0, L.y0, L.bodyW, L.bodyH);
    c.clip();
    if (rp < 1) {
      const h = Math.max(1, Math.round(L.bodyH * (window.devicePixelRatio || 1)));
      if (shrink.width !== nCols || shrink.height !== h) {
        shrink.width = nCols;
        shrink.height = h;
      }
      const s = shrink.getContext("2d");
      s.imageSmoothingEnabled = true;
      s.imageSmoothingQuality = "high";
      s.clearRect(0, 0, nCols, h);
      s.drawImage(cells, 0, view.r0, nCols, view.nr, 0, 0, nCols, h);
      c.imageSmoothingEnabled = false;
      c.drawImage(shrink, view.c0, 0, view.nc, h, L.x0, L.y0, L.bodyW, L.bodyH);
    } else {
      c.imageSmoothingEnabled = false;
      c.drawImage(cells, view.c0, view.r0, view.nc, view.nr, L.x0, L.y0, L.bodyW, L.bodyH);
    }
    // Module gaps, as the static figure splits its rows.
    c.fillStyle = "#fff";
    for (const b of this.blocks) {
      if (b.start > 0) c.fillRect(L.x0, this.rowY(b.start) - 1, L.bodyW, 2);
    }
    const selected = rh.state.module;
    if (selected) {
      c.fillStyle = "rgba(255,255,255,0.75)";
      for (const b of this.blocks) {
        if (b.id !== selected) c.fillRect(L.x0, this.rowY(b.start), L.bodyW, (b.end - b.start) * rp);
      }
    }
    c.restore();
  }

  // Module band and names.
  drawBands(c) {
    const L = this.L;
    const selected = rh.state.module;
    c.save();
    c.beginPath();
    c.rect(0, L.y0, L.x0, L.bodyH);
    c.clip();
    c.font = rh.FONT;
    c.textBaseline = "middle";
    c.textAlign = "right";
    for (const b of this.blocks) {
      const y1 = Math.max(L.y0, this.rowY(b.start));
      const y2 = Math.min(L.y0 + L.bodyH, this.rowY(b.end));
      if (y2 <= y1) continue;
      const m = this.modules.get(b.id);
      c.fillStyle = m.color;
      c.fillRect(L.labelW, y1, L.bandW, y2 - y1);
      c.fillStyle = "#fff";
      c.fillRect(L.labelW, this.rowY(b.start) - 1, L.bandW, 2);
      if (selected === b.id) {
        c.strokeStyle = "#111";
        c.lineWidth = 2;
        c.strokeRect(L.labelW + 1, y1 + 1, L.bandW - 2, y2 - y1 - 2);
      }
      if (y2 - y1 >= 14) this.drawModuleName(c, m, y1, y2, selected);
    }
    c.restore();
  }

  // A module's name and top gene set, wrapped to the name column, centred on its block. Only
  // a block too short for every line shows fewer, the last one shortened.
  drawModuleName(c, m, y1, y2, selected) {
    const L = this.L;
    const faded = selected && selected !== m.id;
    const width = L.labelW - 8;
    const nameFont = selected === m.id ? "bold " + rh.FONT : rh.FONT;
    c.font = nameFont;
    const lines = rh.wrap(c, m.label + " " + m.name, width).map((t) => [t, true]);
    if (m.subtitle) {
      c.font = rh.SMALL;
      for (const t of rh.wrap(c, m.subtitle, width)) lines.push([t, false]);
    }
    const room = Math.max(1, Math.floor((y2 - y1) / 14));
    const shown = lines.slice(0, room);
    if (lines.length > room) shown[room - 1] = [shown[room - 1][0] + "…", shown[room - 1][1]];
    let y = (y1 + y2) / 2 - ((shown.length - 1) * 14) / 2;
    for (const [text, isName] of shown) {
      c.font = isName ? nameFont : rh.SMALL;
      c.fillStyle = isName ? (faded ? "#8c959f" : "#1f2328") : faded ? "#aab2bb" : "#59636e";
      c.fillText(rh.fit(c, text, width), L.labelW - 6, y);
      y += 14;
    }
  }

  // Annotation tracks.
  drawTracks(c) {
    const L = this.L;
    const cp = this.colPx();
    const [first, last] = this.visibleCols();
    c.font = rh.SMALL;
    c.textBaseline = "middle";
    this.d.tracks.forEach((t, i) => {
      const y = 10 + i * (L.trackH + 2);
      c.save();
      c.beginPath();
      c.rect(L.x0, y, L.bodyW, L.trackH);
      c.clip();
      for (let j = first; j < last; j++) {
        c.fillStyle = t.colors[j];
        c.fillRect(this.colX(j), y, cp + 0.5, L.trackH);
      }
      if (cp >= 6) {
        c.fillStyle = "#fff";
        for (let j = first + 1; j < last; j++) c.fillRect(this.colX(j) - 0.5, y, 1, L.trackH);
      }
      c.restore();
      c.fillStyle = "#1f2328";
      c.textAlign = "right";
      c.fillText(rh.fit(c, t.name, L.labelW + L.bandW), L.x0 - 6, y + L.trackH / 2);
    });
  }

  // Sample names, when the columns are wide enough to carry them.
  drawSampleNames(c) {
    const L = this.L;
    c.font = rh.SMALL;
    c.fillStyle = "#1f2328";
    if (this.colPx() >= 11) {
      const [first, last] = this.visibleCols();
      for (let j = first; j < last; j++) {
        const x = this.colX(j + 0.5);
        if (x < L.x0 || x > L.x0 + L.bodyW) continue;
        c.save();
        c.translate(x, L.y0 + L.bodyH + 6);
        c.rotate(-Math.PI / 3);
        c.textAlign = "right";
        c.fillText(rh.fit(c, this.d.samples[j], (L.bottomH - 14) / Math.sin(Math.PI / 3)), 0, 0);
        c.restore();
      }
    } else {
      c.textAlign = "left";
      c.fillStyle = "#59636e";
      c.fillText(this.nCols + " samples: hover a column for its name, or zoom in (Shift + double-click)",
        L.x0, L.y0 + L.bodyH + 16);
    }
  }

  // Gene labels at the right when rows are tall enough.
  drawGeneLabels(c) {
    const { L, view, d } = this;
    c.textAlign = "left";
    c.font = rh.SMALL;
    if (this.rowPx() < 10) return;
    const first = Math.floor(view.r0);
    const last = Math.min(this.nRows, Math.ceil(view.r0 + view.nr));
    c.fillStyle = "#1f2328";
    for (let r = first; r < last; r++) {
      const y = this.rowY(r + 0.5);
      if (y < L.y0 || y > L.y0 + L.bodyH) continue;
      c.fillText(rh.fit(c, d.symbols[r] || d.ids[r], L.rightW - 10), L.x0 + L.bodyW + 6, y);
    }
  }

  // The hovered (thin frame) or the selected gene (strong frame, arrow and name).
  drawMark(c, id, strong) {
    const { L, d } = this;
    const r = this.rowOf.get(id);
    if (r === undefined) return;
    const yc = this.rowY(r + 0.5);
    if (yc < L.y0 - 2 || yc > L.y0 + L.bodyH + 2) return;
    const h = Math.max(3, this.rowPx());
    c.strokeStyle = strong ? "#000" : "#444";
    c.lineWidth = strong ? 2 : 1;
    c.strokeRect(L.x0 + 0.5, yc - h / 2, L.bodyW - 1, h);
    if (!strong) return;
    c.fillStyle = "#000";
    c.beginPath();
    c.moveTo(L.x0 + L.bodyW + 2, yc);
    c.lineTo(L.x0 + L.bodyW + 9, yc - 5);
    c.lineTo(L.x0 + L.bodyW + 9, yc + 5);
    c.fill();
    const text = rh.fit(c, d.symbols[r] || d.ids[r], L.rightW - 16);
    const w = c.measureText(text).width;
    c.fillStyle = "#fff";
    c.fillRect(L.x0 + L.bodyW + 11, yc - 8, w + 6, 16);
    c.fillStyle = "#000";
    c.font = "bold " + rh.SMALL;
    c.fillText(text, L.x0 + L.bodyW + 14, yc);
    c.font = rh.SMALL;
  }

  // What lies under a point: a cell, a module band/name, or a track cell.
  hit(x, y) {
    const { L, view, d } = this;
    const inRows = y >= L.y0 && y < L.y0 + L.bodyH;
    const inCols = x >= L.x0 && x < L.x0 + L.bodyW;
    if (inRows && inCols) {
      return { kind: "cell", r: Math.floor(view.r0 + (y - L.y0) / this.rowPx()),
        c: Math.floor(view.c0 + (x - L.x0) / this.colPx()) };
    }
    if (inRows && x < L.labelW + L.bandW) {
      const r = Math.floor(view.r0 + (y - L.y0) / this.rowPx());
      return { kind: "module", id: d.module[Math.min(this.nRows - 1, Math.max(0, r))] };
    }
    if (inCols && y >= 10 && y < L.y0 - 6) {
      const i = Math.floor((y - 10) / (L.trackH + 2));
      if (i < d.tracks.length) return { kind: "track", i, c: Math.floor(view.c0 + (x - L.x0) / this.colPx()) };
    }
    return null;
  }

  // Show the tooltip of whatever is under the pointer, and mark the hovered gene.
  hover(x, y) {
    const { d, tip, wrap } = this;
    const h = this.hit(x, y);
    if (h && h.kind === "cell") {
      this.tipCell(h, x, y);
      rh.setHover(d.ids[h.r]);
      return;
    }
    if (h && h.kind === "module") {
      const m = this.modules.get(h.id);
      const size = m.size === 1 ? "1 gene" : m.size.toLocaleString() + " genes";
      const lines = m.note ? [size, m.note] : [size];
      rh.showTip(tip, wrap, x, y, m.title, [...lines, "click to highlight, click again to clear"], "");
    } else if (h && h.kind === "track") {
      const t = d.tracks[h.i];
      rh.showTip(tip, wrap, x, y, d.samples[h.c], [t.name + ": " + t.values[h.c]], "");
    } else {
      rh.hideTip(tip);
    }
    rh.setHover("");
  }

  tipCell(h, x, y) {
    const d = this.d;
    const r = h.r;
    const j = h.c;
    const m = this.modules.get(d.module[r]);
    const lines = [];
    if (d.symbols[r]) lines.push("gene id: " + d.ids[r]);
    lines.push("sample: " + d.samples[j]);
    for (const t of d.tracks) lines.push(t.name + ": " + t.values[j]);
    lines.push("value: " + rh.fmt(this.values[r * this.nCols + j], 2) + "  (" + d.label + ")");
    lines.push("module: " + m.title);
    lines.push("log2 FC: " + rh.fmt(d.log2fc[r], 2) + "   padj: " + rh.fmtP(d.padj[r]));
    rh.showTip(this.tip, this.wrap, x, y, d.symbols[r] || d.ids[r], lines, d.ids[r]);
  }

  // Pan by dragging; returns whether the pointer is dragging (then nothing else happens).
  dragTo(x, y) {
    const drag = this.drag;
    if (!drag) return false;
    const dx = x - drag.x;
    const dy = y - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return false;
    this.view.r0 = drag.r0 - dy / this.rowPx();
    this.view.c0 = drag.c0 - dx / this.colPx();
    this.clampView();
    rh.hideTip(this.tip);
    rh.redraw();
    return true;
  }

  // A click (not a drag) on a band selects its module, on a cell its gene.
  release(e) {
    const drag = this.drag;
    if (!drag) return;
    this.drag = null;
    this.canvas.classList.remove("grabbing");
    if (drag.moved || e.target !== this.canvas) return;
    const h = this.hit(...rh.pointer(this.canvas, e));
    const id = h && h.kind === "cell" ? this.d.ids[h.r] : "";
    if (h && h.kind === "module") rh.selectModule(h.id);
    else if (h && h.kind === "cell") rh.selectGene(rh.state.gene === id ? "" : id);
  }

  // Keys on the focused canvas: arrows pan, + and - zoom, 0 resets, Escape clears.
  key(e) {
    const view = this.view;
    const pan = { ArrowUp: [0, -0.2], ArrowDown: [0, 0.2], ArrowLeft: [-0.2, 0], ArrowRight: [0.2, 0] }[e.key];
    if (pan) {
      view.c0 += pan[0] * view.nc;
      view.r0 += pan[1] * view.nr;
      this.clampView();
      rh.redraw();
    } else if (e.key === "+" || e.key === "=") this.zoom(1.5, e.shiftKey ? "both" : "y");
    else if (e.key === "-" || e.key === "_") this.zoom(1 / 1.5, e.shiftKey ? "both" : "y");
    else if (e.key === "0") this.reset();
    else if (e.key === "Escape") {
      rh.selectGene("");
      if (rh.state.module) rh.selectModule(rh.state.module);
    } else return;
    e.preventDefault();
  }

  listen() {
    const canvas = this.canvas;
    const at = (e) => rh.pointer(canvas, e);
    canvas.addEventListener("mousemove", (e) => {
      const [x, y] = at(e);
      if (!this.dragTo(x, y)) this.hover(x, y);
    });
    canvas.addEventListener("mouseleave", () => {
      rh.hideTip(this.tip);
      rh.setHover("");
    });
    canvas.addEventListener("mousedown", (e) => {
      const [x, y] = at(e);
      this.drag = { x, y, r0: this.view.r0, c0: this.view.c0, moved: false };
      canvas.classList.add("grabbing");
    });
    window.addEventListener("mouseup", (e) => this.release(e));
    canvas.addEventListener("wheel", (e) => {
      // Plain scrolling keeps scrolling the page; only Ctrl/⌘ + scroll zooms.
      if (!(e.ctrlKey || e.metaKey)) return;
      e.preventDefault();
      this.zoom(e.deltaY < 0 ? 1.25 : 0.8, e.shiftKey ? "x" : "y", ...at(e));
    }, { passive: false });
    canvas.addEventListener("dblclick", (e) => {
      this.zoom(e.altKey ? 0.5 : 2, e.shiftKey ? "x" : "y", ...at(e));
    });
    canvas.addEventListener("keydown", (e) => this.key(e));
    document.getElementById("hm-zoom-in").addEventListener("click", () => this.zoom(1.5, "y"));
    document.getElementById("hm-zoom-out").addEventListener("click", () => this.zoom(1 / 1.5, "y"));
    document.getElementById("hm-reset").addEventListener("click", () => this.reset());
    new ResizeObserver(() => {
      if (this.layout()) this.draw();
    }).observe(this.wrap);
  }

  // Viewport coordinates of a row's cell (for tests and for linking), or null when hidden.
  point(id, col) {
    const L = this.L;
    const r = this.rowOf.get(id);
    if (r === undefined || !L.width) return null;
    const j = col === undefined ? Math.floor(this.view.c0) : col;
    const y = this.rowY(r + 0.5);
    const x = this.colX(j + 0.5);
    if (y < L.y0 || y > L.y0 + L.bodyH || x < L.x0 || x > L.x0 + L.bodyW) return null;
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + x, y: rect.top + y };
  }

  bandPoint(id) {
    const L = this.L;
    const b = this.blocks.find((k) => k.id === id);
    if (!b || !L.width) return null;
    const rect = this.canvas.getBoundingClientRect();
    const y1 = Math.max(L.y0, this.rowY(b.start));
    const y2 = Math.min(L.y0 + L.bodyH, this.rowY(b.end));
    if (y2 <= y1) return null;
    return { x: rect.left + L.labelW + L.bandW / 2, y: rect.top + (y1 + y2) / 2 };
  }

  visibleRows() {
    return { first: this.view.r0, count: this.view.nr, rowPx: this.rowPx() };
  }
};
