"""gwasflow's built-in regenie engine (quantitative traits; PLINK .bed, PLINK2 .pgen and BGEN v1.2 input).

Entry point: :func:`gwasflow.regenie.cli.main` (also ``python -m gwasflow.regenie``),
taking regenie's flags and writing regenie v4.1.2's files. Method: Mbatchou et
al., "Computationally efficient whole-genome regression for quantitative and
binary traits", Nat Genet 53, 1097-1103 (2021), and the regenie documentation
(https://rgcgithub.github.io/regenie/).

Modules: ``options`` (flags), ``io/`` (bed, pgen, bgen, fsspec staging, sample and
variant lists, tables, step 1 prediction files),
``samples`` (sample alignment), ``linalg`` (covariate projections), ``ridge``
and ``step1`` (whole-genome ridge, LOCO), ``assoc`` and ``step2`` (single
variant tests), ``output`` and ``runlog`` (file formats, atomic writes).
"""
