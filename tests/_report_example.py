"""A realistic ReportData from synthetic numbers, to build and test the report page.

Conditions Normoxia/Hypoxia crossed with two cell lines; three planted modules (up in Hypoxia,
down in Hypoxia, high in PC3); non-selected genes appear only on the volcano. The numbers are
made up to look like an analysis, they are not computed by one. ``hostile=True`` puts markup
into every kind of text that can come from input files.
"""

from __future__ import annotations

import dataclasses
import io
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from rnaheat.checks import Check
from rnaheat.plot.colors import CATEGORICAL, NEUTRAL, category_colors
from rnaheat.report import (
    Annotation,
    ControlsData,
    Download,
    HeatmapData,
    MethodsData,
    Module,
    QCData,
    ReportData,
    StaticFigure,
    VolcanoData,
    diverging_palette,
)

XSS_SAMPLE = "<img src=x onerror=alert(1)>"
XSS_SYMBOL = "</script><script>alert(2)</script>"
XSS_TRACK = "<svg onload=alert(3)>"
XSS_SET = 'SET_"quoted"&<i>it</i>'

HYPOXIA_UP = [
    "BNIP3",
    "PDK1",
    "CA9",
    "NDRG1",
    "VEGFA",
    "P4HA1",
    "SLC2A1",
    "LDHA",
    "ADM",
    "ANKRD37",
    "EGLN3",
    "KDM3A",
    "BHLHE40",
    "ALDOC",
    "PFKFB4",
    "INSIG2",
]
HYPOXIA_DOWN = ["NDUFA4", "COX7A1", "ATP5F1E", "UQCRQ", "SDHB", "CYCS", "MT-CO2", "NDUFB8"]
MODULE_COLORS = (CATEGORICAL[7], CATEGORICAL[13], CATEGORICAL[11])


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    plt.close(fig)
    return buffer.getvalue()


