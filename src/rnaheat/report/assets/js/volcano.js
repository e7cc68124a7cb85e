// ------------------------------------------------------------------------------ volcano view

rh.niceTicks = function (lo, hi, n) {
  const span = hi - lo;
  const raw = span / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => span / s <= n) || 10 * mag;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  return ticks;
};

// `titles` maps module numbers to their titles; `onPick(id, i)` runs after a click on gene
// `i` selected `id` (or cleared the selection, with `id` empty).
rh.VolcanoView = class {
  constructor(v, { titles, onPick }) {
    this.v = v;
    this.titles = titles;
    this.onPick = onPick;
    this.wrap = document.getElementById("volcano-view");
    this.canvas = document.getElementById("volcano-canvas");
    this.tip = document.getElementById("volcano-tooltip");
    this.n = v.ids.length;
    this.index = new Map(v.ids.map((id, i) => [id, i]));
    this.sx = new Float32Array(this.n);
    this.sy = new Float32Array(this.n);
    this.L = {};
    this.ctx = null;
    this.scale();
    // Colours in order of first appearance: the grey ones were put first by the page builder.
    this.colorOrder = [...new Set(v.color)];
    this.listen();
  }

  // Whether gene i has a position (a gene another contrast tested may have none in this one).
  shown(i) {
    return this.v.x[i] !== null && this.v.y[i] !== null;
  }

  // The axes' ranges from the points shown.
  scale() {
    const v = this.v;
    let xMax = 1;
    let yMax = 1;
    for (let i = 0; i < this.n; i++) {
      if (!this.shown(i)) continue;
      xMax = Math.max(xMax, Math.abs(v.x[i]));
      yMax = Math.max(yMax, v.y[i]);
    }
    this.xMax = Math.max(xMax * 1.05, v.lfc * 1.2);
    this.yMax = Math.max(yMax * 1.05, -Math.log10(v.alpha) * 1.2);
  }

  // Show another contrast's coordinates (same genes, same order).
  setPoints(x, y) {
    this.v.x = x;
    this.v.y = y;
    this.scale();
    if (this.layout()) this.draw();
  }

  layout() {
    const { v, L } = this;
    const width = this.wrap.clientWidth;
    if (!width) return false;
    Object.assign(L, { width, height: 460, left: 60, right: 20, top: 16, bottom: 48 });
    L.w = width - L.left - L.right;
    L.h = L.height - L.top - L.bottom;
    this.ctx = rh.setupCanvas(this.canvas, width, L.height);
    for (let i = 0; i < this.n; i++) {
      this.sx[i] = L.left + ((v.x[i] + this.xMax) / (2 * this.xMax)) * L.w;
      this.sy[i] = L.top + L.h - (v.y[i] / this.yMax) * L.h;
    }
    return true;
  }

  draw() {
    if (!this.ctx && !this.layout()) return;
    const { L } = this;
    const c = this.ctx;
    c.fillStyle = "#fff";
    c.fillRect(0, 0, L.width, L.height);
    this.drawAxes(c);
    this.drawThresholds(c);
    this.drawPoints(c);
    const state = rh.state;
    if (state.hover && state.hover !== state.gene) this.drawRing(c, state.hover, false);
    if (state.gene) this.drawRing(c, state.gene, true);
    c.strokeStyle = "#d1d9e0";
    c.strokeRect(L.left - 0.5, L.top - 0.5, L.w + 1, L.h + 1);
  }

  // Grid lines, tick labels and axis titles.
  drawAxes(c) {
    const { L, xMax, yMax } = this;
    c.font = rh.SMALL;
    c.strokeStyle = "#eaeef2";
    c.fillStyle = "#59636e";
    c.lineWidth = 1;
    c.textAlign = "center";
    c.textBaseline = "top";
    for (const t of rh.niceTicks(-xMax, xMax, 8)) {
      const x = L.left + ((t + xMax) / (2 * xMax)) * L.w;
      c.beginPath();
      c.moveTo(x, L.top);
      c.lineTo(x, L.top + L.h);
      c.stroke();
      c.fillText(String(t), x, L.top + L.h + 5);
    }
    c.textAlign = "right";
    c.textBaseline = "middle";
    for (const t of rh.niceTicks(0, yMax, 6)) {
      const y = L.top + L.h - (t / yMax) * L.h;
      c.beginPath();
      c.moveTo(L.left, y);
      c.lineTo(L.left + L.w, y);
      c.stroke();
      c.fillText(String(t), L.left - 6, y);
    }
    c.fillStyle = "#1f2328";
    c.font = rh.FONT;
    c.textAlign = "center";
    c.textBaseline = "bottom";
    c.fillText(this.v.xLabel || "log2 fold change", L.left + L.w / 2, L.height - 4);
    c.save();
    c.translate(14, L.top + L.h / 2);
    c.rotate(-Math.PI / 2);
    c.textBaseline = "middle";
    c.fillText("−log10 adjusted p-value", 0, 0);
    c.restore();
  }

  drawThresholds(c) {
    const { L, v, xMax, yMax } = this;
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
    c.font = rh.SMALL;
    c.fillStyle = "#59636e";
    c.fillText("padj = " + v.alpha, L.left + 4, ya - 2);
  }

  // Points, one path per colour.
  drawPoints(c) {
    const { v, n, sx, sy } = this;
    const selected = rh.state.module;
    const r = n > 5000 ? 1.8 : 2.6;
    // With a module highlighted, its genes stay strong and the others fade, as in the heatmap.
    for (const inModule of selected ? [false, true] : [null]) {
      c.globalAlpha = inModule === false ? 0.15 : 0.85;
      for (const k of this.colorOrder) {
        c.fillStyle = v.colors[k];
        c.beginPath();
        for (let i = 0; i < n; i++) {
          if (v.color[i] !== k || !this.shown(i)) continue;
          if (inModule !== null && (v.module[i] === selected) !== inModule) continue;
          c.moveTo(sx[i] + r, sy[i]);
          c.arc(sx[i], sy[i], r, 0, 2 * Math.PI);
        }
        c.fill();
      }
    }
    c.globalAlpha = 1;
  }

  // A ring round the hovered gene, or a strong ring and the name of the selected one.
  drawRing(c, id, strong) {
    const { L, v, sx, sy } = this;
    const i = this.index.get(id);
    if (i === undefined || !this.shown(i)) return;
    const r = this.n > 5000 ? 1.8 : 2.6;
    c.strokeStyle = strong ? "#000" : "#333";
    c.lineWidth = strong ? 2 : 1.5;
    c.beginPath();
    c.arc(sx[i], sy[i], r + (strong ? 5 : 3.5), 0, 2 * Math.PI);
    c.stroke();
    if (!strong) return;
    c.font = "bold " + rh.FONT;
    const text = v.symbols[i] || v.ids[i];
    const w = c.measureText(text).width;
    const left = sx[i] + 10 + w > L.left + L.w ? sx[i] - 10 - w : sx[i] + 10;
    c.fillStyle = "rgba(255,255,255,0.9)";
    c.fillRect(left - 2, sy[i] - 9, w + 4, 18);
    c.fillStyle = "#000";
    c.textBaseline = "middle";
    c.fillText(text, left, sy[i]);
  }

  // The gene drawn nearest a point, within 8 px, or -1.
  nearest(x, y) {
    let best = -1;
    let bestD = 64;
    for (let i = 0; i < this.n; i++) {
      if (!this.shown(i)) continue;
      const dx = this.sx[i] - x;
      const dy = this.sy[i] - y;
      const dd = dx * dx + dy * dy;
      if (dd < bestD) {
        bestD = dd;
        best = i;
      }
    }
    return best;
  }

  hover(x, y) {
    const v = this.v;
    const i = this.nearest(x, y);
    if (i < 0) {
      rh.hideTip(this.tip);
      rh.setHover("");
      return;
    }
    const lines = [];
    if (v.symbols[i]) lines.push("gene id: " + v.ids[i]);
    lines.push("log2 FC: " + rh.fmt(v.x[i], 2) + "   padj: " + rh.fmtP(Math.pow(10, -v.y[i])));
    lines.push(v.module[i] ? "module: " + (this.titles.get(v.module[i]) || "M" + v.module[i]) : "in no module");
    if (v.row[i] >= 0) lines.push("click to mark it in the heatmap");
    else if (v.module[i]) lines.push("not among the rows of the interactive heatmap");
    rh.showTip(this.tip, this.wrap, x, y, v.symbols[i] || v.ids[i], lines, v.ids[i]);
    rh.setHover(v.ids[i]);
  }

  listen() {
    const canvas = this.canvas;
    canvas.addEventListener("mousemove", (e) => this.hover(...rh.pointer(canvas, e)));
    canvas.addEventListener("mouseleave", () => {
      rh.hideTip(this.tip);
      rh.setHover("");
    });
    canvas.addEventListener("click", (e) => {
      const i = this.nearest(...rh.pointer(canvas, e));
      if (i < 0) return;
      const id = rh.state.gene === this.v.ids[i] ? "" : this.v.ids[i];
      rh.selectGene(id, { reveal: true });
      this.onPick(id, i);
    });
    new ResizeObserver(() => {
      if (this.layout()) this.draw();
    }).observe(this.wrap);
  }

  point(id) {
    const i = this.index.get(id);
    if (i === undefined || !this.L.width || !this.shown(i)) return null;
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + this.sx[i], y: rect.top + this.sy[i] };
  }
};
