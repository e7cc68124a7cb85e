# What an R user runs for the job rnaheat does: DESeq2, the blind VST and a pheatmap of the
# 2,000 genes with the smallest adjusted p-values (rows z-scored), saved as a 300 dpi PNG.
# Usage: Rscript deseq2_pheatmap.R COUNTS.csv[.gz] SAMPLES.csv DESIGN VARIABLE NUM DEN OUT.png
suppressPackageStartupMessages({
  library(DESeq2)
  library(pheatmap)
})
args <- commandArgs(trailingOnly = TRUE)
counts <- as.matrix(read.csv(args[1], row.names = 1, check.names = FALSE))
samples <- read.csv(args[2], row.names = 1)
counts <- counts[, rownames(samples)]
design <- as.formula(args[3])
contrast <- args[4:6]
for (v in all.vars(design)) {
  levels <- sort(unique(samples[[v]]))
  if (v == contrast[1]) levels <- c(contrast[3], setdiff(levels, contrast[3]))
  samples[[v]] <- factor(samples[[v]], levels = levels)
}
dds <- DESeq(DESeqDataSetFromMatrix(counts, samples, design), quiet = TRUE)
res <- results(dds, contrast = contrast)
vsd <- vst(dds, blind = TRUE)
top <- head(order(res$padj, na.last = NA), 2000)
pheatmap(assay(vsd)[top, ], scale = "row", show_rownames = FALSE,
         annotation_col = samples[, all.vars(design), drop = FALSE],
         clustering_distance_rows = "correlation", filename = args[7],
         width = 7, height = 9)
