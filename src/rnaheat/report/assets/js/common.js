/* rnaheat report: the interactive heatmap and volcano, linked by gene and module.
 *
 * Plain JavaScript on <canvas>, no library: the page must open offline, stay small, and a
 * canvas draws a 2,000 × 100 matrix as one image, which a DOM or SVG cell per value cannot.
 * Every text that comes from the data is put on the page with textContent or drawn on a
 * canvas, never parsed as HTML.
 *
 * The page inlines these parts in this order, inside one function that gives them a shared
 * namespace `rh`: common (formatting, canvas and tooltip helpers), data (the data block and
 * the one selection all views share), heatmap (view), volcano (view), search, contrasts (the
 * contrast switch of a run with several), wiring.
 */

// ------------------------------------------------------------------------------ common

rh.NAN_CODE = 65535;
rh.FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";
rh.SMALL = "11px system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";

rh.hexToRgb = function (hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
};

rh.fmt = function (value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return Number(value).toFixed(digits);
};

rh.fmtP = function (p) {
  if (p === null || p === undefined || Number.isNaN(p)) return "—";
  if (p === 0) return "0";
  // As the tables print them: 1.2e-8, 0.0012, 0.5.
  return p < 1e-3 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
};

// Shorten text to a width with an ellipsis (binary search on the length).
rh.fit = function (ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, mid) + "…").width <= width) lo = mid;
    else hi = mid - 1;
  }
  return lo > 0 ? text.slice(0, lo) + "…" : "";
};

// Break text into lines no wider than width: at spaces and after underscores (gene-set names
// such as HALLMARK_FATTY_ACID_METABOLISM), inside a word only when it alone is too wide.
rh.wrap = function (ctx, text, width) {
  const lines = [];
  let line = "";
  for (const token of text.match(/[^\s_]+_*|_+|\s+/g) || []) {
    const next = line + token;
    if (!line.trim() || ctx.measureText(next.trim()).width <= width) line = next;
    else {
      lines.push(line.trim());
      line = token.trimStart();
    }
    while (line.length > 1 && ctx.measureText(line).width > width) {
      let cut = line.length - 1;
      while (cut > 1 && ctx.measureText(line.slice(0, cut)).width > width) cut--;
      lines.push(line.slice(0, cut));
      line = line.slice(cut);
    }
  }
  if (line.trim()) lines.push(line.trim());
  return lines;
};

// Fill a tooltip: a bold head line and plain lines, all as text.
rh.showTip = function (tip, wrap, x, y, head, lines, gene) {
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
};

rh.hideTip = function (tip) {
  tip.hidden = true;
  tip.dataset.gene = "";
};

rh.setupCanvas = function (canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.style.height = height + "px";
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
};

// A mouse event's position in a canvas, in CSS pixels.
rh.pointer = function (canvas, e) {
  const rect = canvas.getBoundingClientRect();
  return [e.clientX - rect.left, e.clientY - rect.top];
};
