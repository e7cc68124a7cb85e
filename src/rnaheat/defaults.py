"""The defaults a setting shares with a library function, each declared once.

The library's signatures take their defaults from here and so do the settings
(:mod:`rnaheat.config`): the command line can list its flags and defaults without importing
numpy, pandas or any compute module. Only plain values live here, no code.
"""

from __future__ import annotations

__all__ = [
    "ALPHA",
    "CLIP",
    "COUNTS_FROM_ABUNDANCE",
    "DEFAULT_ENGINE",
    "DEMO_GENES",
    "ESTIMATED_COUNTS",
    "FILTER_ALPHA",
    "GSEA_PERMUTATIONS",
    "LFC_THRESHOLD",
    "LINKAGE",
    "MAX_GENES",
    "MAX_SET_SIZE",
    "MAX_TREE_GENES",
    "METRIC",
    "MIN_SET_SIZE",
    "MODULE_BOOTSTRAP",
    "NO_REMOVAL",
    "QC_TOP_GENES",
    "RANDOM_STATE",
    "RANKED",
    "SCALE",
    "SHRINK",
    "SHRINK_METHODS",
    "SIGNIFICANT",
    "TEST",
    "TESTS",
    "VST_BLIND",
]

# --- reading ------------------------------------------------------------------------------

#: tximport's ``countsFromAbundance`` values; the first is the default (plain counts).
COUNTS_FROM_ABUNDANCE = ("no", "scaledTPM", "lengthScaledTPM")
#: Whether a count table holds estimated (fractional) counts to round.
ESTIMATED_COUNTS = False

# --- differential expression --------------------------------------------------------------

#: The DE engine used unless another is named.
DEFAULT_ENGINE = "rnaheat"
#: The tests an engine can run: the contrast's Wald test, or the likelihood-ratio test.
TESTS = ("wald", "lrt")
TEST = "wald"
#: Log fold-change shrinkage methods (``none`` leaves the fold changes as fitted).
SHRINK_METHODS = ("apeglm", "normal", "none")
SHRINK = "apeglm"
#: Adjusted p-value below which a gene counts as changed.
ALPHA = 0.05
#: FDR of independent filtering (R DESeq2's ``results()`` default).
FILTER_ALPHA = 0.1
#: DESeq2's ``vst()`` is blind to the design by default.
VST_BLIND = True

# --- sample QC, gene selection, display, modules ------------------------------------------

#: Most variable genes for sample distances and PCA (as DESeq2's ``plotPCA``).
QC_TOP_GENES = 500
SIGNIFICANT = True
LFC_THRESHOLD = 0.0
MAX_GENES = 2000
#: Row scaling and colour bound of the displayed values.
SCALE = "zscore"
CLIP = 2.0
#: The word for "remove no sheet column from the displayed values".
NO_REMOVAL = "none"
METRIC = "correlation"
LINKAGE = "average"
MODULE_BOOTSTRAP = 20
#: Largest number of genes clustered exactly (above it, a subset tree).
MAX_TREE_GENES = 20_000
#: Seed of every random step.
RANDOM_STATE = 0

# --- enrichment ---------------------------------------------------------------------------

MIN_SET_SIZE = 10
MAX_SET_SIZE = 500
GSEA_PERMUTATIONS = 2000
RANKED = True

# --- demo ---------------------------------------------------------------------------------

DEMO_GENES = 5000
