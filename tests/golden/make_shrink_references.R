# R DESeq2 references for rnaheat's log fold-change shrinkage (lfcShrink type = "normal").
# Reads the shared GSE106305 counts (not part of the repository); run from this folder:
#   Rscript make_shrink_references.R ../../../shared/data/gse106305
# Made with R 4.2.2 and DESeq2 1.38.3. Writes, for GSE106305 LNCaP (~ condition) and all 8
# samples (~ cell_line + condition), Hypoxia vs Normoxia, R's shrunken log2 fold changes and
# posterior standard errors for every 10th tested gene in gene-id order (a deterministic
# subset, so the table stays small), and the prior variances. The test suite never runs R.
suppressPackageStartupMessages(library(DESeq2))

args <- commandArgs(trailingOnly = TRUE)
folder <- if (length(args)) args[1] else "../../../shared/data/gse106305"
counts <- as.matrix(read.csv(gzfile(file.path(folder, "counts.csv.gz")), row.names = 1,
                             check.names = FALSE))
samples <- read.csv(file.path(folder, "samples.csv"), row.names = 1)
samples$condition <- factor(samples$condition, levels = c("Normoxia", "Hypoxia"))
samples$cell_line <- factor(samples$cell_line, levels = c("LNCaP", "PC3"))

scenarios <- list(
  lncap = list(design = ~ condition, keep = samples$cell_line == "LNCaP"),
  all8 = list(design = ~ cell_line + condition, keep = rep(TRUE, nrow(samples)))
)
coef <- "condition_Hypoxia_vs_Normoxia"
priors <- list()
for (scenario in names(scenarios)) {
  spec <- scenarios[[scenario]]
  sheet <- droplevels(samples[spec$keep, , drop = FALSE])
  dds <- DESeqDataSetFromMatrix(counts[, rownames(sheet)], sheet, spec$design)
  dds <- DESeq(dds, quiet = TRUE)
  res <- results(dds, name = coef)
  shr <- lfcShrink(dds, coef = coef, type = "normal", res = res, quiet = TRUE)
  ids <- sort(rownames(shr)[!is.na(shr$log2FoldChange)])
  subset <- ids[seq(1, length(ids), by = 10)]
  out <- data.frame(gene_id = subset,
                    log2fc = signif(res[subset, "log2FoldChange"], 10),
                    log2fc_shrunk = signif(shr[subset, "log2FoldChange"], 10),
                    lfc_se_shrunk = signif(shr[subset, "lfcSE"], 10))
  write.csv(out, gzfile(paste0("gse106305_", scenario, "_r_lfc_normal.csv.gz")),
            row.names = FALSE)
  prior <- priorInfo(shr)$betaPriorVar
  priors[[scenario]] <- data.frame(scenario = scenario, coefficient = names(prior),
                                   prior_var = format(prior, digits = 15))
}
write.csv(do.call(rbind, priors), "gse106305_r_lfc_normal_prior.csv", row.names = FALSE)
