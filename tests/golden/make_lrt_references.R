# R DESeq2 reference tables for the likelihood-ratio test of rnaheat's DESeq2 engine.
# Run from this folder after `python make_inputs.py`:  Rscript make_lrt_references.R
# Made with R 4.2.2 and DESeq2 1.38.3. The test suite reads the CSV files; it never runs R.
#
# 1. the simulated time course (`~ batch + time` against `~ batch`, and against `~ 1`), and
#    the outlier scenario of make_references.R (`~ condition` against `~ 1`: counts replaced
#    and genes refitted): every gene;
# 2. GSE106305, all 8 samples (`~ cell_line + condition` against `~ cell_line`), read from
#    ../../../shared/data/gse106305 beside the project. The data are not copied: the tables
#    hold R's statistics for every 100th tested gene (by gene id), the ids of the genes R calls
#    at padj < 0.05, and fit-wide figures.
suppressPackageStartupMessages(library(DESeq2))

fit_lrt <- function(counts, samples, full, reduced) {
  dds <- DESeqDataSetFromMatrix(counts, samples, full)
  DESeq(dds, test = "LRT", reduced = reduced, quiet = TRUE)
}

gene_table <- function(dds, res, contrast_res) {
  mc <- mcols(dds)
  data.frame(gene_id = rownames(res), baseMean = res$baseMean,
             log2FoldChange = res$log2FoldChange, lfcSE = res$lfcSE,
             contrastLog2FoldChange = contrast_res$log2FoldChange,
             contrastLfcSE = contrast_res$lfcSE,
             stat = res$stat, pvalue = res$pvalue, padj = res$padj,
             dispGeneEst = mc$dispGeneEst, dispFit = mc$dispFit,
             dispersion = mc$dispersion, maxCooks = mc$maxCooks)
}

fit_info <- function(dds, res) {
  fn <- dispersionFunction(dds)
  coefs <- attr(fn, "coefficients")
  data.frame(
    key = c("last_coefficient", "asympt_disp", "extra_pois", "disp_prior_var",
            "filter_threshold", "n_tested", "n_padj_005",
            paste0("size_factor_", colnames(dds))),
    value = c(tail(resultsNames(dds), 1),
              format(coefs[1], digits = 15), format(coefs[2], digits = 15),
              format(attr(fn, "dispPriorVar"), digits = 15),
              format(metadata(res)$filterThreshold, digits = 15),
              sum(!is.na(res$pvalue)), sum(res$padj < 0.05, na.rm = TRUE),
              format(sizeFactors(dds), digits = 15)))
}

# 1. The simulated time course.
counts <- as.matrix(read.csv("timecourse_counts.csv", row.names = 1, check.names = FALSE))
samples <- read.csv("timecourse_samples.csv", row.names = 1)
samples$time <- factor(samples$time, levels = c("t0", "t1", "t2", "t3"))
samples$batch <- factor(samples$batch, levels = c("b1", "b2"))
dds <- fit_lrt(counts, samples, ~ batch + time, ~ batch)
res <- results(dds)
by_contrast <- results(dds, contrast = c("time", "t2", "t0"))
write.csv(gene_table(dds, res, by_contrast), "timecourse_lrt_r_results.csv", row.names = FALSE)
write.csv(fit_info(dds, res), "timecourse_lrt_r_fitinfo.csv", row.names = FALSE)
dds <- fit_lrt(counts, samples, ~ batch + time, ~ 1)
res <- results(dds)
write.csv(data.frame(gene_id = rownames(res), stat = res$stat, pvalue = res$pvalue,
                     padj = res$padj),
          "timecourse_lrt_intercept_r_results.csv", row.names = FALSE)

counts <- as.matrix(read.csv("outliers_counts.csv", row.names = 1, check.names = FALSE))
samples <- read.csv("outliers_samples.csv", row.names = 1)
samples$condition <- factor(samples$condition, levels = c("control", "treated"))
dds <- fit_lrt(counts, samples, ~ condition, ~ 1)
res <- results(dds)
write.csv(data.frame(gene_id = rownames(res), baseMean = res$baseMean,
                     log2FoldChange = res$log2FoldChange, stat = res$stat,
                     pvalue = res$pvalue, padj = res$padj, replace = mcols(dds)$replace,
                     maxCooks = mcols(dds)$maxCooks),
          "outliers_lrt_r_results.csv", row.names = FALSE)

# 2. GSE106305, all 8 samples.
gse <- file.path("..", "..", "..", "shared", "data", "gse106305")
counts <- as.matrix(read.csv(gzfile(file.path(gse, "counts.csv.gz")), row.names = 1,
                             check.names = FALSE))
samples <- read.csv(file.path(gse, "samples.csv"), row.names = 1)
samples$cell_line <- factor(samples$cell_line)
samples$condition <- factor(samples$condition)
counts <- counts[order(rownames(counts)), rownames(samples)]
dds <- fit_lrt(counts, samples, ~ cell_line + condition, ~ cell_line)
res <- results(dds)
by_contrast <- results(dds, contrast = c("condition", "Hypoxia", "Normoxia"))
genes <- gene_table(dds, res, by_contrast)
tested <- which(!is.na(res$pvalue))
every_100th <- tested[seq(1, length(tested), by = 100)]
write.csv(format(genes[every_100th, ], digits = 15), "gse106305_all8_lrt_r_genes.csv",
          row.names = FALSE, quote = FALSE)
significant <- sort(rownames(res)[which(res$padj < 0.05)])
writeLines(significant, "gse106305_all8_lrt_r_significant.txt")
write.csv(fit_info(dds, res), "gse106305_all8_lrt_r_fitinfo.csv", row.names = FALSE)
