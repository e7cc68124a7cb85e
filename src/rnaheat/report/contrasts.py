"""The page's contrast switch: which contrast the volcano and the fold changes show.

With several contrasts in a run the page carries, per contrast, the volcano's coordinates, the
heatmap genes' fold changes and p-values and each module's mean fold change; one switch
(drawn in the volcano and the module sections) sets which one every view shows.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from rnaheat.report.data import ContrastData, Module

__all__ = ["contrast_payload", "contrast_section", "contrast_switch", "drawable_elsewhere"]

_UP, _DOWN = "#B2182B", "#2166AC"


def _rounded(values, digits: int) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), digits) for v in values]


def _neglog(padj) -> np.ndarray:
    """-log10 padj, a padj of 0 at the smallest positive one (as the volcano draws it)."""
    padj = np.asarray(padj, float)
    positive = padj[padj > 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log10(np.clip(padj, positive.min() if positive.size else 1e-300, None))


def drawable_elsewhere(contrasts: Sequence[ContrastData], /) -> frozenset[str]:
    """Genes with a fold change and an adjusted p-value in a contrast after the first.

    The volcano carries them too, so that switching to that contrast shows every gene it
    tested (independent filtering keeps different genes in different contrasts).
    """
    ids: set[str] = set()
    for contrast in contrasts[1:]:
        genes = contrast.genes
        ids |= set(genes.loc[genes["log2fc_shown"].notna() & genes["padj"].notna(), "gene_id"])
    return frozenset(ids)


def contrast_payload(
    contrasts: Sequence[ContrastData], /, *, volcano_ids: list[str], gene_ids: list[str]
) -> list[dict[str, object]] | None:
    """What the page's script needs of each contrast, in the order of the page's genes.

    Per contrast: the volcano's ``x`` and ``y`` in the volcano's gene order, the heatmap
    genes' ``fc`` and ``padj`` in the heatmap's gene order, and ``modules`` (module → mean
    fold change and share significant). ``None`` for a run of one contrast (no switch).
    """
    if len(contrasts) < 2:
        return None
    out = []
    for contrast in contrasts:
        genes = contrast.genes.drop_duplicates("gene_id").set_index("gene_id")
        at_volcano = genes.reindex(volcano_ids)
        at_heatmap = genes.reindex(gene_ids)
        neglog = pd.Series(_neglog(genes["padj"]), index=genes.index).reindex(volcano_ids)
        out.append(
            {
                "label": contrast.label,
                "x": _rounded(at_volcano["log2fc_shown"], 3),
                "y": _rounded(neglog, 3),
                "fc": _rounded(at_heatmap["log2fc"], 3),
                "padj": [
                    None if not math.isfinite(v) else float(f"{v:.3g}") for v in at_heatmap["padj"]
                ],
                "modules": {
                    str(int(r.module)): [
                        None if not math.isfinite(r.mean_log2fc) else round(r.mean_log2fc, 3),
                        round(float(r.share_significant), 3),
                    ]
                    for r in contrast.modules.itertuples()
                },
            }
        )
    return out


def contrast_switch(contrasts: Sequence[ContrastData], /) -> str:
    """The switch's buttons (the first contrast pressed), or nothing for one contrast."""
    if len(contrasts) < 2:
        return ""
    buttons = "".join(
        f'<button type="button" data-contrast="{k}" aria-pressed="{str(k == 0).lower()}">'
        f"{html.escape(c.label.split(': ', 1)[-1])}</button>"
        for k, c in enumerate(contrasts)
    )
    return (
        '<div class="contrast-switch" role="group" aria-label="Contrast shown">'
        f"<span>Contrast:</span>{buttons}</div>"
    )


def contrast_section(
    contrasts: Sequence[ContrastData], modules: Sequence[Module], /, *, figure: str = ""
) -> str:
    """The section on modules across contrasts (empty for one contrast).

    Each module's mean fold change in the chosen contrast as a bar, with the share of its
    genes significant there, and the module × contrast figure.
    """
    if len(contrasts) < 2 or not modules:
        return ""
    first = {int(r.module): r for r in contrasts[0].modules.itertuples()}
    means = [abs(r.mean_log2fc) for c in contrasts for r in c.modules.itertuples()]
    scale = max([m for m in means if math.isfinite(m)] or [1.0]) or 1.0
    rows = []
    for m in modules:
        row = first.get(m.id)
        mean = float("nan") if row is None else float(row.mean_log2fc)
        share = float("nan") if row is None else float(row.share_significant)
        rows.append(
            f'<tr data-module="{m.id}"><td><button type="button" class="module-chip" '
            f'data-module="{m.id}"><span class="swatch" style="background:{m.color}" '
            f'aria-hidden="true"></span>{html.escape(m.label)} {html.escape(m.name)}</button></td>'
            f'<td class="num fc-value">{_text(mean, "{:+.2f}")}</td>'
            f'<td class="fc-cell"><div class="fcbar"><span style="{_bar_style(mean, scale)}">'
            f"</span></div></td>"
            f'<td class="num fc-share">{_text(share, "{:.0%}")}</td></tr>'
        )
    return (
        '<section id="module-contrasts"><h2>Modules across contrasts</h2>'
        '<p class="lede">The modules are named by the first contrast. Choose a contrast to see '
        "how far each module moves in it (mean log2 fold change of its genes, shrunken when the "
        "run shrank them) and which share of its genes is significant there; the volcano and "
        "the heatmap's fold changes follow the same choice.</p>"
        f"{contrast_switch(contrasts)}"
        '<div class="table-wrap"><table class="data fc-bars" id="module-contrast-table" '
        f'data-scale="{scale!r}"><thead><tr><th scope="col">Module</th>'
        '<th scope="col" class="num">Mean log2 FC</th><th scope="col">Down ◂ ▸ Up</th>'
        '<th scope="col" class="num">Significant</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{figure}</section>"
    )


def _text(value: float, pattern: str) -> str:
    return "—" if not math.isfinite(value) else pattern.format(value)


def _bar_style(mean: float, scale: float) -> str:
    """The bar from the centre line towards its side, as long as the mean is large."""
    if not math.isfinite(mean):
        return "width:0"
    half = min(abs(mean) / scale, 1.0) * 50.0
    left = 50.0 if mean >= 0 else 50.0 - half
    color = _UP if mean >= 0 else _DOWN
    return f"left:{left:.1f}%;width:{half:.1f}%;background:{color}"
