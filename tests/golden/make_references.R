# R DESeq2 reference tables for the golden tests of rnaheat's DESeq2 engine.
# Run from this folder after `python make_inputs.py`:  Rscript make_references.R
# Made with R 4.2.2 and DESeq2 1.38.3. The test suite reads the CSV files; it never runs R.
suppressPackageStartupMessages(library(DESeq2))

scenarios <- list(
  multifactor = list(design = ~ cell_line + condition,
                     factors = list(cell_line = c("A", "B"),
                                    condition = c("control", "treated")),
                     name = "condition_treated_vs_control"),
  continuous = list(design = ~ dose, factors = list(), name = "dose"),
  outliers = list(design = ~ condition,
                  factors = list(condition = c("control", "treated")),
                  name = "condition_treated_vs_control"),
  zeros_spike = list(design = ~ condition,
                     factors = list(condition = c("control", "treated")),
                     name = "condition_treated_vs_control")
)

for (scenario in names(scenarios)) {
  spec <- scenarios[[scenario]]
  counts <- as.matrix(read.csv(paste0(scenario, "_counts.csv"), row.names = 1,
                               check.names = FALSE))
  samples <- read.csv(paste0(scenario, "_samples.csv"), row.names = 1)
  for (f in names(spec$factors)) {
    samples[[f]] <- factor(samples[[f]], levels = spec$factors[[f]])
  }
  dds <- DESeqDataSetFromMatrix(counts, samples, spec$design)
  dds <- DESeq(dds, quiet = TRUE)
  res <- results(dds, name = spec$name)
  out <- data.frame(gene_id = rownames(res), baseMean = res$baseMean,
                    log2FoldChange = res$log2FoldChange, lfcSE = res$lfcSE,
                    stat = res$stat, pvalue = res$pvalue, padj = res$padj)
  write.csv(out, paste0(scenario, "_r_results.csv"), row.names = FALSE)

  mc <- mcols(dds)
  replace <- if ("replace" %in% names(mc)) mc$replace else rep(NA, nrow(mc))
  disp <- data.frame(gene_id = rownames(dds), dispGeneEst = mc$dispGeneEst,
                     dispFit = mc$dispFit, dispMAP = mc$dispMAP,
                     dispersion = mc$dispersion, dispOutlier = mc$dispOutlier,
                     maxCooks = mc$maxCooks, replace = replace)
  write.csv(disp, paste0(scenario, "_r_dispersions.csv"), row.names = FALSE)

  fn <- dispersionFunction(dds)
  coefs <- attr(fn, "coefficients")
  info <- data.frame(
    key = c("fit_type", "asympt_disp", "extra_pois", "disp_prior_var",
            "var_log_disp_ests", "filter_threshold"),
    value = c(attr(fn, "fitType"),
              if (is.null(coefs)) NA else format(coefs[1], digits = 15),
              if (is.null(coefs)) NA else format(coefs[2], digits = 15),
              format(attr(fn, "dispPriorVar"), digits = 15),
              format(attr(fn, "varLogDispEsts"), digits = 15),
              format(metadata(res)$filterThreshold, digits = 15)))
  write.csv(info, paste0(scenario, "_r_fitinfo.csv"), row.names = FALSE)

  sf <- data.frame(sample = colnames(dds), sizeFactor = sizeFactors(dds))
  write.csv(sf, paste0(scenario, "_r_sizefactors.csv"), row.names = FALSE)

  # Fewer than 1,000 genes: vst() refuses, so the blind transformation on all genes.
  vsd <- assay(varianceStabilizingTransformation(dds, blind = TRUE))
  write.csv(data.frame(gene_id = rownames(vsd), vsd, check.names = FALSE),
            paste0(scenario, "_r_vst_blind.csv"), row.names = FALSE)
}

# R's lowess as pvalueAdjustment() calls it (f = 1/5 over 50 filtering quantiles), on
# rejection-count curves shaped like real ones: rising, a plateau with noise, and ties.
theta <- seq(0.3, 0.95, length = 50)
set.seed(11)
curves <- list(
  rising = round(4000 + 1500 * (1 - exp(-6 * (theta - 0.3))) + rnorm(50, 0, 40)),
  plateau = c(rep(120, 10), round(150 + 30 * sin(1:40 / 3))),
  steps = rep(c(5, 9, 14, 14, 20), each = 10)
)
lw <- do.call(rbind, lapply(names(curves), function(k) {
  data.frame(curve = k, theta = theta, y = curves[[k]],
             fitted = lowess(curves[[k]] ~ theta, f = 1 / 5)$y)
}))
write.csv(lw, "r_lowess.csv", row.names = FALSE)
