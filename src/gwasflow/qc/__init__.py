"""Variant and sample QC before step 1: MAF, MAC, genotype and sample missingness, HWE, LD pruning.

Two engines select the same variants and samples: plink2 (:mod:`gwasflow.qc.plink2`) when it is
installed, and a built-in implementation (:mod:`gwasflow.qc.filters`) that follows plink2's order of
operations and thresholds.
"""

from gwasflow.qc.model import GenotypeFormat, PruneConfig, QcConfig, QcEngine, QcFilter, QcResult

__all__ = ["GenotypeFormat", "PruneConfig", "QcConfig", "QcEngine", "QcFilter", "QcResult"]