def _heatmap_png(values, modules, clip, palette, n_modules) -> bytes:
    fig = plt.figure(figsize=(7.5, 6), dpi=80)
    band = fig.add_axes((0.06, 0.08, 0.03, 0.84))
    ax = fig.add_axes((0.1, 0.08, 0.78, 0.84))
    cmap = ListedColormap(palette)
    ax.imshow(values, aspect="auto", cmap=cmap, vmin=-clip, vmax=clip, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    band.imshow(
        modules[:, None],
        aspect="auto",
        interpolation="nearest",
        cmap=ListedColormap(MODULE_COLORS[:n_modules]),
    )
    band.axis("off")
    fig.suptitle("Main heatmap (static)", fontsize=10)
    return _png(fig)


def _scatter_png(title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=72)
    rng = np.random.default_rng(1)
    ax.scatter(rng.normal(size=8), rng.normal(size=8), c=[CATEGORICAL[i % 2] for i in range(8)])
    ax.set_title(title, fontsize=10)
    return _png(fig)


@lru_cache(maxsize=8)
def example_report(
    n_genes: int = 300,
    n_samples: int = 8,
    *,
    seed: int = 0,
    hostile: bool = False,
    n_other: int = 700,
) -> ReportData:
    """A ReportData with 3 modules over ``n_genes`` genes × ``n_samples`` samples."""
    rng = np.random.default_rng(seed)
    conditions = np.array(["Normoxia", "Hypoxia"] * (n_samples // 2))
    lines = np.array((["LNCaP"] * 2 + ["PC3"] * 2) * (n_samples // 4 + 1))[:n_samples]
    order = np.lexsort((lines, conditions == "Hypoxia"))
    conditions, lines = conditions[order], lines[order]
    samples = [
        f"{line}_{cond[0]}{i + 1}"
        for i, (line, cond) in enumerate(zip(lines, conditions, strict=True))
    ]
    if hostile:
        samples[1] = XSS_SAMPLE

    sizes = [int(n_genes * 0.45), int(n_genes * 0.35)]
    sizes.append(n_genes - sum(sizes))
    module = np.repeat([1, 2, 3], sizes)
    hyp = (conditions == "Hypoxia").astype(float) * 2 - 1
    pc3 = (lines == "PC3").astype(float) * 2 - 1
    pattern = {1: hyp, 2: -hyp, 3: pc3}
    raw = np.vstack([pattern[m] * rng.uniform(0.6, 1.4) for m in module])
    raw += rng.normal(scale=0.45, size=raw.shape)
    values = (raw - raw.mean(1, keepdims=True)) / raw.std(1, keepdims=True)
    values[5, 3] = np.nan  # a missing cell must draw grey and say "—"

    ids = [f"ENSG{100000 + i:011d}" for i in range(n_genes + n_other)]
    symbols = [f"GENE{i}" for i in range(n_genes + n_other)]
    for k, name in enumerate(HYPOXIA_UP[: sizes[0]]):
        symbols[k * 2] = name
    for k, name in enumerate(HYPOXIA_DOWN[: sizes[1]]):
        symbols[sizes[0] + k * 3] = name
    if hostile:
        symbols[7] = XSS_SYMBOL
    log2fc = np.where(
        module == 1,
        rng.normal(2.0, 0.7, n_genes),
        np.where(module == 2, rng.normal(-1.6, 0.6, n_genes), rng.normal(0.2, 0.3, n_genes)),
    )
    padj = 10.0 ** -(np.abs(log2fc) * rng.uniform(2, 6, n_genes) + 1.4)
    genes = pd.DataFrame(
        {
            "gene_id": ids[:n_genes],
            "symbol": symbols[:n_genes],
            "module": module,
            "log2fc": log2fc,
            "padj": padj,
        }
    )

    palette = diverging_palette()
    tracks = []
    offset = 0
    for name, column in (("condition", conditions), ("cell_line", lines)):
        text = [str(v) for v in column]
        if hostile and name == "cell_line":
            text[0] = XSS_TRACK
        colours = category_colors(text, offset=offset)
        offset += len(colours)
        tracks.append(
            Annotation(name=name, values=tuple(text), colors=tuple(colours[v] for v in text))
        )
    subtitle = XSS_SET if hostile else "HALLMARK_HYPOXIA"
    modules = (
        Module(
            id=1,
            name="up in Hypoxia",
            color=MODULE_COLORS[0],
            size=sizes[0],
            subtitle=subtitle,
            direction="up",
            coherence=0.62,
            stability=0.95,
            top_sets=(f"{subtitle} (padj 2e-25)", "HALLMARK_GLYCOLYSIS (padj 3e-09)"),
            hub_genes=tuple(HYPOXIA_UP[:5]),
        ),
        Module(
            id=2,
            name="down in Hypoxia",
            color=MODULE_COLORS[1],
            size=sizes[1],
            subtitle="HALLMARK_OXIDATIVE_PHOSPHORYLATION",
            direction="down",
            coherence=0.48,
            stability=0.88,
            top_sets=("HALLMARK_OXIDATIVE_PHOSPHORYLATION (padj 1e-12)",),
            hub_genes=tuple(HYPOXIA_DOWN[:4]),
            name_note="name purity 0.97: the name is true for 97% of its genes",
        ),
        Module(
            id=3,
            name="high in PC3",
            color=MODULE_COLORS[2],
            size=sizes[2],
            direction="other",
            coherence=0.31,
            stability=0.64,
        ),
    )
    clip = 2.0
    heatmap = HeatmapData(
        values=values,
        genes=genes,
        samples=tuple(samples),
        annotations=tuple(tracks),
        clip=clip,
        label="row z-score of VST, clipped at ±2",
        palette=palette,
        n_candidates=int(n_genes * 1.4),
        figure=StaticFigure(
            png=_heatmap_png(values, module, clip, palette, 3),
            alt=f"Clustered heatmap of {n_genes} genes by {n_samples} samples in three modules",
            caption="figures/heatmap.png at screen resolution",
        ),
    )

    other_fc = rng.normal(0, 0.5, n_other)
    other_p = np.clip(10.0 ** -np.abs(rng.normal(0, 0.8, n_other)), 1e-6, 1)
    points = pd.DataFrame(
        {
            "gene_id": ids,
            "symbol": symbols,
            "log2fc": np.concatenate([log2fc, other_fc]),
            "neglog10_padj": -np.log10(np.concatenate([padj, other_p])),
            "module": np.concatenate([module, np.zeros(n_other, dtype=int)]),
        }
    )
    colour_of = {0: NEUTRAL, 1: MODULE_COLORS[0], 2: MODULE_COLORS[1], 3: MODULE_COLORS[2]}
    points["color"] = points["module"].map(colour_of)
    points.loc[len(points) - 1, "neglog10_padj"] = np.nan  # not tested: not drawn
    volcano = VolcanoData(points=points, alpha=0.05, lfc_threshold=1.0)

    qc_table = pd.DataFrame(
        {
            "sample": samples,
            "condition": conditions,
            "cell_line": lines,
            "library_size": rng.integers(15_000_000, 30_000_000, n_samples),
            "detected_genes": rng.integers(14_000, 16_000, n_samples),
            "cor_own_group": rng.uniform(0.97, 0.995, n_samples),
            "outlier_score": rng.normal(0, 1, n_samples),
            "outlier": False,
        }
    )
    qc = QCData(
        checks=(
            Check(
                name="replicates_cluster",
                status="pass",
                reason="replicates cluster: all 4 groups form clades (silhouette 0.81)",
                evidence={"silhouette": 0.81, "clades": "4 of 4"},
            ),
            Check(
                name="pc1_driver",
                status="warn",
                reason="PC1 (62%) follows cell_line, not condition: keep cell_line in the design",
                evidence={"pc1_variance": 0.62, "r2": 0.97},
            ),
            Check(
                name="outliers",
                status="pass",
                reason="no sample is an outlier",
                evidence={"max_score": 1.9},
            ),
        ),
        samples=qc_table,
        figures=(
            StaticFigure(
                png=_scatter_png("PCA"),
                alt="PCA of samples: PC1 separates cell lines",
                caption="PCA on the 500 most variable genes",
            ),
            StaticFigure(
                png=_scatter_png("Sample distances"),
                alt="Sample distance heatmap",
                caption="Euclidean distances on VST",
            ),
        ),
    )
    controls = ControlsData(
        summary="5 of 6 positive controls behave as expected",
        status="warn",
        table=pd.DataFrame(
            {
                "gene": ["BNIP3", "PDK1", "CA9", "NDRG1", "VEGFA", "XIST"],
                "expected": ["up"] * 5 + ["down"],
                "log2fc": [3.1, 2.2, 4.0, 2.9, 1.8, 0.1],
                "padj": [1e-30, 2e-12, 5e-20, 1e-18, 3e-6, 0.8],
                "module": ["M1", "M1", "M1", "M1", "M1", ""],
                "result": ["pass"] * 5 + ["not significant"],
            }
        ),
    )
    checks = (
        Check(
            name="Sample check",
            status="pass",
            reason="Replicates cluster: all 4 groups form clades of the sample tree.",
            evidence={"silhouette": 0.81, "outliers": 0},
        ),
        Check(
            name="Gene check",
            status="pass",
            reason="3 coherent, stable modules; 2 enriched for Hallmark sets.",
            evidence={"min_stability": 0.64, "enriched": "2 of 3"},
        ),
        Check(
            name="Pattern check",
            status="warn",
            reason="M1 and M2 follow condition; M3 follows cell_line, not the contrast.",
            evidence={"modules_following_design": "2 of 3"},
        ),
        Check(
            name="Experimental validation",
            status="fail" if hostile else "pass",
            reason="5 of 6 positive controls behave as expected.",
            evidence={"passed": 5, "given": 6},
        ),
    )
    story = (
        "Samples separate cleanly by condition within each cell line (all groups form clades).",
        f"{int(n_genes * 1.4):,} genes change (padj < 0.05). M1, up in Hypoxia "
        f"({sizes[0]:,} genes), is the hypoxia response (HALLMARK_HYPOXIA, padj 2e-25; BNIP3, "
        f"PDK1, CA9). M2, down in Hypoxia ({sizes[1]:,} genes), is oxidative phosphorylation.",
        "5 of 6 positive controls behave as expected.",
    )
    methods = MethodsData(
        command="rnaheat run --counts counts.csv --samples samples.csv "
        "--design '~ cell_line + condition' --contrast condition Hypoxia Normoxia "
        "--out results",
        settings={
            "de": {
                "design": "~ cell_line + condition",
                "alpha": 0.05,
                "contrast": ["condition", "Hypoxia", "Normoxia"],
            },
            "modules": {
                "metric": "correlation",
                "linkage": "average",
                "n_modules": None,
                "random_state": 0,
            },
        },
        versions={"rnaheat": "0.1.0", "numpy": np.__version__, "pandas": pd.__version__},
        checksums={"counts.csv": "sha256:" + "ab" * 32, "samples.csv": "sha256:" + "cd" * 32},
        notes=("Differential expression: DESeq2 model (Wald test), no LFC shrinkage.",),
    )
    downloads = (
        Download(path="tables/de.tsv", description="differential expression, every gene"),
        Download(
            path="tables/modules.tsv",
            description=XSS_TRACK if hostile else "one row per heatmap gene",
        ),
        Download(path="figures/heatmap.pdf", description="the main heatmap for print"),
    )
    return ReportData(
        title="LNCaP and PC3: Hypoxia vs Normoxia" if not hostile else f"Run {XSS_SAMPLE}",
        contrast="condition: Hypoxia vs Normoxia",
        story=story,
        checks=checks,
        heatmap=heatmap,
        modules=modules,
        methods=methods,
        volcano=volcano,
        qc=qc,
        controls=controls,
        downloads=downloads,
        generated="2026-01-01 12:00 UTC",
    )


@lru_cache(maxsize=2)
def example_without_heatmap() -> ReportData:
    """The example when nothing was selected: no heatmap, no modules, an all-grey volcano."""
    data = example_report()
    points = data.volcano.points.assign(module=0, color=NEUTRAL)
    return dataclasses.replace(
        data, heatmap=None, modules=(), volcano=dataclasses.replace(data.volcano, points=points)
    )
