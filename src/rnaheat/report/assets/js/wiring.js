// ------------------------------------------------------------------------------ wiring

// Tabs: the interactive view and the publication figure of the same heatmap.
rh.TABS = { interactive: "tab-interactive", static: "tab-static" };

rh.showTab = function (name) {
  const heatmap = rh.heatmap;
  if (!heatmap) return;
  for (const [key, id] of Object.entries(rh.TABS)) {
    const tab = document.getElementById(id);
    if (!tab) continue;
    const on = key === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
  }
  if (name === "interactive" && heatmap.layout()) heatmap.draw();
};

rh.wireTabs = function () {
  for (const [key, id] of Object.entries(rh.TABS)) {
    const tab = document.getElementById(id);
    if (!tab) continue;
    tab.addEventListener("click", () => rh.showTab(key));
    tab.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const next = key === "interactive" ? "static" : "interactive";
        rh.showTab(next);
        document.getElementById(rh.TABS[next]).focus();
      }
    });
  }
};

// Show the interactive heatmap and scroll it into the middle of the window.
rh.goToHeatmap = function () {
  rh.showTab("interactive");
  if (rh.heatmap) rh.heatmap.wrap.scrollIntoView({ block: "center" });
};

rh.wireModuleButtons = function () {
  for (const b of document.querySelectorAll("button[data-module]")) {
    b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", () => {
      rh.selectModule(Number(b.dataset.module));
      if (b.classList.contains("module-link") && rh.heatmap) rh.goToHeatmap();
    });
  }
};

// One row of a module's gene list; its button selects the gene and goes to the heatmap.
rh.geneListRow = function (body, i, genes) {
  const G = rh.G;
  const id = G.ids[i];
  const tr = body.insertRow();
  tr.dataset.gene = id;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "gene-link";
  button.textContent = G.symbols[i] || id;
  button.addEventListener("click", () => {
    rh.selectGene(id, { reveal: true });
    rh.status(genes.describe(id), false);
    rh.goToHeatmap();
  });
  tr.insertCell().append(button);
  tr.insertCell().textContent = id;
  const fc = tr.insertCell();
  fc.className = "num";
  fc.textContent = rh.fmt(G.log2fc[i], 2);
  const p = tr.insertCell();
  p.className = "num";
  p.textContent = rh.fmtP(G.padj[i]);
  if (!rh.geneRows.has(id)) rh.geneRows.set(id, []);
  rh.geneRows.get(id).push(tr);
  if (id === rh.state.gene) {
    tr.classList.add("selected");
    rh.markedRows.push(tr);
  }
};

// Module gene lists are built when first opened, from the data block, as text.
rh.fillGeneList = function (details, genes) {
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
  rh.G.ids.forEach((id, i) => {
    if (rh.G.module[i] === number) rh.geneListRow(body, i, genes);
  });
  details.querySelector(".table-wrap").append(table);
  details.dataset.filled = "true";
};

rh.wireGeneLists = function (genes) {
  for (const details of document.querySelectorAll("details.gene-list")) {
    details.addEventListener("toggle", () => {
      if (details.open && !details.dataset.filled) rh.fillGeneList(details, genes);
    });
  }
};

// Sortable tables: numbers by their data-sort value, text as text; missing values last.
rh.sortTable = function (table, th, col) {
  const heads = Array.from(table.tHead.rows[0].cells);
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
};

rh.wireSortableTables = function () {
  for (const table of document.querySelectorAll("table.sortable")) {
    Array.from(table.tHead.rows[0].cells).forEach((th, col) => {
      const button = th.querySelector("button.sort");
      if (button) button.addEventListener("click", () => rh.sortTable(table, th, col));
    });
  }
};

rh.wireCopyCommand = function () {
  const copy = document.getElementById("copy-command");
  if (!copy) return;
  copy.addEventListener("click", () => {
    const text = document.getElementById("command").textContent;
    const done = () => {
      copy.textContent = "Copied";
    };
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
};

// The volcano's line under the plot says where a picked gene is, with a link to the heatmap.
rh.volcanoPicked = function (genes) {
  const foot = document.getElementById("volcano-status");
  const jump = document.getElementById("volcano-to-heatmap");
  jump.addEventListener("click", rh.goToHeatmap);
  return (id, i) => {
    // The heatmap is far up the page: say where the gene is and offer to go there.
    foot.textContent = id ? genes.describe(id) : "";
    jump.hidden = !id || rh.DATA.volcano.row[i] < 0;
    rh.status(id ? genes.describe(id) : "", false);
  };
};

rh.start = function () {
  const genes = new rh.GeneIndex();
  if (rh.H && document.getElementById("heatmap-view")) {
    rh.heatmap = new rh.HeatmapView(rh.H);
    rh.views.push(rh.heatmap);
  }
  if (rh.DATA.volcano && document.getElementById("volcano-view")) {
    rh.volcano = new rh.VolcanoView(rh.DATA.volcano, { titles: genes.titles, onPick: rh.volcanoPicked(genes) });
    rh.views.push(rh.volcano);
  }
  rh.wireSearch(genes);
  rh.wireContrasts();
  rh.wireModuleButtons();
  rh.wireGeneLists(genes);
  rh.wireTabs();
  rh.showTab("interactive");
  rh.wireSortableTables();
  rh.wireCopyCommand();
  const heatmap = rh.heatmap;
  const volcano = rh.volcano;
  // A small read-only handle for tests and for anyone scripting the page.
  window.rnaheat = Object.freeze({
    state: () => ({ gene: rh.state.gene, module: rh.state.module, hover: rh.state.hover }),
    selectGene: (id) => rh.selectGene(id, { reveal: true }),
    selectModule: (id) => {
      if (rh.state.module !== id) rh.selectModule(id);
    },
    heatmapPoint: (id, col) => (heatmap ? heatmap.point(id, col) : null),
    bandPoint: (id) => (heatmap ? heatmap.bandPoint(id) : null),
    volcanoPoint: (id) => (volcano ? volcano.point(id) : null),
    visibleRows: () => (heatmap ? heatmap.visibleRows() : null),
    contrast: () => rh.contrast,
    setContrast: (k) => rh.setContrast(k),
  });
  document.documentElement.dataset.ready = "true";
};

rh.start();
