// ------------------------------------------------------------------------------ data

rh.DATA = JSON.parse(document.getElementById("report-data").textContent);
// The heatmap's genes, all of them (rh.G), and the rows the interactive matrix carries (rh.H.*).
// With no gene selected there is no heatmap, and the volcano stands alone.
rh.H = rh.DATA.heatmap;
rh.G = rh.H ? rh.H.genes : { ids: [], symbols: [], module: [], log2fc: [], padj: [] };
if (rh.H) {
  const H = rh.H;
  const G = rh.G;
  const pick = (values) => (H.rows ? H.rows.map((i) => values[i]) : values);
  H.ids = pick(G.ids);
  H.symbols = pick(G.symbols);
  H.module = pick(G.module);
  H.log2fc = pick(G.log2fc);
  H.padj = pick(G.padj);
}

// One shared selection: a gene (by id, as the volcano holds genes the heatmap has not),
// a module (by number) and the gene under the pointer in either view. Every view is
// redrawn from it.
rh.state = { gene: "", module: 0, hover: "" };
rh.views = [];
rh.geneRows = new Map(); // gene id -> rows of the module gene lists, once drawn
rh.markedRows = []; // the gene-list rows of the selected gene

let redrawPending = false;
rh.redraw = function () {
  if (redrawPending) return;
  redrawPending = true;
  requestAnimationFrame(() => {
    redrawPending = false;
    for (const view of rh.views) view.draw();
  });
};

rh.selectGene = function (id, options) {
  const state = rh.state;
  state.gene = id || "";
  for (const tr of rh.markedRows) tr.classList.remove("selected");
  rh.markedRows.splice(0, rh.markedRows.length, ...(rh.geneRows.get(state.gene) || []));
  for (const tr of rh.markedRows) tr.classList.add("selected");
  for (const view of rh.views) {
    view.wrap.dataset.selectedGene = state.gene;
    if (options && options.reveal && view.reveal) view.reveal(state.gene);
  }
  rh.redraw();
};

rh.selectModule = function (id) {
  const state = rh.state;
  state.module = state.module === id ? 0 : id;
  for (const view of rh.views) {
    view.wrap.dataset.selectedModule = state.module ? String(state.module) : "";
  }
  for (const b of document.querySelectorAll("button[data-module]")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.module) === state.module));
  }
  rh.redraw();
};

rh.setHover = function (id) {
  if (rh.state.hover === id) return;
  rh.state.hover = id;
  for (const view of rh.views) view.wrap.dataset.hoverGene = id;
  rh.redraw();
};
