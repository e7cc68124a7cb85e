# R tximport + DESeq2 reference tables for rnaheat's transcript-import golden tests, and a
# simulated nf-core/rnaseq output folder made from the same numbers (nf-core runs tximport).
# Run from this folder after `python make_inputs.py`:  Rscript make_references.R
# Made with R 4.2.2, tximport 1.26 and DESeq2 1.38.3. The test suite never runs R.
suppressPackageStartupMessages({
  library(tximport)
  library(DESeq2)
})

samples <- read.csv("samples.csv", row.names = 1)
samples$condition <- factor(samples$condition, levels = c("A", "B"))
tx2gene <- read.delim("tx2gene.tsv")

gene_table <- function(m, file) {
  write.csv(data.frame(gene_id = rownames(m), m, check.names = FALSE), file,
            row.names = FALSE)
}

import <- function(type, file, cfa = "no") {
  files <- file.path(type, rownames(samples), file)
  names(files) <- rownames(samples)
  suppressMessages(tximport(files, type = type, tx2gene = tx2gene,
                            countsFromAbundance = cfa))
}

txi <- list(salmon = import("salmon", "quant.sf"),
            kallisto = import("kallisto", "abundance.tsv"))
for (type in names(txi)) {
  gene_table(txi[[type]]$counts, paste0(type, "_r_counts.csv"))
  gene_table(txi[[type]]$length, paste0(type, "_r_lengths.csv"))
}
for (cfa in c("scaledTPM", "lengthScaledTPM")) {
  gene_table(import("salmon", "quant.sf", cfa)$counts, paste0("salmon_r_counts_", cfa, ".csv"))
}

# DESeqDataSetFromTximport: rounded counts, average transcript lengths as the offset.
dds <- DESeqDataSetFromTximport(txi$salmon, samples, ~ condition)
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, contrast = c("condition", "B", "A"))
write.csv(data.frame(gene_id = rownames(res), baseMean = res$baseMean,
                     log2FoldChange = res$log2FoldChange, lfcSE = res$lfcSE,
                     stat = res$stat, pvalue = res$pvalue, padj = res$padj),
          "salmon_r_results.csv", row.names = FALSE)
mc <- mcols(dds)
write.csv(data.frame(gene_id = rownames(dds), dispersion = mc$dispersion,
                     maxCooks = mc$maxCooks),
          "salmon_r_dispersions.csv", row.names = FALSE)
gene_table(normalizationFactors(dds), "salmon_r_normfactors.csv")
shr <- lfcShrink(dds, coef = "condition_B_vs_A", type = "normal", res = res, quiet = TRUE)
write.csv(data.frame(gene_id = rownames(shr), log2fc_shrunk = shr$log2FoldChange,
                     lfc_se_shrunk = shr$lfcSE),
          "salmon_r_lfc_normal.csv", row.names = FALSE)
gene_table(assay(varianceStabilizingTransformation(dds, blind = TRUE)),
           "salmon_r_vst_blind.csv")

# nf-core/rnaseq's merged salmon tables (gene_id, gene_name, then the samples).
dir.create("nfcore", showWarnings = FALSE)
nfcore <- function(m, file) {
  out <- data.frame(gene_id = rownames(m), gene_name = paste0("Sym", seq_len(nrow(m))),
                    m, check.names = FALSE)
  write.table(out, file.path("nfcore", file), sep = "\t", quote = FALSE, row.names = FALSE)
}
nfcore(txi$salmon$counts, "salmon.merged.gene_counts.tsv")
nfcore(txi$salmon$length, "salmon.merged.gene_lengths.tsv")
nfcore(import("salmon", "quant.sf", "lengthScaledTPM")$counts,
       "salmon.merged.gene_counts_length_scaled.tsv")
