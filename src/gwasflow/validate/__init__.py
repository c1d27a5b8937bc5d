"""gwasflow.validate: check every input a run spec names and report every problem at once.

``inputs`` (:func:`validate`: tables, lists, predictions, options, the regenie binary), ``genocheck``
(genotype file sets, ``{chrom}`` templates expanded), ``remote_genotypes`` (genotype files in object
storage, read in place), ``traits`` (phenotype and covariate columns), ``version`` (asks a regenie binary
its version). Validation reads files and runs ``regenie --version``; the planner (``gwasflow.plan``) does
neither.
"""

from gwasflow.validate.inputs import validate

__all__ = ["validate"]
