"""Input readers of the built-in engine: PLINK .bed (bed-reader), PLINK2 .pgen (pgenlib), BGEN (cbgen + .bgi),
fsspec staging, sample/variant lists, phenotype/covariate tables, step 1 predictions."""
