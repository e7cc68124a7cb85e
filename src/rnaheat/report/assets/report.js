/* rnaheat report: the interactive heatmap and volcano, linked by gene and module.
 *
 * Plain JavaScript on <canvas>, no library: the page must open offline, stay small, and a
 * canvas draws a 2,000 × 100 matrix as one image, which a DOM or SVG cell per value cannot.
 * Every text that comes from the data is put on the page with textContent or drawn on a
 * canvas, never parsed as HTML.
 */
(function () {
  "use strict";

  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  // The heatmap's genes, all of them (G), and the rows the interactive matrix carries (H.*).
  // With no gene selected there is no heatmap, and the volcano stands alone.
  const H = DATA.heatmap;
  const G = H ? H.genes : { ids: [], symbols: [], module: [], log2fc: [], padj: [] };
  if (H) {
    const pick = (values) => (H.rows ? H.rows.map((i) => values[i]) : values);
    H.ids = pick(G.ids);
    H.symbols = pick(G.symbols);
    H.module = pick(G.module);
    H.log2fc = pick(G.log2fc);
    H.padj = pick(G.padj);
  }
  const NAN_CODE = 65535;
  const FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
  const SMALL = "11px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";

  // One shared selection: a gene (by id, as the volcano holds genes the heatmap has not),
  // a module (by number) and the gene under the pointer in either view.
  const state = { gene: "", module: 0, hover: "" };
  const views = [];

  // ---------------------------------------------------------------------------- helpers

  function hexToRgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  function fmt(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    return Number(value).toFixed(digits);
  }

  function fmtP(p) {
    if (p === null || p === undefined || Number.isNaN(p)) return "—";
    if (p === 0) return "0";
    // As the tables print them: 1.2e-8, 0.0012, 0.5.
    return p < 1e-3 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
  }

  // Shorten text to a width with an ellipsis (binary search on the length).
  function fit(ctx, text, width) {
    if (ctx.measureText(text).width <= width) return text;
    let lo = 0;
    let hi = text.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ctx.measureText(text.slice(0, mid) + "…").width <= width) lo = mid;
      else hi = mid - 1;
    }
    return lo > 0 ? text.slice(0, lo) + "…" : "";
  }

  // Fill a tooltip: a bold head line and plain lines, all as text.
  function showTip(tip, wrap, x, y, head, lines, gene) {
    const nodes = [];
    const h = document.createElement("div");
    h.className = "t-head";
    h.textContent = head;
    nodes.push(h);
    for (const line of lines) {
      const d = document.createElement("div");
      d.className = "t-row";
      d.textContent = line;
      nodes.push(d);
    }
    tip.replaceChildren(...nodes);
    tip.dataset.gene = gene || "";
    tip.hidden = false;
    const w = tip.offsetWidth;
    const ht = tip.offsetHeight;
    const left = x + 16 + w > wrap.clientWidth ? Math.max(0, x - w - 12) : x + 16;
    const top = y + 16 + ht > wrap.clientHeight ? Math.max(0, y - ht - 12) : y + 16;
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }

  function hideTip(tip) {
    tip.hidden = true;
    tip.dataset.gene = "";
  }

  function setupCanvas(canvas, width, height) {
    const dpr = window.devicePixelRatio || 1;
    canvas.style.height = height + "px";
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      for (const view of views) view.draw();
    });
  }

  // ---------------------------------------------------------------------------- selection

  const geneRows = new Map(); // gene id -> rows of the module gene lists, once drawn
  let markedRows = [];

  function selectGene(id, options) {
    state.gene = id || "";
    for (const tr of markedRows) tr.classList.remove("selected");
    markedRows = [...(geneRows.get(state.gene) || [])];
    for (const tr of markedRows) tr.classList.add("selected");
    for (const view of views) {
      view.wrap.dataset.selectedGene = state.gene;
      if (options && options.reveal && view.reveal) view.reveal(state.gene);
    }
    redraw();
  }

  function selectModule(id) {
    state.module = state.module === id ? 0 : id;
    for (const view of views) view.wrap.dataset.selectedModule = state.module ? String(state.module) : "";
    for (const b of document.querySelectorAll("button[data-module]")) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.module) === state.module));
    }
    redraw();
  }

  function setHover(id) {
    if (state.hover === id) return;
    state.hover = id;
    for (const view of views) view.wrap.dataset.hoverGene = id;
    redraw();
  }

  // ---------------------------------------------------------------------------- heatmap

  function Heatmap(d) {
    const wrap = document.getElementById("heatmap-view");
    const canvas = document.getElementById("heatmap-canvas");
    const tip = document.getElementById("heatmap-tooltip");
    const nRows = d.nRows;
    const nCols = d.nCols;

    // Decode the 16-bit codes and paint one pixel per cell, once.
    const bytes = atob(d.matrix);
    const values = new Float32Array(nRows * nCols);
    const step = (d.high - d.low) / (NAN_CODE - 1);
    const lut = d.palette.map(hexToRgb);
    const missing = hexToRgb(d.missing);
    const cells = document.createElement("canvas");
    cells.width = nCols;
    cells.height = nRows;
    const cctx = cells.getContext("2d");
    const image = cctx.createImageData(nCols, nRows);
    const px = image.data;
    for (let i = 0; i < nRows * nCols; i++) {
      const code = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
      let rgb;
      if (code === NAN_CODE) {
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
    const shrink = document.createElement("canvas");

    const modules = new Map(d.modules.map((m) => [m.id, m]));
    const blocks = [];
    for (let r = 0; r < nRows; r++) {
      const m = d.module[r];
      if (!blocks.length || blocks[blocks.length - 1].id !== m) blocks.push({ id: m, start: r, end: r + 1 });
      else blocks[blocks.length - 1].end = r + 1;
    }
    const rowOf = new Map(d.ids.map((id, r) => [id, r]));

    const L = {}; // layout, in CSS pixels
    const view = { r0: 0, nr: nRows, c0: 0, nc: nCols };
    let ctx = null;

    function layout() {
      const width = wrap.clientWidth;
      if (!width) return false;
      L.width = width;
      L.labelW = Math.min(200, Math.max(110, width * 0.16));
      L.bandW = 14;
      L.x0 = L.labelW + L.bandW + 8;
      L.rightW = 120;
      L.bodyW = Math.max(100, width - L.x0 - L.rightW);
      L.trackH = 13;
      L.y0 = 10 + d.tracks.length * (L.trackH + 2) + (d.tracks.length ? 6 : 0);
      L.bodyH = Math.max(160, Math.min(620, nRows * 14));
      // Room under the matrix for the slanted sample names (the longest, up to 180 px).
      const probe = canvas.getContext("2d");
      probe.font = SMALL;
      let longest = 0;
      for (const name of d.samples) longest = Math.max(longest, probe.measureText(name).width);
      L.bottomH = Math.round(Math.max(40, 16 + Math.min(180, longest) * Math.sin(Math.PI / 3)));
      L.height = L.y0 + L.bodyH + L.bottomH;
      ctx = setupCanvas(canvas, width, L.height);
      clampView();
      return true;
    }

    // The view shows rows r0 .. r0 + nr and columns c0 .. c0 + nc (fractions allowed).
    function clampView() {
      const minRows = Math.min(nRows, Math.max(1, L.bodyH / 40));
      const minCols = Math.min(nCols, Math.max(1, L.bodyW / 80));
      view.nr = Math.min(nRows, Math.max(minRows, view.nr));
      view.nc = Math.min(nCols, Math.max(minCols, view.nc));
      view.r0 = Math.min(nRows - view.nr, Math.max(0, view.r0));
      view.c0 = Math.min(nCols - view.nc, Math.max(0, view.c0));
    }

    const rowPx = () => L.bodyH / view.nr;
    const colPx = () => L.bodyW / view.nc;
    const rowY = (r) => L.y0 + (r - view.r0) * rowPx();
    const colX = (c) => L.x0 + (c - view.c0) * colPx();

    function zoom(factor, axis, cx, cy) {
      if (axis !== "x") {
        const anchor = view.r0 + ((cy === undefined ? L.y0 + L.bodyH / 2 : cy) - L.y0) / rowPx();
        const nr = view.nr / factor;
        view.r0 = anchor - (anchor - view.r0) * (nr / view.nr);
        view.nr = nr;
      }
      if (axis !== "y") {
        const anchor = view.c0 + ((cx === undefined ? L.x0 + L.bodyW / 2 : cx) - L.x0) / colPx();
        const nc = view.nc / factor;
        view.c0 = anchor - (anchor - view.c0) * (nc / view.nc);
        view.nc = nc;
      }
      clampView();
      redraw();
    }

    function reset() {
      Object.assign(view, { r0: 0, nr: nRows, c0: 0, nc: nCols });
      redraw();
    }

    // Bring a gene's row into view, zooming in when rows are too thin to point at.
    function reveal(id) {
      const r = rowOf.get(id);
      if (r === undefined || !L.bodyH) return;
      const thin = rowPx() < 8;
      if (thin) view.nr = Math.max(1, L.bodyH / 12);
      // Centre the row when zooming in or when it is out of view; otherwise keep the view.
      if (thin || r < view.r0 || r + 1 > view.r0 + view.nr) view.r0 = r + 0.5 - view.nr / 2;
      clampView();
      redraw();
    }

    function draw() {
      if (!ctx && !layout()) return;
      if (!L.width) return;
      const c = ctx;
      c.clearRect(0, 0, L.width, L.height);
      c.fillStyle = "#fff";
      c.fillRect(0, 0, L.width, L.height);
      const rp = rowPx();
      const cp = colPx();

      // Cells. Thin rows are averaged vertically first (smoothing on, columns 1:1) and then
      // widened without smoothing, so no row vanishes and column edges stay sharp.
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
      for (const b of blocks) {
        if (b.start > 0) c.fillRect(L.x0, rowY(b.start) - 1, L.bodyW, 2);
      }
      if (state.module) {
        c.fillStyle = "rgba(255,255,255,0.75)";
        for (const b of blocks) {
          if (b.id !== state.module) c.fillRect(L.x0, rowY(b.start), L.bodyW, (b.end - b.start) * rp);
        }
      }
      c.restore();

      // Module band and names.
      c.save();
      c.beginPath();
      c.rect(0, L.y0, L.x0, L.bodyH);
      c.clip();
      c.font = FONT;
      c.textBaseline = "middle";
      c.textAlign = "right";
      for (const b of blocks) {
        const y1 = Math.max(L.y0, rowY(b.start));
        const y2 = Math.min(L.y0 + L.bodyH, rowY(b.end));
        if (y2 <= y1) continue;
        const m = modules.get(b.id);
        c.fillStyle = m.color;
        c.fillRect(L.labelW, y1, L.bandW, y2 - y1);
        c.fillStyle = "#fff";
        c.fillRect(L.labelW, rowY(b.start) - 1, L.bandW, 2);
        if (state.module === b.id) {
          c.strokeStyle = "#111";
          c.lineWidth = 2;
          c.strokeRect(L.labelW + 1, y1 + 1, L.bandW - 2, y2 - y1 - 2);
        }
        if (y2 - y1 >= 14) {
          c.font = state.module === b.id ? "bold " + FONT : FONT;
          c.fillStyle = state.module && state.module !== b.id ? "#8c959f" : "#1f2328";
          const text = fit(c, m.label + " " + m.name, L.labelW - 8);
          c.fillText(text, L.labelW - 6, (y1 + y2) / 2 - (m.subtitle && y2 - y1 >= 30 ? 7 : 0));
          if (m.subtitle && y2 - y1 >= 30) {
            c.font = SMALL;
            c.fillStyle = state.module && state.module !== b.id ? "#aab2bb" : "#59636e";
            c.fillText(fit(c, m.subtitle, L.labelW - 8), L.labelW - 6, (y1 + y2) / 2 + 8);
          }
        }
      }
      c.restore();

      // Annotation tracks.
      c.font = SMALL;
      c.textBaseline = "middle";
      d.tracks.forEach((t, i) => {
        const y = 10 + i * (L.trackH + 2);
        c.save();
        c.beginPath();
        c.rect(L.x0, y, L.bodyW, L.trackH);
        c.clip();
        const first = Math.floor(view.c0);
        const last = Math.min(nCols, Math.ceil(view.c0 + view.nc));
        for (let j = first; j < last; j++) {
          c.fillStyle = t.colors[j];
          c.fillRect(colX(j), y, cp + 0.5, L.trackH);
        }
        if (cp >= 6) {
          c.fillStyle = "#fff";
          for (let j = first + 1; j < last; j++) c.fillRect(colX(j) - 0.5, y, 1, L.trackH);
        }
        c.restore();
        c.fillStyle = "#1f2328";
        c.textAlign = "right";
        c.fillText(fit(c, t.name, L.labelW + L.bandW), L.x0 - 6, y + L.trackH / 2);
      });

      // Sample names, when the columns are wide enough to carry them.
      c.font = SMALL;
      c.fillStyle = "#1f2328";
      if (cp >= 11) {
        const first = Math.floor(view.c0);
        const last = Math.min(nCols, Math.ceil(view.c0 + view.nc));
        for (let j = first; j < last; j++) {
          const x = colX(j + 0.5);
          if (x < L.x0 || x > L.x0 + L.bodyW) continue;
          c.save();
          c.translate(x, L.y0 + L.bodyH + 6);
          c.rotate(-Math.PI / 3);
          c.textAlign = "right";
          c.fillText(fit(c, d.samples[j], (L.bottomH - 14) / Math.sin(Math.PI / 3)), 0, 0);
          c.restore();
        }
      } else {
        c.textAlign = "left";
        c.fillStyle = "#59636e";
        c.fillText(nCols + " samples: hover a column for its name, or zoom in (Shift + double-click)",
          L.x0, L.y0 + L.bodyH + 16);
      }

      // Gene labels at the right when rows are tall enough.
      c.textAlign = "left";
      c.font = SMALL;
      if (rp >= 10) {
        const first = Math.floor(view.r0);
        const last = Math.min(nRows, Math.ceil(view.r0 + view.nr));
        c.fillStyle = "#1f2328";
        for (let r = first; r < last; r++) {
          const y = rowY(r + 0.5);
          if (y < L.y0 || y > L.y0 + L.bodyH) continue;
          c.fillText(fit(c, d.symbols[r] || d.ids[r], L.rightW - 10), L.x0 + L.bodyW + 6, y);
        }
      }

      // The hovered and the selected gene.
      const mark = (id, strong) => {
        const r = rowOf.get(id);
        if (r === undefined) return;
        const yc = rowY(r + 0.5);
        if (yc < L.y0 - 2 || yc > L.y0 + L.bodyH + 2) return;
        const h = Math.max(3, rp);
        c.strokeStyle = strong ? "#000" : "#444";
        c.lineWidth = strong ? 2 : 1;
        c.strokeRect(L.x0 + 0.5, yc - h / 2, L.bodyW - 1, h);
        if (strong) {
          c.fillStyle = "#000";
          c.beginPath();
          c.moveTo(L.x0 + L.bodyW + 2, yc);
          c.lineTo(L.x0 + L.bodyW + 9, yc - 5);
          c.lineTo(L.x0 + L.bodyW + 9, yc + 5);
          c.fill();
          const text = fit(c, d.symbols[r] || d.ids[r], L.rightW - 16);
          const w = c.measureText(text).width;
          c.fillStyle = "#fff";
          c.fillRect(L.x0 + L.bodyW + 11, yc - 8, w + 6, 16);
          c.fillStyle = "#000";
          c.font = "bold " + SMALL;
          c.fillText(text, L.x0 + L.bodyW + 14, yc);
          c.font = SMALL;
        }
      };
      if (state.hover && state.hover !== state.gene) mark(state.hover, false);
      if (state.gene) mark(state.gene, true);

      c.strokeStyle = "#d1d9e0";
      c.lineWidth = 1;
      c.strokeRect(L.x0 - 0.5, L.y0 - 0.5, L.bodyW + 1, L.bodyH + 1);
    }

    // What lies under a point: a cell, a module band/name, or a track cell.
    function hit(x, y) {
      const inRows = y >= L.y0 && y < L.y0 + L.bodyH;
      const inCols = x >= L.x0 && x < L.x0 + L.bodyW;
      if (inRows && inCols) {
        return { kind: "cell", r: Math.floor(view.r0 + (y - L.y0) / rowPx()),
          c: Math.floor(view.c0 + (x - L.x0) / colPx()) };
      }
      if (inRows && x < L.labelW + L.bandW) {
        const r = Math.floor(view.r0 + (y - L.y0) / rowPx());
        return { kind: "module", id: d.module[Math.min(nRows - 1, Math.max(0, r))] };
      }
      if (inCols && y >= 10 && y < L.y0 - 6) {
        const i = Math.floor((y - 10) / (L.trackH + 2));
        if (i < d.tracks.length) return { kind: "track", i, c: Math.floor(view.c0 + (x - L.x0) / colPx()) };
      }
      return null;
    }

    function tipCell(h, x, y) {
      const r = h.r;
      const j = h.c;
      const m = modules.get(d.module[r]);
      const lines = [];
      if (d.symbols[r]) lines.push("gene id: " + d.ids[r]);
      lines.push("sample: " + d.samples[j]);
      for (const t of d.tracks) lines.push(t.name + ": " + t.values[j]);
      lines.push("value: " + fmt(values[r * nCols + j], 2) + "  (" + d.label + ")");
      lines.push("module: " + m.title);
      lines.push("log2 FC: " + fmt(d.log2fc[r], 2) + "   padj: " + fmtP(d.padj[r]));
      showTip(tip, wrap, x, y, d.symbols[r] || d.ids[r], lines, d.ids[r]);
    }

    let drag = null;
    const pos = (e) => {
      const rect = canvas.getBoundingClientRect();
      return [e.clientX - rect.left, e.clientY - rect.top];
    };
    canvas.addEventListener("mousemove", (e) => {
      const [x, y] = pos(e);
      if (drag) {
        const dx = x - drag.x;
        const dy = y - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) {
          view.r0 = drag.r0 - dy / rowPx();
          view.c0 = drag.c0 - dx / colPx();
          clampView();
          hideTip(tip);
          redraw();
          return;
        }
      }
      const h = hit(x, y);
      if (h && h.kind === "cell") {
        tipCell(h, x, y);
        setHover(d.ids[h.r]);
      } else if (h && h.kind === "module") {
        const m = modules.get(h.id);
        const size = m.size === 1 ? "1 gene" : m.size.toLocaleString() + " genes";
        showTip(tip, wrap, x, y, m.title, [size, "click to highlight, click again to clear"], "");
        setHover("");
      } else if (h && h.kind === "track") {
        const t = d.tracks[h.i];
        showTip(tip, wrap, x, y, d.samples[h.c], [t.name + ": " + t.values[h.c]], "");
        setHover("");
      } else {
        hideTip(tip);
        setHover("");
      }
    });
    canvas.addEventListener("mouseleave", () => {
      hideTip(tip);
      setHover("");
    });
    canvas.addEventListener("mousedown", (e) => {
      const [x, y] = pos(e);
      drag = { x, y, r0: view.r0, c0: view.c0, moved: false };
      canvas.classList.add("grabbing");
    });
    window.addEventListener("mouseup", (e) => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      canvas.classList.remove("grabbing");
      if (moved || e.target !== canvas) return;
      const [x, y] = pos(e);
      const h = hit(x, y);
      if (h && h.kind === "module") selectModule(h.id);
      else if (h && h.kind === "cell") selectGene(state.gene === d.ids[h.r] ? "" : d.ids[h.r]);
    });
    canvas.addEventListener("wheel", (e) => {
      // Plain scrolling keeps scrolling the page; only Ctrl/⌘ + scroll zooms.
      if (!(e.ctrlKey || e.metaKey)) return;
      e.preventDefault();
      const [x, y] = pos(e);
      zoom(e.deltaY < 0 ? 1.25 : 0.8, e.shiftKey ? "x" : "y", x, y);
    }, { passive: false });
    canvas.addEventListener("dblclick", (e) => {
      const [x, y] = pos(e);
      zoom(e.altKey ? 0.5 : 2, e.shiftKey ? "x" : "y", x, y);
    });
    canvas.addEventListener("keydown", (e) => {
      const pan = { ArrowUp: [0, -0.2], ArrowDown: [0, 0.2], ArrowLeft: [-0.2, 0], ArrowRight: [0.2, 0] }[e.key];
      if (pan) {
        view.c0 += pan[0] * view.nc;
        view.r0 += pan[1] * view.nr;
        clampView();
        redraw();
      } else if (e.key === "+" || e.key === "=") zoom(1.5, e.shiftKey ? "both" : "y");
      else if (e.key === "-" || e.key === "_") zoom(1 / 1.5, e.shiftKey ? "both" : "y");
      else if (e.key === "0") reset();
      else if (e.key === "Escape") {
        selectGene("");
        if (state.module) selectModule(state.module);
      } else return;
      e.preventDefault();
    });
    document.getElementById("hm-zoom-in").addEventListener("click", () => zoom(1.5, "y"));
    document.getElementById("hm-zoom-out").addEventListener("click", () => zoom(1 / 1.5, "y"));
    document.getElementById("hm-reset").addEventListener("click", reset);
    new ResizeObserver(() => {
      if (layout()) draw();
    }).observe(wrap);

    // Viewport coordinates of a row's cell (for tests and for linking), or null when hidden.
    function point(id, col) {
      const r = rowOf.get(id);
      if (r === undefined || !L.width) return null;
      const j = col === undefined ? Math.floor(view.c0) : col;
      const y = rowY(r + 0.5);
      const x = colX(j + 0.5);
      if (y < L.y0 || y > L.y0 + L.bodyH || x < L.x0 || x > L.x0 + L.bodyW) return null;
      const rect = canvas.getBoundingClientRect();
      return { x: rect.left + x, y: rect.top + y };
    }
    function bandPoint(id) {
      const b = blocks.find((k) => k.id === id);
      if (!b || !L.width) return null;
      const rect = canvas.getBoundingClientRect();
      const y1 = Math.max(L.y0, rowY(b.start));
      const y2 = Math.min(L.y0 + L.bodyH, rowY(b.end));
      if (y2 <= y1) return null;
      return { x: rect.left + L.labelW + L.bandW / 2, y: rect.top + (y1 + y2) / 2 };
    }
    function visibleRows() {
      return { first: view.r0, count: view.nr, rowPx: rowPx() };
    }

    return { wrap, draw, reveal, layout, point, bandPoint, visibleRows, rowOf };
  }

  // ---------------------------------------------------------------------------- volcano

  function niceTicks(lo, hi, n) {
    const span = hi - lo;
    const raw = span / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => span / s <= n) || 10 * mag;
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
    return ticks;
  }

  function Volcano(v, heat) {
    const wrap = document.getElementById("volcano-view");
    const canvas = document.getElementById("volcano-canvas");
    const tip = document.getElementById("volcano-tooltip");
    const n = v.ids.length;
    const index = new Map(v.ids.map((id, i) => [id, i]));
    const colors = v.colors;
    const moduleTitle = new Map((H ? H.modules : []).map((m) => [m.id, m.title]));
    const sx = new Float32Array(n);
    const sy = new Float32Array(n);
    const L = {};
    let ctx = null;

    let xMax = 1;
    let yMax = 1;
    for (let i = 0; i < n; i++) {
      xMax = Math.max(xMax, Math.abs(v.x[i]));
      yMax = Math.max(yMax, v.y[i]);
    }
    xMax = Math.max(xMax * 1.05, v.lfc * 1.2);
    yMax = Math.max(yMax * 1.05, -Math.log10(v.alpha) * 1.2);

    function layout() {
      const width = wrap.clientWidth;
      if (!width) return false;
      Object.assign(L, { width, height: 460, left: 60, right: 20, top: 16, bottom: 48 });
      L.w = width - L.left - L.right;
      L.h = L.height - L.top - L.bottom;
      ctx = setupCanvas(canvas, width, L.height);
      for (let i = 0; i < n; i++) {
        sx[i] = L.left + ((v.x[i] + xMax) / (2 * xMax)) * L.w;
        sy[i] = L.top + L.h - (v.y[i] / yMax) * L.h;
      }
      return true;
    }

    function draw() {
      if (!ctx && !layout()) return;
      const c = ctx;
      c.fillStyle = "#fff";
      c.fillRect(0, 0, L.width, L.height);
      c.font = SMALL;
      c.strokeStyle = "#eaeef2";
      c.fillStyle = "#59636e";
      c.lineWidth = 1;
      c.textAlign = "center";
      c.textBaseline = "top";
      for (const t of niceTicks(-xMax, xMax, 8)) {
        const x = L.left + ((t + xMax) / (2 * xMax)) * L.w;
        c.beginPath();
        c.moveTo(x, L.top);
        c.lineTo(x, L.top + L.h);
        c.stroke();
        c.fillText(String(t), x, L.top + L.h + 5);
      }
      c.textAlign = "right";
      c.textBaseline = "middle";
      for (const t of niceTicks(0, yMax, 6)) {
        const y = L.top + L.h - (t / yMax) * L.h;
        c.beginPath();
        c.moveTo(L.left, y);
        c.lineTo(L.left + L.w, y);
        c.stroke();
        c.fillText(String(t), L.left - 6, y);
      }
      c.fillStyle = "#1f2328";
      c.font = FONT;
      c.textAlign = "center";
      c.textBaseline = "bottom";
      c.fillText("log2 fold change", L.left + L.w / 2, L.height - 4);
      c.save();
      c.translate(14, L.top + L.h / 2);
      c.rotate(-Math.PI / 2);
      c.textBaseline = "middle";
      c.fillText("−log10 adjusted p-value", 0, 0);
      c.restore();

      // Thresholds.
      c.strokeStyle = "#8c959f";
      c.setLineDash([4, 4]);
      const ya = L.top + L.h - (-Math.log10(v.alpha) / yMax) * L.h;
      c.beginPath();
      c.moveTo(L.left, ya);
      c.lineTo(L.left + L.w, ya);
      if (v.lfc > 0) {
        for (const s of [-1, 1]) {
          const x = L.left + ((s * v.lfc + xMax) / (2 * xMax)) * L.w;
          c.moveTo(x, L.top);
          c.lineTo(x, L.top + L.h);
        }
      }
      c.stroke();
      c.setLineDash([]);
      c.textAlign = "left";
      c.font = SMALL;
      c.fillStyle = "#59636e";
      c.fillText("padj = " + v.alpha, L.left + 4, ya - 2);

      // Points, one path per colour; the grey ones were put first by the page builder.
      const r = n > 5000 ? 1.8 : 2.6;
      const order = [];
      const seen = new Set();
      for (let i = 0; i < n; i++) {
        if (!seen.has(v.color[i])) {
          seen.add(v.color[i]);
          order.push(v.color[i]);
        }
      }
      // With a module highlighted, its genes stay strong and the others fade, as in the heatmap.
      for (const inModule of state.module ? [false, true] : [null]) {
        c.globalAlpha = inModule === false ? 0.15 : 0.85;
        for (const k of order) {
          c.fillStyle = colors[k];
          c.beginPath();
          for (let i = 0; i < n; i++) {
            if (v.color[i] !== k) continue;
            if (inModule !== null && (v.module[i] === state.module) !== inModule) continue;
            c.moveTo(sx[i] + r, sy[i]);
            c.arc(sx[i], sy[i], r, 0, 2 * Math.PI);
          }
          c.fill();
        }
      }
      c.globalAlpha = 1;

      const ring = (id, strong) => {
        const i = index.get(id);
        if (i === undefined) return;
        c.strokeStyle = strong ? "#000" : "#333";
        c.lineWidth = strong ? 2 : 1.5;
        c.beginPath();
        c.arc(sx[i], sy[i], r + (strong ? 5 : 3.5), 0, 2 * Math.PI);
        c.stroke();
        if (strong) {
          c.font = "bold " + FONT;
          const text = v.symbols[i] || v.ids[i];
          const w = c.measureText(text).width;
          const left = sx[i] + 10 + w > L.left + L.w ? sx[i] - 10 - w : sx[i] + 10;
          c.fillStyle = "rgba(255,255,255,0.9)";
          c.fillRect(left - 2, sy[i] - 9, w + 4, 18);
          c.fillStyle = "#000";
          c.textBaseline = "middle";
          c.fillText(text, left, sy[i]);
        }
      };
      if (state.hover && state.hover !== state.gene) ring(state.hover, false);
      if (state.gene) ring(state.gene, true);
      c.strokeStyle = "#d1d9e0";
      c.strokeRect(L.left - 0.5, L.top - 0.5, L.w + 1, L.h + 1);
    }

    function nearest(x, y) {
      let best = -1;
      let bestD = 64; // within 8 px
      for (let i = 0; i < n; i++) {
        const dx = sx[i] - x;
        const dy = sy[i] - y;
        const dd = dx * dx + dy * dy;
        if (dd < bestD) {
          bestD = dd;
          best = i;
        }
      }
      return best;
    }

    const pos = (e) => {
      const rect = canvas.getBoundingClientRect();
      return [e.clientX - rect.left, e.clientY - rect.top];
    };
    canvas.addEventListener("mousemove", (e) => {
      const [x, y] = pos(e);
      const i = nearest(x, y);
      if (i < 0) {
        hideTip(tip);
        setHover("");
        return;
      }
      const lines = [];
      if (v.symbols[i]) lines.push("gene id: " + v.ids[i]);
      lines.push("log2 FC: " + fmt(v.x[i], 2) + "   padj: " + fmtP(Math.pow(10, -v.y[i])));
      lines.push(v.module[i] ? "module: " + (moduleTitle.get(v.module[i]) || "M" + v.module[i]) : "in no module");
      if (v.row[i] >= 0) lines.push("click to mark it in the heatmap");
      else if (v.module[i]) lines.push("not among the rows of the interactive heatmap");
      showTip(tip, wrap, x, y, v.symbols[i] || v.ids[i], lines, v.ids[i]);
      setHover(v.ids[i]);
    });
    canvas.addEventListener("mouseleave", () => {
      hideTip(tip);
      setHover("");
    });
    const foot = document.getElementById("volcano-status");
    const jump = document.getElementById("volcano-to-heatmap");
    jump.addEventListener("click", () => {
      showTab("interactive");
      if (heat) heat.wrap.scrollIntoView({ block: "center" });
    });
    canvas.addEventListener("click", (e) => {
      const [x, y] = pos(e);
      const i = nearest(x, y);
      if (i < 0) return;
      const id = state.gene === v.ids[i] ? "" : v.ids[i];
      selectGene(id, { reveal: true });
      // The heatmap is far up the page: say where the gene is and offer to go there.
      foot.textContent = id ? describe(id) : "";
      jump.hidden = !id || v.row[i] < 0;
      status(id ? describe(id) : "", false);
    });
    new ResizeObserver(() => {
      if (layout()) draw();
    }).observe(wrap);

    function point(id) {
      const i = index.get(id);
      if (i === undefined || !L.width) return null;
      const rect = canvas.getBoundingClientRect();
      return { x: rect.left + sx[i], y: rect.top + sy[i] };
    }
    return { wrap, draw, layout, point, index };
  }

  // ---------------------------------------------------------------------------- search

  const byName = new Map(); // lower-case id, id without version, or symbol -> gene id
  const info = new Map(); // gene id -> [symbol, module, row or -1, where]
  function learn(ids, symbols, modules, where) {
    ids.forEach((id, i) => {
      if (info.has(id)) return;
      info.set(id, { symbol: symbols[i], module: modules ? modules[i] : 0, where: where(id) });
      for (const key of [id.toLowerCase(), id.toLowerCase().split(".")[0], (symbols[i] || "").toLowerCase()]) {
        if (key && !byName.has(key)) byName.set(key, id);
      }
    });
  }
  const carried = new Set(H ? H.ids : []);
  learn(G.ids, G.symbols, G.module, (id) => (carried.has(id) ? "heatmap" : "hidden"));
  if (DATA.volcano) learn(DATA.volcano.ids, DATA.volcano.symbols, DATA.volcano.module, () => "volcano");
  const titles = new Map((H ? H.modules : []).map((m) => [m.id, m.title]));

  // Gene ids matching a query: an exact id or symbol, else the genes (heatmap order first)
  // whose symbol or id starts with it, else those that contain it; at most `limit`.
  function find(query, limit) {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    if (byName.has(q)) return [byName.get(q)];
    for (const test of [(s) => s.startsWith(q), (s) => s.includes(q)]) {
      const hits = [];
      for (const [id, g] of info) {
        if (test((g.symbol || "").toLowerCase()) || test(id.toLowerCase())) hits.push(id);
        if (hits.length >= limit) break;
      }
      if (hits.length) return hits;
    }
    return [];
  }

  function describe(id) {
    const g = info.get(id);
    const name = g.symbol && g.symbol !== id ? g.symbol + " (" + id + ")" : id;
    if (g.where === "heatmap") {
      const r = heatmap.rowOf.get(id);
      return name + ": row " + (r + 1).toLocaleString() + " of " + H.nRows.toLocaleString() + ", " + titles.get(g.module);
    }
    if (g.where === "hidden") {
      return name + ": in " + titles.get(g.module) + ", not among the rows of the interactive view (see the module table)";
    }
    return name + ": tested, not in the heatmap" + (DATA.volcano ? " (marked on the volcano)" : "");
  }

  const statusEl = document.getElementById("search-status");
  function status(text, miss) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.classList.toggle("miss", miss);
  }

  // ---------------------------------------------------------------------------- wiring

  const heatmap = H && document.getElementById("heatmap-view") ? Heatmap(H) : null;
  if (heatmap) views.push(heatmap);
  let volcano = null;
  if (DATA.volcano && document.getElementById("volcano-view")) {
    volcano = Volcano(DATA.volcano, heatmap);
    views.push(volcano);
  }

  const search = document.getElementById("gene-search");
  if (search) search.addEventListener("submit", (e) => {
    e.preventDefault();
    const query = document.getElementById("gene-query").value;
    const hits = find(query, 6);
    if (!query.trim()) {
      selectGene("");
      status("", false);
    } else if (!hits.length) {
      status("No gene matches “" + query.trim() + "”", true);
    } else {
      selectGene(hits[0], { reveal: true });
      const others = hits.slice(1, 5).map((id) => info.get(id).symbol || id);
      const more = hits.length > 5 ? ", …" : "";
      status(describe(hits[0]) + (others.length ? "   (also: " + others.join(", ") + more + ")" : ""), false);
    }
  });

  for (const b of document.querySelectorAll("button[data-module]")) {
    b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", () => {
      selectModule(Number(b.dataset.module));
      if (b.classList.contains("module-link") && heatmap) {
        showTab("interactive");
        heatmap.wrap.scrollIntoView({ block: "center" });
      }
    });
  }
  function goToGene(id) {
    selectGene(id, { reveal: true });
    status(describe(id), false);
    showTab("interactive");
    if (heatmap) heatmap.wrap.scrollIntoView({ block: "center" });
  }

  // Module gene lists are built when first opened, from the data block, as text.
  function fillGeneList(details) {
    const number = Number(details.dataset.module);
    const table = document.createElement("table");
    table.className = "data";
    const head = table.createTHead().insertRow();
    for (const [name, num] of [["Symbol", false], ["Gene id", false], ["log2 FC", true], ["padj", true]]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      if (num) th.className = "num";
      head.append(th);
    }
    const body = table.createTBody();
    G.ids.forEach((id, i) => {
      if (G.module[i] !== number) return;
      const tr = body.insertRow();
      tr.dataset.gene = id;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "gene-link";
      button.textContent = G.symbols[i] || id;
      button.addEventListener("click", () => goToGene(id));
      tr.insertCell().append(button);
      tr.insertCell().textContent = id;
      const fc = tr.insertCell();
      fc.className = "num";
      fc.textContent = fmt(G.log2fc[i], 2);
      const p = tr.insertCell();
      p.className = "num";
      p.textContent = fmtP(G.padj[i]);
      if (!geneRows.has(id)) geneRows.set(id, []);
      geneRows.get(id).push(tr);
      if (id === state.gene) {
        tr.classList.add("selected");
        markedRows.push(tr);
      }
    });
    details.querySelector(".table-wrap").append(table);
    details.dataset.filled = "true";
  }
  for (const details of document.querySelectorAll("details.gene-list")) {
    details.addEventListener("toggle", () => {
      if (details.open && !details.dataset.filled) fillGeneList(details);
    });
  }

  // Tabs: the interactive view and the publication figure of the same heatmap.
  const tabs = { interactive: "tab-interactive", static: "tab-static" };
  function showTab(name) {
    if (!heatmap) return;
    for (const [key, id] of Object.entries(tabs)) {
      const tab = document.getElementById(id);
      if (!tab) continue;
      const on = key === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
    }
    if (name === "interactive" && heatmap.layout()) heatmap.draw();
  }
  for (const [key, id] of Object.entries(tabs)) {
    const tab = document.getElementById(id);
    if (!tab) continue;
    tab.addEventListener("click", () => showTab(key));
    tab.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const next = key === "interactive" ? "static" : "interactive";
        showTab(next);
        document.getElementById(tabs[next]).focus();
      }
    });
  }
  showTab("interactive");

  // Sortable tables: numbers by their data-sort value, text as text; missing values last.
  for (const table of document.querySelectorAll("table.sortable")) {
    const heads = Array.from(table.tHead.rows[0].cells);
    heads.forEach((th, col) => {
      const button = th.querySelector("button.sort");
      if (!button) return;
      button.addEventListener("click", () => {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        for (const other of heads) other.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        const key = (tr) => {
          const cell = tr.cells[col];
          if (cell.dataset.sort !== undefined) return Number(cell.dataset.sort);
          return cell.classList.contains("num") ? null : cell.textContent.trim().toLowerCase();
        };
        rows.sort((a, b) => {
          const ka = key(a);
          const kb = key(b);
          if (ka === null || ka === "—") return 1;
          if (kb === null || kb === "—") return -1;
          const order = typeof ka === "number" ? ka - kb : ka.localeCompare(kb);
          return ascending ? order : -order;
        });
        body.append(...rows);
      });
    });
  }

  const copy = document.getElementById("copy-command");
  if (copy) {
    copy.addEventListener("click", () => {
      const text = document.getElementById("command").textContent;
      const done = () => { copy.textContent = "Copied"; };
      const select = () => {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById("command"));
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        copy.textContent = "Selected: press Ctrl+C";
      };
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, select);
      else select();
    });
  }

  // A small read-only handle for tests and for anyone scripting the page.
  window.rnaheat = Object.freeze({
    state: () => ({ gene: state.gene, module: state.module, hover: state.hover }),
    selectGene: (id) => selectGene(id, { reveal: true }),
    selectModule: (id) => { if (state.module !== id) selectModule(id); },
    heatmapPoint: (id, col) => (heatmap ? heatmap.point(id, col) : null),
    bandPoint: (id) => (heatmap ? heatmap.bandPoint(id) : null),
    volcanoPoint: (id) => (volcano ? volcano.point(id) : null),
    visibleRows: () => (heatmap ? heatmap.visibleRows() : null),
  });
  document.documentElement.dataset.ready = "true";
})();
