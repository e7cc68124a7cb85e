// ------------------------------------------------------------------------------ search

// Every gene the page knows, by id: its symbol, module and where it is shown ("heatmap",
// "hidden" for heatmap genes the interactive matrix does not carry, or "volcano").
rh.GeneIndex = class {
  constructor() {
    this.byName = new Map(); // lower-case id, id without version, or symbol -> gene id
    this.info = new Map(); // gene id -> { symbol, module, where }
    const H = rh.H;
    this.rowOf = new Map((H ? H.ids : []).map((id, r) => [id, r]));
    this.titles = new Map((H ? H.modules : []).map((m) => [m.id, m.title]));
    const G = rh.G;
    this.learn(G.ids, G.symbols, G.module, (id) => (this.rowOf.has(id) ? "heatmap" : "hidden"));
    const V = rh.DATA.volcano;
    if (V) this.learn(V.ids, V.symbols, V.module, () => "volcano");
  }

  learn(ids, symbols, modules, where) {
    ids.forEach((id, i) => {
      if (this.info.has(id)) return;
      this.info.set(id, { symbol: symbols[i], module: modules ? modules[i] : 0, where: where(id) });
      const keys = [id.toLowerCase(), id.toLowerCase().split(".")[0], (symbols[i] || "").toLowerCase()];
      for (const key of keys) {
        if (key && !this.byName.has(key)) this.byName.set(key, id);
      }
    });
  }

  // Gene ids matching a query: an exact id or symbol, else the genes (heatmap order first)
  // whose symbol or id starts with it, else those that contain it; at most `limit`.
  find(query, limit) {
    const q = query.trim().toLowerCase();
    if (!q) return [];
    if (this.byName.has(q)) return [this.byName.get(q)];
    for (const test of [(s) => s.startsWith(q), (s) => s.includes(q)]) {
      const hits = [];
      for (const [id, g] of this.info) {
        if (test((g.symbol || "").toLowerCase()) || test(id.toLowerCase())) hits.push(id);
        if (hits.length >= limit) break;
      }
      if (hits.length) return hits;
    }
    return [];
  }

  // Where a gene is, in words.
  describe(id) {
    const g = this.info.get(id);
    const name = g.symbol && g.symbol !== id ? g.symbol + " (" + id + ")" : id;
    const title = this.titles.get(g.module);
    if (g.where === "heatmap") {
      const r = this.rowOf.get(id);
      return name + ": row " + (r + 1).toLocaleString() + " of " + rh.H.nRows.toLocaleString() + ", " + title;
    }
    if (g.where === "hidden") {
      return name + ": in " + title + ", not among the rows of the interactive view (see the module table)";
    }
    return name + ": tested, not in the heatmap" + (rh.DATA.volcano ? " (marked on the volcano)" : "");
  }
};

// The line under the search box.
rh.status = function (text, miss) {
  const el = document.getElementById("search-status");
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("miss", miss);
};

rh.wireSearch = function (genes) {
  const search = document.getElementById("gene-search");
  if (!search) return;
  search.addEventListener("submit", (e) => {
    e.preventDefault();
    const query = document.getElementById("gene-query").value;
    const hits = genes.find(query, 6);
    if (!query.trim()) {
      rh.selectGene("");
      rh.status("", false);
    } else if (!hits.length) {
      rh.status("No gene matches “" + query.trim() + "”", true);
    } else {
      rh.selectGene(hits[0], { reveal: true });
      const others = hits.slice(1, 5).map((id) => genes.info.get(id).symbol || id);
      const more = hits.length > 5 ? ", …" : "";
      const also = others.length ? "   (also: " + others.join(", ") + more + ")" : "";
      rh.status(genes.describe(hits[0]) + also, false);
    }
  });
};
