// ------------------------------------------------------------------------------ contrast switch

// With several contrasts, one choice sets what the volcano, the heatmap's fold changes (its
// tooltip and the module gene lists) and the module bars show. Every switch on the page
// (volcano and module sections) shows the same choice.
rh.contrast = 0;

rh.showModuleBars = function (set) {
  const table = document.getElementById("module-contrast-table");
  if (!table) return;
  const scale = Number(table.dataset.scale) || 1;
  for (const tr of table.tBodies[0].rows) {
    const values = set.modules[tr.dataset.module] || [null, null];
    const [mean, share] = values;
    tr.querySelector(".fc-value").textContent = mean === null ? "—" : (mean >= 0 ? "+" : "") + rh.fmt(mean, 2);
    tr.querySelector(".fc-share").textContent = share === null ? "—" : Math.round(share * 100) + "%";
    const bar = tr.querySelector(".fcbar span");
    const half = mean === null ? 0 : Math.min(Math.abs(mean) / scale, 1) * 50;
    bar.style.left = (mean !== null && mean < 0 ? 50 - half : 50) + "%";
    bar.style.width = half + "%";
    bar.style.background = mean !== null && mean < 0 ? "#2166AC" : "#B2182B";
  }
};

// The heatmap genes' fold changes and p-values (tooltip, gene lists) for the contrast.
rh.showGeneValues = function (set) {
  if (!rh.H) return;
  rh.G.log2fc = set.fc;
  rh.G.padj = set.padj;
  const pick = (values) => (rh.H.rows ? rh.H.rows.map((i) => values[i]) : values);
  rh.H.log2fc = pick(set.fc);
  rh.H.padj = pick(set.padj);
  // Opened gene lists are drawn again from the new values when next opened.
  rh.geneRows.clear();
  rh.markedRows.splice(0, rh.markedRows.length);
  for (const details of document.querySelectorAll("details.gene-list")) {
    const wrap = details.querySelector(".table-wrap");
    wrap.replaceChildren();
    delete details.dataset.filled;
    if (details.open) details.dispatchEvent(new Event("toggle"));
  }
};

rh.setContrast = function (k) {
  const sets = rh.DATA.contrasts;
  if (!sets || !sets[k]) return;
  const set = sets[k];
  rh.contrast = k;
  for (const b of document.querySelectorAll("button[data-contrast]")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.contrast) === k));
  }
  rh.showGeneValues(set);
  rh.showModuleBars(set);
  if (rh.volcano) rh.volcano.setPoints(set.x, set.y);
  rh.redraw();
};

rh.wireContrasts = function () {
  if (!rh.DATA.contrasts) return;
  for (const b of document.querySelectorAll("button[data-contrast]")) {
    b.addEventListener("click", () => rh.setContrast(Number(b.dataset.contrast)));
  }
};
