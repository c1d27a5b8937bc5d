"""Input readers of the built-in engine: PLINK .bed (bed-reader), phenotype/covariate tables, step 1 predictions."""
